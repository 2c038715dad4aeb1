package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// A staff token reaches its hotels' conversations and whoami, and gets 403
// JSON on everything else: the other hotel, tenants, flags, dashboard,
// dead letters, tokens, even routes that do not exist.
func TestStaffReachesOnlyItsHotelsConversations(t *testing.T) {
	a, _, _ := memoryAPI(t)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel-a","name":"A"}`, 201)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel-b","name":"B"}`, 201)
	admin := a.token
	staff, err := adminauth.MintToken(jwtSecret, adminauth.Token{Subject: "reception@a", Role: adminauth.RoleStaff, Tenants: []string{"hotel-a"}, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a.token = staff
	r := a.expect("GET", "/admin/whoami", "", 200)
	if r.body["role"] != "staff" || r.body["sub"] != "reception@a" || len(r.body["tenants"].([]any)) != 1 || r.body["exp"] == nil || r.body["jti"] == nil {
		t.Fatalf("whoami %s", r.raw)
	}
	// Its own hotel's conversations pass the gate (503 here: no
	// conversation store in this API, but not 403).
	if r := a.do("POST", "/admin/tenants/hotel-a/conversations/34600111222/resume", ""); r.status == 403 {
		t.Fatalf("own hotel refused: %s", r.raw)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/admin/tenants/hotel-b/conversations", ""},
		{"GET", "/admin/tenants/hotel-b/conversations/34600111222", ""},
		{"POST", "/admin/tenants/hotel-b/conversations/34600111222/reply", `{"text":"hi"}`},
		{"POST", "/admin/tenants/hotel-b/conversations/34600111222/resume", ""},
		{"POST", "/admin/tenants/hotel-b/conversations/34600111222/close", ""},
		{"GET", "/admin/tenants", ""},
		{"POST", "/admin/tenants", `{"tenant_id":"x","name":"x"}`},
		{"GET", "/admin/tenants/hotel-a", ""},
		{"PATCH", "/admin/tenants/hotel-a", `{"name":"mine"}`},
		{"POST", "/admin/tenants/hotel-a/identifiers", `{"identifier":"+34600999999"}`},
		{"GET", "/admin/tenants/hotel-a/replies", ""},
		{"GET", "/admin/feature-flags", ""},
		{"PUT", "/admin/feature-flags/features.x", `{"enabled":true}`},
		{"GET", "/admin/dashboard", ""},
		{"GET", "/admin/canaries", ""},
		{"POST", "/admin/canaries/web/promote", ""},
		{"GET", "/admin/dead-letters", ""},
		{"POST", "/admin/dead-letters/replay", `{"all":true}`},
		{"POST", "/admin/tokens/revoke", `{"jti":"x"}`},
		{"GET", "/admin/unrouted", ""},
		{"GET", "/admin/nothing-here", ""},
		{"GET", "/admin/tenants/hotel-a/conversationsx", ""},
	} {
		if r := a.do(c.method, c.path, c.body); r.status != 403 || r.body["error"] == nil {
			t.Errorf("staff %s %s: %d %s, want 403 JSON", c.method, c.path, r.status, r.raw)
		}
	}
	// The admin reaches them.
	a.token = admin
	a.expect("GET", "/admin/feature-flags", "", 200)
	r = a.expect("GET", "/admin/whoami", "", 200)
	if r.body["role"] != "admin" {
		t.Fatalf("admin whoami %s", r.raw)
	}
}

func TestTenantsPaginated(t *testing.T) {
	a, _, _ := memoryAPI(t)
	for _, id := range []string{"hotel-c", "hotel-a", "hotel-e", "hotel-b", "hotel-d"} {
		a.expect("POST", "/admin/tenants", `{"tenant_id":"`+id+`","name":"x"}`, 201)
	}
	var got []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		path := "/admin/tenants?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := a.expect("GET", path, "", 200)
		for _, it := range r.body["items"].([]any) {
			got = append(got, it.(map[string]any)["tenant_id"].(string))
		}
		cursor, _ = r.body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if want := "hotel-a hotel-b hotel-c hotel-d hotel-e"; strings.Join(got, " ") != want {
		t.Fatalf("pages gave %v, want %s", got, want)
	}
	a.expect("GET", "/admin/tenants?limit=0", "", 400)
	a.expect("GET", "/admin/tenants?limit=201", "", 400)
	a.expect("GET", "/admin/tenants?cursor=!!!", "", 400)
}

// POST /admin/tokens/revoke: the revoked token is refused at once.
func TestRevokeToken(t *testing.T) {
	store, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	revs := adminauth.NewMemoryRevocations()
	h, err := New(Options{Tenants: store, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	v := adminauth.Verifier{Secret: jwtSecret, Revoked: revs.Revoked}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := Authenticate(w, r, v, time.Now()); ok {
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	staff, _ := adminauth.MintToken(jwtSecret, adminauth.Token{Subject: "s", Role: adminauth.RoleStaff, Tenants: []string{"hotel-a"}, TTL: time.Hour, ID: "staff-1"}, time.Now())
	admin, _ := adminauth.MintAt(jwtSecret, "ops", time.Hour, time.Now())
	a := &api{t: t, srv: srv, token: staff}
	a.expect("GET", "/admin/whoami", "", 200)
	a.token = admin
	a.expect("POST", "/admin/tokens/revoke", `{}`, 400)
	r := a.expect("POST", "/admin/tokens/revoke", `{"jti":"staff-1"}`, 200)
	if r.body["jti"] != "staff-1" || r.body["revoked_by"] != "ops" {
		t.Fatalf("revoke %s", r.raw)
	}
	a.token = staff
	if r := a.do("GET", "/admin/whoami", ""); r.status != 401 {
		t.Fatalf("revoked token: %d %s", r.status, r.raw)
	}
	a.token = admin
	if r := a.expect("GET", "/admin/tokens/revoked", "", 200); len(r.body["items"].([]any)) != 1 {
		t.Fatalf("revoked list %s", r.raw)
	}
}
