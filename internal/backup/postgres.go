package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/store"
)

// TableDigest is a table's row count and an order-independent digest of its
// rows (the sum of each row's MD5, read as text in fixed session settings).
type TableDigest struct {
	Rows   int64  `json:"rows"`
	Digest string `json:"digest"`
}

// tool is the path of a PostgreSQL client program: the configured one, or
// the one on PATH.
func tool(configured, name string) (string, error) {
	if configured != "" {
		name = configured
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (%v): install the PostgreSQL client programs (Debian: apt-get install postgresql-client; the major version must be at least the server's)", name, err)
	}
	return p, nil
}

var toolVersion = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// programVersion runs `path --version` and returns its version and major
// number.
func programVersion(ctx context.Context, path string) (string, int, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", 0, fmt.Errorf("%s --version: %w", path, err)
	}
	m := toolVersion.FindStringSubmatch(string(out))
	if m == nil {
		return "", 0, fmt.Errorf("%s --version printed %q, not a PostgreSQL version", path, strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(m[1])
	v := m[1]
	if m[2] != "" {
		v += "." + m[2]
	}
	return v, major, nil
}

// serverVersion is the server's version text and major number.
func serverVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (string, int, error) {
	var v string
	var num int
	if err := q.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int`).Scan(&v, &num); err != nil {
		return "", 0, fmt.Errorf("reading the Postgres server's version: %w", err)
	}
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v, num / 10000, nil
}

// pgxOnlyParams are URL parameters pgx and pgxpool read that libpq refuses.
var pgxOnlyParams = []string{"statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode", "min_read_buffer_size"}

// libpqTarget turns the application's Postgres URL into pg_dump's and
// pg_restore's --dbname and environment: the password travels in
// PGPASSWORD, not on a command line other users can read.
func libpqTarget(pgURL string) (dbname string, env []string, err error) {
	u, err := url.Parse(pgURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("the Postgres URL is not a postgres:// URL")
	}
	env = os.Environ()
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+p)
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") || slices.Contains(pgxOnlyParams, k) {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), env, nil
}

// runTool runs a client program and returns its error with what it
// printed on stderr.
func runTool(ctx context.Context, env []string, path string, args ...string) error {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + " …"
		}
		return fmt.Errorf("%s: %v: %s", path, err, msg)
	}
	return nil
}

// dumpPostgres writes the database to file with pg_dump in its custom
// format, from a snapshot exported by a transaction that also reads the
// schema version and each table's digest, so the manifest describes exactly
// what the dump holds.
func dumpPostgres(ctx context.Context, pgDump, pgURL, file string) (PostgresManifest, error) {
	var pm PostgresManifest
	dumpVersion, dumpMajor, err := programVersion(ctx, pgDump)
	if err != nil {
		return pm, err
	}
	pm.PgDumpVersion = dumpVersion
	dbname, env, err := libpqTarget(pgURL)
	if err != nil {
		return pm, err
	}
	pool, err := store.Connect(ctx, pgURL)
	if err != nil {
		return pm, err
	}
	defer pool.Close()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return pm, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	var serverMajor int
	if pm.ServerVersion, serverMajor, err = serverVersion(ctx, tx); err != nil {
		return pm, err
	}
	if dumpMajor < serverMajor {
		return pm, fmt.Errorf("%s is version %s, older than the Postgres server (%s): pg_dump refuses a newer server; install postgresql-client-%d or newer", pgDump, dumpVersion, pm.ServerVersion, serverMajor)
	}
	var snapshot string
	if err := tx.QueryRow(ctx, `SELECT current_database(), pg_export_snapshot()`).Scan(&pm.Database, &snapshot); err != nil {
		return pm, fmt.Errorf("exporting a snapshot for pg_dump: %w", err)
	}
	if pm.Migrations, err = migrations(ctx, tx); err != nil {
		return pm, err
	}
	if n := len(pm.Migrations); n > 0 {
		pm.SchemaVersion = pm.Migrations[n-1]
	}
	if pm.Tables, err = digests(ctx, tx); err != nil {
		return pm, err
	}
	if err := runTool(ctx, env, pgDump, "--format=custom", "--snapshot="+snapshot, "--file="+file, "--dbname="+dbname); err != nil {
		return pm, fmt.Errorf("pg_dump: %w", err)
	}
	if err := syncFile(file); err != nil {
		return pm, err
	}
	return pm, tx.Commit(ctx)
}

// migrations lists the applied schema migrations, or none when the
// database was never migrated.
func migrations(ctx context.Context, q pgx.Tx) ([]string, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return []string{}, nil
	}
	rows, err := q.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return names, nil
}

// userTables lists the ordinary and partitioned tables outside the system
// schemas, as schema.table.
const userTables = `
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
ORDER BY 1, 2`

// digests reads every table's row count and digest in tx. The session
// settings that shape a row's text are fixed so both sides of a restore
// read the same text.
func digests(ctx context.Context, tx pgx.Tx) (map[string]TableDigest, error) {
	for _, s := range []string{
		`SET LOCAL TimeZone = 'UTC'`, `SET LOCAL DateStyle = 'ISO, YMD'`, `SET LOCAL IntervalStyle = 'postgres'`,
		`SET LOCAL extra_float_digits = 3`, `SET LOCAL bytea_output = 'hex'`,
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	rows, err := tx.Query(ctx, userTables)
	if err != nil {
		return nil, err
	}
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		return t, r.Scan(&t.schema, &t.name)
	})
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	out := make(map[string]TableDigest, len(tables))
	for _, t := range tables {
		ident := pgx.Identifier{t.schema, t.name}.Sanitize()
		var d TableDigest
		err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(('x' || substr(md5(r::text), 1, 16))::bit(64)::bigint::numeric), 0)::text FROM `+ident+` r`).Scan(&d.Rows, &d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ident, err)
		}
		out[t.schema+"."+t.name] = d
	}
	return out, nil
}

