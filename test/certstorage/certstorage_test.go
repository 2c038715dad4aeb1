// Package certstorage holds the conformance tests of the Postgres TLS
// storage (internal/certstore through the caddy.storage.postgres module's
// certmagic adapter) against a real Postgres: every Storage method behaves as
// certmagic's own FileStorage does on the same operations, and its locks
// exclude across instances and expire when their holder dies.
package certstorage

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/certstore"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/modules/pgstorage"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// instance is one Caddy instance's storage on the shared database, with its
// own pool (as a separate process has).
func instance(t *testing.T, url string, opts certstore.Options) (certmagic.Storage, *certstore.Store, *pgxpool.Pool) {
	t.Helper()
	pool, err := store.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := certstore.New(pool, opts)
	t.Cleanup(st.Close)
	return pgstorage.New(st), st, pool
}

func migratedURL(t *testing.T) string {
	t.Helper()
	url := testservices.Postgres(t)
	pool, err := store.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return url
}

var files = map[string]string{
	"certificates/acme/example.com/example.com.crt":     "CERT",
	"certificates/acme/example.com/example.com.key":     "KEY",
	"certificates/acme/example.com/example.com.json":    "{}",
	"certificates/acme/example.com-x/example.com-x.crt": "CERT2",
	"certificates/acme/ex/ex.crt":                       "CERT3",
	"acme/ca/users/ops/ops.json":                        "ACCOUNT",
	"last_clean.json":                                   "{}",
}

// TestMethodsAgreeWithFileStorage runs the same operations on both storages
// and compares every answer.
func TestMethodsAgreeWithFileStorage(t *testing.T) {
	ctx := context.Background()
	pg, _, _ := instance(t, migratedURL(t), certstore.Options{})
	file := &certmagic.FileStorage{Path: t.TempDir()}
	both := map[string]certmagic.Storage{"postgres": pg, "file": file}

	for name, s := range both {
		for k, v := range files {
			if err := s.Store(ctx, k, []byte(v)); err != nil {
				t.Fatalf("%s: Store %s: %v", name, k, err)
			}
		}
		// overwrite
		if err := s.Store(ctx, "last_clean.json", []byte(`{"t":1}`)); err != nil {
			t.Fatal(err)
		}
	}

	type answer struct {
		Value    string
		Keys     []string
		Exists   bool
		Terminal bool
		Size     int64
		NotExist bool
		Err      bool
	}
	ask := func(s certmagic.Storage, op, key string) answer {
		var a answer
		var err error
		switch op {
		case "load":
			var b []byte
			b, err = s.Load(ctx, key)
			a.Value = string(b)
		case "exists":
			a.Exists = s.Exists(ctx, key)
		case "list":
			a.Keys, err = s.List(ctx, key, false)
		case "list-recursive":
			a.Keys, err = s.List(ctx, key, true)
		case "stat":
			var ki certmagic.KeyInfo
			ki, err = s.Stat(ctx, key)
			if err == nil {
				if ki.Key != key {
					t.Errorf("Stat(%q).Key = %q", key, ki.Key)
				}
				if ki.Modified.IsZero() {
					t.Errorf("Stat(%q): no modification time", key)
				}
				a.Terminal = ki.IsTerminal
				if ki.IsTerminal {
					a.Size = ki.Size
				}
			}
		}
		a.NotExist = errors.Is(err, fs.ErrNotExist)
		a.Err = err != nil
		return a
	}
	// FileStorage answers a directory's Load with the OS's EISDIR, where we
	// say fs.ErrNotExist (a directory has no value); both are errors.
	// A path through a file ("x.crt/x") it reports as existing (os.Stat's
	// ENOTDIR is not ErrNotExist): there we hold to the interface instead.
	throughFile := "certificates/acme/example.com/example.com.crt/x"
	fileQuirk := func(op, key string, got, want *answer) bool {
		if op == "load" && want.Err && got.NotExist {
			return true
		}
		if key == throughFile {
			if got.Exists || !got.NotExist && op != "exists" {
				t.Errorf("%s(%q) = %+v, want not existing", op, key, *got)
			}
			return true
		}
		return false
	}
	check := func(stage string) {
		t.Helper()
		keys := []string{
			"certificates/acme/example.com/example.com.crt", "last_clean.json", "certificates",
			"certificates/acme", "certificates/acme/example.com", "certificates/acme/ex",
			"certificates/acme/exa",
			"missing", "acme", "acme/ca/users/ops/ops.json", throughFile,
		}
		for _, op := range []string{"load", "exists", "list", "list-recursive", "stat"} {
			for _, k := range keys {
				got, want := ask(pg, op, k), ask(file, op, k)
				if fileQuirk(op, k, &got, &want) {
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s(%q): postgres %+v, file %+v", stage, op, k, got, want)
				}
			}
		}
	}
	check("after Store")

	if got := ask(pg, "list-recursive", "certificates/acme"); len(got.Keys) != 8 {
		t.Errorf("recursive list of certificates/acme: %d keys %v, want 8 (3 directories, 5 files)", len(got.Keys), got.Keys)
	}

	for name, s := range both {
		for _, k := range []string{"certificates/acme/example.com", "last_clean.json", "never/stored"} {
			if err := s.Delete(ctx, k); err != nil {
				t.Errorf("%s: Delete %s: %v", name, k, err)
			}
		}
	}
	check("after Delete")
	if pg.Exists(ctx, "certificates/acme/example.com/example.com.key") {
		t.Error("a key under a deleted directory still exists")
	}
	if !pg.Exists(ctx, "certificates/acme/example.com-x/example.com-x.crt") {
		t.Error("deleting example.com took example.com-x with it")
	}
}

