// Package backup writes and restores backups of what agente-caddy keeps: the
// Postgres database (pg_dump's custom format, run as an external program) and
// our Redis keys (DUMP payloads with their expiry), described by a manifest
// holding the versions that made them and a SHA-256 of each file.
//
// A backup is a directory, not one archive: pg_restore reads the dump in
// place (its custom format is already compressed), the manifest can be read
// with any tool, and each file's checksum can be checked on its own. It is
// written under a hidden name and renamed when complete, so a directory
// with a manifest is a whole backup; pruning never removes anything else.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// Config says what to back up or restore into, and where backups live.
type Config struct {
	// PostgresURL is the database (POSTGRES_URL). Required.
	PostgresURL string `json:"postgres_url"`
	// RedisURL is the Redis server (REDIS_URL); empty: no Redis part.
	RedisURL string `json:"redis_url,omitempty"`
	// RedisKeyPrefix is prefixed to every Redis key of ours
	// (REDIS_KEY_PREFIX). Keys are stored without it and restored under the
	// restoring side's prefix.
	RedisKeyPrefix string `json:"redis_key_prefix,omitempty"`
	// RedisKeys are the patterns (Redis globs, after the prefix) of our keys;
	// empty: DefaultRedisKeys.
	RedisKeys []string `json:"redis_keys,omitempty"`
	// Dir holds the backups, one directory each.
	Dir string `json:"dir"`
	// Keep is how many of the newest backups Prune leaves; 0: no count limit.
	Keep int `json:"keep,omitempty"`
	// MaxAge prunes backups older than this (the newest always stays); 0: no
	// age limit.
	MaxAge time.Duration `json:"max_age,omitempty"`
	// PgDump and PgRestore are the programs' paths; empty: found on PATH.
	PgDump    string `json:"pg_dump,omitempty"`
	PgRestore string `json:"pg_restore,omitempty"`
	// Version is the binary's version written to the manifest; empty:
	// BuildVersion().
	Version string `json:"version,omitempty"`
}

// DefaultRedisKeys are the keys the application writes, after its prefix:
// the feature flags (hash and per-flag keys), the rate-limit windows and
// the PMS cache.
var DefaultRedisKeys = []string{"feature_flags", "feature:*", "ratelimit:*", "pms:*"}

// Format names the layout this package writes and reads.
const Format = "agente-caddy-backup/1"

// The files of a backup.
const (
	ManifestFile = "manifest.json"
	PostgresFile = "postgres.dump"
	RedisFile    = "redis-keys.jsonl"
)

// partialPrefix marks a backup still being written.
const partialPrefix = ".partial-"

// Manifest describes one backup.
type Manifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	// Version is the agente-caddy binary that wrote it.
	Version  string            `json:"version"`
	Postgres PostgresManifest  `json:"postgres"`
	Redis    *RedisManifest    `json:"redis,omitempty"`
	Files    map[string]FileID `json:"files"`
}

// PostgresManifest is what the dump holds and what made it.
type PostgresManifest struct {
	ServerVersion string `json:"server_version"`
	PgDumpVersion string `json:"pg_dump_version"`
	Database      string `json:"database"`
	// SchemaVersion is the newest applied migration; Migrations all of them.
	SchemaVersion string   `json:"schema_version"`
	Migrations    []string `json:"migrations"`
	// Tables are read in the dump's own snapshot; Restore checks the
	// restored database against them.
	Tables map[string]TableDigest `json:"tables"`
}

// Rows is the number of rows in all of the tables.
func (pm PostgresManifest) Rows() int64 {
	var n int64
	for _, t := range pm.Tables {
		n += t.Rows
	}
	return n
}

// RedisManifest is what the Redis file holds.
type RedisManifest struct {
	ServerVersion string   `json:"server_version"`
	KeyPrefix     string   `json:"key_prefix"`
	Patterns      []string `json:"patterns"`
	Keys          int      `json:"keys"`
}

// FileID identifies one file's content.
type FileID struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Result is what Backup wrote.
type Result struct {
	Dir      string
	Manifest Manifest
	Bytes    int64
}

// BuildVersion is the running binary's module version and VCS revision,
// from its build information.
func BuildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return v + " " + info.GoVersion
}

