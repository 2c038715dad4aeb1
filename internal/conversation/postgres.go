package conversation

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/store"
)

// Postgres keeps conversations in the conversations table.
type Postgres struct {
	pool *pgxpool.Pool
}

// NewPostgres returns a store on pool (schema: migration 0081).
func NewPostgres(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

// Inbound implements Store.
//
// In a unit of work that defers its writes (an inbox message's handling,
// store.WithDeferred), this and Outbound and SetBookingRef commit with the
// message's outcome, and a reply's Outbound folds into the guest message's
// Inbound queued before it: one statement for the two (foldOutbound).
func (s *Postgres) Inbound(ctx context.Context, k Key, name, text string, at time.Time) error {
	w := written{key: k, inbound: true, name: name, inText: clip(text), inAt: at}
	return store.ExecFolding(ctx, s.pool, w.statement(), nil)
}

// Outbound implements Store.
func (s *Postgres) Outbound(ctx context.Context, k Key, text string, at time.Time) error {
	w := written{key: k, outbound: true, outText: clip(text), outAt: at}
	return store.ExecFolding(ctx, s.pool, w.statement(), w.foldOutbound)
}

// written is what Inbound and Outbound queued for one conversation in a
// unit of work that defers its writes: a guest's message, a reply, or one
// of each, written by one statement.
type written struct {
	key          Key
	inbound      bool
	name, inText string
	inAt         time.Time
	outbound     bool
	outText      string
	outAt        time.Time
}

// rowKey names the conversation's row for store.ExecFolding.
func rowKey(k Key) string {
	return "conversations\x00" + k.TenantID + "\x00" + k.Channel + "\x00" + k.Guest
}

// foldOutbound folds the reply w into prev, the latest write queued for
// its conversation, when prev is an Inbound or Outbound: the guest's
// message followed by the reply in one statement, or a later reply in
// place of an earlier one with no later time (the earlier one's text is
// overwritten by it and its time is no later, so it leaves no trace).
// SetBookingRef's update, or a reply with an earlier time than the one
// queued, is not folded into.
func (w written) foldOutbound(prev store.Statement) (store.Statement, bool) {
	p, ok := prev.Note.(written)
	if !ok || p.key != w.key || (p.outbound && w.outAt.Before(p.outAt)) {
		return store.Statement{}, false
	}
	p.outbound, p.outText, p.outAt = true, w.outText, w.outAt
	return p.statement(), true
}

// statement is w's write. The guest's message then the reply, in one
// upsert, have the effect of Inbound then Outbound: the name and the
// reopening from the message, the last words from whichever is latest
// (the reply on a tie, as when it is written second), the last time the
// latest of the three.
func (w written) statement() store.Statement {
	st := store.Statement{Key: rowKey(w.key), Note: w}
	switch {
	case w.inbound && w.outbound:
		st.SQL = `
		INSERT INTO conversations (tenant_id, channel, guest, name, last_message_at, last_text)
		VALUES ($1, $2, $3, $4, GREATEST($5::timestamptz, $7::timestamptz), CASE WHEN $7::timestamptz >= $5::timestamptz THEN $8::text ELSE $6::text END)
		ON CONFLICT (tenant_id, channel, guest) DO UPDATE SET
			name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE conversations.name END,
			state = CASE WHEN conversations.state = 'closed' THEN 'active' ELSE conversations.state END,
			last_text = CASE WHEN $7::timestamptz >= GREATEST(conversations.last_message_at, $5::timestamptz) THEN $8::text
				WHEN $5::timestamptz >= conversations.last_message_at THEN $6::text
				ELSE conversations.last_text END,
			last_message_at = GREATEST(conversations.last_message_at, $5::timestamptz, $7::timestamptz)`
		st.Args = []any{w.key.TenantID, w.key.Channel, w.key.Guest, w.name, w.inAt, w.inText, w.outAt, w.outText}
	case w.inbound:
		st.SQL = `
		INSERT INTO conversations (tenant_id, channel, guest, name, last_message_at, last_text)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, channel, guest) DO UPDATE SET
			name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE conversations.name END,
			state = CASE WHEN conversations.state = 'closed' THEN 'active' ELSE conversations.state END,
			last_text = CASE WHEN EXCLUDED.last_message_at >= conversations.last_message_at THEN EXCLUDED.last_text ELSE conversations.last_text END,
			last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at)`
		st.Args = []any{w.key.TenantID, w.key.Channel, w.key.Guest, w.name, w.inAt, w.inText}
	default:
		st.SQL = `
		INSERT INTO conversations (tenant_id, channel, guest, last_message_at, last_text)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, channel, guest) DO UPDATE SET
			last_text = CASE WHEN EXCLUDED.last_message_at >= conversations.last_message_at THEN EXCLUDED.last_text ELSE conversations.last_text END,
			last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at)`
		st.Args = []any{w.key.TenantID, w.key.Channel, w.key.Guest, w.outAt, w.outText}
	}
	return st
}

// HandOff implements Store.
//
// In a unit of work that defers its writes, the handoff (and so the notice
// it owes) commits with the message's outcome, so the notice loop never
// reads the conversation before this turn's replies, session and name are
// there; whether it is fresh is read first (one worker handles a guest's
// messages at a time, so only staff could change it meanwhile).
func (s *Postgres) HandOff(ctx context.Context, k Key, at time.Time) (bool, error) {
	if store.Deferring(ctx) {
		var state string
		err := s.pool.QueryRow(ctx, `SELECT state FROM conversations WHERE tenant_id = $1 AND channel = $2 AND guest = $3`,
			k.TenantID, k.Channel, k.Guest).Scan(&state)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		// Keyed by the row, like SetBookingRef: a reply queued after it is
		// not folded into a write before it.
		return state != string(Waiting), store.ExecFolding(ctx, s.pool, store.Statement{
			SQL: handOffSQL, Args: []any{k.TenantID, k.Channel, k.Guest, at}, Key: rowKey(k)}, nil)
	}
	var fresh bool
	err := s.pool.QueryRow(ctx, handOffSQL, k.TenantID, k.Channel, k.Guest, at).Scan(&fresh)
	return fresh, err
}

// handOffSQL marks a conversation waiting and owes a notice when it was not
// waiting already; it returns whether so.
const handOffSQL = `
		WITH before AS (SELECT state FROM conversations WHERE tenant_id = $1 AND channel = $2 AND guest = $3)
		INSERT INTO conversations (tenant_id, channel, guest, state, waiting_since, last_message_at, notice_due_at)
		VALUES ($1, $2, $3, 'waiting', $4, $4, $4)
		ON CONFLICT (tenant_id, channel, guest) DO UPDATE SET
			waiting_since = CASE WHEN conversations.state = 'waiting' THEN conversations.waiting_since ELSE EXCLUDED.waiting_since END,
			notice_due_at = CASE WHEN conversations.state = 'waiting' THEN conversations.notice_due_at ELSE EXCLUDED.notice_due_at END,
			notice_attempts = CASE WHEN conversations.state = 'waiting' THEN conversations.notice_attempts ELSE 0 END,
			state = 'waiting'
		RETURNING coalesce((SELECT state FROM before), '') <> 'waiting'`

// SetState implements Store.
func (s *Postgres) SetState(ctx context.Context, k Key, st State) (State, error) {
	var was string
	err := s.pool.QueryRow(ctx, `
		UPDATE conversations c SET state = $4, waiting_since = CASE WHEN $4 = 'waiting' THEN c.waiting_since END,
			notice_due_at = CASE WHEN $4 = 'waiting' THEN c.notice_due_at END
		FROM (SELECT state FROM conversations WHERE tenant_id = $1 AND channel = $2 AND guest = $3 FOR UPDATE) old
		WHERE c.tenant_id = $1 AND c.channel = $2 AND c.guest = $3
		RETURNING old.state`, k.TenantID, k.Channel, k.Guest, string(st)).Scan(&was)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return State(was), err
}

// SetBookingRef implements Store.
func (s *Postgres) SetBookingRef(ctx context.Context, k Key, ref string) error {
	// Keyed by the row, so a reply queued after it is not folded into a
	// write before it.
	return store.ExecFolding(ctx, s.pool, store.Statement{
		SQL:  `UPDATE conversations SET booking_ref = $4 WHERE tenant_id = $1 AND channel = $2 AND guest = $3`,
		Args: []any{k.TenantID, k.Channel, k.Guest, ref},
		Key:  rowKey(k),
	}, nil)
}

const columns = `tenant_id, channel, guest, name, state, waiting_since, last_message_at, last_text, booking_ref`

// scan reads the columns, then into extra whatever the query returns after them.
func scan(row pgx.Row, extra ...any) (Conversation, error) {
	var c Conversation
	var st string
	var waiting *time.Time
	dest := append([]any{&c.TenantID, &c.Channel, &c.Guest, &c.Name, &st, &waiting, &c.LastMessageAt, &c.LastText, &c.BookingRef}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Conversation{}, err
	}
	c.State = State(st)
	if waiting != nil {
		c.WaitingSince = *waiting
	}
	return c, nil
}

// ClaimNotices implements Store.
func (s *Postgres) ClaimNotices(ctx context.Context, now time.Time, lease time.Duration, limit, maxAttempts int) ([]Notice, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE conversations c SET notice_due_at = $2, notice_attempts = c.notice_attempts + 1
		FROM (SELECT tenant_id AS due_tenant, channel AS due_channel, guest AS due_guest FROM conversations
			WHERE notice_due_at <= $1 AND state = 'waiting' AND notice_attempts < $4
			ORDER BY notice_due_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
		WHERE c.tenant_id = due_tenant AND c.channel = due_channel AND c.guest = due_guest
		RETURNING `+columns+`, notice_attempts`,
		now, now.Add(lease), limit, maxAttempts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		if n.Conversation, err = scan(rows, &n.Attempt); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NoticeDone implements Store.
func (s *Postgres) NoticeDone(ctx context.Context, k Key, waitingSince time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE conversations SET notice_due_at = NULL
		WHERE tenant_id = $1 AND channel = $2 AND guest = $3 AND waiting_since = $4`, k.TenantID, k.Channel, k.Guest, waitingSince)
	return err
}

// Get implements Store.
func (s *Postgres) Get(ctx context.Context, k Key) (Conversation, error) {
	c, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM conversations
		WHERE tenant_id = $1 AND ($2 = '' OR channel = $2) AND guest = $3 ORDER BY last_message_at DESC LIMIT 1`,
		k.TenantID, k.Channel, k.Guest))
	if errors.Is(err, pgx.ErrNoRows) {
		return Conversation{}, ErrNotFound
	}
	return c, err
}

// List implements Store.
func (s *Postgres) List(ctx context.Context, f Filter) ([]Conversation, string, error) {
	after, err := parsePosition(f.After)
	if err != nil {
		return nil, "", ErrBadCursor
	}
	order, cmp := `last_message_at DESC, channel, guest`, `(last_message_at < $4 OR (last_message_at = $4 AND (channel, guest) > ($5, $6)))`
	if f.State == Waiting {
		order, cmp = `waiting_since, channel, guest`, `(waiting_since, channel, guest) > ($4, $5, $6)`
	}
	q := strings.TrimSpace(f.Query)
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM conversations
		WHERE tenant_id = $1 AND ($2 = '' OR state = $2)
			AND ($3 = '' OR strpos(lower(guest), lower($3)) > 0 OR strpos(lower(name), lower($3)) > 0 OR strpos(lower(booking_ref), lower($3)) > 0)
			AND ($7 OR `+cmp+`)
		ORDER BY `+order+` LIMIT $8`,
		f.TenantID, string(f.State), q, after.at, after.channel, after.guest, f.After == "", f.limit()+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(out) > f.limit() {
		out = out[:f.limit()]
		return out, out[len(out)-1].position(f.State).String(), nil
	}
	return out, "", nil
}

// Waiting implements Store.
func (s *Postgres) Waiting(ctx context.Context) (map[string]WaitingSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, count(*), min(waiting_since) FROM conversations WHERE state = 'waiting' GROUP BY tenant_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]WaitingSummary{}
	for rows.Next() {
		var id string
		var w WaitingSummary
		if err := rows.Scan(&id, &w.Count, &w.Oldest); err != nil {
			return nil, err
		}
		out[id] = w
	}
	return out, rows.Err()
}

// Prune implements Store.
func (s *Postgres) Prune(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversations WHERE state <> 'waiting' AND last_message_at < $1`, before)
	return int(tag.RowsAffected()), err
}

// Erase implements Store.
func (s *Postgres) Erase(ctx context.Context, tenantID, guest string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversations WHERE tenant_id = $1 AND guest = $2`, tenantID, guest)
	return int(tag.RowsAffected()), err
}