// TestLockExcludesAcrossInstances: while one instance holds a lock the other
// cannot take it — not even after the lease's TTL, which the holder renews —
// and takes it once released.
func TestLockExcludesAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := migratedURL(t)
	opts := certstore.Options{LockTTL: 3 * time.Second, PollInterval: 100 * time.Millisecond}
	a, _, _ := instance(t, url, opts)
	b, _, _ := instance(t, url, opts)
	if err := a.Lock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.(certmagic.TryLocker).TryLock(ctx, "issue_cert_example.com"); ok || err != nil {
		t.Fatalf("second instance TryLock on a held lock = %v, %v", ok, err)
	}
	// Another name is independent.
	if err := b.Lock(ctx, "issue_cert_other.example"); err != nil {
		t.Fatal(err)
	}
	// Twice the TTL: only the holder's renewals keep it.
	wctx, cancel := context.WithTimeout(ctx, 2*opts.LockTTL)
	err := b.Lock(wctx, "issue_cert_example.com")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second instance's Lock while held for 2×TTL = %v, want it still waiting", err)
	}
	// Same instance, another caller: also excluded.
	if ok, _ := a.(certmagic.TryLocker).TryLock(ctx, "issue_cert_example.com"); ok {
		t.Fatal("the holder's own second TryLock succeeded")
	}
	// Unlock by the non-holder leaves the lock in place.
	if err := b.Unlock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.(certmagic.TryLocker).TryLock(ctx, "issue_cert_example.com"); ok {
		t.Fatal("a non-holder's Unlock released the lock")
	}
	if _, ok := a.(certmagic.LockLeaseRenewer); ok {
		t.Error("the storage lets certmagic stretch a lease beyond lock_ttl (LockLeaseRenewer)")
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_example.com") }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("second instance got the lock before its release: %v", err)
	default:
	}
	if err := a.Unlock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second instance did not get the released lock")
	}
}

// TestLockExpiresWhenHolderDies: the holder's connections go away (as when
// its process is killed) and its renewals stop; the other instance gets the
// lock once the lease has run out, within one TTL of the death.
func TestLockExpiresWhenHolderDies(t *testing.T) {
	ctx := context.Background()
	url := migratedURL(t)
	opts := certstore.Options{LockTTL: 3 * time.Second, PollInterval: 100 * time.Millisecond}
	a, _, aPool := instance(t, url, opts)
	b, _, _ := instance(t, url, opts)
	if err := a.Lock(ctx, "issue_cert_example.com"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(opts.LockTTL / 2) // a renewal or so
	aPool.Close()                // the holder is gone: no renewal, no release
	died := time.Now()
	if ok, _ := b.(certmagic.TryLocker).TryLock(ctx, "issue_cert_example.com"); ok {
		t.Fatal("the lock was free the moment its holder died")
	}
	wctx, cancel := context.WithTimeout(ctx, opts.LockTTL+2*time.Second)
	defer cancel()
	if err := b.Lock(wctx, "issue_cert_example.com"); err != nil {
		t.Fatalf("the dead holder's lock did not expire within TTL (%s) + 2s: %v", opts.LockTTL, err)
	}
	waited := time.Since(died)
	t.Logf("the dead holder's lock was taken over %s after its death (TTL %s, renewed every %s)", waited.Round(10*time.Millisecond), opts.LockTTL, opts.LockTTL/3)
	if waited > opts.LockTTL+opts.PollInterval+time.Second {
		t.Errorf("took over after %s, more than TTL %s", waited, opts.LockTTL)
	}
}
