package consent

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Postgres keeps consent in the guest_consent and guest_consent_changes
// tables (migration 0036_guest_consent), shared by every instance.
type Postgres struct {
	pool *pgxpool.Pool
}

// NewPostgres returns a store over pool; the schema must be migrated.
func NewPostgres(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

// getSQL reads one guest's current answer ($1 tenant, $2 channel, $3 guest
// as GuestKey writes it).
const getSQL = `SELECT opted_out, changed_at, message_id, text FROM guest_consent
		WHERE tenant_id = $1 AND channel = $2 AND guest = $3`

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, tenantID string, channel chat.Channel, guest string) (Record, bool, error) {
	g := newGuestRead(tenantID, channel, guest)
	if err := g.scan(p.pool.QueryRow(ctx, getSQL, g.args()...)); err != nil {
		return Record{}, false, err
	}
	return g.Record, g.Found, nil
}

// QueueGet adds Get's read to b, so that it shares its round trip with
// the caller's other reads (a guest message's consent and session:
// internal/hotel). Once b's results are read (BatchResults.Close), the
// answer holds Get's; Close returns the read's error if it failed.
func (p *Postgres) QueueGet(b *pgx.Batch, tenantID string, channel chat.Channel, guest string) *GuestRead {
	g := newGuestRead(tenantID, channel, guest)
	b.Queue(getSQL, g.args()...).QueryRow(g.scan)
	return g
}

// GuestRead is one guest's answer as Get returns it: Record, and Found
// false for a guest who never changed it.
type GuestRead struct {
	Record Record
	Found  bool
}

func newGuestRead(tenantID string, channel chat.Channel, guest string) *GuestRead {
	return &GuestRead{Record: Record{TenantID: tenantID, Channel: channel, Guest: GuestKey(channel, guest)}}
}

func (g *GuestRead) args() []any {
	return []any{g.Record.TenantID, string(g.Record.Channel), g.Record.Guest}
}

func (g *GuestRead) scan(row pgx.Row) error {
	err := row.Scan(&g.Record.OptedOut, &g.Record.ChangedAt, &g.Record.MessageID, &g.Record.Text)
	if errors.Is(err, pgx.ErrNoRows) {
		g.Record = Record{}
		return nil
	}
	if err != nil {
		g.Record = Record{}
		return fmt.Errorf("reading consent: %w", err)
	}
	g.Found = true
	return nil
}

// setSQL changes the answer only when it differs, and logs the change in
// the same statement, so the history holds exactly the changes.
const setSQL = `WITH cur AS (
	INSERT INTO guest_consent AS g (tenant_id, channel, guest, opted_out, changed_at, message_id, text)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (tenant_id, channel, guest) DO UPDATE
		SET opted_out = excluded.opted_out, changed_at = excluded.changed_at,
			message_id = excluded.message_id, text = excluded.text
		WHERE g.opted_out <> excluded.opted_out
	RETURNING 1
), log AS (
	INSERT INTO guest_consent_changes (tenant_id, channel, guest, opted_out, changed_at, message_id, text)
	SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM cur)
	RETURNING 1
)
SELECT count(*) FROM log`

// Set implements Store.
func (p *Postgres) Set(ctx context.Context, r Record) (bool, error) {
	var n int
	err := p.pool.QueryRow(ctx, setSQL, r.TenantID, string(r.Channel), GuestKey(r.Channel, r.Guest),
		r.OptedOut, r.ChangedAt, r.MessageID, clip(r.Text)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("recording consent: %w", err)
	}
	return n > 0, nil
}

// History implements Store.
func (p *Postgres) History(ctx context.Context, tenantID string, channel chat.Channel, guest string) ([]Record, error) {
	g := GuestKey(channel, guest)
	rows, err := p.pool.Query(ctx, `SELECT opted_out, changed_at, message_id, text FROM guest_consent_changes
		WHERE tenant_id = $1 AND channel = $2 AND guest = $3 ORDER BY seq`, tenantID, string(channel), g)
	if err != nil {
		return nil, fmt.Errorf("reading consent history: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r := Record{TenantID: tenantID, Channel: channel, Guest: g}
		if err := rows.Scan(&r.OptedOut, &r.ChangedAt, &r.MessageID, &r.Text); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Erase implements Store.
func (p *Postgres) Erase(ctx context.Context, tenantID string, channel chat.Channel, guest string) (int, error) {
	var n int
	err := p.pool.QueryRow(ctx, `WITH
		c AS (DELETE FROM guest_consent WHERE tenant_id = $1 AND channel = $2 AND guest = $3 RETURNING 1),
		h AS (DELETE FROM guest_consent_changes WHERE tenant_id = $1 AND channel = $2 AND guest = $3 RETURNING 1)
		SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM h)`, tenantID, string(channel), GuestKey(channel, guest)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("erasing consent: %w", err)
	}
	return n, nil
}

var _ Store = (*Postgres)(nil)
