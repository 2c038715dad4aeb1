package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/store"
)

// PostgresSessions keeps sessions in the sessions table of
// internal/store/migrations/0001_core.sql, one row per tenant, channel and
// guest. Every statement filters on tenant_id. The tenant must exist in
// tenants (the table's foreign key).
type PostgresSessions struct {
	pool *pgxpool.Pool
}

// NewPostgresSessions returns a store over pool; the schema must be migrated.
func NewPostgresSessions(pool *pgxpool.Pool) *PostgresSessions {
	return &PostgresSessions{pool: pool}
}

// loadSessionSQL reads one guest's session row ($1 tenant, $2 channel, $3
// user id).
const loadSessionSQL = `
		SELECT session_id, state, created_at, updated_at, expires_at
		FROM sessions
		WHERE tenant_id = $1 AND channel = $2 AND user_id = $3`

// Load implements SessionStore.
func (p *PostgresSessions) Load(ctx context.Context, key SessionKey, now time.Time) (*Session, error) {
	st := &StoredSession{key: key}
	if err := st.scan(p.pool.QueryRow(ctx, loadSessionSQL, key.TenantID, string(key.Channel), key.UserID)); err != nil {
		return nil, err
	}
	return st.session(now), nil
}

// QueueLoad adds the read of key's session to b, so that it shares its
// round trip with the caller's other reads (a guest message's consent and
// session: internal/hotel). Once b's results are read (BatchResults.Close),
// the row is in the StoredSession returned, for
// Orchestrator.HandleTurnFrom; Close returns the read's error if it failed.
func (p *PostgresSessions) QueueLoad(b *pgx.Batch, key SessionKey) *StoredSession {
	st := &StoredSession{key: key}
	b.Queue(loadSessionSQL, key.TenantID, string(key.Channel), key.UserID).QueryRow(st.scan)
	return st
}

// StoredSession is a guest's sessions row as read, before a turn decides
// with its own clock whether the session is still live.
type StoredSession struct {
	key                         SessionKey
	found                       bool
	id                          string
	raw                         []byte
	created, updated, expiresAt time.Time
}

func (st *StoredSession) scan(row pgx.Row) error {
	err := row.Scan(&st.id, &st.raw, &st.created, &st.updated, &st.expiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading session: %w", err)
	}
	st.found = true
	return nil
}

// session is the live session the row holds at now, or a fresh one when
// there is none or it expired at or before now (SessionStore.Load).
func (st *StoredSession) session(now time.Time) *Session {
	if !st.found || !st.expiresAt.After(now) {
		return freshSession(st.key, now)
	}
	return decodeSession(st.key, st.id, st.raw, st.created, st.updated, st.expiresAt, now)
}

// Save implements SessionStore. A fresh session replaces an expired row of
// the same guest (new session_id and created_at). In a unit of work that
// defers its writes (an inbox message's handling, store.WithDeferred), Save
// and Delete commit with the message's outcome: the session changes only
// if the turn's replies are queued. What others wrote since the session
// was loaded is kept as SessionStore says by the statement itself, as of
// when it runs (for a deferred save, the commit): no read of its own.
func (p *PostgresSessions) Save(ctx context.Context, s *Session) error {
	b, err := json.Marshal(s.State)
	if err != nil {
		return err
	}
	if s.fromRow {
		err = store.Exec(ctx, p.pool, updateSessionSQL, s.Key.TenantID, string(s.Key.Channel), s.Key.UserID,
			string(b), s.CreatedAt, s.UpdatedAt, s.ExpiresAt, s.keepsStoredHandoff(), s.ID)
	} else {
		err = store.Exec(ctx, p.pool, `
		INSERT INTO sessions (session_id, tenant_id, user_id, channel, state, created_at, updated_at, expires_at)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
		ON CONFLICT (tenant_id, channel, user_id) DO UPDATE SET
			session_id = EXCLUDED.session_id,
			state      = EXCLUDED.state,
			created_at = EXCLUDED.created_at,
			updated_at = EXCLUDED.updated_at,
			expires_at = EXCLUDED.expires_at`,
			s.ID, s.Key.TenantID, s.Key.UserID, string(s.Key.Channel), string(b), s.CreatedAt, s.UpdatedAt, s.ExpiresAt)
	}
	if err != nil {
		return fmt.Errorf("saving session: %w", err)
	}
	return nil
}

// updateSessionSQL saves a session Load read from its row ($1 tenant, $2
// channel, $3 user id; $4 state, $5–$7 times): only that row ($9 its
// session id), so that one deleted or replaced since stays so, and with
// the stored handoff flag kept when $8 (the state's flag is the one read;
// false is no key, as encoding/json writes it).
const updateSessionSQL = `
		UPDATE sessions SET
			state = CASE WHEN $8
				THEN ($4::jsonb - 'handoff') || jsonb_strip_nulls(jsonb_build_object('handoff', state->'handoff'))
				ELSE $4::jsonb END,
			created_at = $5,
			updated_at = $6,
			expires_at = $7
		WHERE tenant_id = $1 AND channel = $2 AND user_id = $3 AND session_id = $9`

// ClearHandoff implements SessionStore in one statement, so that a turn's
// save landing between a read of the row and a write of it is not undone.
func (p *PostgresSessions) ClearHandoff(ctx context.Context, key SessionKey, now, expires time.Time) (bool, error) {
	tag, err := p.pool.Exec(ctx, `
		UPDATE sessions SET state = state - 'handoff', updated_at = $4, expires_at = $5
		WHERE tenant_id = $1 AND channel = $2 AND user_id = $3 AND expires_at > $4 AND state->'handoff' = 'true'::jsonb`,
		key.TenantID, string(key.Channel), key.UserID, now, expires)
	if err != nil {
		return false, fmt.Errorf("clearing the handoff: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// Delete implements SessionStore.
func (p *PostgresSessions) Delete(ctx context.Context, key SessionKey) error {
	err := store.Exec(ctx, p.pool, `DELETE FROM sessions WHERE tenant_id = $1 AND channel = $2 AND user_id = $3`,
		key.TenantID, string(key.Channel), key.UserID)
	if err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// Prune implements SessionStore.
func (p *PostgresSessions) Prune(ctx context.Context, before time.Time) (int, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("pruning sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
