// Package conversation keeps each hotel's conversations as its staff see
// them: who wrote, what they said last, and whether the agent answers them
// (active), a person must (waiting, since when) or nobody needs to
// (closed). The hotel service records every guest message and reply here;
// the admin API lists, searches and moves them. Postgres (shared by every
// instance) or memory.
package conversation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is where a conversation stands.
type State string

// The states.
const (
	// Active: the agent answers the guest.
	Active State = "active"
	// Waiting: handed to a person; the agent is silent until resumed.
	Waiting State = "waiting"
	// Closed: staff closed it; the guest's next message opens it again.
	Closed State = "closed"
)

// ValidState reports whether s is a state.
func ValidState(s string) bool {
	switch State(s) {
	case Active, Waiting, Closed:
		return true
	}
	return false
}

// Key names one conversation: a guest of a hotel on a channel.
type Key struct {
	TenantID string
	Channel  string
	Guest    string
}

// Conversation is one guest's conversation with a hotel.
type Conversation struct {
	Key
	Name          string
	State         State
	WaitingSince  time.Time // zero unless waiting
	LastMessageAt time.Time
	LastText      string
	BookingRef    string
}

// Notice is a handoff whose staff notice is owed, as claimed.
type Notice struct {
	Conversation
	// Attempt is this claim's attempt, from 1.
	Attempt int
}

// Filter selects conversations of one hotel.
type Filter struct {
	TenantID string
	// State: empty for every state.
	State State
	// Query matches the guest (phone or email), name or booking reference,
	// case-insensitively, anywhere in them.
	Query string
	Limit int
	// After is the position where the previous page ended ("" first page).
	After string
}

// Waiting sums up who waits for a person.
type WaitingSummary struct {
	Count  int
	Oldest time.Time // zero when nobody waits
}

// ErrNotFound is returned for a conversation the store has never seen.
var ErrNotFound = errors.New("conversation not found")

// Store keeps the conversations.
type Store interface {
	// Inbound records a guest's message: a closed conversation opens again
	// (active); a waiting one keeps waiting.
	Inbound(ctx context.Context, k Key, name, text string, at time.Time) error
	// Outbound records a reply to the guest (the agent's or staff's).
	Outbound(ctx context.Context, k Key, text string, at time.Time) error
	// HandOff marks the conversation waiting since at and reports whether
	// it was not waiting already (so staff are told once); a fresh handoff
	// owes staff a notice, due at once (ClaimNotices). On Postgres, in a
	// unit of work that defers its writes (store.WithDeferred), it commits
	// with the unit's outcome.
	HandOff(ctx context.Context, k Key, at time.Time) (bool, error)
	// ClaimNotices takes up to limit notices due at now, of guests still
	// waiting, tried fewer than maxAttempts times: each claim counts an
	// attempt and moves the notice's due time to now+lease, so another
	// instance (or this one after a crash) tries again only after it.
	ClaimNotices(ctx context.Context, now time.Time, lease time.Duration, limit, maxAttempts int) ([]Notice, error)
	// NoticeDone clears the notice of the handoff that began at
	// waitingSince (sent, or given up); a later handoff's stays owed.
	NoticeDone(ctx context.Context, k Key, waitingSince time.Time) error
	// SetState moves the conversation (resume: Active; close: Closed) and
	// reports the state it had; ErrNotFound if it has none.
	SetState(ctx context.Context, k Key, s State) (State, error)
	// SetBookingRef remembers the booking the guest made or mentioned.
	SetBookingRef(ctx context.Context, k Key, ref string) error
	// Get returns one conversation; channel may be empty (any channel).
	Get(ctx context.Context, k Key) (Conversation, error)
	// List returns a page and where the next one starts ("" at the end):
	// waiting conversations oldest wait first, the others newest activity
	// first.
	List(ctx context.Context, f Filter) ([]Conversation, string, error)
	// Waiting sums up every hotel's waiting conversations.
	Waiting(ctx context.Context) (map[string]WaitingSummary, error)
	// Erase forgets a guest of a hotel (every channel) and reports how many
	// conversations went.
	Erase(ctx context.Context, tenantID, guest string) (int, error)
	// Prune forgets the conversations whose last message came before
	// `before` (the data retention), except those waiting for a person,
	// and reports how many went.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// position is where a conversation sorts in its list, as a cursor.
type position struct {
	at      time.Time
	channel string
	guest   string
}

func (p position) String() string {
	raw := strconv.FormatInt(p.at.UnixNano(), 10) + "\x00" + p.channel + "\x00" + p.guest
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parsePosition(s string) (position, error) {
	if s == "" {
		return position{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, fmt.Errorf("bad cursor")
	}
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 {
		return position{}, fmt.Errorf("bad cursor")
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("bad cursor")
	}
	return position{at: time.Unix(0, n), channel: parts[1], guest: parts[2]}, nil
}

// ErrBadCursor is returned for a cursor this package did not make.
var ErrBadCursor = errors.New("conversation: bad cursor")

func (c Conversation) position(s State) position {
	if s == Waiting {
		return position{at: c.WaitingSince, channel: c.Channel, guest: c.Guest}
	}
	return position{at: c.LastMessageAt, channel: c.Channel, guest: c.Guest}
}

func (f Filter) limit() int {
	if f.Limit <= 0 || f.Limit > 1000 {
		return 50
	}
	return f.Limit
}

// lastTextMax bounds the last text kept for the list (the history has it
// whole).
const lastTextMax = 300

func clip(s string) string {
	if len(s) <= lastTextMax {
		return s
	}
	cut := lastTextMax
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
