// Package store owns agente-caddy's Postgres schema: the embedded migrations
// and the connection pool settings every Postgres-backed part shares.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID serialises concurrent Migrate calls across instances
// (pg_advisory_xact_lock key; any constant unique to this application).
const migrationLockID = 0x61676e74 // "agnt"

// Migration is one embedded schema change, applied once, in name order.
type Migration struct {
	Name string
	SQL  string
}

// Migrations lists the embedded migrations in the order they apply.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Name: strings.TrimSuffix(n[len("migrations/"):], ".sql"), SQL: string(b)})
	}
	return out, nil
}

// Migrate applies every embedded migration not yet recorded in
// schema_migrations, each in its own transaction, and returns the names it
// applied. Instances starting together are serialised by an advisory lock, so
// exactly one applies each migration.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	// CREATE TABLE IF NOT EXISTS races with itself across sessions, so it
	// runs under the same lock as the migrations.
	err = Tx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name text PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var applied []string
	for _, m := range ms {
		done, err := applyOne(ctx, pool, m)
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if done {
			applied = append(applied, m.Name)
		}
	}
	return applied, nil
}

func applyOne(ctx context.Context, pool *pgxpool.Pool, m Migration) (applied bool, err error) {
	err = Tx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, m.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, m.Name); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied && err == nil, err
}

// DefaultPoolSize is the pool's size when the URL does not set
// pool_max_conns. One process needs a connection for each of its 8 inbox
// workers while they claim or record an outcome, some for its senders'
// (which hold none while they send), one for grouped accepts
// (internal/inbox), and a few for
// sessions, the tenant directory and admin calls; pgx's own default
// (max(4, CPUs)) made them queue for one another.
const DefaultPoolSize = 24

// Connect opens a pool to url and checks it answers. The caller closes it.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing Postgres URL: %w", redactErr(err))
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to Postgres at %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// redactErr keeps a malformed URL's password out of logs: pgx quotes the
// input in some parse errors.
func redactErr(err error) error {
	return fmt.Errorf("%s", strings.SplitN(err.Error(), "://", 2)[0])
}

// Tx runs fn in a transaction and commits when fn returns nil.
func Tx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
