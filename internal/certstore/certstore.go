// Package certstore keeps TLS assets — certificates, private keys, ACME
// account data — and the cluster's locks in Postgres, so instances behind a
// load balancer obtain a certificate once and serve the same one. It has the
// shape of certmagic's Storage (a key-value store with file-system
// semantics: keys are slash-separated, directories are implicit prefixes)
// without depending on it; the caddy.storage.postgres module adapts it.
//
// Locks are leases in the certmagic_locks table rather than Postgres
// advisory locks. An advisory lock lives in one session, so each held lock
// would pin a pooled connection for the length of an ACME order, would not
// survive a transaction-pooling proxy, and would outlive a holder that froze
// or lost its network until TCP noticed (hours with default keepalives). A
// lease is a row with an expiry the holder renews every third of the TTL: a
// holder that dies, freezes or is cut off stops renewing, and its lock is free
// at most one TTL later, measured on the database's clock.
package certstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Options.
const (
	DefaultLockTTL      = 30 * time.Second
	DefaultPollInterval = time.Second
)

// Options tune a Store; zero values take the defaults.
type Options struct {
	// LockTTL is how long a lock outlives its holder's last renewal: the
	// longest a dead holder keeps others waiting.
	LockTTL time.Duration
	// PollInterval is how often a waiting Lock tries again.
	PollInterval time.Duration
	// Owner names this holder in certmagic_locks (default: host/pid/random),
	// unique per Store.
	Owner string
	// Logf receives the events an operator should see (a lease lost).
	Logf func(format string, args ...any)
}

// KeyInfo describes a key: a file (IsTerminal, with its size) or a
// directory (the newest modification below it).
type KeyInfo struct {
	Key        string
	Modified   time.Time
	Size       int64
	IsTerminal bool
}

// Store is the Postgres storage. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	opts Options

	mu   sync.Mutex
	held map[string]*lease
}

type lease struct {
	stop context.CancelFunc
	done chan struct{}
}

// New returns a Store on pool, whose schema the embedded migrations
// (internal/store) created.
func New(pool *pgxpool.Pool, opts Options) *Store {
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Store{pool: pool, opts: opts, held: map[string]*lease{}}
}

func defaultOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Owner is the name this Store's locks carry.
func (s *Store) Owner() string { return s.opts.Owner }

// normalize drops leading and trailing slashes, which keys never carry.
func normalize(key string) string { return strings.Trim(key, "/") }

// Store puts value at key, replacing what was there.
func (s *Store) Store(ctx context.Context, key string, value []byte) error {
	key = normalize(key)
	if key == "" {
		return errors.New("certstore: empty key")
	}
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO certmagic_data (key, value, modified) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, modified = EXCLUDED.modified`, key, value)
	if err != nil {
		return fmt.Errorf("certstore: storing %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	key = normalize(key)
	var value []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM certmagic_data WHERE key = $1`, key).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("certstore: %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("certstore: loading %s: %w", key, err)
	}
	return value, nil
}

// Delete removes key and, when key is a directory, every key below it. A
// missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	key = normalize(key)
	_, err := s.pool.Exec(ctx, `DELETE FROM certmagic_data WHERE $1 = '' OR key = $1 OR starts_with(key, $1 || '/')`, key)
	if err != nil {
		return fmt.Errorf("certstore: deleting %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a file or a directory; false when the
// database cannot say.
func (s *Store) Exists(ctx context.Context, key string) bool {
	key = normalize(key)
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM certmagic_data
		WHERE $1 = '' OR key = $1 OR starts_with(key, $1 || '/'))`, key).Scan(&exists)
	return err == nil && exists
}

// Stat describes key, or returns an error wrapping fs.ErrNotExist.
func (s *Store) Stat(ctx context.Context, key string) (KeyInfo, error) {
	key = normalize(key)
	var (
		size     int64
		modified time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT octet_length(value), modified FROM certmagic_data WHERE key = $1`, key).Scan(&size, &modified)
	if err == nil {
		return KeyInfo{Key: key, Modified: modified, Size: size, IsTerminal: true}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return KeyInfo{}, fmt.Errorf("certstore: stat %s: %w", key, err)
	}
	var newest *time.Time
	err = s.pool.QueryRow(ctx, `SELECT max(modified) FROM certmagic_data WHERE $1 = '' OR starts_with(key, $1 || '/')`, key).Scan(&newest)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("certstore: stat %s: %w", key, err)
	}
	if newest == nil {
		return KeyInfo{}, fmt.Errorf("certstore: %s: %w", key, fs.ErrNotExist)
	}
	return KeyInfo{Key: key, Modified: *newest, IsTerminal: false}, nil
}

