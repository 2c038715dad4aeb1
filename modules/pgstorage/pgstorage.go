// Package pgstorage is the `caddy.storage.postgres` storage module: Caddy's
// certificates, private keys, ACME account data and locks kept in Postgres
// (internal/certstore), so every instance of a cluster obtains a certificate
// once and serves the same one.
package pgstorage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/certstore"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Storage{})
}

// Storage keeps Caddy's TLS assets in Postgres.
//
// Caddyfile (global option):
//
//	storage postgres [<connection_string>] {
//		connection_string <url>       # e.g. {env.POSTGRES_URL}
//		lock_ttl <duration>           # default 30s
//		lock_poll_interval <duration> # default 1s
//	}
//
// The storage is provisioned before any app, so it connects and applies the
// embedded migrations (internal/store; the tables are 0060's) itself. It
// shares the process's pool for the same URL with the agente app
// (agente.AcquirePostgres), and its Store — with its lock holder's name and
// the leases it is renewing — outlives reloads, so a reload in the middle of
// an ACME order neither drops the order's lock nor takes it twice.
type Storage struct {
	// ConnectionString is the Postgres URL. Placeholders such as
	// {env.POSTGRES_URL} are resolved when the storage is provisioned, so
	// the adapted JSON config never holds the password.
	ConnectionString string `json:"connection_string,omitempty"`
	// LockTTL is how long a lock outlives its holder's last renewal (the
	// holder renews it every third of this): the longest an instance that
	// died during an ACME order keeps the others waiting. Default 30s;
	// at least 3s.
	LockTTL caddy.Duration `json:"lock_ttl,omitempty"`
	// LockPollInterval is how often an instance waiting for a lock tries
	// again. Default 1s; less than lock_ttl.
	LockPollInterval caddy.Duration `json:"lock_poll_interval,omitempty"`

	store   *certstore.Store
	release []func()
}

// CaddyModule returns the Caddy module information.
func (Storage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "caddy.storage.postgres", New: func() caddy.Module { return new(Storage) }}
}

// stores keeps one certstore.Store per URL and lock settings for the whole
// process, across reloads.
var stores = caddy.NewUsagePool()

type pooledStore struct{ *certstore.Store }

func (p pooledStore) Destruct() error { p.Close(); return nil }

// Provision connects, applies the migrations and opens the store.
func (s *Storage) Provision(ctx caddy.Context) error {
	url := caddy.NewReplacer().ReplaceAll(s.ConnectionString, "")
	if url == "" {
		return fmt.Errorf("storage postgres: connection_string is empty (%q resolved to nothing; is POSTGRES_URL set?)", s.ConnectionString)
	}
	if _, err := pgxpool.ParseConfig(url); err != nil {
		return errors.New("storage postgres: connection_string is not a Postgres URL")
	}
	if err := s.Validate(); err != nil {
		return err
	}
	pool, release, err := agente.AcquirePostgres(ctx, url)
	if err != nil {
		return fmt.Errorf("storage postgres: connection_string: %w", err)
	}
	s.release = append(s.release, release)
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := store.Migrate(mctx, pool); err != nil {
		return fmt.Errorf("storage postgres: migrations: %w", err)
	}
	logger := ctx.Logger()
	opts := certstore.Options{
		LockTTL:      time.Duration(s.LockTTL),
		PollInterval: time.Duration(s.LockPollInterval),
		Logf:         func(format string, args ...any) { logger.Warn(fmt.Sprintf(format, args...)) },
	}
	key := fmt.Sprintf("%s|%s|%s", url, opts.LockTTL, opts.PollInterval)
	v, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledStore{certstore.New(pool, opts)}, nil
	})
	if err != nil {
		return err
	}
	s.release = append(s.release, func() { _, _ = stores.Delete(key) })
	s.store = v.(pooledStore).Store
	logger.Info("TLS storage in Postgres", zap.String("lock_owner", s.store.Owner()))
	return nil
}

