package agente

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/agentehotel/agente-caddy/internal/backup"
	"github.com/agentehotel/agente-caddy/internal/config"
)

// The backup subcommands: writing, restoring and checking backups of
// Postgres and our Redis keys (internal/backup).
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "backup",
		Usage: "[--dir <backups>] [--keep <n>] [--max-age <30d>] [--every <24h>]",
		Short: "Backs up Postgres (pg_dump) and our Redis keys into a new directory",
		Long: `
Writes a new backup directory under --dir (default $BACKUP_DIR or ./backups),
named by its UTC time: postgres.dump (pg_dump's custom format, from the same
snapshot as the row counts and digests in the manifest), redis-keys.jsonl
(our keys under REDIS_KEY_PREFIX with their expiry: feature flags,
rate-limit windows, the PMS cache) and manifest.json (versions of this
binary, pg_dump, the Postgres server and Redis, the schema migration, and
the SHA-256 of each file). A backup is written under a hidden name and
renamed when complete.

Reads POSTGRES_URL, REDIS_URL (optional) and REDIS_KEY_PREFIX. pg_dump must
be on PATH (Debian: postgresql-client) and of the server's major version or
newer.

After each backup, --keep leaves the n newest backups and --max-age removes
older ones (the newest always stays; a directory without a valid manifest
is never removed). With --every the command stays up and backs up at once
and then at that interval; a failed backup is reported and retried at the
next one.

  agente-caddy backup --dir /var/backups/agente --keep 7
  agente-caddy backup --dir /backups --every 24h --keep 7`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("dir", "", "directory of the backups (default $BACKUP_DIR or backups)")
			cmd.Flags().Int("keep", 0, "after backing up, keep this many newest backups (0: all)")
			cmd.Flags().String("max-age", "", "after backing up, remove backups older than this, e.g. 30d (default: none)")
			cmd.Flags().String("every", "", "stay up and back up at this interval, e.g. 24h")
			cmd.Flags().String("timeout", "1h", "give up on one backup after this long")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdBackup)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "restore",
		Usage: "<backup directory> [--replace] [--skip-redis] [--verify-only]",
		Short: "Restores a backup into POSTGRES_URL and REDIS_URL",
		Long: `
Checks every file of the backup against its manifest's size and SHA-256 and
refuses an altered or incomplete backup before touching anything. Then
pg_restore loads the dump in one transaction (--no-owner --no-acl: the
objects belong to the user of POSTGRES_URL), every table's row count and
digest are compared with the manifest, and our Redis keys become the
backup's (keys of ours not in it are deleted; keys whose expiry has passed
are left out).

The database must have no tables, unless --replace: then what the backup
holds is dropped and recreated in that one transaction, and only if the
database's schema is not newer than the backup's. Stop every instance and
worker first. --skip-redis restores Postgres only; --verify-only checks the
files and exits.

  agente-caddy restore backups/20261207T030000Z
  agente-caddy restore --replace backups/20261207T030000Z`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().Bool("replace", false, "restore over a database that has tables (in one transaction)")
			cmd.Flags().Bool("skip-redis", false, "restore Postgres only")
			cmd.Flags().Bool("verify-only", false, "check the backup's files against its manifest and exit")
			cmd.Flags().String("timeout", "1h", "give up after this long")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdRestore)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "backup-status",
		Usage: "[--dir <backups>] [--max-age <26h>]",
		Short: "Prints the newest backup; exits 1 when it is older than --max-age (a healthcheck)",
		Long: `
Lists the backups in --dir (default $BACKUP_DIR or ./backups), newest first,
from their manifests. Exits 1 when there is none or the newest is older than
--max-age: the compose backup service's healthcheck.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("dir", "", "directory of the backups (default $BACKUP_DIR or backups)")
			cmd.Flags().String("max-age", "", "exit 1 when the newest backup is older than this")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdBackupStatus)
		},
	})
}

// backupConfig reads what the backup commands share from the environment,
// as the server reads it.
func backupConfig(dir string) (backup.Config, error) {
	settings, err := config.FromOS()
	if err != nil {
		return backup.Config{}, err
	}
	cfg := backup.Config{
		PostgresURL:    settings.PostgresURL,
		RedisURL:       settings.RedisURL,
		RedisKeyPrefix: os.Getenv("REDIS_KEY_PREFIX"),
		Dir:            dir,
		Version:        binaryVersion(),
	}
	if cfg.PostgresURL == "" {
		return cfg, errors.New("POSTGRES_URL is not set: backups are of the Postgres database")
	}
	return cfg, nil
}

// binaryVersion is this binary's version for a manifest: our module's
// build and the Caddy it carries.
func binaryVersion() string {
	caddyVersion, _ := caddy.Version()
	return "agente-caddy " + backup.BuildVersion() + ", Caddy " + caddyVersion
}

func backupDir(fl caddycmd.Flags) string {
	if d := fl.String("dir"); d != "" {
		return d
	}
	if d := os.Getenv("BACKUP_DIR"); d != "" {
		return d
	}
	return "backups"
}

// durationFlag reads a duration flag as Caddy reads durations (30d, 24h);
// empty is 0.
func durationFlag(fl caddycmd.Flags, name string) (time.Duration, error) {
	v := fl.String(name)
	if v == "" {
		return 0, nil
	}
	d, err := caddy.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--%s %q is not a duration such as 24h or 30d", name, v)
	}
	return d, nil
}

// timeoutFlag reads --timeout, which must be more than 0: a zero limit
// would end every run before it starts.
func timeoutFlag(fl caddycmd.Flags) (time.Duration, error) {
	d, err := durationFlag(fl, "timeout")
	if err == nil && d == 0 {
		err = fmt.Errorf("--timeout %q: must be more than 0", fl.String("timeout"))
	}
	return d, err
}

func cmdBackup(fl caddycmd.Flags) (int, error) {
	cfg, err := backupConfig(backupDir(fl))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	cfg.Keep = fl.Int("keep")
	if cfg.Keep < 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--keep %d: must be 0 (all) or more", cfg.Keep)
	}
	var every time.Duration
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"max-age", &cfg.MaxAge}, {"every", &every}} {
		if *d.to, err = durationFlag(fl, d.name); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	timeout, err := timeoutFlag(fl)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	once := func() error {
		runCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		res, err := backup.Backup(runCtx, cfg)
		if err != nil {
			return err
		}
		fmt.Println(describeBackup(res, time.Since(start)))
		removed, err := backup.Prune(cfg, time.Now())
		for _, dir := range removed {
			fmt.Println("pruned", dir)
		}
		if err != nil {
			return fmt.Errorf("pruning %s: %w", cfg.Dir, err)
		}
		return nil
	}
	if every <= 0 {
		if err := once(); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		return 0, nil
	}
	fmt.Printf("backing up into %s every %v (keep %d, max age %v)\n", cfg.Dir, every, cfg.Keep, cfg.MaxAge)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := once(); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "backup failed (next attempt in %v): %v\n", every, err)
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-tick.C:
		}
	}
}

func describeBackup(res backup.Result, took time.Duration) string {
	m := res.Manifest
	s := fmt.Sprintf("backup %s: %d bytes in %v; Postgres %s (pg_dump %s), schema %s, %d tables, %d rows",
		res.Dir, res.Bytes, took.Round(time.Millisecond), m.Postgres.ServerVersion, m.Postgres.PgDumpVersion, m.Postgres.SchemaVersion, len(m.Postgres.Tables), m.Postgres.Rows())
	if m.Redis != nil {
		s += fmt.Sprintf("; Redis %s, %d keys", m.Redis.ServerVersion, m.Redis.Keys)
	} else {
		s += "; no Redis (REDIS_URL unset)"
	}
	return s
}

func cmdRestore(fl caddycmd.Flags) (int, error) {
	if fl.NArg() != 1 {
		return caddy.ExitCodeFailedStartup, errors.New("restore takes one argument: the backup's directory")
	}
	dir := fl.Arg(0)
	if fl.Bool("verify-only") {
		m, err := backup.Verify(dir)
		if err != nil {
			return 1, err
		}
		fmt.Printf("backup %s: %d files as in its manifest (written %s by %s)\n", dir, len(m.Files), m.CreatedAt.Format(time.RFC3339), m.Version)
		return 0, nil
	}
	cfg, err := backupConfig(filepath.Dir(dir))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	timeout, err := timeoutFlag(fl)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := backup.Restore(ctx, cfg, dir, backup.RestoreOptions{Replace: fl.Bool("replace"), SkipRedis: fl.Bool("skip-redis")})
	if err != nil {
		return 1, err
	}
	m := res.Manifest
	fmt.Printf("restored %s (written %s): schema %s, %d tables, %d rows, each equal to the backup's", dir, m.CreatedAt.Format(time.RFC3339), m.Postgres.SchemaVersion, res.Tables, res.Rows)
	switch {
	case m.Redis == nil:
		fmt.Println("; the backup has no Redis keys")
	case fl.Bool("skip-redis"):
		fmt.Println("; Redis skipped")
	default:
		fmt.Printf("; %d Redis keys (%d had expired)\n", res.RedisKeys, res.RedisExpired)
	}
	return 0, nil
}

func cmdBackupStatus(fl caddycmd.Flags) (int, error) {
	dir := backupDir(fl)
	maxAge, err := durationFlag(fl, "max-age")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	entries, err := backup.List(dir)
	if err != nil {
		return 1, err
	}
	if len(entries) == 0 {
		return 1, fmt.Errorf("no backup in %s", dir)
	}
	now := time.Now()
	for _, e := range entries {
		var size int64
		for _, f := range e.Manifest.Files {
			size += f.Bytes
		}
		fmt.Printf("%s\t%s\t%v old\t%d bytes\tschema %s\n", filepath.Base(e.Dir), e.Manifest.CreatedAt.Format(time.RFC3339),
			now.Sub(e.Manifest.CreatedAt).Round(time.Second), size, e.Manifest.Postgres.SchemaVersion)
	}
	if age := now.Sub(entries[0].Manifest.CreatedAt); maxAge > 0 && age > maxAge {
		return 1, fmt.Errorf("the newest backup, %s, is %v old: more than %v", filepath.Base(entries[0].Dir), age.Round(time.Second), maxAge)
	}
	return 0, nil
}
