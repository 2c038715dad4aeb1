package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// NotifyChannel is the channel 0005_tenancy.sql's triggers NOTIFY on every
// change to tenants or tenant_user_identifiers.
const NotifyChannel = "agente_tenants"

// PostgresOptions tunes a PostgresStore; zero values take the defaults.
type PostgresOptions struct {
	// Refresh is the periodic full reload interval (default 60s); NOTIFY
	// makes changes visible sooner, the period bounds what a lost
	// notification can cost.
	Refresh time.Duration
	// QueryTimeout bounds one reload or one admin write (default 10s).
	QueryTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the back-off between attempts to
	// re-establish the LISTEN connection (defaults 100ms and 5s).
	ReconnectMin, ReconnectMax time.Duration
	// Logf, when set, receives state changes (listener lost/restored,
	// refresh failures, duplicate identifiers found in the table).
	Logf func(format string, args ...any)
}

func (o *PostgresOptions) defaults() {
	if o.Refresh <= 0 {
		o.Refresh = 60 * time.Second
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 10 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 100 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = 5 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// PostgresStore is the directory in Postgres with a full in-process cache.
// Resolution never queries: the cache is reloaded every Refresh, whenever a
// NOTIFY on NotifyChannel arrives (any instance's write, or a manual change),
// and after the LISTEN connection is re-established. Writes update this
// instance's cache as soon as they commit. While Postgres is unreachable the
// last good cache keeps serving and Health reports unhealthy. The table is
// the whole directory: a configured tenant (explicit or DEFAULT_TENANT_ID)
// that is not in it does not resolve, as sessions reference tenants.
type PostgresStore struct {
	cache
	pool *pgxpool.Pool
	opts PostgresOptions

	// writeMu serialises admin writes, so this instance applies them to its
	// cache in commit order.
	writeMu sync.Mutex
	// mu guards writeGen and the publish step of a reload: a reload that
	// read the database before a local write committed must not replace the
	// cache that write just updated, and a reload that started earlier must
	// not replace what a later one published (a refresh racing the NOTIFY
	// reload would otherwise bring back rows older than the ones it read).
	mu       sync.Mutex
	writeGen uint64
	// reads numbers reloads in the order they start; published is the
	// number of the one whose rows are in the cache.
	reads, published uint64

	reloadAsked wakeup.Signal
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	healthMu    sync.Mutex
	listening   bool
	listenErr   error
	refreshErr  error
	lastRefresh time.Time
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore starts listening on NotifyChannel, loads the cache and
// starts the refresh and listen loops. It fails when the first load fails:
// with no cache, every guest would land in the default tenant. The pool
// stays the caller's; Close stops the loops. The schema must be migrated.
func NewPostgresStore(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) (*PostgresStore, error) {
	opts.defaults()
	p := &PostgresStore{pool: pool, opts: opts, reloadAsked: wakeup.New()}
	p.complete = true
	p.publish(emptySnapshot())

	// LISTEN before the first load, so no change between the two is missed.
	conn, err := p.connectListener(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenant store: listening for changes: %w", err)
	}
	if err := p.reload(ctx); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("tenant store: first load: %w", err)
	}
	p.setListening(true, nil)

	loopCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.listenLoop(loopCtx, conn)
	go p.refreshLoop(loopCtx)
	return p, nil
}

// Close stops the background loops and the LISTEN connection.
func (p *PostgresStore) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}

func (p *PostgresStore) connectListener(ctx context.Context) (*pgx.Conn, error) {
	cfg := p.pool.Config().ConnConfig.Copy()
	ctx, cancel := context.WithTimeout(ctx, p.opts.QueryTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// listenLoop turns notifications into reload requests and keeps the LISTEN
// connection up, reconnecting with exponential back-off.
func (p *PostgresStore) listenLoop(ctx context.Context, conn *pgx.Conn) {
	defer p.wg.Done()
	backoff := p.opts.ReconnectMin
	for {
		if conn != nil {
			err := p.waitNotifications(ctx, conn)
			conn.Close(context.Background())
			conn = nil
			if ctx.Err() != nil {
				return
			}
			p.setListening(false, err)
			p.opts.Logf("tenant store: lost LISTEN connection, cache keeps serving: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		c, err := p.connectListener(ctx)
		if err != nil {
			p.setListening(false, err)
			backoff = min(backoff*2, p.opts.ReconnectMax)
			continue
		}
		conn, backoff = c, p.opts.ReconnectMin
		p.setListening(true, nil)
		p.opts.Logf("tenant store: LISTEN connection restored")
		// Notifications sent while we were away are lost: reload.
		p.requestReload()
	}
}

func (p *PostgresStore) waitNotifications(ctx context.Context, conn *pgx.Conn) error {
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		p.requestReload()
	}
}

// requestReload asks the refresh loop for a reload; requests made while one
// is pending coalesce.
func (p *PostgresStore) requestReload() {
	p.reloadAsked.Wake()
}

// refreshLoop reloads on request, every Refresh, and retries failures with
// back-off (capped at Refresh).
func (p *PostgresStore) refreshLoop(ctx context.Context) {
	defer p.wg.Done()
	ticker := time.NewTicker(p.opts.Refresh)
	defer ticker.Stop()
	var retry <-chan time.Time
	retryDelay := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-p.reloadAsked.C():
		case <-retry:
		}
		if err := p.reload(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.opts.Logf("tenant store: refresh failed, serving the last good cache: %v", err)
			retry = time.After(retryDelay)
			retryDelay = min(retryDelay*2, p.opts.Refresh)
			continue
		}
		retry, retryDelay = nil, time.Second
	}
}

// Refresh reloads the cache now (POST /admin/tenants/refresh).
func (p *PostgresStore) Refresh(ctx context.Context) error { return p.reload(ctx) }

func (p *PostgresStore) reload(ctx context.Context) error {
	p.mu.Lock()
	gen := p.writeGen
	p.reads++
	read := p.reads
	p.mu.Unlock()

	start := time.Now()
	tenants, err := p.query(ctx)
	if err != nil {
		p.healthMu.Lock()
		p.refreshErr = err
		p.healthMu.Unlock()
		return unavailable(err)
	}
	RefreshLatency.Observe(time.Since(start).Seconds())
	snap, dups := buildSnapshot(tenants)
	for _, d := range dups {
		p.opts.Logf("tenant store: duplicate identifier ignored: %s", d)
	}

	p.mu.Lock()
	if p.writeGen != gen {
		// A local write committed while we read: our rows may predate it.
		// Its NOTIFY reloads again; ask anyway in case it was lost.
		p.mu.Unlock()
		p.requestReload()
		return nil
	}
	if read > p.published {
		// Otherwise a reload that started later has already published
		// rows at least as new as ours.
		p.publish(snap)
		p.published = read
	}
	p.mu.Unlock()

	p.healthMu.Lock()
	p.refreshErr, p.lastRefresh = nil, time.Now()
	p.healthMu.Unlock()
	return nil
}

// query reads the whole directory in one consistent snapshot.
func (p *PostgresStore) query(ctx context.Context) ([]Tenant, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.QueryTimeout)
	defer cancel()
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only

	rows, err := tx.Query(ctx, `SELECT `+tenantColumns+` FROM tenants`)
	if err != nil {
		return nil, err
	}
	var tenants []Tenant
	index := map[string]int{}
	for rows.Next() {
		var t Tenant
		if err := scanTenant(rows, &t); err != nil {
			rows.Close()
			return nil, err
		}
		index[t.ID] = len(tenants)
		tenants = append(tenants, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = tx.Query(ctx, `SELECT tenant_id, identifier_type, identifier_value, channel FROM tenant_user_identifiers ORDER BY id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tenantID, typ string
		var id Identifier
		if err := rows.Scan(&tenantID, &typ, &id.Value, &id.Channel); err != nil {
			rows.Close()
			return nil, err
		}
		id.Type = IdentifierType(typ)
		if i, ok := index[tenantID]; ok {
			tenants[i].Identifiers = append(tenants[i].Identifiers, id)
		}
	}
	return tenants, rows.Err()
}

// Health reports whether the cache is fresh: the last reload succeeded and
// the LISTEN connection is up.
func (p *PostgresStore) Health() Health {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	h := Health{Listening: p.listening, LastRefresh: p.lastRefresh}
	h.LastError = p.refreshErr
	if h.LastError == nil && !p.listening {
		h.LastError = p.listenErr
		if h.LastError == nil {
			h.LastError = errors.New("not listening for tenant changes")
		}
	}
	h.Healthy = h.LastError == nil
	return h
}

// Check is a readiness check (health.Check): nil while the cache is fresh,
// else why not. It never queries: a store that lost Postgres keeps serving
// from cache, and this reports it.
func (p *PostgresStore) Check(context.Context) error {
	if err := p.Health().LastError; err != nil {
		return fmt.Errorf("tenant cache is stale: %w", err)
	}
	return nil
}

func (p *PostgresStore) setListening(up bool, err error) {
	p.healthMu.Lock()
	p.listening, p.listenErr = up, err
	p.healthMu.Unlock()
}

// write runs fn in a transaction, then updates the local cache with apply
// (or reloads it when apply cannot, e.g. the tenant is not cached yet).
func (p *PostgresStore) write(ctx context.Context, fn func(pgx.Tx) error, apply func(*snapshot) (*snapshot, bool)) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.opts.QueryTimeout)
	defer cancel()
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return unavailable(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return unavailable(err)
	}
	p.mu.Lock()
	p.writeGen++
	next, ok := apply(p.load())
	if ok {
		p.publish(next)
	}
	p.mu.Unlock()
	if !ok {
		// The change is committed; a failed reload is retried by the loop.
		if err := p.reload(ctx); err != nil {
			p.requestReload()
		}
	}
	return nil
}

// unavailable marks errors that are not the client's fault nor a domain
// answer (connection refused, timeouts) so the API answers 503.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnavailable) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !serverUnavailable(pgErr) {
		return err
	}
	return errorf(ErrUnavailable, "tenant store unavailable: %v", err)
}

// serverUnavailable is true for errors the server sends when it cannot
// serve at all: connection exceptions (08), insufficient resources (53),
// operator intervention such as a shutdown (57), system errors (58), and
// any FATAL/PANIC.
func serverUnavailable(e *pgconn.PgError) bool {
	if e.Severity == "FATAL" || e.Severity == "PANIC" {
		return true
	}
	switch e.Code[:min(2, len(e.Code))] {
	case "08", "53", "57", "58":
		return true
	}
	return false
}

// execer is a transaction of a write, or the pool for an audit row alone.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func audit(ctx context.Context, db execer, actor, action, target string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := db.Exec(ctx, `INSERT INTO admin_audit (actor, action, target, detail) VALUES ($1, $2, $3, $4)`, actor, action, target, detail)
	return err
}

const tenantColumns = `id, name, is_active, timezone, language, pms_hotel_id, pms_hotel_id_set,
	whatsapp_template_name, whatsapp_template_language, whatsapp_template_body_parameters, created_at, updated_at`

func scanTenant(row pgx.Row, t *Tenant) error {
	w := &t.WhatsAppTemplate
	return row.Scan(&t.ID, &t.Name, &t.Active, &t.Timezone, &t.Language, &t.PMSHotelID, &t.PMSHotelIDSet,
		&w.Name, &w.Language, &w.BodyParameters, &t.CreatedAt, &t.UpdatedAt)
}

// templateColumns are a template's values for its columns (0035): a NOT NULL
// text[] takes an empty array, never a nil slice's NULL.
func templateColumns(w WhatsAppTemplate) (name, language string, params []string) {
	if w.BodyParameters == nil {
		return w.Name, w.Language, []string{}
	}
	return w.Name, w.Language, w.BodyParameters
}

// CreateTenant inserts a tenant; ErrConflict if the id exists.
func (p *PostgresStore) CreateTenant(ctx context.Context, actor string, t Tenant) (Tenant, error) {
	if err := t.Normalize(); err != nil {
		return Tenant{}, err
	}
	var out Tenant
	err := p.write(ctx, func(tx pgx.Tx) error {
		tplName, tplLanguage, tplParams := templateColumns(t.WhatsAppTemplate)
		err := scanTenant(tx.QueryRow(ctx, `INSERT INTO tenants (id, name, is_active, timezone, language, pms_hotel_id, pms_hotel_id_set,
				whatsapp_template_name, whatsapp_template_language, whatsapp_template_body_parameters)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING RETURNING `+tenantColumns,
			t.ID, t.Name, t.Active, t.Timezone, t.Language, t.PMSHotelID, t.PMSHotelIDSet, tplName, tplLanguage, tplParams), &out)
		if errors.Is(err, pgx.ErrNoRows) {
			return errorf(ErrConflict, "tenant %q already exists", t.ID)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, actor, ActionTenantCreate, out.ID, tenantDetail(out))
	}, func(s *snapshot) (*snapshot, bool) { return s.withTenant(out), true })
	return out, err
}

// UpdateTenant applies p to tenant id; ErrNotFound if unknown.
func (p *PostgresStore) UpdateTenant(ctx context.Context, actor, id string, patch TenantPatch) (Tenant, error) {
	if err := patch.Validate(); err != nil {
		return Tenant{}, err
	}
	var out Tenant
	// A template is replaced whole, or not at all (NULLs keep the columns).
	var tplName, tplLanguage *string
	var tplParams []string
	if w := patch.WhatsAppTemplate; w != nil {
		name, language, params := templateColumns(*w)
		tplName, tplLanguage, tplParams = &name, &language, params
	}
	err := p.write(ctx, func(tx pgx.Tx) error {
		err := scanTenant(tx.QueryRow(ctx, `UPDATE tenants SET
				name = COALESCE($2, name), is_active = COALESCE($3, is_active),
				timezone = COALESCE($4, timezone), language = COALESCE($5, language),
				pms_hotel_id = COALESCE($6, pms_hotel_id),
				pms_hotel_id_set = pms_hotel_id_set OR $6 IS NOT NULL,
				whatsapp_template_name = COALESCE($7, whatsapp_template_name),
				whatsapp_template_language = COALESCE($8, whatsapp_template_language),
				whatsapp_template_body_parameters = COALESCE($9, whatsapp_template_body_parameters),
				updated_at = now()
			WHERE id = $1 RETURNING `+tenantColumns,
			id, patch.Name, patch.Active, patch.Timezone, patch.Language, patch.PMSHotelID, tplName, tplLanguage, tplParams), &out)
		if errors.Is(err, pgx.ErrNoRows) {
			return errorf(ErrNotFound, "tenant %q not found", id)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, actor, ActionTenantUpdate, id, patchDetail(patch))
	}, func(s *snapshot) (*snapshot, bool) {
		if _, ok := s.tenants[id]; !ok {
			return nil, false
		}
		return s.withTenant(out), true
	})
	if err != nil {
		return Tenant{}, err
	}
	if t, ok := p.Tenant(id); ok {
		return t, nil
	}
	return out, nil
}

// AddIdentifier maps id to tenantID; ErrNotFound for an unknown tenant,
// ErrConflict when any tenant already has it (the unique index on the
// normalised key makes this hold under concurrent adds).
func (p *PostgresStore) AddIdentifier(ctx context.Context, actor, tenantID string, id Identifier) (Identifier, error) {
	if err := checkIdentifier(id); err != nil {
		return Identifier{}, err
	}
	id.Inferred = false
	if id.Channel == "" {
		id.Channel = defaultChannel(id.Type)
	}
	err := p.write(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1 FOR KEY SHARE)`, tenantID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return errorf(ErrNotFound, "tenant %q not found", tenantID)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO tenant_user_identifiers (tenant_id, identifier_type, identifier_value, channel)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, tenantID, string(id.Type), id.Value, id.Channel)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var owner string
			err := tx.QueryRow(ctx, `SELECT tenant_id FROM tenant_user_identifiers
				WHERE identifier_type = $1 AND agente_identifier_key(identifier_type, identifier_value) = $2`,
				string(id.Type), id.Key()).Scan(&owner)
			if err != nil {
				owner = "another tenant"
			}
			return errorf(ErrConflict, "%s %s is registered to tenant %q", id.Type, id.Value, owner)
		}
		return audit(ctx, tx, actor, ActionIdentifierAdd, tenantID, identifierDetail(id))
	}, func(s *snapshot) (*snapshot, bool) {
		if _, ok := s.tenants[tenantID]; !ok {
			return nil, false
		}
		return s.withIdentifier(tenantID, id), true
	})
	if err != nil {
		return Identifier{}, err
	}
	return id, nil
}

