package nlp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// heldoutPath is the held-out corpus: messages written before the rules were
// changed for them and never tuned on since. TestHeldout measures, it does
// not gate: its figure is the honest one for text nobody tuned on.
const heldoutPath = "../../test/corpus/heldout.jsonl"

type heldoutEntry struct {
	Line     int      `json:"-"`
	Text     string   `json:"text"`
	Lang     string   `json:"lang"`
	Intent   Intent   `json:"intent"`
	CheckIn  string   `json:"check_in"`
	CheckOut string   `json:"check_out"`
	Adults   int      `json:"adults"`
	Children int      `json:"children"`
	Nights   int      `json:"nights"`
	RoomType string   `json:"room_type"`
	Email    string   `json:"email"`
	Answer   Answer   `json:"answer"`
	Urgent   bool     `json:"urgent"`
	Topics   []string `json:"topics"`
	// Asked is what the agent had just asked for ("name"); Name is the
	// name the reply gives.
	Asked string `json:"asked"`
	Name  string `json:"name"`
}

func loadHeldout(t *testing.T) []heldoutEntry {
	return readLabelled(t, heldoutPath, "held-out", func(e *heldoutEntry, line int) error {
		e.Line = line
		if e.Intent != "" && !slices.Contains(Intents(), e.Intent) {
			return fmt.Errorf("unknown intent %q", e.Intent)
		}
		if e.Intent == "" && e.Asked == "" {
			return fmt.Errorf("neither an intent nor an asked slot")
		}
		return checkLang(e.Lang)
	})
}

// heldoutName reads the name in a reply to "what name is the booking
// under?" the way the agent does: slot first (ReadAnsweredName), else the
// analyzer's looser reading.
func heldoutName(text string, r Result, now time.Time) string {
	first, last, ok := ReadAnsweredName(text, now)
	if !ok {
		plain := r.Intent == Unknown && r.Answer == "" && r.Entities.CheckIn.IsZero() && r.Entities.CheckOut.IsZero() &&
			r.Entities.Adults == 0 && r.Entities.Children == 0 && r.Entities.Nights == 0 && r.Entities.RoomType == ""
		first, last, ok = ParseFullName(text, NameAnswered, plain)
	}
	if !ok {
		return ""
	}
	return strings.TrimSpace(first + " " + last)
}

// TestHeldout prints intent, entity and name accuracy per language on the
// held-out corpus. Run with -v to see it.
func TestHeldout(t *testing.T) {
	corpus := loadHeldout(t)
	now, _ := time.Parse(time.RFC3339, defaultNow)
	type score struct{ ok, n int }
	type langScores struct{ intent, entities, names, language score }
	by := map[string]*langScores{"es": {}, "en": {}}
	var mistakes []string
	for _, e := range corpus {
		r := Analyze(e.Text, now)
		s := by[e.Lang]
		var wrong []string
		mark := func(sc *score, ok bool, what string, got, want any) {
			sc.n++
			if ok {
				sc.ok++
			} else {
				wrong = append(wrong, fmt.Sprintf("%s %v want %v", what, got, want))
			}
		}
		if e.Intent != "" {
			mark(&s.intent, r.Intent == e.Intent, "intent", r.Intent, e.Intent)
			mark(&s.language, r.Language == e.Lang, "language", r.Language, e.Lang)
		}
		en := r.Entities
		if e.CheckIn != "" {
			mark(&s.entities, dateString(en.CheckIn) == e.CheckIn, "check_in", dateString(en.CheckIn), e.CheckIn)
		}
		if e.CheckOut != "" {
			mark(&s.entities, dateString(en.CheckOut) == e.CheckOut, "check_out", dateString(en.CheckOut), e.CheckOut)
		}
		if e.Nights != 0 {
			mark(&s.entities, en.Nights == e.Nights, "nights", en.Nights, e.Nights)
		}
		if e.Adults != 0 {
			mark(&s.entities, en.Adults == e.Adults, "adults", en.Adults, e.Adults)
		}
		if e.Children != 0 {
			mark(&s.entities, en.Children == e.Children, "children", en.Children, e.Children)
		}
		if e.RoomType != "" {
			mark(&s.entities, en.RoomType == e.RoomType, "room_type", en.RoomType, e.RoomType)
		}
		if e.Email != "" {
			mark(&s.entities, en.Email == e.Email, "email", en.Email, e.Email)
		}
		if len(e.Topics) > 0 {
			mark(&s.entities, slices.Equal(en.Topics, e.Topics), "topics", en.Topics, e.Topics)
		}
		if e.Answer != "" {
			mark(&s.entities, r.Answer == e.Answer, "answer", r.Answer, e.Answer)
		}
		if e.Urgent {
			mark(&s.entities, r.Urgent, "urgent", r.Urgent, true)
		}
		if e.Asked == "name" {
			got := heldoutName(e.Text, r, now)
			mark(&s.names, got == e.Name, "name", fmt.Sprintf("%q", got), fmt.Sprintf("%q", e.Name))
		}
		if len(wrong) > 0 {
			mistakes = append(mistakes, fmt.Sprintf("line %d %q: %s", e.Line, e.Text, strings.Join(wrong, "; ")))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nheld-out corpus (%d messages), never tuned on:\n", len(corpus))
	for _, lang := range []string{"en", "es"} {
		s := by[lang]
		fmt.Fprintf(&b, "  %s: intent %.3f (%d/%d)  entities %.3f (%d/%d labelled fields)  names %.3f (%d/%d)  language %.3f (%d/%d)\n",
			lang, ratio(s.intent.ok, s.intent.n), s.intent.ok, s.intent.n,
			ratio(s.entities.ok, s.entities.n), s.entities.ok, s.entities.n,
			ratio(s.names.ok, s.names.n), s.names.ok, s.names.n,
			ratio(s.language.ok, s.language.n), s.language.ok, s.language.n)
	}
	fmt.Fprintf(&b, "mistakes (%d messages):\n  %s\n", len(mistakes), strings.Join(mistakes, "\n  "))
	t.Log(b.String())
	if len(corpus) < 120 || by["en"].intent.n+by["en"].names.n < 50 {
		t.Errorf("held-out corpus too small: %d messages", len(corpus))
	}
}
