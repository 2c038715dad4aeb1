package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// DefaultSessionTTL is how long a conversation is remembered after the
// guest's last message; an expired session starts fresh.
const DefaultSessionTTL = 24 * time.Hour

// SessionKey names one guest's conversation with one hotel on one channel.
// Build it with KeyFor so that a guest's identifier is spelled one way.
type SessionKey struct {
	TenantID string
	Channel  chat.Channel
	UserID   string
}

// KeyFor is the session key of a guest: WhatsApp numbers are stored in E.164
// with the '+' (as the original system's sessions rows spell them), WhatsApp
// user ids (a guest without a number) as sent, email addresses in lower case.
func KeyFor(tenantID string, ch chat.Channel, from string) SessionKey {
	from = strings.TrimSpace(from)
	switch ch {
	case chat.WhatsApp:
		if d := digitsOf(from); d != "" && !isUserID(from) {
			from = "+" + d
		}
	case chat.Gmail:
		from = strings.ToLower(from)
	}
	return SessionKey{TenantID: tenantID, Channel: ch, UserID: from}
}

// isUserID reports whether a WhatsApp guest identifier is a business-scoped
// user id ("US.1349...") rather than a phone number: phone numbers have no
// letters.
func isUserID(s string) bool { return strings.ContainsFunc(s, unicode.IsLetter) }

// digitsOf keeps the ASCII digits of s.
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Session is a guest's conversation state plus its bookkeeping.
type Session struct {
	ID        string
	Key       SessionKey
	State     State
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	// New is true when no live session existed and this one starts fresh.
	New bool
	// fromRow is set when Load read the session from its stored row, and
	// handoffAsRead is the handoff flag as read: Save keeps what other
	// writers did to that row since (SessionStore.Save).
	fromRow       bool
	handoffAsRead bool
}

// keepsStoredHandoff reports whether Save leaves the stored handoff flag
// as it is: the session continues a stored row and its holder did not
// change the flag, so a change made by someone else since (staff handing
// the conversation back) is not undone.
func (s *Session) keepsStoredHandoff() bool {
	return s.fromRow && s.State.Handoff == s.handoffAsRead
}

// State is what the agent remembers between messages; it is stored as the
// sessions.state JSON document. intent_history and context are the original
// system's key names, so rows written by the original system load.
type State struct {
	IntentHistory []string     `json:"intent_history"`
	Context       Slots        `json:"context"`
	Step          string       `json:"step,omitempty"`
	Pending       *Pending     `json:"pending_confirmation,omitempty"`
	LastOffer     []OfferState `json:"last_offer,omitempty"`
	// OfferStale is set when LastOffer came from a stale availability
	// answer given at OfferAsOf (RFC 3339; empty when unknown).
	OfferStale bool   `json:"offer_stale,omitempty"`
	OfferAsOf  string `json:"offer_as_of,omitempty"`
	// LastQuote is the room last chosen and its price, kept after the
	// booking: "¿y por noche?" asks about it.
	LastQuote *Quote       `json:"last_quote,omitempty"`
	Handoff   bool         `json:"handoff,omitempty"`
	Language  string       `json:"language,omitempty"`
	Bookings  []string     `json:"bookings,omitempty"` // ids booked in this conversation, newest last
	Recent    []RecentTurn `json:"recent,omitempty"`   // last answered messages, for redeliveries
	// DetailTries counts the replies in a row that did not give the guest
	// detail asked for.
	DetailTries int `json:"detail_tries,omitempty"`
	// Noticed is set once the guest was told that the agent reads only
	// text, so that a burst of photos or stickers gets one answer; the
	// guest's next words clear it.
	Noticed bool `json:"unreadable_noticed,omitempty"`
	// FormerIDs are the guest's earlier identifiers (phone numbers, user
	// ids) on this channel, newest last: the conversation moved here when
	// the guest changed number, and bookings made under them are still
	// the guest's.
	FormerIDs []string `json:"former_ids,omitempty"`
}

