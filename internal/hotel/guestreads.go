package hotel

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/batching"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/consent"
)

// guestReads is what handling a guest's message reads before anything
// else: the guest's consent (consentTurn) and their session (the
// orchestrator's turn).
type guestReads struct {
	consent consent.Record
	found   bool // the guest has a consent record
	// session is the guest's session row, read with the consent; nil when
	// it was not (the memory stores, a silent message): the orchestrator
	// loads it if it needs it.
	session *agent.StoredSession
}

// pgGuestReads reads guests' consent and sessions from Postgres: one
// message's two reads in one pipelined batch, and the reads of the
// messages whose handling starts together (a claim hands out several at
// once) in the same batch, one round trip and one implicit transaction
// for them all; read apart they were two of each per message
// (BENCHMARKS.md). A lone message's reads go at once.
type pgGuestReads struct {
	pool     *pgxpool.Pool
	consent  *consent.Postgres
	sessions *agent.PostgresSessions
	queue    *batching.Queue[*guestReadReq]
}

// maxGuestReadGroup bounds the messages whose reads share a batch.
const maxGuestReadGroup = 32

// guestReadTimeout bounds a group's round trip: the group is read on the
// queue's goroutine, whatever its callers' contexts.
const guestReadTimeout = 10 * time.Second

type guestReadReq struct {
	m     chat.Message
	key   agent.SessionKey
	reads guestReads
	done  chan error
}

func newPGGuestReads(pool *pgxpool.Pool, sessions *agent.PostgresSessions) *pgGuestReads {
	g := &pgGuestReads{pool: pool, consent: consent.NewPostgres(pool), sessions: sessions}
	g.queue = batching.New(batching.UpTo[*guestReadReq](maxGuestReadGroup), g.flush)
	return g
}

// readGuest reads what handling m starts from: the guest's consent and
// their session. A silent message (a reaction, a notice) is never answered
// by a turn, so its session is not read.
func (s *Service) readGuest(ctx context.Context, m chat.Message, hc agent.HotelContext) (guestReads, error) {
	pg := s.guestReads
	if pg == nil {
		cur, found, err := s.consent.Get(ctx, m.TenantID, m.Channel, m.From)
		return guestReads{consent: cur, found: found}, err
	}
	r := &guestReadReq{m: m, key: agent.KeyFor(hc.TenantID, m.Channel, m.From), done: make(chan error, 1)}
	pg.queue.Add(r)
	select {
	case err := <-r.done:
		return r.reads, err
	case <-ctx.Done():
		return guestReads{}, ctx.Err()
	}
}

// flush reads one group in one batch; should the batch fail, each of its
// messages is read again alone, so that one message's failure is not
// another's.
func (g *pgGuestReads) flush(group []*guestReadReq) {
	ctx, cancel := context.WithTimeout(context.Background(), guestReadTimeout)
	defer cancel()
	err := g.read(ctx, group)
	for _, r := range group {
		if err != nil && len(group) > 1 {
			r.done <- g.read(ctx, []*guestReadReq{r})
			continue
		}
		r.done <- err
	}
}

func (g *pgGuestReads) read(ctx context.Context, group []*guestReadReq) error {
	b := &pgx.Batch{}
	consents := make([]*consent.GuestRead, len(group))
	for i, r := range group {
		consents[i] = g.consent.QueueGet(b, r.m.TenantID, r.m.Channel, r.m.From)
		r.reads.session = nil
		if !r.m.Kind.Silent() {
			r.reads.session = g.sessions.QueueLoad(b, r.key)
		}
	}
	if err := g.pool.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	for i, r := range group {
		r.reads.consent, r.reads.found = consents[i].Record, consents[i].Found
	}
	return nil
}
