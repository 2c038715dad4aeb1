// Package consent keeps whether a guest accepts our messages. A guest who
// writes STOP or BAJA (or one of the usual phrasings, as the whole message)
// opts out: they are told once how to come back and then get nothing from
// us; START or ALTA opts them back in. The answer is kept per hotel, channel
// and guest, with the time and the text that changed it, in Postgres
// (migration 0036_guest_consent) or, for development, in memory.
//
// Parse decides what counts as a command; the hotel's service asks the Store
// before the orchestrator runs and again before every reply is sent.
package consent

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
)

// Command is what a message says about consent.
type Command int

const (
	None   Command = iota // not a consent command
	OptOut                // stop sending me messages
	OptIn                 // send me messages again
)

type phrase struct {
	cmd  Command
	lang string // "es", "en", or "" for what guests write whatever their language (STOP, START)
}

// phrases are the commands, normalised (see normalize).
var phrases = map[string]phrase{}

func init() {
	add := func(cmd Command, lang string, list ...string) {
		for _, p := range list {
			phrases[p] = phrase{cmd, lang}
		}
	}
	add(OptOut, "", "stop", "stopall", "stop all")
	add(OptOut, "es",
		"baja", "la baja", "darme de baja", "dame de baja", "darse de baja", "dar de baja", "me doy de baja",
		"quiero darme de baja", "quiero la baja", "quiero baja",
		"cancelar suscripcion", "cancelar la suscripcion", "anular suscripcion",
		"no quiero mas mensajes", "no quiero recibir mas mensajes", "no quiero recibir mensajes",
		"no me envies mas mensajes", "no me envieis mas mensajes", "no me mandes mas mensajes", "no me mandeis mas mensajes",
		"no me escribas mas", "no me escribais mas", "no mas mensajes",
		"dejar de recibir mensajes", "quiero dejar de recibir mensajes")
	add(OptOut, "en",
		"unsubscribe", "unsubscribe me", "unsub", "opt out", "optout",
		"stop messages", "stop messaging me", "stop sending messages", "stop sending me messages",
		"no more messages", "i dont want any more messages", "i dont want more messages", "i do not want any more messages",
		"dont message me", "do not message me", "dont send me messages", "do not send me messages",
		"dont send me any more messages", "remove me", "remove me from your list")
	add(OptIn, "", "start")
	add(OptIn, "es",
		"alta", "darme de alta", "dame de alta", "me doy de alta", "quiero darme de alta", "quiero el alta",
		"quiero volver a recibir mensajes", "volver a recibir mensajes", "quiero recibir mensajes", "suscribirme",
		"reactivar mensajes")
	add(OptIn, "en",
		"subscribe", "subscribe me", "resubscribe", "unstop", "opt in", "optin",
		"start messages", "resume messages", "send me messages again", "i want to receive messages again")
}

// Courtesies a guest may wrap a command in; they are dropped from either end.
var (
	leading  = []string{"hola", "hello", "hi", "por favor", "porfa", "please", "pls"}
	trailing = []string{"por favor", "porfa", "please", "pls", "gracias", "muchas gracias", "thanks", "thank you"}
)

// Parse reads text as a consent command when the whole message is one (in
// any case, with or without accents, punctuation, emoji or a courtesy such
// as "please"): "STOP", "Baja, por favor", "no quiero más mensajes",
// "unsubscribe", "ALTA", "quiero volver a recibir mensajes". A command word
// inside a longer sentence ("quiero parar en Madrid", "stop at the
// station") is no command. lang is the phrase's language, "" for STOP and
// START, which guests write whatever their language.
func Parse(text string) (cmd Command, lang string) {
	p, ok := phrases[normalize(text)]
	if !ok {
		return None, ""
	}
	return p.cmd, p.lang
}