// Validate checks the lock settings, naming the field at fault.
func (s *Storage) Validate() error {
	ttl, poll := time.Duration(s.LockTTL), time.Duration(s.LockPollInterval)
	if ttl < 0 || (ttl != 0 && ttl < 3*time.Second) {
		return fmt.Errorf("storage postgres: lock_ttl %s: must be at least 3s (renewed every third of it)", ttl)
	}
	if ttl == 0 {
		ttl = certstore.DefaultLockTTL
	}
	if poll < 0 || poll >= ttl {
		return fmt.Errorf("storage postgres: lock_poll_interval %s: must be positive and less than lock_ttl (%s)", poll, ttl)
	}
	return nil
}

// Cleanup releases this config's hold on the store and the pool.
func (s *Storage) Cleanup() error {
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
	s.release = nil
	return nil
}

// CertMagicStorage returns the store as certmagic sees it.
func (s *Storage) CertMagicStorage() (certmagic.Storage, error) {
	if s.store == nil {
		return nil, errors.New("storage postgres: not provisioned")
	}
	return New(s.store), nil
}

// New adapts a certstore.Store to certmagic's Storage interface.
func New(st *certstore.Store) certmagic.Storage { return certMagicStore{st} }

// certMagicStore is certstore.Store with certmagic's method set. It is
// deliberately not a certmagic.LockLeaseRenewer: certmagic would stretch a
// lock's lease to the whole retry interval plus the obtain timeout (minutes),
// which a holder killed mid-order would then keep; the store's own renewals
// already hold the lock as long as its holder lives, and no longer than
// lock_ttl after it dies.
type certMagicStore struct{ st *certstore.Store }

func (c certMagicStore) Store(ctx context.Context, key string, value []byte) error {
	return c.st.Store(ctx, key, value)
}

func (c certMagicStore) Load(ctx context.Context, key string) ([]byte, error) {
	return c.st.Load(ctx, key)
}

func (c certMagicStore) Delete(ctx context.Context, key string) error { return c.st.Delete(ctx, key) }

func (c certMagicStore) Exists(ctx context.Context, key string) bool { return c.st.Exists(ctx, key) }

func (c certMagicStore) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	return c.st.List(ctx, prefix, recursive)
}

func (c certMagicStore) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	ki, err := c.st.Stat(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	return certmagic.KeyInfo{Key: ki.Key, Modified: ki.Modified, Size: ki.Size, IsTerminal: ki.IsTerminal}, nil
}

func (c certMagicStore) Lock(ctx context.Context, name string) error { return c.st.Lock(ctx, name) }

func (c certMagicStore) TryLock(ctx context.Context, name string) (bool, error) {
	return c.st.TryLock(ctx, name)
}

func (c certMagicStore) Unlock(ctx context.Context, name string) error { return c.st.Unlock(ctx, name) }

// String names the storage without its credentials.
func (c certMagicStore) String() string { return "postgres:" + c.st.Owner() }

// UnmarshalCaddyfile reads the `storage postgres` global option.
func (s *Storage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		s.ConnectionString = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "connection_string":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if s.ConnectionString != "" {
				return d.Err("connection_string already set")
			}
			s.ConnectionString = d.Val()
		case "lock_ttl", "lock_poll_interval":
			name := d.Val()
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("%s: %v", name, err)
			}
			if name == "lock_ttl" {
				s.LockTTL = caddy.Duration(dur)
			} else {
				s.LockPollInterval = caddy.Duration(dur)
			}
		default:
			return d.Errf("unrecognized storage postgres option %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	if s.ConnectionString == "" {
		return d.Err("storage postgres: connection_string is required (e.g. {env.POSTGRES_URL})")
	}
	return nil
}

// Interface guards
var (
	_ caddy.StorageConverter = (*Storage)(nil)
	_ caddy.Provisioner      = (*Storage)(nil)
	_ caddy.Validator        = (*Storage)(nil)
	_ caddy.CleanerUpper     = (*Storage)(nil)
	_ caddyfile.Unmarshaler  = (*Storage)(nil)
	_ certmagic.Storage      = certMagicStore{}
	_ certmagic.TryLocker    = certMagicStore{}
)