// Backup writes a new backup into cfg.Dir and returns it. Nothing is left
// behind when it fails.
func Backup(ctx context.Context, cfg Config) (Result, error) {
	if cfg.PostgresURL == "" {
		return Result{}, errors.New("backup: no Postgres URL (POSTGRES_URL): the application's state is in Postgres")
	}
	if cfg.Dir == "" {
		return Result{}, errors.New("backup: no directory to write backups into")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	pgDump, err := tool(cfg.PgDump, "pg_dump")
	if err != nil {
		return Result{}, err
	}
	now := time.Now().UTC()
	name := now.Format("20060102T150405Z")
	final := filepath.Join(cfg.Dir, name)
	for i := 1; exists(final); i++ {
		final = filepath.Join(cfg.Dir, fmt.Sprintf("%s-%d", name, i))
	}
	partial := filepath.Join(cfg.Dir, partialPrefix+filepath.Base(final))
	if err := os.Mkdir(partial, 0o750); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(partial)
		}
	}()

	m := Manifest{Format: Format, CreatedAt: now, Version: cfg.Version, Files: map[string]FileID{}}
	if m.Version == "" {
		m.Version = BuildVersion()
	}
	if m.Postgres, err = dumpPostgres(ctx, pgDump, cfg.PostgresURL, filepath.Join(partial, PostgresFile)); err != nil {
		return Result{}, err
	}
	if cfg.RedisURL != "" {
		rm, err := dumpRedis(ctx, cfg, filepath.Join(partial, RedisFile))
		if err != nil {
			return Result{}, err
		}
		m.Redis = &rm
	}
	var total int64
	for _, f := range []string{PostgresFile, RedisFile} {
		if f == RedisFile && m.Redis == nil {
			continue
		}
		id, err := identify(filepath.Join(partial, f))
		if err != nil {
			return Result{}, fmt.Errorf("backup: %w", err)
		}
		m.Files[f] = id
		total += id.Bytes
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Result{}, err
	}
	if err := writeSynced(filepath.Join(partial, ManifestFile), append(body, '\n')); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(partial, final); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	done = true
	syncDir(cfg.Dir)
	return Result{Dir: final, Manifest: m, Bytes: total + int64(len(body)) + 1}, nil
}

// Verify reads dir's manifest and checks every file it lists against its
// size and SHA-256. A backup that fails is refused whole.
func Verify(dir string) (Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return Manifest{}, err
	}
	if _, ok := m.Files[PostgresFile]; !ok {
		return Manifest{}, fmt.Errorf("backup %s: the manifest lists no %s", dir, PostgresFile)
	}
	if m.Redis != nil {
		if _, ok := m.Files[RedisFile]; !ok {
			return Manifest{}, fmt.Errorf("backup %s: the manifest describes Redis keys but lists no %s", dir, RedisFile)
		}
	}
	names := make([]string, 0, len(m.Files))
	for f := range m.Files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		want := m.Files[f]
		if f != filepath.Base(f) || f == ManifestFile {
			return Manifest{}, fmt.Errorf("backup %s: the manifest lists %q, which is not a file of a backup", dir, f)
		}
		got, err := identify(filepath.Join(dir, f))
		if err != nil {
			return Manifest{}, fmt.Errorf("backup %s is incomplete: %w", dir, err)
		}
		if got.Bytes != want.Bytes {
			return Manifest{}, fmt.Errorf("backup %s: %s has %d bytes, the manifest says %d: refusing a truncated or altered backup", dir, f, got.Bytes, want.Bytes)
		}
		if got.SHA256 != want.SHA256 {
			return Manifest{}, fmt.Errorf("backup %s: %s has SHA-256 %s, the manifest says %s: refusing an altered backup", dir, f, got.SHA256, want.SHA256)
		}
	}
	return m, nil
}

// ReadManifest reads and checks the shape of dir's manifest, without
// reading the files it lists.
func ReadManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Manifest{}, fmt.Errorf("%s is not a backup: it has no %s (a backup still being written, or interrupted, has none)", dir, ManifestFile)
		}
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("backup %s: %s is not valid JSON: %v", dir, ManifestFile, err)
	}
	if m.Format != Format {
		return Manifest{}, fmt.Errorf("backup %s: format %q, this binary reads %q", dir, m.Format, Format)
	}
	if m.CreatedAt.IsZero() || len(m.Files) == 0 {
		return Manifest{}, fmt.Errorf("backup %s: %s has no creation time or no files", dir, ManifestFile)
	}
	return m, nil
}

