package agent

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func TestKeyFor(t *testing.T) {
	for _, c := range []struct {
		ch   chat.Channel
		from string
		want string
	}{
		{chat.WhatsApp, "34600111222", "+34600111222"},
		{chat.WhatsApp, "+34 600 111 222", "+34600111222"},
		{chat.Gmail, " Guest1@Madrid.com ", "guest1@madrid.com"},
	} {
		if got := KeyFor("t", c.ch, c.from).UserID; got != c.want {
			t.Errorf("KeyFor(%s, %q) = %q, want %q", c.ch, c.from, got, c.want)
		}
	}
}

// sessionStoreCases run over memory and Postgres: both stores must behave alike.
var sessionStoreCases = []struct {
	name string
	run  func(t *testing.T, s SessionStore)
}{
	{"round trip", func(t *testing.T, s SessionStore) {
		ctx := context.Background()
		key := KeyFor("tenant_a", chat.WhatsApp, "34600000001")
		sess, err := s.Load(ctx, key, morning)
		if err != nil {
			t.Fatal(err)
		}
		if !sess.New || sess.ID == "" || len(sess.State.IntentHistory) != 0 {
			t.Fatalf("fresh session %+v", sess)
		}
		sess.State = State{
			IntentHistory: []string{"check_availability"},
			Context:       Slots{CheckIn: "2025-12-05", CheckOut: "2025-12-07", Adults: 2, RoomType: "double", Email: "ana@example.com"},
			Step:          stepConfirmBooking,
			Pending:       &Pending{Kind: "booking", RoomTypeID: 2, TotalPrice: 260, Currency: "EUR", Reference: "AGX"},
			LastOffer:     []OfferState{{RoomTypeID: 2, Name: "Double", Category: "double", Available: 5, TotalPrice: 260, Currency: "EUR"}},
			Language:      "en",
			Bookings:      []string{"DEMO-000001"},
			Recent:        []RecentTurn{{MessageID: "wamid.1", Intent: "greeting", Replies: []chat.Reply{{Kind: chat.ReplyButtons, Text: "hi", Buttons: []chat.Button{{ID: "a", Title: "A"}}}}}},
		}
		sess.UpdatedAt, sess.ExpiresAt = morning, morning.Add(time.Hour)
		if err := s.Save(ctx, sess); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, key, morning.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got.New || got.ID != sess.ID || !reflect.DeepEqual(got.State, sess.State) {
			t.Fatalf("loaded %+v\nsaved  %+v", got, sess)
		}
		if !got.ExpiresAt.Equal(sess.ExpiresAt) || !got.CreatedAt.Equal(sess.CreatedAt) {
			t.Errorf("times: got created %v expires %v, want %v %v", got.CreatedAt, got.ExpiresAt, sess.CreatedAt, sess.ExpiresAt)
		}
	}},

	{"tenant B cannot read or delete tenant A's session of the same guest", func(t *testing.T, s SessionStore) {
		ctx := context.Background()
		a := KeyFor("tenant_a", chat.WhatsApp, "34600000002")
		b := KeyFor("tenant_b", chat.WhatsApp, "34600000002")
		sess, _ := s.Load(ctx, a, morning)
		sess.State.Handoff = true
		sess.State.Context.Email = "secret@a.example"
		sess.ExpiresAt = morning.Add(time.Hour)
		if err := s.Save(ctx, sess); err != nil {
			t.Fatal(err)
		}
		other, err := s.Load(ctx, b, morning)
		if err != nil {
			t.Fatal(err)
		}
		if !other.New || other.State.Handoff || other.State.Context.Email != "" {
			t.Fatalf("tenant B read tenant A's session: %+v", other)
		}
		// B's own session of that guest does not overwrite A's.
		other.State.Language = "en"
		other.ExpiresAt = morning.Add(time.Hour)
		if err := s.Save(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, b); err != nil {
			t.Fatal(err)
		}
		again, _ := s.Load(ctx, a, morning)
		if again.New || !again.State.Handoff || again.State.Context.Email != "secret@a.example" {
			t.Fatalf("tenant A's session changed by tenant B: %+v", again)
		}
		// The channel is part of the key too.
		if mail, _ := s.Load(ctx, SessionKey{TenantID: "tenant_a", Channel: chat.Gmail, UserID: a.UserID}, morning); !mail.New {
			t.Fatal("another channel's session was returned")
		}
	}},

	{"expired sessions start fresh and are replaced", func(t *testing.T, s SessionStore) {
		ctx := context.Background()
		key := KeyFor("tenant_a", chat.WhatsApp, "34600000003")
		sess, _ := s.Load(ctx, key, morning)
		sess.State.Handoff = true
		sess.ExpiresAt = morning.Add(DefaultSessionTTL)
		if err := s.Save(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if live, _ := s.Load(ctx, key, morning.Add(DefaultSessionTTL-time.Second)); live.New {
			t.Fatal("session expired early")
		}
		later := morning.Add(DefaultSessionTTL)
		fresh, err := s.Load(ctx, key, later)
		if err != nil {
			t.Fatal(err)
		}
		if !fresh.New || fresh.State.Handoff || fresh.ID == sess.ID {
			t.Fatalf("expired session came back: %+v", fresh)
		}
		fresh.ExpiresAt = later.Add(time.Hour)
		if err := s.Save(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Load(ctx, key, later)
		if got.New || got.ID != fresh.ID || !got.CreatedAt.Equal(later) || got.State.Handoff {
			t.Fatalf("replacement not stored: %+v", got)
		}
	}},

	{"a save keeps the handoff flag stored since its load, unless it changed the flag", func(t *testing.T, s SessionStore) {
		ctx := context.Background()
		key := KeyFor("tenant_a", chat.WhatsApp, "34600000004")
		save := func(sess *Session) {
			t.Helper()
			sess.ExpiresAt = morning.Add(time.Hour)
			if err := s.Save(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		load := func() *Session {
			t.Helper()
			sess, err := s.Load(ctx, key, morning)
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}
		first := load()
		first.State.Handoff = true
		save(first)

		// A reset between a turn's load and its save stands; the turn's
		// other changes are written.
		turn, reset := load(), load()
		reset.State.Handoff = false
		save(reset)
		turn.State.Language = "en"
		save(turn)
		if got := load(); got.State.Handoff || got.State.Language != "en" {
			t.Fatalf("after a reset during a turn: handoff %v, language %q; want false, en", got.State.Handoff, got.State.Language)
		}

		// A turn that hands off writes it, whatever was stored meanwhile
		// by a writer that did not touch the flag.
		turn, other := load(), load()
		other.State.Step = "other"
		save(other)
		turn.State.Handoff = true
		save(turn)
		if got := load(); !got.State.Handoff {
			t.Fatal("a turn's handoff was not written")
		}
		// And one that clears it (carried over nothing) writes that.
		turn, other = load(), load()
		save(other)
		turn.State.Handoff = false
		save(turn)
		if got := load(); got.State.Handoff {
			t.Fatal("a turn's reset of the handoff was not written")
		}
	}},

	{"ClearHandoff clears the flag of a live handed-off session alone", func(t *testing.T, s SessionStore) {
		ctx := context.Background()
		key := KeyFor("tenant_a", chat.WhatsApp, "34600000006")
		if was, err := s.ClearHandoff(ctx, key, morning, morning.Add(time.Hour)); err != nil || was {
			t.Fatalf("ClearHandoff of no session = %v, %v", was, err)
		}
		sess, _ := s.Load(ctx, key, morning)
		sess.State.Handoff = true
		sess.State.Language = "en"
		sess.State.Recent = []RecentTurn{{MessageID: "wamid.6", Intent: "greeting", Replies: []chat.Reply{}}}
		sess.UpdatedAt, sess.ExpiresAt = morning, morning.Add(time.Hour)
		if err := s.Save(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if was, err := s.ClearHandoff(ctx, key, morning.Add(time.Hour), morning.Add(3*time.Hour)); err != nil || was {
			t.Fatalf("ClearHandoff of an expired session = %v, %v", was, err)
		}
		later := morning.Add(time.Minute)
		if was, err := s.ClearHandoff(ctx, key, later, later.Add(2*time.Hour)); err != nil || !was {
			t.Fatalf("ClearHandoff = %v, %v; want true", was, err)
		}
		got, _ := s.Load(ctx, key, later)
		want := sess.State
		want.Handoff = false
		if got.New || got.ID != sess.ID || !reflect.DeepEqual(got.State, want) || !got.UpdatedAt.Equal(later) || !got.ExpiresAt.Equal(later.Add(2*time.Hour)) {
			t.Fatalf("after ClearHandoff: %+v\nwant state %+v, updated %v, expiring %v", got, want, later, later.Add(2*time.Hour))
		}
		if was, err := s.ClearHandoff(ctx, key, later, later.Add(2*time.Hour)); err != nil || was {
			t.Fatalf("second ClearHandoff = %v, %v", was, err)
		}
	}},

	{"a save does not bring back a row deleted or replaced since its load", func(t *testing.T, s SessionStore) {
		ctx := context.Background()
		key := KeyFor("tenant_a", chat.WhatsApp, "34600000005")
		sess, _ := s.Load(ctx, key, morning)
		sess.State.Context.Email = "erased@a.example"
		sess.ExpiresAt = morning.Add(time.Hour)
		if err := s.Save(ctx, sess); err != nil {
			t.Fatal(err)
		}
		turn, _ := s.Load(ctx, key, morning)
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		turn.UpdatedAt, turn.ExpiresAt = morning, morning.Add(2*time.Hour)
		if err := s.Save(ctx, turn); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Load(ctx, key, morning); !got.New {
			t.Fatalf("a deleted session came back: %+v", got)
		}

		// The guest's next conversation is written, and a turn of the
		// erased one saved after it does not overwrite it.
		next, _ := s.Load(ctx, key, morning.Add(time.Minute))
		next.ExpiresAt = morning.Add(time.Hour)
		if err := s.Save(ctx, next); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, turn); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Load(ctx, key, morning.Add(time.Minute)); got.New || got.ID != next.ID || got.State.Context.Email != "" {
			t.Fatalf("the next conversation was overwritten: %+v", got)
		}
	}},
}

func TestSessionStores(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			for _, tc := range sessionStoreCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, sf.new(t)) })
			}
		})
	}
}

