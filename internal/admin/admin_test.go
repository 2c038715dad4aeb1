package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

var jwtSecret = []byte("test-secret-test-secret-test-secret!")

// api is an admin server behind Authenticate, the way modules/adminauth
// mounts it.
type api struct {
	t     *testing.T
	srv   *httptest.Server
	token string
}

func newAPI(t *testing.T, opts Options) *api {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := Authenticate(w, r, adminauth.Verifier{Secret: jwtSecret}, time.Now()); ok {
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	tok, err := adminauth.Mint(jwtSecret, "ops@hotel", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, srv: srv, token: tok}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *api) do(method, path, body string, hdr ...string) reply {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		a.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	if err := json.Unmarshal(b, &r.body); err != nil {
		a.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, b)
	}
	return r
}

func (a *api) expect(method, path, body string, status int) reply {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != status {
		a.t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, r.status, status, r.raw)
	}
	if status >= 400 {
		if _, ok := r.body["error"].(string); !ok || r.body["status"] != float64(status) {
			a.t.Fatalf("%s %s: error body %s is not the apierror shape", method, path, r.raw)
		}
	}
	return r
}

func memoryAPI(t *testing.T) (*api, *tenancy.MemoryStore, *flags.Store) {
	t.Helper()
	store, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	fl := flags.New(flags.Options{Defaults: flags.Defaults("test")})
	a := newAPI(t, Options{Tenants: store, Flags: fl, MaxBodyBytes: 1024,
		Dashboard: func(context.Context) map[string]any {
			return map[string]any{"messages_today": 42, "pms_circuit_breaker": "closed"}
		}})
	return a, store, fl
}