// Entry is one backup found in a directory.
type Entry struct {
	Dir      string
	Manifest Manifest
}

// List returns the backups in dir (directories with a readable manifest),
// newest first. Anything else is left out, and never touched.
func List(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, de.Name())
		m, err := ReadManifest(p)
		if err != nil {
			continue
		}
		out = append(out, Entry{Dir: p, Manifest: m})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Manifest.CreatedAt.After(out[j].Manifest.CreatedAt) })
	return out, nil
}

// Prune removes the backups in cfg.Dir beyond the cfg.Keep newest and those
// older than cfg.MaxAge, and returns the directories it removed. The newest
// backup is never removed, nor any directory without a valid manifest.
func Prune(cfg Config, now time.Time) ([]string, error) {
	if cfg.Keep <= 0 && cfg.MaxAge <= 0 {
		return nil, nil
	}
	entries, err := List(cfg.Dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for i, e := range entries {
		if i == 0 {
			continue
		}
		tooMany := cfg.Keep > 0 && i >= cfg.Keep
		tooOld := cfg.MaxAge > 0 && now.Sub(e.Manifest.CreatedAt) > cfg.MaxAge
		if !tooMany && !tooOld {
			continue
		}
		if err := os.RemoveAll(e.Dir); err != nil {
			return removed, err
		}
		removed = append(removed, e.Dir)
	}
	return removed, nil
}

func identify(path string) (FileID, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileID{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileID{}, err
	}
	return FileID{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeSynced(path string, body []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a rename durable; a file system that cannot sync a
// directory has nothing more to do.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// RestoreOptions are the choices a restore leaves to the operator.
type RestoreOptions struct {
	// Replace restores over a database that has tables: what the backup
	// holds is dropped and recreated in one transaction. Without it the
	// database must have no table.
	Replace bool
	// SkipRedis restores Postgres only.
	SkipRedis bool
}

// RestoreResult is what Restore put back.
type RestoreResult struct {
	Manifest Manifest
	// Tables and Rows were checked equal to the backup's, table by table.
	Tables int
	Rows   int64
	// RedisKeys were restored; RedisExpired had expired since the backup
	// and were left out.
	RedisKeys, RedisExpired int
}

// Restore checks every file of the backup in dir against its manifest,
// then loads the Postgres dump (pg_restore in one transaction) and checks
// each table's rows against the manifest, then makes our Redis keys the
// backup's. Stop every instance and worker first: a write during the
// restore makes the check fail.
func Restore(ctx context.Context, cfg Config, dir string, opts RestoreOptions) (RestoreResult, error) {
	m, err := Verify(dir)
	if err != nil {
		return RestoreResult{}, err
	}
	res := RestoreResult{Manifest: m}
	if cfg.PostgresURL == "" {
		return res, errors.New("restore: no Postgres URL (POSTGRES_URL) to restore into")
	}
	restoreRedisToo := m.Redis != nil && !opts.SkipRedis
	if restoreRedisToo && cfg.RedisURL == "" {
		return res, fmt.Errorf("restore: the backup holds %d Redis keys but no Redis URL (REDIS_URL) is set: set it, or skip Redis explicitly", m.Redis.Keys)
	}
	pgRestore, err := tool(cfg.PgRestore, "pg_restore")
	if err != nil {
		return res, err
	}
	if err := restorePostgres(ctx, pgRestore, cfg.PostgresURL, filepath.Join(dir, PostgresFile), m.Postgres, opts.Replace); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	res.Tables, res.Rows = len(m.Postgres.Tables), m.Postgres.Rows()
	if restoreRedisToo {
		res.RedisKeys, res.RedisExpired, err = restoreRedis(ctx, cfg, filepath.Join(dir, RedisFile), *m.Redis)
		if err != nil {
			return res, fmt.Errorf("restore: Postgres was restored, Redis was not: %w", err)
		}
	}
	return res, nil
}
