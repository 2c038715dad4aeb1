// Package agent is the hotel agent's orchestrator: given one normalised guest
// message and the hotel it was sent to, it reads the intent (through the
// analyzer it is given), keeps the conversation's state in a session, talks
// to the PMS and returns the replies to send. It does not import Caddy and it
// does not send anything: the durable inbox calls Handle once per message and
// delivers the replies.
package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// AnalyzeFunc reads a guest's text: intent, language and entities. now is the
// current instant in the hotel's time zone, for relative dates.
type AnalyzeFunc func(text string, now time.Time) nlp.Result

// Flags are the feature flags that change how the agent answers.
type Flags struct {
	// InteractiveMessages allows reply buttons and lists
	// (features.interactive_messages); off, every reply is plain text.
	InteractiveMessages bool
	// AskEmail has a WhatsApp guest asked for an email for the booking
	// confirmation, with the holder, when none is known (booking.ask_email);
	// the guest may decline and book without. Off, an email is asked only
	// when the PMS needs one.
	AskEmail bool
}

// BusinessHours is when the front desk answers, as offsets from midnight in
// the hotel's time zone. Close before Open spans midnight (22:00–06:00). The
// zero value means DefaultBusinessHours.
type BusinessHours struct {
	Open  time.Duration
	Close time.Duration
}

// DefaultBusinessHours is 08:00–22:00.
var DefaultBusinessHours = BusinessHours{Open: 8 * time.Hour, Close: 22 * time.Hour}

// ParseBusinessHours reads "HH:MM-HH:MM" (e.g. "08:00-22:00").
func ParseBusinessHours(s string) (BusinessHours, error) {
	open, close, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return BusinessHours{}, fmt.Errorf("business hours %q: want HH:MM-HH:MM", s)
	}
	o, err := parseClock(open)
	if err != nil {
		return BusinessHours{}, fmt.Errorf("business hours %q: %w", s, err)
	}
	c, err := parseClock(close)
	if err != nil {
		return BusinessHours{}, fmt.Errorf("business hours %q: %w", s, err)
	}
	if o == c {
		return BusinessHours{}, fmt.Errorf("business hours %q: opening and closing are the same time", s)
	}
	return BusinessHours{Open: o, Close: c}, nil
}

func parseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

func (b BusinessHours) orDefault() BusinessHours {
	if b == (BusinessHours{}) {
		return DefaultBusinessHours
	}
	return b
}

// Contains reports whether t (already in the hotel's zone) is within hours.
func (b BusinessHours) Contains(t time.Time) bool {
	b = b.orDefault()
	y, mo, d := t.Date()
	since := t.Sub(time.Date(y, mo, d, 0, 0, 0, 0, t.Location()))
	if b.Open < b.Close {
		return since >= b.Open && since < b.Close
	}
	return since >= b.Open || since < b.Close
}

func clockString(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours())%24, int(d.Minutes())%60)
}

// String is "08:00–22:00".
func (b BusinessHours) String() string {
	b = b.orDefault()
	return clockString(b.Open) + "–" + clockString(b.Close)
}

// HotelContext is what the caller knows about the hotel a message was sent to
// (from tenancy and feature flags).
type HotelContext struct {
	TenantID string
	// Name is the hotel's display name in replies.
	Name string
	// Location is the hotel's time zone; nil means UTC.
	Location *time.Location
	// BusinessHours is when staff answer; the zero value is 08:00–22:00.
	BusinessHours BusinessHours
	// Language is the hotel's default reply language ("es" or "en"; "" is "es"),
	// used until the guest's own language is known.
	Language string
	// Hotel is the property in the PMS; its TenantID defaults to TenantID.
	Hotel pms.Hotel
	// EmergencyPhone is the number given outside business hours; empty means
	// the PMS's hotel phone.
	EmergencyPhone string
	// PhotoURL, when set, heads offer and greeting buttons with the hotel's photo.
	PhotoURL string
	Flags    Flags
}

func (h HotelContext) withDefaults() HotelContext {
	if h.Location == nil {
		h.Location = time.UTC
	}
	if h.Hotel.TenantID == "" {
		h.Hotel.TenantID = h.TenantID
	}
	if h.Language = supportedLanguage(h.Language); h.Language == "" {
		h.Language = langES
	}
	h.BusinessHours = h.BusinessHours.orDefault()
	return h
}

// Orchestrator answers guest messages. Safe for concurrent use by many
// conversations; one conversation's messages must be handled in order.
type Orchestrator struct {
	analyze  AnalyzeFunc
	pms      pms.PMS
	sessions SessionStore
	now      func() time.Time
}

// Option configures an Orchestrator.
type Option func(*Orchestrator)

// WithClock replaces time.Now (tests; business hours and relative dates).
func WithClock(now func() time.Time) Option { return func(o *Orchestrator) { o.now = now } }

