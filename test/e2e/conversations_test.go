package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// conversationsDir holds the scripted conversations (see README.md there).
const conversationsDir = "../conversations"

// conversationScript is one file of conversationsDir.
type conversationScript struct {
	file    string
	title   string
	profile string // the guest's WhatsApp profile name
	turns   []scriptTurn
	holder  string // "Name <email>", or "Name" for a guest who gave no email: who the confirmation must name
}

type scriptTurn struct {
	say  string
	want []string
}

// monthsEN are the month names an English-speaking guest writes.
var monthsEN = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September",
	"October", "November", "December"}

// readConversationScript parses a script; month is the stay's month, which
// scripts write {mes} (Spanish) or {month} (English) so that the stays are
// always ahead of the clock.
func readConversationScript(t *testing.T, path string, month time.Month) conversationScript {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("{mes}", monthsES[month-1], "{month}", monthsEN[month-1]).Replace(string(raw))
	s := conversationScript{file: filepath.Base(path)}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \r")
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			if s.title == "" {
				s.title = line[2:]
			}
		case strings.HasPrefix(line, "profile: "):
			s.profile = line[len("profile: "):]
		case strings.HasPrefix(line, "> "):
			s.turns = append(s.turns, scriptTurn{say: strings.ReplaceAll(line[2:], `\n`, "\n")})
		case strings.HasPrefix(line, "< ") && len(s.turns) > 0:
			s.turns[len(s.turns)-1].want = append(s.turns[len(s.turns)-1].want, line[2:])
		case strings.HasPrefix(line, "= "):
			s.holder = line[2:]
		default:
			t.Fatalf("%s:%d: unreadable line %q", path, n+1, line)
		}
	}
	if s.title == "" || s.profile == "" || len(s.turns) == 0 || s.holder == "" {
		t.Fatalf("%s: a script needs a # title, a profile:, > turns and an = holder", path)
	}
	return s
}

var holderRE = regexp.MustCompile(`^(.+?)(?: <(.+@.+)>)?$`)

// TestScriptedConversations runs every script of test/conversations through
// the binary in test mode (the webhook answers inline): each guest books,
// and the confirmation carrying the booking number (the last such reply)
// names the holder the guest gave (not the WhatsApp profile name) and
// their email, or no email when the guest declined to give one. With
// TRANSCRIPT_DIR set, each conversation's transcript is written there.
func TestScriptedConversations(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(conversationsDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	if len(paths) < 40 {
		t.Fatalf("%d scripted conversations, want at least 40", len(paths))
	}
	graph := fakegraph.Start(t, agentGraphToken)
	in := Start(t, Options{Env: map[string]string{
		"ENVIRONMENT":              "test",
		"WHATSAPP_API_BASE":        graph.BaseURL(),
		"WHATSAPP_ACCESS_TOKEN":    agentGraphToken,
		"WHATSAPP_PHONE_NUMBER_ID": agentPhoneNumberID,
		// forty guests in a few seconds from one address
		"RATE_LIMIT_WEBHOOK_POST": "100000",
	}})
	w := newWebhookClient(2)
	transcripts := os.Getenv("TRANSCRIPT_DIR")
	passed := 0
	for i, path := range paths {
		// Stays spread over months so the demo's rooms do not run out.
		now := time.Now()
		month := time.Date(now.Year(), now.Month()+2+time.Month(i%6), 1, 0, 0, 0, 0, time.UTC).Month()
		s := readConversationScript(t, path, month)
		ok := t.Run(strings.TrimSuffix(s.file, ".txt"), func(t *testing.T) {
			m := holderRE.FindStringSubmatch(s.holder)
			if m == nil {
				t.Fatalf("holder %q: want \"Name <email>\" or \"Name\"", s.holder)
			}
			guest := newGuestPhone()
			var log strings.Builder
			fmt.Fprintf(&log, "# %s\n# WhatsApp profile name: %q\n\n", s.title, s.profile)
			var last, confirmation string
			for j, turn := range s.turns {
				msg := whatsapptest.Message{PhoneNumberID: agentPhoneNumberID, From: guest,
					ID: fmt.Sprintf("wamid.script-%d-%d-%s", i, j, guest), Name: s.profile, Text: turn.say}
				status, body, err := w.post(in.URL("/webhooks/whatsapp"), []byte(msg.JSON()))
				if err != nil || status != http.StatusOK {
					t.Fatalf("turn %d: %d %s %v", j+1, status, body, err)
				}
				last = replyText(t, body)
				if bookingNumberRE.MatchString(last) {
					confirmation = last
				}
				fmt.Fprintf(&log, "guest> %s\nagent> %s\n\n", strings.ReplaceAll(turn.say, "\n", "\n       "),
					strings.ReplaceAll(last, "\n", "\n       "))
				for _, want := range turn.want {
					if !strings.Contains(last, want) {
						t.Errorf("turn %d %q: reply %q does not contain %q", j+1, turn.say, last, want)
					}
				}
			}
			if transcripts != "" {
				if err := os.MkdirAll(transcripts, 0o755); err == nil {
					_ = os.WriteFile(filepath.Join(transcripts, s.file), []byte(log.String()), 0o644)
				}
			}
			switch {
			case m[2] != "" && !strings.Contains(confirmation, m[1]+" ("+m[2]):
				t.Errorf("the confirmation %q (the last reply with a booking number) does not name %s (%s",
					confirmation, m[1], m[2])
			case m[2] == "" && (!strings.Contains(confirmation, m[1]+" (+") || strings.Contains(confirmation, "@")):
				t.Errorf("the confirmation %q (the last reply with a booking number) does not name %s, with no email",
					confirmation, m[1])
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("%d of %d scripted conversations end in a booking for the guest's name and email (or none, declined)", passed, len(paths))
}