// Slots are the reservation details collected so far. Dates are ISO days.
type Slots struct {
	CheckIn  string `json:"check_in,omitempty"`
	CheckOut string `json:"check_out,omitempty"`
	Nights   int    `json:"nights,omitempty"`
	Adults   int    `json:"adults,omitempty"`
	Children int    `json:"children,omitempty"`
	// ChildAges are the children's ages, one per child, when the guest gave
	// them; ChildAgesAsked is set once the guest was asked, so that they
	// are asked once.
	ChildAges      []int `json:"child_ages,omitempty"`
	ChildAgesAsked bool  `json:"child_ages_asked,omitempty"`
	// Guests is the original system's party size; it is read as adults when
	// adults is unset.
	Guests   int    `json:"guests,omitempty"`
	RoomType string `json:"room_type,omitempty"` // single|double|twin|suite|family
	Email    string `json:"email,omitempty"`
	// Name is the guest's name as the channel gave it (WhatsApp profile,
	// email display name); FirstName and LastName, when set, are the name
	// the guest gave and win over it.
	Name      string `json:"name,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Phone     string `json:"phone,omitempty"` // as the guest typed it; empty: the WhatsApp sender
	// EmailDeclined is set when the guest said they would rather give no
	// email for the confirmation: they are not asked again.
	EmailDeclined bool `json:"email_declined,omitempty"`
	// Refused lists the details (pms.GuestDetail) whose channel-given value
	// the PMS refused: the guest is asked for them instead.
	Refused []string `json:"refused,omitempty"`
}

// setParty records the party. The children's ages stay while the message
// changes nothing about the children; new children are new ages.
func (c *Slots) setParty(adults, children int, ages []int) {
	if children != c.Children {
		c.ChildAges, c.ChildAgesAsked = nil, false
	}
	c.Adults, c.Children = adults, children
	if ages := agesOf(children, ages); ages != nil {
		c.ChildAges = ages
	}
}

// agesOf is ages when there is one per child, else nil: a stay carries all
// its children's ages or none.
func agesOf(children int, ages []int) []int {
	if children == 0 || len(ages) != children {
		return nil
	}
	return slices.Clone(ages)
}

// OfferState is one room type offered to the guest in the last answer.
// Names are the PMS's, in every language it has them in, the guest shown
// the one of their language; Name is the one shown when the offer was
// made (all a session kept before the names were). Category is what the
// names say the room is, when they say ("Doble Giralda" is a double), so
// that a guest asking for a kind of room finds it.
type OfferState struct {
	RoomTypeID int      `json:"room_type_id"`
	Name       string   `json:"name"`
	Names      pms.Text `json:"names,omitempty"`
	Category   string   `json:"category,omitempty"`
	Available  int      `json:"available"`
	TotalPrice float64  `json:"total_price"`
	Currency   string   `json:"currency"`
	// MaxAdults and Capacity are the room's limits (0 when the PMS sets
	// none): a room whose name says nothing may still be what a guest
	// asking for a double means.
	MaxAdults int `json:"max_adults,omitempty"`
	Capacity  int `json:"capacity,omitempty"`
}

// Quote is a room's price for a stay.
type Quote struct {
	Room       string   `json:"room"`
	RoomNames  pms.Text `json:"room_names,omitempty"` // as OfferState.Names
	TotalPrice float64  `json:"total_price"`
	Currency   string   `json:"currency"`
	Nights     int      `json:"nights"`
}

// Pending is the action waiting for the guest's yes.
type Pending struct {
	Kind       string `json:"kind"` // booking | cancel | late_checkout
	RoomTypeID int    `json:"room_type_id,omitempty"`
	RoomName   string `json:"room_name,omitempty"`
	// RoomNames are the room type's names in every language the PMS has
	// (OfferState.Names); RoomName is the one shown when it was chosen.
	RoomNames  pms.Text `json:"room_names,omitempty"`
	Category   string   `json:"category,omitempty"`
	CheckIn    string   `json:"check_in,omitempty"`
	CheckOut   string   `json:"check_out,omitempty"`
	Adults     int      `json:"adults,omitempty"`
	Children   int      `json:"children,omitempty"`
	ChildAges  []int    `json:"child_ages,omitempty"`
	TotalPrice float64  `json:"total_price,omitempty"`
	Currency   string   `json:"currency,omitempty"`
	BookingID  string   `json:"booking_id,omitempty"`
	// Reference is the idempotency key of the first attempt to book, reused
	// by later attempts so that a booking the PMS made but we never heard
	// about is not made twice.
	Reference string `json:"reference,omitempty"`
	// Refusals counts the guest details the PMS refused for this booking:
	// after one, the guest is asked again; after two, a person takes over.
	Refusals int `json:"refusals,omitempty"`
}

// RecentTurn is the answer given to one message, replayed when the same
// message is delivered again.
type RecentTurn struct {
	MessageID string       `json:"message_id"`
	Intent    string       `json:"intent"`
	Replies   []chat.Reply `json:"replies"`
}

// maxRecent and maxHistory bound the state document.
const (
	maxRecent    = 5
	maxHistory   = 20
	maxBookings  = 10
	maxFormerIDs = 5
)

// normalize fixes up a state read from storage: nil slices of old rows, the
// original system's guests count.
func (s *State) normalize() {
	if s.IntentHistory == nil {
		s.IntentHistory = []string{}
	}
	if s.Context.Adults == 0 && s.Context.Guests > 0 {
		s.Context.Adults = s.Context.Guests
	}
	s.Context.Guests = 0
}

// SessionStore keeps sessions. Every operation is scoped by the key's tenant:
// a store never returns or changes another tenant's session. Callers handle
// one conversation's messages in order (the inbox does), so of a guest's
// turns one at a time loads and saves the session; others write it
// between a turn's Load and its Save, though: staff hand the conversation
// back (Orchestrator.ResetHandoff, through ClearHandoff, which writes the
// flag alone so that it undoes no turn), an erasure deletes it
// (ForgetGuest). A turn must not be redone (it may have booked), so Save
// does not fail on such a write; it keeps it instead, where the turn did
// not decide otherwise:
//   - the handoff flag: a session Load read from its row writes the flag
//     only if its holder changed it; otherwise the stored flag stays, so
//     a reset made meanwhile stands, and a guest's request for a person
//     made in the turn is written;
//   - the row itself: a session Load read from its row is written only
//     while that row (its session id) is still stored; deleted or
//     replaced meanwhile, Save writes nothing, so an erased session does
//     not come back. A fresh session (New), or one the caller built,
//     replaces whatever is stored.
//
// For every other field the last Save wins.
type SessionStore interface {
	// Load returns the live session of key, or a fresh one (New = true) when
	// there is none or it expired at or before now. The state's lists and
	// maps may be the store's own (MemorySessions): the caller changes one
	// by replacing it (an append does), never by writing into it. Its
	// pending action is the caller's.
	Load(ctx context.Context, key SessionKey, now time.Time) (*Session, error)
	// Save writes the session (s.Key, s.ExpiresAt set by the caller), but
	// for what others wrote since s was loaded (see SessionStore). It may
	// keep the state's lists (MemorySessions): the caller does not write
	// into them afterwards either.
	Save(ctx context.Context, s *Session) error
	// ClearHandoff gives key's session back to the agent: when it is live
	// at now and handed off, it clears the flag alone (what others write
	// meanwhile, a turn's state, stays), sets the session's UpdatedAt to
	// now and ExpiresAt to expires, and reports true. It is never deferred
	// (store.WithDeferred): its answer is what it did.
	ClearHandoff(ctx context.Context, key SessionKey, now, expires time.Time) (bool, error)
	// Delete forgets the session of key.
	Delete(ctx context.Context, key SessionKey) error
	// Prune deletes the sessions that expired before `before` (the data
	// retention) and returns how many.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// freshSession starts a conversation. Its id is derived from the key and the
// instant, so it is deterministic and distinct across tenants.
func freshSession(key SessionKey, now time.Time) *Session {
	h := sha256.Sum256([]byte(key.TenantID + "\x00" + string(key.Channel) + "\x00" + key.UserID + "\x00" + now.UTC().Format(time.RFC3339Nano)))
	return &Session{
		ID:        "sess_" + hex.EncodeToString(h[:12]),
		Key:       key,
		State:     State{IntentHistory: []string{}},
		CreatedAt: now,
		UpdatedAt: now,
		New:       true,
	}
}

// MemorySessions is the in-memory SessionStore for development and tests. It
// keeps what Postgres would give back: a copy of the state equal to its JSON
// document's round trip (session_copy.go), so both stores behave alike. Load
// hands that copy's lists and maps out without copying them again, and the
// copy keeps the saved state's lists of strings that need no change.
type MemorySessions struct {
	mu    sync.Mutex
	rows  map[SessionKey]memoryRow
	saves int
}

type memoryRow struct {
	id                              string
	state                           State
	createdAt, updatedAt, expiresAt time.Time
}

// NewMemorySessions returns an empty in-memory store.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{rows: map[SessionKey]memoryRow{}}
}

// Load implements SessionStore.
func (m *MemorySessions) Load(_ context.Context, key SessionKey, now time.Time) (*Session, error) {
	m.mu.Lock()
	row, ok := m.rows[key]
	m.mu.Unlock()
	if !ok || !row.expiresAt.After(now) {
		return freshSession(key, now), nil
	}
	// The stored state is handed out, not copied (copying it was most of
	// what a turn allocated in memory mode): a turn replaces the lists and
	// maps it changes, never writes into them, and Save stores a copy of
	// its own. The pending action is the exception: a turn sets its fields.
	st := row.state
	if p := st.Pending; p != nil {
		own := *p
		st.Pending = &own
	}
	st.normalize()
	return &Session{ID: row.id, Key: key, State: st, CreatedAt: row.createdAt, UpdatedAt: row.updatedAt, ExpiresAt: row.expiresAt,
		fromRow: true, handoffAsRead: st.Handoff}, nil
}

// Save implements SessionStore.
func (m *MemorySessions) Save(_ context.Context, s *Session) error {
	if !s.State.encodable() {
		_, err := json.Marshal(s.State) // the encoder's own error
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, found := m.rows[s.Key]
	if s.fromRow && (!found || stored.id != s.ID) {
		return nil // deleted or replaced since s was loaded
	}
	// The turns the state still remembers from the stored one are taken
	// from it (a stored copy is never changed, so it can be shared) rather
	// than copied again.
	st := copyState(&s.State, stored.state.Recent)
	if s.keepsStoredHandoff() {
		st.Handoff = stored.state.Handoff
	}
	m.rows[s.Key] = memoryRow{id: s.ID, state: st, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt, expiresAt: s.ExpiresAt}
	// Expired sessions are dropped now and then, so memory stays bounded by
	// the guests of the last TTL.
	m.saves++
	if m.saves%1024 == 0 {
		for k, r := range m.rows {
			if !r.expiresAt.After(s.UpdatedAt) {
				delete(m.rows, k)
			}
		}
	}
	return nil
}

// ClearHandoff implements SessionStore.
func (m *MemorySessions) ClearHandoff(_ context.Context, key SessionKey, now, expires time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	row, ok := m.rows[key]
	if !ok || !row.expiresAt.After(now) || !row.state.Handoff {
		return false, nil
	}
	row.state.Handoff = false
	row.updatedAt, row.expiresAt = now, expires
	m.rows[key] = row
	return true, nil
}

// Delete implements SessionStore.
func (m *MemorySessions) Delete(_ context.Context, key SessionKey) error {
	m.mu.Lock()
	delete(m.rows, key)
	m.mu.Unlock()
	return nil
}

// Prune implements SessionStore.
func (m *MemorySessions) Prune(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, r := range m.rows {
		if r.expiresAt.Before(before) {
			delete(m.rows, k)
			n++
		}
	}
	return n, nil
}

// decodeSession builds a live session from a stored row. A state document
// that does not parse starts the conversation over rather than failing every
// later message of the guest.
func decodeSession(key SessionKey, id string, raw []byte, created, updated, expires, now time.Time) *Session {
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		s := freshSession(key, now)
		return s
	}
	st.normalize()
	return &Session{ID: id, Key: key, State: st, CreatedAt: created, UpdatedAt: updated, ExpiresAt: expires,
		fromRow: true, handoffAsRead: st.Handoff}
}