func TestTenantRoutes(t *testing.T) {
	a, store, _ := memoryAPI(t)

	r := a.expect("POST", "/admin/tenants", `{"tenant_id":"tenant_hotel_madrid","name":"Hotel Madrid Central"}`, 201)
	if r.body["tenant_id"] != "tenant_hotel_madrid" || r.body["status"] != "active" || r.body["timezone"] != "Europe/Madrid" {
		t.Fatalf("created %s", r.raw)
	}
	a.expect("POST", "/admin/tenants", `{"tenant_id":"tenant_hotel_madrid","name":"again"}`, 409)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"tenant_hotel_bcn","name":"BCN","status":"inactive","language":"ca","timezone":"Europe/Madrid","pms_hotel_id":2}`, 201)

	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"+34 600 111 222"}`, 201)
	r = a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"106540352242922","type":"phone_number_id"}`, 201)
	if id := r.body["identifier"].(map[string]any); id["type"] != "phone_number_id" || id["value"] != "106540352242922" {
		t.Fatalf("identifier %s", r.raw)
	}
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"Guest1@Madrid.com"}`, 201)
	// Taken, by this or another tenant, in any format.
	a.expect("POST", "/admin/tenants/tenant_hotel_bcn/identifiers", `{"identifier":"34600111222"}`, 409)
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"pnid:106540352242922"}`, 409)
	a.expect("POST", "/admin/tenants/nope/identifiers", `{"identifier":"+34600999999"}`, 404)
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"hello"}`, 400)
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"+34600999999","channel":"telegram"}`, 400)
	a.expect("POST", "/admin/tenants/tenant_hotel_madrid/identifiers", `{}`, 400)

	if id, res := store.Resolve(tenancy.ResolveInput{GuestPhone: "34600111222"}); id != "tenant_hotel_madrid" || res != tenancy.ResultHit {
		t.Fatalf("API write not resolvable: %q %s", id, res)
	}

	r = a.expect("GET", "/admin/tenants", "", 200)
	list := r.body["tenants"].([]any)
	if len(list) != 2 {
		t.Fatalf("list %s", r.raw)
	}
	madrid := list[1].(map[string]any)
	if madrid["tenant_id"] != "tenant_hotel_madrid" || len(madrid["identifiers"].([]any)) != 3 {
		t.Fatalf("madrid %v", madrid)
	}
	if bcn := list[0].(map[string]any); bcn["status"] != "inactive" || bcn["language"] != "ca" || bcn["pms_hotel_id"] != float64(2) {
		t.Fatalf("bcn %v", bcn)
	}
	a.expect("GET", "/admin/tenants/tenant_hotel_bcn", "", 200)
	a.expect("GET", "/admin/tenants/nope", "", 404)

	r = a.expect("PATCH", "/admin/tenants/tenant_hotel_madrid", `{"status":"inactive"}`, 200)
	if r.body["status"] != "inactive" || len(r.body["identifiers"].([]any)) != 3 {
		t.Fatalf("patched %s", r.raw)
	}
	if _, res := store.Resolve(tenancy.ResolveInput{GuestPhone: "34600111222"}); res != tenancy.ResultMissStrict {
		t.Fatalf("inactive tenant resolves: %s", res)
	}
	a.expect("PATCH", "/admin/tenants/tenant_hotel_madrid", `{"status":"paused"}`, 400)
	a.expect("PATCH", "/admin/tenants/tenant_hotel_madrid", `{}`, 400)
	a.expect("PATCH", "/admin/tenants/tenant_hotel_madrid", `{"timezone":"Moon/Base"}`, 400)
	a.expect("PATCH", "/admin/tenants/nope", `{"status":"active"}`, 404)

	// DELETE: the path carries the identifier, URL-escaped.
	r = a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/%2B34600111222", "", 200)
	if d := r.body["deleted"].([]any); len(d) != 1 {
		t.Fatalf("deleted %s", r.raw)
	}
	a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/%2B34600111222", "", 404)
	a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/106540352242922", "", 200) // bare digits find the pnid
	a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/GUEST1@madrid.com?type=email", "", 200)
	a.expect("DELETE", "/admin/tenants/nope/identifiers/guest@x.com", "", 404)
	a.expect("DELETE", "/admin/tenants/tenant_hotel_madrid/identifiers/hello", "", 400)

	r = a.expect("POST", "/admin/tenants/refresh", "", 200)
	if r.body["tenants"] != float64(2) {
		t.Fatalf("refresh %s", r.raw)
	}

	log, _ := store.AuditLog(context.Background(), 0)
	if len(log) != 10 {
		t.Fatalf("audit rows: %d %+v", len(log), log)
	}
	for _, e := range log {
		if e.Actor != "ops@hotel" {
			t.Fatalf("audit actor %q in %+v", e.Actor, e)
		}
	}
	if log[0].Action != tenancy.ActionTenantsRefresh || log[len(log)-1].Action != tenancy.ActionTenantCreate {
		t.Fatalf("audit order %+v", log)
	}
}

func TestBodiesAndMethods(t *testing.T) {
	a, _, _ := memoryAPI(t)
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/admin/tenants", `{"tenant_id":"a","name":"A","colour":"red"}`, 400}, // unknown field
		{"POST", "/admin/tenants", `{"tenant_id":"a","name":"A"} {"x":1}`, 400},        // trailing data
		{"POST", "/admin/tenants", `{"tenant_id":"a",`, 400},
		{"POST", "/admin/tenants", `[]`, 400},
		{"POST", "/admin/tenants", `{"tenant_id":5,"name":"A"}`, 400},
		{"POST", "/admin/tenants", `{"name":"A"}`, 400},
		{"POST", "/admin/tenants", `{"tenant_id":"a b","name":"A"}`, 400},
		{"POST", "/admin/tenants", `{"tenant_id":"refresh","name":"A"}`, 400},
		{"POST", "/admin/tenants", `{"tenant_id":"a","name":"` + strings.Repeat("x", 2000) + `"}`, 413},
		{"DELETE", "/admin/tenants", "", 405},
		{"PUT", "/admin/tenants/a", "", 405},
		{"GET", "/admin/tenants/a/identifiers", "", 405},
		{"GET", "/admin/tenants/a/identifiers/x", "", 405},
		{"POST", "/admin/feature-flags", "", 405},
		{"GET", "/admin/feature-flags/x", "", 405},
		{"POST", "/admin/dashboard", "", 405},
		{"DELETE", "/admin/tenants/refresh", "", 405},
		{"GET", "/admin/nothing", "", 404},
		{"GET", "/admin/tenants/a/b/c/d", "", 404},
	}
	for _, c := range cases {
		r := a.expect(c.method, c.path, c.body, c.status)
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	// An empty body is invalid, and so is a non-JSON content type.
	if r := a.do("POST", "/admin/tenants", ""); r.status != 400 {
		t.Errorf("empty body: %d", r.status)
	}
	if r := a.do("POST", "/admin/tenants", `{"tenant_id":"a","name":"A"}`, "Content-Type", "text/plain"); r.status != 415 {
		t.Errorf("text/plain body: %d", r.status)
	}
	if r := a.do("POST", "/admin/tenants", `{"tenant_id":"a","name":"A"}`, "Content-Type", "application/json; charset=utf-8"); r.status != 201 {
		t.Errorf("JSON with charset: %d %s", r.status, r.raw)
	}
}

func TestAuthentication(t *testing.T) {
	a, store, _ := memoryAPI(t)
	expired, _ := adminauth.MintAt(jwtSecret, "ops", time.Minute, time.Now().Add(-time.Hour))
	wrong, _ := adminauth.Mint([]byte("another-secret-another-secret-xx"), "ops", time.Hour)
	for name, header := range map[string]string{"missing": "", "garbage": "Bearer xyz", "expired": "Bearer " + expired, "wrong secret": "Bearer " + wrong} {
		req, _ := http.NewRequest("POST", a.srv.URL+"/admin/tenants", strings.NewReader(`{"tenant_id":"x","name":"X"}`))
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if len(store.Tenants()) != 0 {
		t.Fatal("unauthenticated write went through")
	}
	// The bare handler refuses requests no middleware authenticated.
	h, _ := New(Options{Tenants: store})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/tenants", nil))
	if rec.Code != 401 {
		t.Fatalf("handler without actor: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/tenants", nil).WithContext(WithActor(context.Background(), "ops")))
	if rec.Code != 200 {
		t.Fatalf("handler with actor: %d", rec.Code)
	}
}

func TestFlagsAndDashboard(t *testing.T) {
	a, store, fl := memoryAPI(t)
	r := a.expect("GET", "/admin/feature-flags", "", 200)
	if f := r.body["flags"].(map[string]any); f[flags.InteractiveMessages] != false {
		t.Fatalf("flags %s", r.raw)
	}
	r = a.expect("PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":true}`, 200)
	if r.body["enabled"] != true {
		t.Fatalf("put %s", r.raw)
	}
	if !fl.Enabled(context.Background(), flags.InteractiveMessages) {
		t.Fatal("flag not set")
	}
	a.expect("PUT", "/admin/feature-flags/features.interactive_messages", `{}`, 400)
	a.expect("PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":"yes"}`, 400)
	a.expect("PUT", "/admin/feature-flags/.bad", `{"enabled":true}`, 400)
	log, _ := store.AuditLog(context.Background(), 1)
	if len(log) != 1 || log[0].Action != tenancy.ActionFlagSet || log[0].Target != flags.InteractiveMessages || log[0].Actor != "ops@hotel" {
		t.Fatalf("flag audit %+v", log)
	}

	a.expect("POST", "/admin/tenants", `{"tenant_id":"h1","name":"One"}`, 201)
	a.expect("POST", "/admin/tenants", `{"tenant_id":"h2","name":"Two","status":"inactive"}`, 201)
	r = a.expect("GET", "/admin/dashboard", "", 200)
	tn := r.body["tenants"].(map[string]any)
	if tn["total"] != float64(2) || tn["active"] != float64(1) || tn["inactive"] != float64(1) {
		t.Fatalf("dashboard tenants %s", r.raw)
	}
	if r.body["messages_today"] != float64(42) || r.body["pms_circuit_breaker"] != "closed" {
		t.Fatalf("dashboard source not merged: %s", r.raw)
	}
	if f := r.body["flags"].(map[string]any); f[flags.InteractiveMessages] != true {
		t.Fatalf("dashboard flags %s", r.raw)
	}

	// Without a flag store the routes say so.
	b := newAPI(t, Options{Tenants: store})
	b.expect("GET", "/admin/feature-flags", "", 503)
	b.expect("PUT", "/admin/feature-flags/x", `{"enabled":true}`, 503)
}

func TestResumeConversation(t *testing.T) {
	store, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	type call struct{ tenant, channel, guest string }
	var calls []call
	handedOff := map[call]bool{{"h1", "whatsapp", "34600111222"}: true}
	a := newAPI(t, Options{Tenants: store, ResumeConversation: func(_ context.Context, tenant, channel, guest string) (bool, error) {
		c := call{tenant, channel, guest}
		calls = append(calls, c)
		was := handedOff[c]
		delete(handedOff, c)
		return was, nil
	}})
	a.expect("POST", "/admin/tenants", `{"tenant_id":"h1","name":"One"}`, 201)

	r := a.expect("POST", "/admin/tenants/h1/conversations/34600111222/resume", "", 200)
	if r.body["was_handed_off"] != true || r.body["channel"] != "whatsapp" {
		t.Fatalf("resume %s", r.raw)
	}
	r = a.expect("POST", "/admin/tenants/h1/conversations/34600111222/resume", "", 200)
	if r.body["was_handed_off"] != false {
		t.Fatalf("second resume %s", r.raw)
	}
	a.expect("POST", "/admin/tenants/h1/conversations/guest@x.com/resume?channel=gmail", "", 200)
	a.expect("POST", "/admin/tenants/h1/conversations/x/resume?channel=sms", "", 400)
	a.expect("POST", "/admin/tenants/nope/conversations/x/resume", "", 404)
	a.expect("GET", "/admin/tenants/h1/conversations/x/resume", "", 405)
	if len(calls) != 3 || calls[2] != (call{"h1", "gmail", "guest@x.com"}) {
		t.Fatalf("calls %+v", calls)
	}
	log, _ := store.AuditLog(context.Background(), 10)
	if len(log) == 0 || log[0].Action != tenancy.ActionConversationResume || log[0].Target != "h1" || log[0].Actor == "" {
		t.Fatalf("audit %+v", log)
	}

	without := newAPI(t, Options{Tenants: store})
	without.expect("POST", "/admin/tenants/h1/conversations/x/resume", "", 503)
}
