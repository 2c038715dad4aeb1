package hotel

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/consent"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// countedSessions counts the loads of its store.
type countedSessions struct {
	agent.SessionStore
	loads atomic.Int64
}

func (c *countedSessions) Load(ctx context.Context, key agent.SessionKey, now time.Time) (*agent.Session, error) {
	c.loads.Add(1)
	return c.SessionStore.Load(ctx, key, now)
}

// guestReadsRig is a Service reading guests from a migrated Postgres with
// one hotel, and an orchestrator whose session loads are counted.
type guestReadsRig struct {
	pool     *pgxpool.Pool
	sessions *countedSessions
	o        *agent.Orchestrator
	s        *Service
	hc       agent.HotelContext
}

func newGuestReadsRig(ctx context.Context, t *testing.T) guestReadsRig {
	t.Helper()
	pool := testservices.MigratedPostgres(t)
	const tenant = "tenant_hotel_madrid"
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $1)`, tenant); err != nil {
		t.Fatal(err)
	}
	pgSessions := agent.NewPostgresSessions(pool)
	sessions := &countedSessions{SessionStore: pgSessions}
	o, err := agent.New(nlp.Analyze, demo.New(), sessions)
	if err != nil {
		t.Fatal(err)
	}
	return guestReadsRig{pool: pool, sessions: sessions, o: o, s: &Service{guestReads: newPGGuestReads(pool, pgSessions)},
		hc: agent.HotelContext{TenantID: tenant, Name: "Hotel Madrid Central"}}
}

// Messages whose handling starts together have their guests' consent and
// sessions read in shared batches; each gets its own guest's: the opt-out
// of the guest who opted out, none for the other, and the session its turn
// then runs on without loading it (a redelivered message gets the replies
// its session remembers). A read that fails (a tenant id Postgres refuses)
// fails its own message only.
func TestGuestReadsTogetherAnswerEachItsOwnGuest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newGuestReadsRig(ctx, t)
	pool, sessions, o, s, hc := g.pool, g.sessions, g.o, g.s, g.hc
	tenant := hc.TenantID
	guests := []string{"34600000001", "34600000002", "34600000003", "34600000004"}
	msg := func(guest string) chat.Message {
		return chat.Message{TenantID: tenant, Channel: chat.WhatsApp, ID: "wamid.first-" + guest, From: guest, Kind: chat.KindText,
			Text: map[bool]string{true: "hola", false: "hello"}[guest[len(guest)-1]%2 == 1]}
	}
	remembered := map[string]string{}
	for _, g := range guests {
		replies, err := o.Handle(ctx, msg(g), hc)
		if err != nil || len(replies) == 0 {
			t.Fatalf("first answer to %s: %v, %v", g, replies, err)
		}
		remembered[g] = replies[0].Text
	}
	if _, err := consent.NewPostgres(pool).Set(ctx, consent.Record{TenantID: tenant, Channel: chat.WhatsApp, Guest: guests[0],
		OptedOut: true, ChangedAt: time.Now(), MessageID: "wamid.stop", Text: "STOP"}); err != nil {
		t.Fatal(err)
	}

	loads := sessions.loads.Load()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			g := guests[i%len(guests)]
			m := msg(g)
			reads, err := s.readGuest(ctx, m, hc)
			if err != nil {
				t.Errorf("reading %s: %v", g, err)
				return
			}
			if optedOut := g == guests[0]; reads.found != optedOut || reads.consent.OptedOut != optedOut {
				t.Errorf("%s: consent %+v (found %v), want opted out %v", g, reads.consent, reads.found, optedOut)
			}
			turn, err := o.HandleTurnFrom(ctx, m, hc, reads.session)
			if err != nil || len(turn.Replies) == 0 || turn.Replies[0].Text != remembered[g] {
				t.Errorf("%s: redelivery answered %+v, %v; want the remembered %q", g, turn.Replies, err, remembered[g])
			}
		})
		if i == 32 {
			wg.Go(func() {
				bad := msg(guests[1])
				bad.TenantID = "tenant_\xff" // not UTF-8
				if _, err := s.readGuest(ctx, bad, agent.HotelContext{TenantID: bad.TenantID}); err == nil {
					t.Error("a guest id Postgres refuses was read")
				}
			})
		}
	}
	wg.Wait()
	if n := sessions.loads.Load() - loads; n != 0 {
		t.Errorf("the turns loaded %d sessions themselves, though they were read with the consent", n)
	}
}

// The session is read with the consent, before the read receipt's round
// trip to Meta; staff giving the conversation back to the agent in that
// window (ResetHandoff) is not undone by the turn that runs on the session
// read before it, and the turn loads nothing itself.
func TestAStaffResetAfterTheGuestReadStands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newGuestReadsRig(ctx, t)
	sessions, o, s, hc := g.sessions, g.o, g.s, g.hc
	const guest = "34600000005"
	key := agent.KeyFor(hc.TenantID, chat.WhatsApp, guest)
	sess, err := sessions.Load(ctx, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sess.State.Handoff = true
	sess.ExpiresAt = time.Now().Add(agent.DefaultSessionTTL)
	if err := sessions.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	m := chat.Message{TenantID: hc.TenantID, Channel: chat.WhatsApp, ID: "wamid.during-reset", From: guest, Kind: chat.KindText, Text: "hola"}
	reads, err := s.readGuest(ctx, m, hc)
	if err != nil {
		t.Fatal(err)
	}
	if reads.session == nil {
		t.Fatal("the session was not read with the consent")
	}
	if was, err := o.ResetHandoff(ctx, hc.TenantID, chat.WhatsApp, guest); err != nil || !was {
		t.Fatalf("staff's reset: %v, %v; want it to find the handoff", was, err)
	}
	loads := sessions.loads.Load()
	if _, err := o.HandleTurnFrom(ctx, m, hc, reads.session); err != nil {
		t.Fatal(err)
	}
	if n := sessions.loads.Load() - loads; n != 0 {
		t.Errorf("the turn loaded %d sessions itself, though it was read with the consent", n)
	}
	st, found, err := o.GuestState(ctx, hc.TenantID, chat.WhatsApp, guest)
	if err != nil || !found {
		t.Fatalf("the session after the turn: found %v, %v", found, err)
	}
	if st.Handoff {
		t.Error("the turn's save undid the staff's reset made after the session was read")
	}
}