// normalize folds case and accents, drops apostrophes ("don't" is "dont"),
// turns everything but letters and digits into single spaces, and strips
// courtesies from both ends.
func normalize(text string) string {
	var b strings.Builder
	for _, r := range nlp.Fold(text) {
		switch {
		case r == '\'':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	for changed := true; changed; {
		changed = false
		for _, c := range leading {
			if rest, ok := strings.CutPrefix(s, c+" "); ok {
				s, changed = rest, true
			}
		}
		for _, c := range trailing {
			if rest, ok := strings.CutSuffix(s, " "+c); ok {
				s, changed = rest, true
			}
		}
	}
	return s
}

// Record is a guest's consent: the current answer and what last changed it.
type Record struct {
	TenantID  string
	Channel   chat.Channel
	Guest     string // as normalised by GuestKey
	OptedOut  bool
	ChangedAt time.Time
	MessageID string // the guest's message that changed it
	Text      string // what that message said
}

// Store keeps consent records. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the guest's record; found is false for a guest who never
	// changed their consent (who accepts messages).
	Get(ctx context.Context, tenantID string, channel chat.Channel, guest string) (r Record, found bool, err error)
	// Set records r as the guest's answer, and in the audit history, only
	// if it changes the answer; changed says whether it did.
	Set(ctx context.Context, r Record) (changed bool, err error)
	// History lists the changes of a guest's answer, oldest first.
	History(ctx context.Context, tenantID string, channel chat.Channel, guest string) ([]Record, error)
	// Erase forgets the guest's answer and its history (a privacy erasure)
	// and returns how many records it deleted. The guest is then one who
	// never answered: we write only to guests who write to us, so nobody
	// is messaged because of it.
	Erase(ctx context.Context, tenantID string, channel chat.Channel, guest string) (int, error)
}

// GuestKey is the form guests are stored under, so that a reply addressed
// to "+34 600 111 222" finds the consent of the guest who wrote from
// 34600111222: a WhatsApp number's digits, an email address lowercased.
func GuestKey(channel chat.Channel, guest string) string {
	if channel == chat.WhatsApp {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, guest)
	}
	return strings.ToLower(strings.TrimSpace(guest))
}

// maxText bounds the stored text of a change: commands are short, and the
// audit needs no more.
const maxText = 500

func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

type memKey struct {
	tenant  string
	channel chat.Channel
	guest   string
}

// Memory keeps consent in process memory, for development and tests: a
// restart forgets every opt-out. Never use it where guests' opt-outs
// matter.
type Memory struct {
	mu      sync.Mutex
	current map[memKey]Record
	history []Record
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{current: map[memKey]Record{}} }

// Get implements Store.
func (m *Memory) Get(ctx context.Context, tenantID string, channel chat.Channel, guest string) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.current[memKey{tenantID, channel, GuestKey(channel, guest)}]
	return r, ok, nil
}

// Set implements Store.
func (m *Memory) Set(ctx context.Context, r Record) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r.Guest, r.Text = GuestKey(r.Channel, r.Guest), clip(r.Text)
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey{r.TenantID, r.Channel, r.Guest}
	if cur, ok := m.current[k]; ok && cur.OptedOut == r.OptedOut {
		return false, nil
	}
	m.current[k] = r
	m.history = append(m.history, r)
	return true, nil
}

// History implements Store.
func (m *Memory) History(ctx context.Context, tenantID string, channel chat.Channel, guest string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := GuestKey(channel, guest)
	var out []Record
	for _, r := range m.history {
		if r.TenantID == tenantID && r.Channel == channel && r.Guest == g {
			out = append(out, r)
		}
	}
	return out, nil
}

// Erase implements Store.
func (m *Memory) Erase(ctx context.Context, tenantID string, channel chat.Channel, guest string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := GuestKey(channel, guest)
	n := len(m.history)
	m.history = slices.DeleteFunc(m.history, func(r Record) bool {
		return r.TenantID == tenantID && r.Channel == channel && r.Guest == g
	})
	n -= len(m.history)
	if _, ok := m.current[memKey{tenantID, channel, g}]; ok {
		delete(m.current, memKey{tenantID, channel, g})
		n++
	}
	return n, nil
}

var _ Store = (*Memory)(nil)