// New returns an orchestrator that reads messages with analyze, books through
// p and remembers conversations in sessions.
func New(analyze AnalyzeFunc, p pms.PMS, sessions SessionStore, opts ...Option) (*Orchestrator, error) {
	if analyze == nil || p == nil || sessions == nil {
		return nil, errors.New("agent: New needs an analyzer, a PMS and a session store")
	}
	o := &Orchestrator{analyze: analyze, pms: p, sessions: sessions, now: time.Now}
	for _, opt := range opts {
		opt(o)
	}
	return o, nil
}

// ErrBadMessage is returned for a message the orchestrator cannot attribute
// (no guest, or a tenant other than the hotel's); retrying will not help.
var ErrBadMessage = errors.New("agent: bad message")

// Handle answers one guest message. It returns the replies to send, in
// order; none when a person has taken over the conversation. A PMS failure is
// not an error: the guest gets an apology and the failure is counted. An error
// is returned only when the message is unusable (ErrBadMessage) or the
// session could not be read or written; then nothing was answered and the
// caller may retry the message (a retried message does not book twice).
// A message delivered again after it was answered gets the same replies.
func (o *Orchestrator) Handle(ctx context.Context, m chat.Message, hotel HotelContext) ([]chat.Reply, error) {
	t, err := o.HandleTurn(ctx, m, hotel)
	return t.Replies, err
}

// Turn is what handling one message produced.
type Turn struct {
	Replies []chat.Reply
	// HandedOff is set when this message handed the conversation to a
	// person (not when it was handed off already, nor on a redelivery).
	HandedOff bool
	// Language is the guest's language as the agent knows it ("es", "en").
	Language string
	// BookingRef is the newest booking made in the conversation, or "".
	BookingRef string
}

// HandleTurn is Handle, saying also whether the conversation was handed to
// a person.
func (o *Orchestrator) HandleTurn(ctx context.Context, m chat.Message, hotel HotelContext) (Turn, error) {
	return o.HandleTurnFrom(ctx, m, hotel, nil)
}

// HandleTurnFrom is HandleTurn with the guest's session as the caller read
// it (stored, read with PostgresSessions.QueueLoad for KeyFor(hotel's
// tenant, m's channel, m's sender)), so that the caller can read it in one
// round trip with its own reads. A nil stored, or one of another key, is
// ignored and the session loaded.
func (o *Orchestrator) HandleTurnFrom(ctx context.Context, m chat.Message, hotel HotelContext, stored *StoredSession) (Turn, error) {
	ctx, span := tracing.Start(ctx, "agent.turn", trace.SpanKindInternal)
	replies, turn, err := o.handle(ctx, m, hotel, stored)
	turn.Replies = replies
	if span.IsRecording() {
		span.SetAttributes(attribute.String("agente.tenant_id", hotel.TenantID), attribute.String("messaging.message.id", m.ID),
			attribute.Int("agente.replies", len(replies)), attribute.Bool("agente.handed_off", turn.HandedOff),
			attribute.String("agente.language", turn.Language))
	}
	tracing.End(span, err)
	return turn, err
}

// GuestState is what the agent remembers of a guest's conversation (for
// staff to read); found is false when there is no live session.
func (o *Orchestrator) GuestState(ctx context.Context, tenantID string, ch chat.Channel, guest string) (State, bool, error) {
	sess, err := o.sessions.Load(ctx, KeyFor(tenantID, ch, guest), o.now())
	if err != nil {
		return State{}, false, err
	}
	return sess.State, !sess.New, nil
}

func (o *Orchestrator) handle(ctx context.Context, m chat.Message, hotel HotelContext, stored *StoredSession) ([]chat.Reply, Turn, error) {
	var info Turn
	start := time.Now()
	intent := nlp.Unknown
	status := statusSuccess
	defer func() {
		label := intentLabel(intent)
		observeTurn(label, status, time.Since(start).Seconds())
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(attribute.String("agente.intent", label), attribute.String("agente.status", status))
		}
	}()

	h := hotel.withDefaults()
	if h.TenantID == "" || strings.TrimSpace(m.From) == "" {
		status = statusError
		return nil, info, fmt.Errorf("%w: tenant %q, guest %q", ErrBadMessage, h.TenantID, m.From)
	}
	if m.TenantID != "" && m.TenantID != h.TenantID {
		status = statusError
		return nil, info, fmt.Errorf("%w: message of tenant %q handled as tenant %q", ErrBadMessage, m.TenantID, h.TenantID)
	}
	now := o.now().In(h.Location)
	if m.Kind.Silent() {
		// Reactions, edits, deletions and the channel's notices are
		// recorded in the inbox, never answered; a new number moves the
		// guest's conversation to it.
		if sys := m.System; sys != nil && sys.NewID != "" && sys.FormerID != "" &&
			(sys.Type == chat.SystemChangedNumber || sys.Type == chat.SystemChangedUserID) {
			if err := o.moveGuest(ctx, h.TenantID, m.Channel, sys.FormerID, sys.NewID, now); err != nil {
				status = statusError
				return nil, info, err
			}
		}
		return nil, info, nil
	}
	key := KeyFor(h.TenantID, m.Channel, m.From)
	var sess *Session
	var err error
	if stored != nil && stored.key == key {
		sess = stored.session(now)
	} else {
		sess, err = o.sessions.Load(ctx, key, now)
	}
	if err != nil {
		status = statusError
		return nil, info, err
	}

	if m.ID != "" {
		for _, r := range sess.State.Recent {
			if r.MessageID == m.ID {
				intent = nlp.Intent(r.Intent)
				// The store's own (MemorySessions.Load): the caller gets
				// a copy it may do anything with.
				return copyReplies(r.Replies), info, nil
			}
		}
	}

	wasHandoff := sess.State.Handoff
	t := turns.Get().(*turn)
	*t = turn{o: o, ctx: ctx, m: m, h: h, s: sess, st: &sess.State, now: now}
	defer func() {
		*t = turn{} // holds nothing of this message while pooled
		turns.Put(t)
	}()
	t.run()
	t.noteAttachments()
	intent = t.intent
	if t.failed {
		status = statusError
	}

	st := &sess.State
	st.IntentHistory = appendCapped(st.IntentHistory, intentLabel(t.intent), maxHistory)
	if m.ID != "" {
		st.Recent = appendCapped(st.Recent, RecentTurn{MessageID: m.ID, Intent: intentLabel(t.intent), Replies: t.replies}, maxRecent)
	}
	sess.UpdatedAt = now
	sess.ExpiresAt = now.Add(DefaultSessionTTL)
	if err := o.sessions.Save(ctx, sess); err != nil {
		status = statusError
		return nil, info, err
	}
	info.HandedOff = st.Handoff && !wasHandoff
	info.Language = st.Language
	if n := len(st.Bookings); n > 0 {
		info.BookingRef = st.Bookings[n-1]
	}
	return t.replies, info, nil
}

