package agent

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// writeHook runs a hook before the next write (Save, ClearHandoff) of its
// store, once: what another writer does between a load of the session and
// the write that follows it.
type writeHook struct {
	SessionStore
	mu   sync.Mutex
	hook func()
}

func (s *writeHook) beforeNextWrite(f func()) { s.mu.Lock(); s.hook = f; s.mu.Unlock() }

func (s *writeHook) runHook() {
	s.mu.Lock()
	f := s.hook
	s.hook = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

func (s *writeHook) Save(ctx context.Context, sess *Session) error {
	s.runHook()
	return s.SessionStore.Save(ctx, sess)
}

func (s *writeHook) ClearHandoff(ctx context.Context, key SessionKey, now, expires time.Time) (bool, error) {
	s.runHook()
	return s.SessionStore.ClearHandoff(ctx, key, now, expires)
}

// raceEnv is an orchestrator over a store whose saves can be preceded by
// another writer's work, and one guest of one hotel.
type raceEnv struct {
	t        *testing.T
	o        *Orchestrator
	sessions *writeHook
	hotel    HotelContext
	from     string
	n        int
}

func newRaceEnv(t *testing.T, s SessionStore, from string) *raceEnv {
	clock := &fakeClock{t: morning}
	hooked := &writeHook{SessionStore: s}
	f := &fakeNLP{t: t}
	o, err := New(f.analyze, demoFor(clock), hooked, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	h := HotelContext{TenantID: "tenant_hotel_madrid", Name: "Hotel Madrid Central", Location: madridTZ}
	return &raceEnv{t: t, o: o, sessions: hooked, hotel: h, from: from}
}

func (e *raceEnv) message(text string) chat.Message {
	e.n++
	return chat.Message{TenantID: e.hotel.TenantID, Channel: chat.WhatsApp, ID: "wamid.race." + e.from + "." + strconv.Itoa(e.n),
		From: e.from, Name: "Ana", Kind: chat.KindText, Text: text}
}

func (e *raceEnv) turn(ctx context.Context, text string) Turn {
	e.t.Helper()
	tr, err := e.o.HandleTurn(ctx, e.message(text), e.hotel)
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// reset is the staff handing the conversation back, to completion.
func (e *raceEnv) reset(wantWas bool) {
	e.t.Helper()
	was, err := e.o.ResetHandoff(context.Background(), e.hotel.TenantID, chat.WhatsApp, e.from)
	if err != nil || was != wantWas {
		e.t.Fatalf("ResetHandoff = %v, %v; want %v", was, err, wantWas)
	}
}

func (e *raceEnv) state() (State, bool) {
	e.t.Helper()
	st, found, err := e.o.GuestState(context.Background(), e.hotel.TenantID, chat.WhatsApp, e.from)
	if err != nil {
		e.t.Fatal(err)
	}
	return st, found
}

// The staff hand a conversation back (ResetHandoff) while a turn of the
// guest's, which loaded the session in handoff, is under way: the turn
// did not change the handoff, so its save keeps the staff's change
// rather than writing back the handoff it loaded.
func TestResetHandoffDuringATurnStands(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			e := newRaceEnv(t, sf.new(t), "34620001001")
			ctx := context.Background()
			if tr := e.turn(ctx, "quiero hablar con una persona"); !tr.HandedOff {
				t.Fatalf("the guest's request did not hand off: %+v", tr)
			}
			e.sessions.beforeNextWrite(func() { e.reset(true) })
			if tr := e.turn(ctx, "hola"); len(tr.Replies) != 0 {
				t.Fatalf("replied during the handoff: %+v", tr.Replies)
			}
			st, found := e.state()
			if !found || st.Handoff {
				t.Fatalf("after a reset during the turn the session is in handoff %v (found %v): the turn's save undid the staff's reset", st.Handoff, found)
			}
			// The rest of the turn's state is the turn's.
			if n := len(st.IntentHistory); n == 0 || st.IntentHistory[n-1] != "greeting" || len(st.Recent) != 2 {
				t.Errorf("the turn's own state was not saved: history %v, %d recent turns", st.IntentHistory, len(st.Recent))
			}
			mustContain(t, one(t, e.turn(ctx, "hola").Replies), "¡Hola, Ana!")
		})
	}
}

