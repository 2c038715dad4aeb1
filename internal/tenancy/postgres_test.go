package tenancy_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// migrated connects to a fresh database and applies every migration.
func migrated(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func newStore(t *testing.T, pool *pgxpool.Pool, opts tenancy.PostgresOptions) *tenancy.PostgresStore {
	t.Helper()
	opts.Logf = t.Logf
	s, err := tenancy.NewPostgresStore(context.Background(), pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSeedSQLRunsUnchangedAndResolves(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t, testservices.Postgres(t))
	s := newStore(t, pool, tenancy.PostgresOptions{})

	seed, err := os.ReadFile("../../test/sql/init-staging-db.sql")
	if err != nil {
		t.Fatal(err)
	}
	// One multi-statement Exec (simple protocol), as psql would run the file.
	if _, err := pool.Exec(ctx, string(seed)); err != nil {
		t.Fatalf("init-staging-db.sql against the migrated schema: %v", err)
	}
	// Twice: the script is idempotent (ON CONFLICT DO NOTHING).
	if _, err := pool.Exec(ctx, string(seed)); err != nil {
		t.Fatalf("second run: %v", err)
	}

	// The triggers NOTIFY the store: no explicit refresh needed.
	testservices.Eventually(t, 2*time.Second, "seed visible in cache", func() bool { return s.Stats().Identifiers == 7 })
	if st := s.Stats(); st.Tenants != 3 || st.Active != 3 {
		t.Fatalf("stats %+v", st)
	}
	for in, want := range map[tenancy.ResolveInput]string{
		{GuestPhone: "34600111222", Channel: "whatsapp"}:       "tenant_hotel_madrid", // WhatsApp sends digits; the script stores +E.164
		{GuestPhone: "34600111333", Channel: "whatsapp"}:       "tenant_hotel_madrid",
		{GuestPhone: "34600222333", Channel: "whatsapp"}:       "tenant_hotel_bcn",
		{GuestPhone: "+34600333444", Channel: "whatsapp"}:      "tenant_hotel_sevilla",
		{GuestEmail: "guest1@barcelona.com", Channel: "gmail"}: "tenant_hotel_bcn",
		{GuestEmail: "Guest1@Sevilla.com", Channel: "gmail"}:   "tenant_hotel_sevilla",
		{GuestEmail: "guest1@madrid.com", Channel: "gmail"}:    "tenant_hotel_madrid",
	} {
		if got, r := s.Resolve(in); got != want || r != tenancy.ResultHit {
			t.Errorf("Resolve(%+v) = %q %s, want %q hit", in, got, r, want)
		}
	}
	madrid, ok := s.Tenant("tenant_hotel_madrid")
	if !ok || madrid.Timezone != "Europe/Madrid" || madrid.Name != "Hotel Madrid Central" || len(madrid.Identifiers) != 3 {
		t.Fatalf("madrid %+v", madrid)
	}
	// The script's rows are stored as written; an admin add in another format collides.
	id, _ := tenancy.ParseIdentifier("34 600 111 222", "")
	if _, err := s.AddIdentifier(ctx, "ops", "tenant_hotel_bcn", id); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("add of a seed phone in another format: %v", err)
	}
}

func TestPostgresStoreWritesAreAudited(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t, testservices.Postgres(t))
	s := newStore(t, pool, tenancy.PostgresOptions{})

	if _, err := s.CreateTenant(ctx, "alice", tenancy.Tenant{ID: "h1", Name: "Hotel One", Active: true, Timezone: "Atlantic/Canary"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, "alice", tenancy.Tenant{ID: "h1", Name: "dup"}); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	pnid, _ := tenancy.ParseIdentifier("pnid:106540352242922", "")
	if _, err := s.AddIdentifier(ctx, "bob", "h1", pnid); err != nil {
		t.Fatal(err)
	}
	// Visible on this instance as soon as the call returns.
	if got, r := s.Resolve(tenancy.ResolveInput{PhoneNumberID: "106540352242922"}); got != "h1" || r != tenancy.ResultHit {
		t.Fatalf("local write not visible at once: %q %s", got, r)
	}
	if _, err := s.AddIdentifier(ctx, "bob", "nope", pnid); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := s.CreateTenant(ctx, "alice", tenancy.Tenant{ID: "h2", Name: "Hotel Two", Active: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddIdentifier(ctx, "bob", "h2", pnid); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("identifier of h1 added to h2: %v", err)
	}
	off := false
	if _, err := s.UpdateTenant(ctx, "carol", "h1", tenancy.TenantPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	if _, r := s.Resolve(tenancy.ResolveInput{PhoneNumberID: "106540352242922"}); r != tenancy.ResultMissStrict {
		t.Fatalf("inactive tenant resolved: %s", r)
	}
	if _, err := s.UpdateTenant(ctx, "carol", "nope", tenancy.TenantPatch{Active: &off}); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	bare, _ := tenancy.ParseIdentifier("106540352242922", "")
	if gone, err := s.DeleteIdentifier(ctx, "dave", "h1", bare); err != nil || len(gone) != 1 {
		t.Fatalf("delete: %v %+v", err, gone)
	}
	if _, err := s.DeleteIdentifier(ctx, "dave", "h1", bare); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.DeleteIdentifier(ctx, "dave", "nope", bare); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("delete on unknown tenant: %v", err)
	}
	if h, ok := s.Tenant("h1"); !ok || len(h.Identifiers) != 0 || h.Active || h.Timezone != "Atlantic/Canary" {
		t.Fatalf("h1 in cache: %+v", h)
	}

	log, err := s.AuditLog(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ actor, action, target string }
	var got []row
	for _, e := range log {
		got = append(got, row{e.Actor, e.Action, e.Target})
	}
	want := []row{
		{"dave", tenancy.ActionIdentifierDelete, "h1"},
		{"carol", tenancy.ActionTenantUpdate, "h1"},
		{"alice", tenancy.ActionTenantCreate, "h2"},
		{"bob", tenancy.ActionIdentifierAdd, "h1"},
		{"alice", tenancy.ActionTenantCreate, "h1"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit rows %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if v := log[0].Detail["value"]; v != "106540352242922" {
		t.Fatalf("audit detail %+v", log[0].Detail)
	}
}

func TestNotifyPropagatesBetweenInstances(t *testing.T) {
	ctx := context.Background()
	url := testservices.Postgres(t)
	poolA := migrated(t, url)
	poolB, err := store.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(poolB.Close)
	// A refresh period far beyond the test: only NOTIFY can deliver in time.
	a := newStore(t, poolA, tenancy.PostgresOptions{Refresh: time.Hour})
	b := newStore(t, poolB, tenancy.PostgresOptions{Refresh: time.Hour})

	if _, err := a.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "h1", Name: "One", Active: true}); err != nil {
		t.Fatal(err)
	}
	phone, _ := tenancy.ParseIdentifier("+34 611 000 001", "")
	if _, err := a.AddIdentifier(ctx, "ops", "h1", phone); err != nil {
		t.Fatal(err)
	}
	took := testservices.Eventually(t, time.Second, "identifier added on A visible on B", func() bool {
		id, _ := b.Resolve(tenancy.ResolveInput{GuestPhone: "34611000001"})
		return id == "h1"
	})
	t.Logf("A→B propagation: %v", took)

	off := false
	if _, err := b.UpdateTenant(ctx, "ops", "h1", tenancy.TenantPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	took = testservices.Eventually(t, time.Second, "deactivation on B visible on A", func() bool {
		_, r := a.Resolve(tenancy.ResolveInput{GuestPhone: "34611000001"})
		return r == tenancy.ResultMissStrict
	})
	t.Logf("B→A propagation: %v", took)

	// A change made by hand (psql) reaches both through the trigger.
	if _, err := poolA.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ('manual', 'By hand')`); err != nil {
		t.Fatal(err)
	}
	testservices.Eventually(t, time.Second, "manual insert visible on both", func() bool {
		_, okA := a.Tenant("manual")
		_, okB := b.Tenant("manual")
		return okA && okB
	})
}

func TestPostgresOutageKeepsServingAndRecovers(t *testing.T) {
	ctx := context.Background()
	srv := testservices.StartPostgres(t)
	pool := migrated(t, srv.URL())
	s := newStore(t, pool, tenancy.PostgresOptions{Refresh: time.Hour, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})

	if _, err := s.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "h1", Name: "One", Active: true}); err != nil {
		t.Fatal(err)
	}
	phone, _ := tenancy.ParseIdentifier("+34611000001", "")
	if _, err := s.AddIdentifier(ctx, "ops", "h1", phone); err != nil {
		t.Fatal(err)
	}
	// /health/ready's checker, as the agente app wires it.
	ready := new(health.Checker)
	ready.Add("database", pool.Ping)
	ready.Add("tenant_cache", s.Check)
	if rep := ready.Run(ctx, time.Second); !rep.Ready || !s.Health().Healthy {
		t.Fatalf("not ready before the outage: %+v %v", rep, s.Health().LastError)
	}

	srv.Stop()
	testservices.Eventually(t, 5*time.Second, "store reports the outage", func() bool { return !s.Health().Healthy })
	t.Logf("during outage: %v", s.Health().LastError)
	if rep := ready.Run(ctx, time.Second); rep.Ready || rep.Dependencies[1].Up {
		t.Fatalf("readiness during the outage: %+v", rep)
	}
	// The last good cache keeps serving.
	if id, r := s.Resolve(tenancy.ResolveInput{GuestPhone: "34611000001"}); id != "h1" || r != tenancy.ResultHit {
		t.Fatalf("cache lost during the outage: %q %s", id, r)
	}
	// Writes fail as unavailable, not as a client error.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := s.CreateTenant(wctx, "ops", tenancy.Tenant{ID: "h2", Name: "Two"})
	cancel()
	if !errors.Is(err, tenancy.ErrUnavailable) {
		t.Fatalf("write during outage: %v, want ErrUnavailable", err)
	}
	if err := s.Refresh(ctx); !errors.Is(err, tenancy.ErrUnavailable) {
		t.Fatalf("refresh during outage: %v", err)
	}

	srv.Start()
	testservices.Eventually(t, 10*time.Second, "store recovers after restart", func() bool { return s.Health().Healthy })
	// The pool may still hold connections to the old server; they fail once each.
	testservices.Eventually(t, 5*time.Second, "ready after the restart", func() bool { return ready.Run(ctx, time.Second).Ready })
	// LISTEN is back: a change made by hand after the restart arrives by NOTIFY.
	if _, err := pool.Exec(ctx, `INSERT INTO tenant_user_identifiers (tenant_id, identifier_type, identifier_value) VALUES ('h1', 'email', 'back@example.com')`); err != nil {
		t.Fatal(err)
	}
	testservices.Eventually(t, 2*time.Second, "change after restart arrives", func() bool {
		id, _ := s.Resolve(tenancy.ResolveInput{GuestEmail: "back@example.com"})
		return id == "h1"
	})
}

// With Postgres the tenants table is the whole directory: a configured
// tenant (DEFAULT_TENANT_ID, a route's explicit tenant) that is not in it
// does not resolve, since a session cannot reference a missing tenant. The
// memory store, seeded without the development default, still accepts it.
func TestPostgresConfiguredTenantMustExist(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, migrated(t, testservices.Postgres(t)), tenancy.PostgresOptions{})
	in := tenancy.ResolveInput{GuestPhone: "34699000001", Default: "default"}
	if id, r := s.Resolve(in); id != "" || r != tenancy.ResultMissStrict {
		t.Fatalf("missing default: %q %s, want miss_strict", id, r)
	}
	if id, r := s.Resolve(tenancy.ResolveInput{Tenant: "default"}); id != "" || r != tenancy.ResultMissStrict {
		t.Fatalf("missing explicit tenant: %q %s, want miss_strict", id, r)
	}
	if _, err := s.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "default", Name: "Default", Active: true}); err != nil {
		t.Fatal(err)
	}
	if id, r := s.Resolve(in); id != "default" || r != tenancy.ResultDefault {
		t.Fatalf("existing default: %q %s", id, r)
	}
	if id, r := s.Resolve(tenancy.ResolveInput{Tenant: "default"}); id != "default" || r != tenancy.ResultProvided {
		t.Fatalf("existing explicit tenant: %q %s", id, r)
	}

	mem, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, r := mem.Resolve(in); id != "default" || r != tenancy.ResultDefault {
		t.Fatalf("memory store, unlisted default: %q %s", id, r)
	}
}