// turns are the turns' records, reused: one is nearly a kilobyte (the
// message and the analysis are in it), and the step handlers' calls
// through function values make it escape, so each message allocated one.
// Nothing keeps a turn past handle.
var turns = sync.Pool{New: func() any { return new(turn) }}

// ResetHandoff gives a conversation back to the agent after a person took it
// over. It reports whether the conversation was in handoff. It changes the
// flag alone: a turn of the guest's saved meanwhile stays.
func (o *Orchestrator) ResetHandoff(ctx context.Context, tenantID string, ch chat.Channel, guest string) (bool, error) {
	now := o.now()
	return o.sessions.ClearHandoff(ctx, KeyFor(tenantID, ch, guest), now, now.Add(DefaultSessionTTL))
}

// PruneSessions deletes the sessions that expired before `before` (the
// data retention).
func (o *Orchestrator) PruneSessions(ctx context.Context, before time.Time) (int, error) {
	return o.sessions.Prune(ctx, before)
}

// ForgetGuest deletes the guest's session (a privacy erasure): the agent
// meets them as a new guest next time.
func (o *Orchestrator) ForgetGuest(ctx context.Context, tenantID string, ch chat.Channel, guest string) error {
	return o.sessions.Delete(ctx, KeyFor(tenantID, ch, guest))
}

// appendCapped is the last n of list and v. A list with no room left
// (every loaded one: Save stores them so) gets a new array of the length
// it needs, not the double that append would make.
func appendCapped[T any](list []T, v T, n int) []T {
	if len(list) == cap(list) {
		keep := list[max(0, len(list)+1-n):]
		out := make([]T, len(keep)+1)
		copy(out, keep)
		out[len(keep)] = v
		return out
	}
	list = append(list, v)
	if len(list) > n {
		list = list[len(list)-n:]
	}
	return list
}

// moveGuest carries a guest's conversation from an old identifier to a new
// one (the guest changed phone number): the session moves, and it remembers
// the old identifier so that bookings made under it are still the guest's.
// A conversation already under the new identifier keeps its state and gains
// the old one's bookings. Moving again is harmless: the old session is gone.
func (o *Orchestrator) moveGuest(ctx context.Context, tenantID string, ch chat.Channel, from, to string, now time.Time) error {
	oldKey, newKey := KeyFor(tenantID, ch, from), KeyFor(tenantID, ch, to)
	if oldKey == newKey {
		return nil
	}
	old, err := o.sessions.Load(ctx, oldKey, now)
	if err != nil {
		return err
	}
	moved, err := o.sessions.Load(ctx, newKey, now)
	if err != nil {
		return err
	}
	st := &moved.State
	if moved.New && !old.New {
		*st = old.State
		st.Recent = nil
	} else {
		for _, id := range old.State.Bookings {
			if !slices.Contains(st.Bookings, id) {
				st.Bookings = appendCapped(st.Bookings, id, maxBookings)
			}
		}
	}
	for _, id := range append(slices.Clone(old.State.FormerIDs), oldKey.UserID) {
		if id != newKey.UserID && !slices.Contains(st.FormerIDs, id) {
			st.FormerIDs = appendCapped(st.FormerIDs, id, maxFormerIDs)
		}
	}
	moved.UpdatedAt = now
	moved.ExpiresAt = now.Add(DefaultSessionTTL)
	if err := o.sessions.Save(ctx, moved); err != nil {
		return err
	}
	if old.New {
		return nil
	}
	return o.sessions.Delete(ctx, oldKey)
}
