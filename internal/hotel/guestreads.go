package hotel

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/agent"
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

// pgGuestReads reads a guest's consent and session from Postgres in one
// round trip, one pipelined batch in one implicit transaction: read apart,
// they were a round trip and a transaction each per message (BENCHMARKS.md).
type pgGuestReads struct {
	pool     *pgxpool.Pool
	consent  *consent.Postgres
	sessions *agent.PostgresSessions
}

// readGuest reads what handling m starts from. A silent message (a
// reaction, a notice) is never answered by a turn, so its session is not
// read.
func (s *Service) readGuest(ctx context.Context, m chat.Message, hc agent.HotelContext) (guestReads, error) {
	pg := s.guestReads
	if pg == nil {
		cur, found, err := s.consent.Get(ctx, m.TenantID, m.Channel, m.From)
		return guestReads{consent: cur, found: found}, err
	}
	b := &pgx.Batch{}
	g := pg.consent.QueueGet(b, m.TenantID, m.Channel, m.From)
	var session *agent.StoredSession
	if !m.Kind.Silent() {
		session = pg.sessions.QueueLoad(b, agent.KeyFor(hc.TenantID, m.Channel, m.From))
	}
	if err := pg.pool.SendBatch(ctx, b).Close(); err != nil {
		return guestReads{}, err
	}
	return guestReads{consent: g.Record, found: g.Found, session: session}, nil
}