// restorePostgres loads the backup's dump into the database at pgURL and
// checks every table against the manifest. Without replace the database
// must hold no table; with it the backup's objects are dropped and
// recreated in one transaction, and only when the database's schema is not
// newer than the backup's (a table from a later migration would survive
// the restore with no record of its migration).
func restorePostgres(ctx context.Context, pgRestore, pgURL, file string, m PostgresManifest, replace bool) error {
	_, restoreMajor, err := programVersion(ctx, pgRestore)
	if err != nil {
		return err
	}
	dumpMajor := leadingInt(m.PgDumpVersion)
	if restoreMajor < dumpMajor {
		return fmt.Errorf("%s is major version %d, older than the pg_dump %s that wrote the backup: install postgresql-client-%d or newer", pgRestore, restoreMajor, m.PgDumpVersion, dumpMajor)
	}
	dbname, env, err := libpqTarget(pgURL)
	if err != nil {
		return err
	}
	pool, err := store.Connect(ctx, pgURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	serverVer, serverMajor, err := serverVersion(ctx, pool)
	if err != nil {
		return err
	}
	if backupMajor := leadingInt(m.ServerVersion); serverMajor < backupMajor {
		return fmt.Errorf("the Postgres server is version %s, older than the backup's %s: restore into a server of version %d or newer", serverVer, m.ServerVersion, backupMajor)
	}
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (`+userTables+`) t`).Scan(&tables); err != nil {
		return err
	}
	args := []string{"--single-transaction", "--exit-on-error", "--no-owner", "--no-acl", "--dbname=" + dbname}
	if tables > 0 {
		if !replace {
			return fmt.Errorf("the database holds %d tables: restore into an empty database, or pass --replace to drop and replace what the backup holds in one transaction (stop every instance and worker first)", tables)
		}
		if err := schemaNotNewer(ctx, pool, m); err != nil {
			return err
		}
		args = append(args, "--clean", "--if-exists")
	}
	if err := runTool(ctx, env, pgRestore, append(args, file)...); err != nil {
		return fmt.Errorf("pg_restore (nothing was changed: it runs in one transaction): %w", err)
	}
	return checkRestored(ctx, pool, m)
}

func schemaNotNewer(ctx context.Context, pool *pgxpool.Pool, m PostgresManifest) error {
	return store.Tx(ctx, pool, func(tx pgx.Tx) error {
		have, err := migrations(ctx, tx)
		if err != nil {
			return err
		}
		for _, name := range have {
			if !slices.Contains(m.Migrations, name) {
				return fmt.Errorf("the database has migration %s, which the backup (schema %s) lacks: restore into an empty database, then run this binary's migrate", name, m.SchemaVersion)
			}
		}
		return nil
	})
}

// checkRestored compares the restored database with the manifest, table by
// table.
func checkRestored(ctx context.Context, pool *pgxpool.Pool, m PostgresManifest) error {
	var got map[string]TableDigest
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = digests(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("checking the restored database: %w", err)
	}
	var errs []error
	for name, want := range m.Tables {
		g, ok := got[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("table %s is missing", name))
		case g != want:
			errs = append(errs, fmt.Errorf("table %s has %d rows (digest %s), the backup %d (digest %s)", name, g.Rows, g.Digest, want.Rows, want.Digest))
		}
	}
	for name := range got {
		if _, ok := m.Tables[name]; !ok {
			errs = append(errs, fmt.Errorf("table %s is not in the backup", name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the restored database differs from the backup (did something write during the restore?): %w", errors.Join(errs...))
	}
	return nil
}

func leadingInt(s string) int {
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}
