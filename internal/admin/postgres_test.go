package admin

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestCRUDAgainstPostgres drives the whole admin flow against the real
// Postgres store and Redis flags, then reads admin_audit directly.
func TestCRUDAgainstPostgres(t *testing.T) {
	ctx := context.Background()
	pool, ts := postgresTenants(t)
	client, prefix := testservices.RedisClient(t)
	fl := flags.New(flags.Options{Client: client, KeyPrefix: prefix, Defaults: flags.Defaults("test")})
	a := newAPI(t, Options{Tenants: ts, Flags: fl, OnError: func(_ *http.Request, err error) { t.Logf("5xx cause: %v", err) }})

	a.expect("POST", "/admin/tenants", `{"tenant_id":"tenant_hotel_madrid","name":"Hotel Madrid Central"}`, 201)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"tenant_hotel_madrid","name":"dup"}`, 409)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"tenant_hotel_bcn","name":"Hotel Barcelona Beach"}`, 201)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"x","name":"X","extra":1}`, 400)
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"+34 600 111 222"}`, 201)
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"pnid:106540352242922"}`, 201)
	a.expect("POST", "/admin/tenants/tenant_hotel_bcn/identifiers", `{"identifier":"0034600111222"}`, 409)
	a.expect("POST", "/admin/tenants/nope/identifiers", `{"identifier":"guest@nope.com"}`, 404)
	a.expect("POST", "/admin/tenants/tenant_hotel_bcn/identifiers", `{"identifier":"guest1@barcelona.com"}`, 201)

	// Resolvable on this instance as soon as the API answered.
	if id, r := ts.Resolve(tenancy.ResolveInput{PhoneNumberID: "106540352242922"}); id != "tenant_hotel_madrid" || r != tenancy.ResultHit {
		t.Fatalf("resolve after API write: %q %s", id, r)
	}

	r := a.expect("GET", "/admin/tenants", "", 200)
	if n := len(r.body["tenants"].([]any)); n != 2 {
		t.Fatalf("list: %s", r.raw)
	}
	a.expect("PATCH", "/admin/tenants/tenant_hotel_bcn", `{"status":"inactive"}`, 200)
	a.expect("PATCH", "/admin/tenants/nope", `{"status":"inactive"}`, 404)
	a.expect("PATCH", "/admin/tenants/tenant_hotel_bcn", `{"status":"sleeping"}`, 400)
	a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/34600111222", "", 200)
	a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/34600111222", "", 404)
	a.expect("POST", "/admin/tenants/refresh", "", 200)
	a.expect("PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":true}`, 200)
	if v, _ := client.HGet(ctx, prefix+flags.HashKey, flags.InteractiveMessages).Result(); v != "1" {
		t.Fatalf("flag in Redis = %q", v)
	}
	r = a.expect("GET", "/admin/feature-flags", "", 200)
	if r.body["flags"].(map[string]any)[flags.InteractiveMessages] != true {
		t.Fatalf("flags %s", r.raw)
	}

	rows, err := pool.Query(ctx, `SELECT actor, action, target FROM admin_audit ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct{ actor, action, target string }
	var got []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.actor, &x.action, &x.target); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	want := []row{
		{"ops@hotel", "tenant.create", "tenant_hotel_madrid"},
		{"ops@hotel", "tenant.create", "tenant_hotel_bcn"},
		{"ops@hotel", "identifier.add", "tenant_hotel_madrid"},
		{"ops@hotel", "identifier.add", "tenant_hotel_madrid"},
		{"ops@hotel", "identifier.add", "tenant_hotel_bcn"},
		{"ops@hotel", "tenant.update", "tenant_hotel_bcn"},
		{"ops@hotel", "identifier.delete", "tenant_hotel_madrid"},
		{"ops@hotel", "tenants.refresh", ""},
		{"ops@hotel", "flag.set", "features.interactive_messages"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit rows %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var createdAt time.Time
	if err := pool.QueryRow(ctx, `SELECT max(created_at) FROM admin_audit`).Scan(&createdAt); err != nil || time.Since(createdAt) > time.Minute {
		t.Fatalf("audit timestamps: %v %v", createdAt, err)
	}
}

// postgresTenants is the Postgres tenant store on a fresh, migrated database.
func postgresTenants(t *testing.T) (*pgxpool.Pool, *tenancy.PostgresStore) {
	t.Helper()
	ctx := context.Background()
	pool, err := store.Connect(ctx, testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	ts, err := tenancy.NewPostgresStore(ctx, pool, tenancy.PostgresOptions{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	return pool, ts
}