// DeleteIdentifier removes the tenant's identifiers matching id.
func (p *PostgresStore) DeleteIdentifier(ctx context.Context, actor, tenantID string, id Identifier) ([]Identifier, error) {
	return p.deleteIdentifiers(ctx, actor, tenantID, id, false)
}

// EraseIdentifier implements Store.
func (p *PostgresStore) EraseIdentifier(ctx context.Context, actor, tenantID string, id Identifier) ([]Identifier, error) {
	return p.deleteIdentifiers(ctx, actor, tenantID, id, true)
}

func (p *PostgresStore) deleteIdentifiers(ctx context.Context, actor, tenantID string, id Identifier, erase bool) ([]Identifier, error) {
	var gone []Identifier
	err := p.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM tenant_user_identifiers
			WHERE tenant_id = $1 AND identifier_type = ANY($2)
			  AND agente_identifier_key(identifier_type, identifier_value) = $3
			RETURNING identifier_type, identifier_value, channel`,
			tenantID, deleteTypes(id), id.Key())
		if err != nil {
			return err
		}
		for rows.Next() {
			var typ string
			var g Identifier
			if err := rows.Scan(&typ, &g.Value, &g.Channel); err != nil {
				rows.Close()
				return err
			}
			g.Type = IdentifierType(typ)
			gone = append(gone, g)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(gone) == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)`, tenantID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return errorf(ErrNotFound, "tenant %q not found", tenantID)
			}
			return errorf(ErrNotFound, "tenant %q has no identifier %s", tenantID, id.Value)
		}
		for _, g := range gone {
			if !erase {
				if err := audit(ctx, tx, actor, ActionIdentifierDelete, tenantID, identifierDetail(g)); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE admin_audit SET detail = $4
				WHERE target = $1 AND detail->>'type' = $2 AND detail ? 'value'
				  AND agente_identifier_key(detail->>'type', detail->>'value') = $3`,
				tenantID, string(g.Type), g.Key(), erasedDetail(g)); err != nil {
				return err
			}
			if err := audit(ctx, tx, actor, ActionIdentifierErase, tenantID, erasedDetail(g)); err != nil {
				return err
			}
		}
		return nil
	}, func(s *snapshot) (*snapshot, bool) {
		if _, ok := s.tenants[tenantID]; !ok {
			return nil, false
		}
		return s.withoutIdentifiers(tenantID, gone), true
	})
	return gone, err
}

// RecordAudit writes an audit row on its own (feature-flag writes): one
// INSERT, which needs no transaction around it.
func (p *PostgresStore) RecordAudit(ctx context.Context, e AuditEntry) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.QueryTimeout)
	defer cancel()
	return unavailable(audit(ctx, p.pool, e.Actor, e.Action, e.Target, e.Detail))
}

// AuditLog lists the newest audit rows first (limit ≤ 0: 100).
func (p *PostgresStore) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := p.pool.Query(ctx, `SELECT actor, action, target, detail, created_at FROM admin_audit ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.Actor, &e.Action, &e.Target, &e.Detail, &e.At); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, unavailable(rows.Err())
}