// List returns the keys under prefix as certmagic's FileStorage does: the
// files and directories directly in it, or with recursive every file and
// directory below it, ordered as a depth-first walk in name order. A prefix
// that is a file lists nothing; one that does not exist is fs.ErrNotExist.
func (s *Store) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	prefix = normalize(prefix)
	rows, err := s.pool.Query(ctx, `SELECT key FROM certmagic_data
		WHERE $1 = '' OR key = $1 OR starts_with(key, $1 || '/')`, prefix)
	if err != nil {
		return nil, fmt.Errorf("certstore: listing %s: %w", prefix, err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("certstore: listing %s: %w", prefix, err)
	}
	if len(all) == 0 && prefix != "" {
		return nil, fmt.Errorf("certstore: %s: %w", prefix, fs.ErrNotExist)
	}
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range all {
		if k == prefix {
			continue // the prefix itself is a file
		}
		rel := k
		if prefix != "" {
			rel = k[len(prefix)+1:]
		}
		parts := strings.Split(rel, "/")
		depth := len(parts)
		if !recursive {
			depth = 1
		}
		for i := 1; i <= depth; i++ {
			p := strings.Join(parts[:i], "/")
			if prefix != "" {
				p = prefix + "/" + p
			}
			add(p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return walkLess(out[i], out[j]) })
	return out, nil
}

// walkLess orders keys as a depth-first walk visiting names in order: by
// path component, a directory before what is inside it.
func walkLess(a, b string) bool {
	pa, pb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

// Lock takes the named lock, waiting while another holder (another Store,
// or another caller of this one) has it and its lease is live. It honours
// ctx while waiting.
func (s *Store) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(s.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// TryLock takes the named lock if it is free or its lease has expired, and
// reports whether it did. While held, the lease is renewed every third of
// LockTTL until Unlock.
func (s *Store) TryLock(ctx context.Context, name string) (bool, error) {
	var owner string
	err := s.pool.QueryRow(ctx, `INSERT INTO certmagic_locks (name, owner, expires_at)
		VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
		WHERE certmagic_locks.expires_at <= now()
		RETURNING owner`, name, s.opts.Owner, s.opts.LockTTL.Seconds()).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("certstore: locking %s: %w", name, err)
	}
	hctx, stop := context.WithCancel(context.Background())
	l := &lease{stop: stop, done: make(chan struct{})}
	s.mu.Lock()
	if old := s.held[name]; old != nil {
		// A lease of ours that expired unnoticed: its renewer is finishing.
		old.stop()
	}
	s.held[name] = l
	s.mu.Unlock()
	go s.renew(hctx, name, l.done)
	return true, nil
}

// renew keeps the lease on name alive until stopped, or gives up once it
// could not renew for a whole TTL (the lock may be someone else's by then).
func (s *Store) renew(ctx context.Context, name string, done chan struct{}) {
	defer close(done)
	every := s.opts.LockTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.extend(ctx, name, s.opts.LockTTL)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && ok:
			renewed = time.Now()
		case err == nil && !ok:
			s.opts.Logf("certstore: lock %s was taken over after its lease expired; holder %s no longer has it", name, s.opts.Owner)
			return
		case time.Since(renewed) > s.opts.LockTTL:
			s.opts.Logf("certstore: lock %s: could not renew its lease for %s (%v); giving it up", name, s.opts.LockTTL, err)
			return
		}
	}
}

func (s *Store) extend(ctx context.Context, name string, d time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE certmagic_locks SET expires_at = now() + make_interval(secs => $3)
		WHERE name = $1 AND owner = $2`, name, s.opts.Owner, d.Seconds())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Unlock stops renewing the named lock and releases it. A lock that was
// already taken over (its lease expired) is left to its new holder.
func (s *Store) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if l != nil {
		l.stop()
		<-l.done
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM certmagic_locks WHERE name = $1 AND owner = $2`, name, s.opts.Owner); err != nil {
		return fmt.Errorf("certstore: unlocking %s: %w", name, err)
	}
	return nil
}

// Close stops renewing every lease and releases the locks this Store holds
// (best effort: a lock it cannot release expires after LockTTL).
func (s *Store) Close() {
	s.mu.Lock()
	held := s.held
	s.held = map[string]*lease{}
	s.mu.Unlock()
	for _, l := range held {
		l.stop()
		<-l.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.pool.Exec(ctx, `DELETE FROM certmagic_locks WHERE owner = $1`, s.opts.Owner)
}
