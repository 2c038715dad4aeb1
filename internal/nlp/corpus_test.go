package nlp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const corpusPath = "../../test/corpus/messages.jsonl"

// defaultNow is the instant corpus messages are read at unless they say otherwise (a Sunday).
const defaultNow = "2026-11-22T10:00:00+01:00"

type corpusEntry struct {
	Line     int      `json:"-"`
	Text     string   `json:"text"`
	Lang     string   `json:"lang"`
	Intent   Intent   `json:"intent"`
	Now      string   `json:"now"`
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
	Set      string   `json:"set"` // "holdout", "holdout2", "issue14": batches written after a round of rule tuning
}

func loadCorpus(t testing.TB) []corpusEntry {
	return readLabelled(t, corpusPath, "corpus", func(e *corpusEntry, line int) error {
		e.Line = line
		if !slices.Contains(Intents(), e.Intent) {
			return fmt.Errorf("unknown intent %q", e.Intent)
		}
		return checkLang(e.Lang)
	})
}

// readLabelled reads a labelled corpus, one JSON entry per line (blank lines
// and lines starting with # skipped, unknown fields refused), each vetted by
// check; what names the file in failures.
func readLabelled[E any](t testing.TB, path, what string, check func(e *E, line int) error) []E {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", what, err)
	}
	defer f.Close()
	var out []E
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		var e E
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s line %d: %v", what, line, err)
		}
		if err := check(&e, line); err != nil {
			t.Fatalf("%s line %d: %v", what, line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkLang(lang string) error {
	if lang != "es" && lang != "en" {
		return fmt.Errorf("lang %q", lang)
	}
	return nil
}

func (e corpusEntry) now(t testing.TB) time.Time {
	s := e.Now
	if s == "" {
		s = defaultNow
	}
	now, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("corpus line %d: now: %v", e.Line, err)
	}
	return now
}

func dateString(d interface {
	IsZero() bool
	String() string
}) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// TestCorpus is the acceptance test of the analyzer: intent accuracy ≥ 95% and
// date accuracy ≥ 98% over the labelled corpus. Run with -v to see the report.
func TestCorpus(t *testing.T) {
	corpus := loadCorpus(t)

	// The corpus itself must be big and varied enough to mean something.
	perIntent := map[Intent]int{}
	langs := map[string]int{}
	withDates := 0
	for _, e := range corpus {
		perIntent[e.Intent]++
		langs[e.Lang]++
		if e.CheckIn != "" || e.CheckOut != "" {
			withDates++
		}
	}
	if len(corpus) < 400 || langs["es"] < 200 || langs["en"] < 150 || withDates < 100 {
		t.Errorf("corpus too small: %d messages (es %d, en %d), %d with dates; want ≥400 (≥200 es, ≥150 en), ≥100 with dates",
			len(corpus), langs["es"], langs["en"], withDates)
	}
	for _, in := range Intents() {
		if perIntent[in] < 8 {
			t.Errorf("corpus has %d %s messages, want ≥ 8", perIntent[in], in)
		}
	}

	type counts struct{ tp, fp, fn int }
	byIntent := map[Intent]*counts{}
	for _, in := range Intents() {
		byIntent[in] = &counts{}
	}
	type field struct{ ok, n int }
	fields := map[string]*field{}
	check := func(name string, ok bool) {
		f := fields[name]
		if f == nil {
			f = &field{}
			fields[name] = f
		}
		f.n++
		if ok {
			f.ok++
		}
	}
	intentOK, datesOK, datesN, spurious := 0, 0, 0, 0
	setOK, setN := map[string]int{}, map[string]int{}
	var mistakes []string
	for _, e := range corpus {
		r := Analyze(e.Text, e.now(t))
		var wrong []string
		if r.Intent == e.Intent {
			intentOK++
			byIntent[e.Intent].tp++
		} else {
			byIntent[e.Intent].fn++
			byIntent[r.Intent].fp++
			wrong = append(wrong, fmt.Sprintf("intent %s want %s", r.Intent, e.Intent))
		}
		setN[e.Set]++
		if r.Intent == e.Intent {
			setOK[e.Set]++
		}
		gotIn, gotOut := dateString(r.Entities.CheckIn), dateString(r.Entities.CheckOut)
		if e.CheckIn != "" || e.CheckOut != "" {
			datesN++
			if gotIn == e.CheckIn && gotOut == e.CheckOut {
				datesOK++
			} else {
				wrong = append(wrong, fmt.Sprintf("dates %q..%q want %q..%q", gotIn, gotOut, e.CheckIn, e.CheckOut))
			}
		} else if gotIn != "" || gotOut != "" {
			spurious++
			wrong = append(wrong, fmt.Sprintf("spurious dates %q..%q", gotIn, gotOut))
		}
		cmp := func(name string, ok bool, got, want any) {
			check(name, ok)
			if !ok {
				wrong = append(wrong, fmt.Sprintf("%s %v want %v", name, got, want))
			}
		}
		en := r.Entities
		cmp("adults", en.Adults == e.Adults, en.Adults, e.Adults)
		cmp("children", en.Children == e.Children, en.Children, e.Children)
		cmp("nights", en.Nights == e.Nights, en.Nights, e.Nights)
		cmp("room_type", en.RoomType == e.RoomType, en.RoomType, e.RoomType)
		cmp("email", en.Email == e.Email, en.Email, e.Email)
		cmp("answer", r.Answer == e.Answer, r.Answer, e.Answer)
		cmp("urgent", r.Urgent == e.Urgent, r.Urgent, e.Urgent)
		cmp("language", r.Language == e.Lang, r.Language, e.Lang)
		if e.Intent == HotelInfo {
			cmp("topics", slices.Equal(en.Topics, e.Topics), en.Topics, e.Topics)
		}
		if len(wrong) > 0 {
			mistakes = append(mistakes, fmt.Sprintf("line %d %q: %s", e.Line, e.Text, strings.Join(wrong, "; ")))
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-20s %9s %9s %7s\n", "intent", "precision", "recall", "support")
	for _, in := range Intents() {
		c := byIntent[in]
		fmt.Fprintf(&b, "%-20s %9.3f %9.3f %7d\n", in, ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn), c.tp+c.fn)
	}
	intentAcc, dateAcc := ratio(intentOK, len(corpus)), ratio(datesOK, datesN)
	fmt.Fprintf(&b, "intent accuracy %.3f (%d/%d)\n", intentAcc, intentOK, len(corpus))
	for _, set := range []string{"", "holdout", "holdout2", "issue14"} {
		name := set
		if name == "" {
			name = "written first"
		}
		fmt.Fprintf(&b, "  %-14s %.3f (%d/%d)\n", name, ratio(setOK[set], setN[set]), setOK[set], setN[set])
	}
	fmt.Fprintf(&b, "date accuracy %.3f (%d/%d messages with labelled dates); spurious dates on %d unlabelled messages\n",
		dateAcc, datesOK, datesN, spurious)
	entOK, entN := 0, 0
	for _, name := range []string{"adults", "children", "nights", "room_type", "email", "answer", "urgent", "topics", "language"} {
		f := fields[name]
		if f == nil {
			continue
		}
		entOK, entN = entOK+f.ok, entN+f.n
		fmt.Fprintf(&b, "%-10s %.3f (%d/%d)\n", name, ratio(f.ok, f.n), f.ok, f.n)
	}
	fmt.Fprintf(&b, "mistakes (%d messages):\n  %s\n", len(mistakes), strings.Join(mistakes, "\n  "))
	t.Log(b.String())

	if intentAcc < 0.95 {
		t.Errorf("intent accuracy %.3f < 0.95", intentAcc)
	}
	if dateAcc < 0.98 {
		t.Errorf("date accuracy %.3f < 0.98", dateAcc)
	}
	if entAcc := ratio(entOK, entN); entAcc < 0.95 {
		t.Errorf("entity accuracy %.3f < 0.95", entAcc)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