// A turn that hands the conversation off writes the handoff whatever a
// concurrent reset found: the guest's request for a person is not lost.
func TestTurnThatHandsOffWinsOverAConcurrentReset(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			e := newRaceEnv(t, sf.new(t), "34620001002")
			ctx := context.Background()
			mustContain(t, one(t, e.turn(ctx, "hola").Replies), "¡Hola, Ana!")
			e.sessions.beforeNextWrite(func() { e.reset(false) })
			if tr := e.turn(ctx, "quiero hablar con una persona"); !tr.HandedOff {
				t.Fatalf("the guest's request did not hand off: %+v", tr)
			}
			if st, found := e.state(); !found || !st.Handoff {
				t.Fatalf("the guest asked for a person during a reset and the session is in handoff %v (found %v)", st.Handoff, found)
			}
			if r := e.turn(ctx, "hola"); len(r.Replies) != 0 {
				t.Fatalf("the agent answered a guest waiting for a person: %+v", r.Replies)
			}
		})
	}
}

// A turn of the guest's that completes while the staff's reset is under
// way (between its load and its save) is not undone by the reset: the
// message stays answered, so a redelivery of it is not answered anew.
func TestTurnDuringAResetHandoffStands(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			e := newRaceEnv(t, sf.new(t), "34620001005")
			ctx := context.Background()
			e.turn(ctx, "quiero hablar con una persona")
			m := e.message("hola")
			e.sessions.beforeNextWrite(func() {
				if tr, err := e.o.HandleTurn(ctx, m, e.hotel); err != nil || len(tr.Replies) != 0 {
					t.Errorf("turn during the handoff: %+v, %v", tr, err)
				}
			})
			e.reset(true)
			st, found := e.state()
			if !found || st.Handoff {
				t.Fatalf("after the reset the session is in handoff %v (found %v)", st.Handoff, found)
			}
			if n := len(st.Recent); n == 0 || st.Recent[n-1].MessageID != m.ID {
				t.Fatalf("the reset undid the turn that completed during it: recent turns %+v", st.Recent)
			}
			if tr, err := e.o.HandleTurn(ctx, m, e.hotel); err != nil || len(tr.Replies) != 0 {
				t.Fatalf("the redelivered message got %+v, %v; want the silence it got during the handoff", tr.Replies, err)
			}
		})
	}
}

// On Postgres a turn in the inbox's unit of work saves the session only
// when the message completes (store.WithDeferred): a reset that commits
// between the turn and its completion stands too.
func TestResetHandoffBeforeTheTurnsDeferredSaveStands(t *testing.T) {
	pool, err := maybePostgres(t)
	testservices.Require(t, "Postgres", err)
	e := newRaceEnv(t, NewPostgresSessions(pool), "34620001003")
	e.turn(context.Background(), "quiero hablar con una persona")

	ctx, deferred := store.WithDeferred(context.Background())
	e.turn(ctx, "hola")
	e.reset(true)
	writes := deferred.Take()
	if len(writes) == 0 {
		t.Fatal("the turn saved the session at once, not with the unit of work")
	}
	for _, w := range writes {
		if _, err := pool.Exec(context.Background(), w.SQL, w.Args...); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := e.state(); st.Handoff {
		t.Fatal("the turn's deferred save undid a reset that committed before it")
	}
}

// Erasing a guest (ForgetGuest) while a turn of theirs is under way: the
// turn's save does not bring the erased session back.
func TestForgetGuestDuringATurnStands(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			e := newRaceEnv(t, sf.new(t), "34620001004")
			ctx := context.Background()
			mustContain(t, one(t, e.turn(ctx, "hola").Replies), "¡Hola, Ana!")
			e.sessions.beforeNextWrite(func() {
				if err := e.o.ForgetGuest(context.Background(), e.hotel.TenantID, chat.WhatsApp, e.from); err != nil {
					t.Fatal(err)
				}
			})
			e.turn(ctx, "hola")
			if st, found := e.state(); found {
				t.Fatalf("the turn's save brought an erased session back: %+v", st)
			}
			// The guest's next message starts a new conversation.
			e.turn(ctx, "hola")
			if _, found := e.state(); !found {
				t.Fatal("a new conversation after the erasure was not saved")
			}
		})
	}
}