// The session rows of test/sql/init-staging-db.sql load as live sessions,
// and the orchestrator carries on from them.
func TestSeedSessionsLoad(t *testing.T) {
	pool, err := maybePostgres(t)
	testservices.Require(t, "Postgres", err)
	ctx := context.Background()
	_, err = pool.Exec(ctx, `
INSERT INTO sessions (session_id, tenant_id, user_id, channel, state, created_at, updated_at, expires_at) VALUES
('session_madrid_001', 'tenant_hotel_madrid', '+34600111222', 'whatsapp', '{"intent_history": ["check_availability"], "context": {"check_in": "2025-11-01", "check_out": "2025-11-03"}}', NOW(), NOW(), NOW() + INTERVAL '24 hours'),
('session_bcn_001', 'tenant_hotel_bcn', '+34600222333', 'whatsapp', '{"intent_history": ["greeting", "check_availability"], "context": {"guests": 2}}', NOW(), NOW(), NOW() + INTERVAL '24 hours')
ON CONFLICT DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
	s := NewPostgresSessions(pool)
	// The database's NOW() is the real time; read the rows as of a moment
	// inside their 24 hours.
	var dbNow time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	madrid, err := s.Load(ctx, KeyFor("tenant_hotel_madrid", chat.WhatsApp, "34600111222"), dbNow)
	if err != nil {
		t.Fatal(err)
	}
	if madrid.New || madrid.ID != "session_madrid_001" ||
		!reflect.DeepEqual(madrid.State.IntentHistory, []string{"check_availability"}) ||
		madrid.State.Context.CheckIn != "2025-11-01" || madrid.State.Context.CheckOut != "2025-11-03" {
		t.Fatalf("madrid seed session: %+v", madrid)
	}
	bcn, err := s.Load(ctx, KeyFor("tenant_hotel_bcn", chat.WhatsApp, "34600222333"), dbNow)
	if err != nil {
		t.Fatal(err)
	}
	if bcn.New || bcn.State.Context.Adults != 2 {
		t.Fatalf("bcn seed session: %+v", bcn)
	}

	// The bcn guest said they are two; giving dates is enough for offers.
	clock := &fakeClock{t: dbNow.In(madridTZ)}
	in := pms.DateOf(clock.Now()).AddDays(10)
	text := "del 5 al 7 de diciembre"
	f := &fakeNLP{t: t}
	analyze := func(s string, now time.Time) nlp.Result {
		r := f.analyze(s, now)
		r.Entities.CheckIn, r.Entities.CheckOut = in, in.AddDays(2)
		return r
	}
	o, err := New(analyze, demoFor(clock), s, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	replies, err := o.Handle(ctx, chat.Message{TenantID: "tenant_hotel_bcn", Channel: chat.WhatsApp, ID: "wamid.seed.1",
		From: "34600222333", Kind: chat.KindText, Text: text},
		HotelContext{TenantID: "tenant_hotel_bcn", Name: "Hotel Barcelona Beach", Location: madridTZ})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, one(t, replies), "Hotel Barcelona Beach", "2 adultos", "1. Habitación doble")
	after, _ := s.Load(ctx, KeyFor("tenant_hotel_bcn", chat.WhatsApp, "34600222333"), dbNow)
	if after.ID != "session_bcn_001" || !reflect.DeepEqual(after.State.IntentHistory, []string{"greeting", "check_availability", "check_availability"}) {
		t.Fatalf("session after a message: %+v", after)
	}
}

func TestCorruptStateStartsOver(t *testing.T) {
	s := decodeSession(SessionKey{TenantID: "t"}, "x", []byte(`{"intent_history": 7}`), morning, morning, morning.Add(time.Hour), morning)
	if !s.New || s.ID == "x" {
		t.Fatalf("corrupt state kept: %+v", s)
	}
}
