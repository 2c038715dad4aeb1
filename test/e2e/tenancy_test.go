package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// Multi-tenancy through the real binary: the admin API on Postgres and
// Redis, tenant changes crossing instances, every resolution result, the
// staging data of test/sql/init-staging-db.sql and the security
// "bloqueantes" (blocking checks) it was written for.

const adminSecret = "e2e-admin-jwt-secret-0123456789abcdef"

// badTokens are the Authorization headers every admin route must refuse.
func badTokens(t *testing.T) map[string]string {
	t.Helper()
	now := time.Now()
	valid := jwt.MapClaims{"sub": "ops", "jti": "e2e-valid", "role": "admin", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(jwt.SigningMethodHS256, []byte(adminSecret), valid)
	parts := strings.Split(good, ".")
	return map[string]string{
		"no header":          "",
		"empty bearer":       "Bearer ",
		"basic scheme":       "Basic b3BzOnBhc3N3b3Jk",
		"garbage":            "Bearer garbage",
		"three garbage dots": "Bearer a.b.c",
		"alg none":           "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid),
		"alg none, HS256 signature kept": "Bearer " + strings.Join([]string{
			// header {"alg":"none"} with the payload and signature of a good token
			"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", parts[1], parts[2]}, "."),
		"HS512 same secret": "Bearer " + sign(jwt.SigningMethodHS512, []byte(adminSecret), valid),
		"RS256":             "Bearer " + sign(jwt.SigningMethodRS256, rsaKey, valid),
		"wrong secret":      "Bearer " + sign(jwt.SigningMethodHS256, []byte("not-the-server-secret-0123456789abcdef"), valid),
		"expired":           "Bearer " + sign(jwt.SigningMethodHS256, []byte(adminSecret), jwt.MapClaims{"sub": "ops", "exp": now.Add(-2 * time.Minute).Unix()}),
		"missing exp":       "Bearer " + sign(jwt.SigningMethodHS256, []byte(adminSecret), jwt.MapClaims{"sub": "ops", "iat": now.Unix()}),
		"missing sub":       "Bearer " + sign(jwt.SigningMethodHS256, []byte(adminSecret), jwt.MapClaims{"exp": now.Add(time.Minute).Unix()}),
		"100-year token": "Bearer " + sign(jwt.SigningMethodHS256, []byte(adminSecret),
			jwt.MapClaims{"sub": "ops", "jti": "j", "role": "admin", "iat": now.Unix(), "exp": now.Add(100 * 365 * 24 * time.Hour).Unix()}),
		"exp as a string": "Bearer " + sign(jwt.SigningMethodHS256, []byte(adminSecret),
			jwt.MapClaims{"sub": "ops", "jti": "j", "role": "admin", "iat": now.Unix(), "exp": fmt.Sprint(now.Add(time.Hour).Unix())}),
		"no role": "Bearer " + sign(jwt.SigningMethodHS256, []byte(adminSecret),
			jwt.MapClaims{"sub": "ops", "jti": "j", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"tampered payload": "Bearer " + parts[0] + "." +
			strings.TrimRight(jwtSegment(`{"sub":"root","exp":`+fmt.Sprint(now.Add(time.Hour).Unix())+`}`), "=") + "." + parts[2],
	}
}

func jwtSegment(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestAdminAPIOnPostgresAndRedis: a token minted by `agente-caddy
// admin-token` manages tenants; every bad token is 401 JSON; validation
// errors are 400/404/409; each write leaves an audit row naming the token's
// subject; the admin limits apply per subject after authentication.
func TestAdminAPIOnPostgresAndRedis(t *testing.T) {
	pgURL := testservices.Postgres(t)
	redisURL, prefix := testservices.Redis(t)
	rdb, _ := testservices.RedisClient(t)
	in := Start(t, Options{Env: map[string]string{
		"POSTGRES_URL": pgURL, "REDIS_URL": redisURL, "REDIS_KEY_PREFIX": prefix,
		"JWT_SECRET_KEY": adminSecret, "RATE_LIMIT_ADMIN_DASHBOARD": "2",
	}, ReadyPath: "/health/ready"})
	token := mintAdminToken(t, adminSecret, "ops", "10m")

	t.Run("every bad token is 401", func(t *testing.T) {
		for name, header := range badTokens(t) {
			for _, route := range []struct{ method, path, body string }{
				{"GET", "/admin/tenants", ""},
				{"POST", "/admin/tenants", `{"tenant_id":"intruder","name":"x"}`},
				{"GET", "/admin/dashboard", ""},
			} {
				h := map[string]string{"Content-Type": "application/json"}
				if header != "" {
					h["Authorization"] = header
				}
				var body []byte
				if route.body != "" {
					body = []byte(route.body)
				}
				status, hdr, got := Do(t, route.method, in.URL(route.path), body, h)
				if status != 401 || hdr.Get("Content-Type") != "application/json" || !strings.Contains(got, `"status":401`) ||
					!strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s on %s %s: %d %v %s, want 401 JSON with WWW-Authenticate", name, route.method, route.path, status, hdr, got)
				}
			}
		}
		if status, _ := adminCall(t, in, token, "GET", "/admin/tenants/intruder", ""); status != 404 {
			t.Fatalf("a refused POST created a tenant: %d", status)
		}
	})

	t.Run("CRUD", func(t *testing.T) {
		steps := []struct {
			method, path, body string
			status             int
			contains           string
		}{
			// The development default hotel, created at start, is all there is.
			{"GET", "/admin/tenants", "", 200, `{"tenants":[{"tenant_id":"default","name":"default","status":"active"`},
			{"POST", "/admin/tenants", `{"tenant_id":"hotel_e2e","name":"Hotel E2E"}`, 201, `"tenant_id":"hotel_e2e","name":"Hotel E2E","status":"active"`},
			{"POST", "/admin/tenants", `{"tenant_id":"hotel_e2e","name":"Again"}`, 409, "hotel_e2e"},
			{"POST", "/admin/tenants", `{"tenant_id":"hotel_other"}`, 400, "name"},
			{"POST", "/admin/tenants", `{"tenant_id":"bad id!","name":"x"}`, 400, "tenant_id"},
			{"POST", "/admin/tenants", `{"tenant_id":"x","name":"x","colour":"red"}`, 400, "colour"},
			{"POST", "/admin/tenants", `{"tenant_id":`, 400, "JSON"},
			{"PATCH", "/admin/tenants/hotel_e2e", `{"status":"closed"}`, 400, "status"},
			{"PATCH", "/admin/tenants/nowhere", `{"status":"inactive"}`, 404, "nowhere"},
			{"PATCH", "/admin/tenants/hotel_e2e", `{"status":"inactive"}`, 200, `"status":"inactive"`},
			{"POST", "/admin/tenants/hotel_e2e/identifiers", `{"identifier":"+34 611 000 111"}`, 201, `"type":"phone","value":"+34611000111"`},
			{"POST", "/admin/tenants/hotel_e2e/identifiers", `{"identifier":"Guest@Example.com"}`, 201, `"value":"guest@example.com"`},
			{"POST", "/admin/tenants/hotel_e2e/identifiers", `{"identifier":"555000111","type":"phone_number_id"}`, 201, `"type":"phone_number_id"`},
			{"POST", "/admin/tenants/hotel_e2e/identifiers", `{"identifier":"0034611000111"}`, 409, ""},
			{"POST", "/admin/tenants/nowhere/identifiers", `{"identifier":"+34 699 000 000"}`, 404, "nowhere"},
			{"POST", "/admin/tenants/hotel_e2e/identifiers", `{"identifier":"not an identifier"}`, 400, ""},
			{"POST", "/admin/tenants/hotel_e2e/identifiers", `{}`, 400, "identifier"},
			{"DELETE", "/admin/tenants/hotel_e2e/identifiers/guest@example.com", "", 200, `"deleted":[{"type":"email","value":"guest@example.com"`},
			{"DELETE", "/admin/tenants/hotel_e2e/identifiers/guest@example.com", "", 404, ""},
			{"GET", "/admin/tenants/hotel_e2e", "", 200, `"identifiers":[{"type":"phone","value":"+34611000111","channel":"whatsapp"},{"type":"phone_number_id","value":"555000111"`},
			{"PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":true}`, 200, `"enabled":true`},
			{"POST", "/admin/tenants/refresh", "", 200, `"tenants":2`},
		}
		for _, s := range steps {
			status, got := adminCall(t, in, token, s.method, s.path, s.body)
			if status != s.status || !strings.Contains(got, s.contains) {
				t.Errorf("%s %s %s: %d %s, want %d containing %s", s.method, s.path, s.body, status, got, s.status, s.contains)
			}
		}
		var list struct {
			Tenants []struct {
				TenantID, Name, Status string
				Identifiers            []struct{ Type, Value string }
			}
		}
		_, got := adminCall(t, in, token, "GET", "/admin/tenants", "")
		if err := json.Unmarshal([]byte(got), &list); err != nil || len(list.Tenants) != 2 || list.Tenants[1].Name != "Hotel E2E" ||
			list.Tenants[1].Status != "inactive" || len(list.Tenants[1].Identifiers) != 2 {
			t.Fatalf("GET /admin/tenants: %s", got)
		}
		// The flag is in Redis under the instance's prefix, one hash field per flag.
		if v, err := rdb.HGet(context.Background(), prefix+"feature_flags", "features.interactive_messages").Result(); err != nil || v != "1" && v != "true" {
			t.Fatalf("feature_flags hash in Redis: %q %v", v, err)
		}
	})

	t.Run("audit rows name the token subject", func(t *testing.T) {
		other := mintAdminToken(t, adminSecret, "night-shift@hotel", "5m")
		if status, got := adminCall(t, in, other, "PATCH", "/admin/tenants/hotel_e2e", `{"status":"active"}`); status != 200 {
			t.Fatalf("PATCH by another admin: %d %s", status, got)
		}
		pool := connect(t, pgURL)
		rows, err := pool.Query(context.Background(), `SELECT actor, action, target FROM admin_audit ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var actor, action, target string
			if err := rows.Scan(&actor, &action, &target); err != nil {
				t.Fatal(err)
			}
			got = append(got, actor+" "+action+" "+target)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		// Only the writes that succeeded, in order; refused ones leave nothing.
		want := []string{
			"agente-caddy tenant.create default", // the binary, at start
			"ops tenant.create hotel_e2e",
			"ops tenant.update hotel_e2e",
			"ops identifier.add hotel_e2e",
			"ops identifier.add hotel_e2e",
			"ops identifier.add hotel_e2e",
			"ops identifier.delete hotel_e2e",
			"ops flag.set features.interactive_messages",
			"ops tenants.refresh ",
			"night-shift@hotel tenant.update hotel_e2e",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("admin_audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("limits apply per admin after authentication", func(t *testing.T) {
		for i := 1; i <= 2; i++ {
			if status, got := adminCall(t, in, token, "GET", "/admin/dashboard", ""); status != 200 || !strings.Contains(got, `"tenants":{"active":2`) {
				t.Fatalf("dashboard call %d: %d %s", i, status, got)
			}
		}
		status, hdr, got := Do(t, "GET", in.URL("/admin/dashboard"), nil, map[string]string{"Authorization": "Bearer " + token})
		if status != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(got, `"status":429`) {
			t.Fatalf("third dashboard call: %d %v %s, want 429 with Retry-After", status, hdr, got)
		}
		// Unauthenticated callers never reach the limiter: 401, not 429.
		for name, header := range map[string]string{"none": "", "garbage": "Bearer garbage"} {
			h := map[string]string{}
			if header != "" {
				h["Authorization"] = header
			}
			if status, _, got := Do(t, "GET", in.URL("/admin/dashboard"), nil, h); status != 401 {
				t.Fatalf("unauthenticated (%s) after the limit: %d %s, want 401", name, status, got)
			}
		}
		// Another admin has its own window.
		other := mintAdminToken(t, adminSecret, "ops2", "5m")
		if status, got := adminCall(t, in, other, "GET", "/admin/dashboard", ""); status != 200 {
			t.Fatalf("another admin: %d %s", status, got)
		}
		// Other admin routes have their own zones.
		if status, got := adminCall(t, in, token, "GET", "/admin/tenants", ""); status != 200 {
			t.Fatalf("/admin/tenants after the dashboard limit: %d %s", status, got)
		}
		// The windows live in Redis, under the instance's key prefix.
		keys, err := rdb.Keys(context.Background(), prefix+"ratelimit:*").Result()
		if err != nil || len(keys) == 0 {
			t.Fatalf("no rate-limit keys under %q in Redis: %v %v", prefix, keys, err)
		}
	})
}

// TestTenantWrittenOnOneInstanceResolvesOnAnother: two binaries on one
// database. A hotel and its WhatsApp business number created through
// instance A's admin API decide the tenant of a webhook on instance B within
// a second (LISTEN/NOTIFY, no refresh call); so do deactivating it and
// removing the number.
func TestTenantWrittenOnOneInstanceResolvesOnAnother(t *testing.T) {
	pgURL := testservices.Postgres(t)
	env := map[string]string{"ENVIRONMENT": "test", "POSTGRES_URL": pgURL, "JWT_SECRET_KEY": adminSecret,
		"DEFAULT_TENANT_ID": "hotel_fallback", "RATE_LIMIT_ENABLED": "false"}
	a := Start(t, Options{Env: env, ReadyPath: "/health/ready"})
	b := Start(t, Options{Env: env, ReadyPath: "/health/ready"})
	token := mintAdminToken(t, adminSecret, "ops", "10m")
	// The default hotel is created at start; the operator names it.
	if status, got := adminCall(t, a, token, "PATCH", "/admin/tenants/hotel_fallback", `{"name":"Hotel Fallback"}`); status != 200 {
		t.Fatalf("name fallback: %d %s", status, got)
	}

	const pnid = "777000111"
	guest := 0
	greetingOnB := func() string {
		guest++
		body := whatsapptest.Message{PhoneNumberID: pnid, From: fmt.Sprintf("4479000%05d", guest), ID: fmt.Sprintf("wamid.cross-%d", guest), Text: "Hola", Name: "Ana"}.JSON()
		status, got := postWhatsApp(t, b, "/webhooks/whatsapp", body, nil)
		if status != 200 {
			t.Fatalf("webhook on B: %d %s", status, got)
		}
		return replyText(t, got)
	}
	// Before: the business number is nobody's, B uses the default hotel
	// (once B has heard of its new name).
	testservices.Eventually(t, time.Second, "B knows the fallback hotel's name", func() bool {
		status, got := adminCall(t, b, token, "GET", "/admin/tenants/hotel_fallback", "")
		return status == 200 && strings.Contains(got, `"name":"Hotel Fallback"`)
	})
	if r := greetingOnB(); !strings.Contains(r, "Hotel Fallback") {
		t.Fatalf("unknown business number on B: %q, want the default hotel", r)
	}

	// Written on A...
	if status, got := adminCall(t, a, token, "POST", "/admin/tenants", `{"tenant_id":"hotel_nuevo","name":"Hotel Nuevo Retiro"}`); status != 201 {
		t.Fatalf("create: %d %s", status, got)
	}
	hits := metric(t, b, `tenant_resolution_total{result="hit"}`)
	written := time.Now()
	status, got := adminCall(t, a, token, "POST", "/admin/tenants/hotel_nuevo/identifiers", `{"identifier":"`+pnid+`","type":"phone_number_id"}`)
	if status != 201 {
		t.Fatalf("add identifier: %d %s", status, got)
	}
	// ...resolves on B within a second of the write.
	testservices.Eventually(t, time.Second-time.Since(written), "B resolves the new business number", func() bool {
		return strings.Contains(greetingOnB(), "Hotel Nuevo Retiro")
	})
	t.Logf("identifier added on A resolved on B %v after the admin request was sent", time.Since(written))
	if metric(t, b, `tenant_resolution_total{result="hit"}`) <= hits {
		t.Fatal("B did not count the resolution as a hit")
	}
	// A session exists for the new hotel, written by B.
	var sessions int
	if err := connect(t, pgURL).QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE tenant_id = 'hotel_nuevo'`).Scan(&sessions); err != nil || sessions == 0 {
		t.Fatalf("sessions of hotel_nuevo: %d %v", sessions, err)
	}

	// Deactivated on A: B stops resolving it within a second.
	written = time.Now()
	if status, got := adminCall(t, a, token, "PATCH", "/admin/tenants/hotel_nuevo", `{"status":"inactive"}`); status != 200 {
		t.Fatalf("deactivate: %d %s", status, got)
	}
	testservices.Eventually(t, time.Second-time.Since(written), "B stops resolving an inactive hotel", func() bool { return strings.Contains(greetingOnB(), "Hotel Fallback") })
	t.Logf("deactivation on A seen on B %v after the admin request was sent", time.Since(written))

	// Reactivated, then the number removed on A.
	if status, got := adminCall(t, a, token, "PATCH", "/admin/tenants/hotel_nuevo", `{"status":"active"}`); status != 200 {
		t.Fatalf("reactivate: %d %s", status, got)
	}
	testservices.Eventually(t, time.Second, "B resolves the reactivated hotel", func() bool { return strings.Contains(greetingOnB(), "Hotel Nuevo Retiro") })
	if status, got := adminCall(t, a, token, "DELETE", "/admin/tenants/hotel_nuevo/identifiers/"+pnid+"?type=phone_number_id", ""); status != 200 {
		t.Fatalf("delete identifier: %d %s", status, got)
	}
	testservices.Eventually(t, time.Second, "B forgets a removed number", func() bool { return strings.Contains(greetingOnB(), "Hotel Fallback") })
}

// resolutionCounts reads tenant_resolution_total and
// tenant_isolation_errors_total.
func resolutionCounts(t *testing.T, in *Instance) map[string]float64 {
	t.Helper()
	m := scrape(t, in.URL("/metrics"))
	out := map[string]float64{}
	for _, r := range []string{"provided", "hit", "default", "miss_strict"} {
		v, ok := m.value(`tenant_resolution_total{result="` + r + `"}`)
		if !ok {
			t.Fatalf("/metrics lacks tenant_resolution_total{result=%q}", r)
		}
		out[r] = v
	}
	v, ok := m.value("tenant_isolation_errors_total")
	if !ok {
		t.Fatal("/metrics lacks tenant_isolation_errors_total")
	}
	out["isolation_errors"] = v
	return out
}

// TestEveryResolutionResult: each result of the tenant resolution order,
// observed through the binary as the hotel that answers and as exactly one
// increment of tenant_resolution_total{result}. A client's X-Tenant-ID or a
// tenant key in the message metadata never decides; a mismatching header is
// counted in tenant_isolation_errors_total.
func TestEveryResolutionResult(t *testing.T) {
	in := Start(t, Options{Config: "test/e2e/testdata/tenancy.Caddyfile", Env: map[string]string{
		"ENVIRONMENT": "test", "JWT_SECRET_KEY": adminSecret, "DEFAULT_TENANT_ID": "default",
	}})
	const madridPNID = "106540352242922" // caddy/dev-tenants.yaml
	n := 0
	msg := func(pnid, from string, md map[string]any) string {
		n++
		return whatsapptest.Message{PhoneNumberID: pnid, From: from, ID: fmt.Sprintf("wamid.res-%d", n), Text: "Hola", Name: "Leo", Metadata: md}.JSON()
	}
	cases := []struct {
		name, path, body string
		header           map[string]string
		status           int
		hotel            string // in the greeting
		result           string // the one counter that moves
		isolation        float64
	}{
		{"business number", "/webhooks/whatsapp", msg(madridPNID, "4479111000001", nil), nil, 200, "Hotel Madrid Central", "hit", 0},
		{"guest phone (seed identifier)", "/webhooks/whatsapp", msg("", "34600222333", nil), nil, 200, "Hotel Barcelona Beach", "hit", 0},
		{"business number wins over guest", "/webhooks/whatsapp", msg(madridPNID, "34600333444", nil), nil, 200, "Hotel Madrid Central", "hit", 0},
		{"unknown: DEFAULT_TENANT_ID", "/webhooks/whatsapp", msg("", "4479111000002", nil), nil, 200, "Bienvenido/a a Hotel Demo", "default", 0},
		{"unknown business number: default", "/webhooks/whatsapp", msg("999999999", "4479111000003", nil), nil, 200, "Bienvenido/a a Hotel Demo", "default", 0},
		{"route's trusted tenant", "/provided/webhooks/whatsapp", msg(madridPNID, "4479111000004", nil), nil, 200, "Hotel Barcelona Beach", "provided", 0},
		{"strict route, known", "/strict/webhooks/whatsapp", msg(madridPNID, "4479111000005", nil), nil, 200, "Hotel Madrid Central", "hit", 0},
		{"strict route, unknown: kept, unanswered", "/strict/webhooks/whatsapp", msg("", "4479111000006", nil), nil, 200, "", "miss_strict", 0},
		{"spoofed X-Tenant-ID", "/webhooks/whatsapp", msg(madridPNID, "4479111000007", nil), map[string]string{"X-Tenant-ID": "tenant_hotel_bcn"}, 200, "Hotel Madrid Central", "hit", 1},
		{"spoofed X-Tenant-ID on a strict miss", "/strict/webhooks/whatsapp", msg("", "4479111000008", nil), map[string]string{"X-Tenant-ID": "tenant_hotel_madrid"}, 200, "", "miss_strict", 1},
		{"honest X-Tenant-ID", "/webhooks/whatsapp", msg(madridPNID, "4479111000009", nil), map[string]string{"X-Tenant-ID": "tenant_hotel_madrid"}, 200, "Hotel Madrid Central", "hit", 0},
		{"tenant override in metadata", "/webhooks/whatsapp", msg("", "4479111000010", map[string]any{"x_tenant_override": "tenant_hotel_bcn", "tenant_id": "tenant_hotel_bcn"}), nil, 200, "Bienvenido/a a Hotel Demo", "default", 0},
	}
	const unrouted = `webhook_unrouted_total{field="messages"}`
	for _, c := range cases {
		before := resolutionCounts(t, in)
		kept := metric(t, in, unrouted)
		status, got := postWhatsApp(t, in, c.path, c.body, c.header)
		after := resolutionCounts(t, in)
		if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, got, c.status)
			continue
		}
		if c.hotel != "" && !strings.Contains(replyText(t, got), c.hotel) {
			t.Errorf("%s: reply %q does not name %q", c.name, replyText(t, got), c.hotel)
		}
		// A message no hotel owns is acknowledged (Meta would retry a
		// refusal for days), kept for an operator, and answered by nobody.
		wantKept := 0.0
		if c.hotel == "" {
			wantKept = 1
			if strings.Contains(got, `"content"`) {
				t.Errorf("%s: a message for no hotel was answered: %s", c.name, got)
			}
		}
		if d := metric(t, in, unrouted) - kept; d != wantKept {
			t.Errorf("%s: %s +%v, want +%v", c.name, unrouted, d, wantKept)
		}
		for k, v := range after {
			want := before[k]
			if k == c.result {
				want++
			}
			if k == "isolation_errors" {
				want += c.isolation
			}
			if v != want {
				t.Errorf("%s: %s went %v → %v, want %v", c.name, k, before[k], v, want)
			}
		}
	}

	// A payload of the other channel is spoofing, refused before any
	// resolution, also where no tenant would resolve (strict route).
	for _, path := range []string{"/webhooks/whatsapp", "/strict/webhooks/whatsapp"} {
		before := resolutionCounts(t, in)
		spoofed := metric(t, in, "channel_spoofing_detected_total")
		status, got := postWhatsApp(t, in, path, seedGmailBarcelona, nil)
		if status != 400 || !strings.Contains(got, "channel spoofing") {
			t.Errorf("gmail payload on %s: %d %s, want 400", path, status, got)
		}
		if d := metric(t, in, "channel_spoofing_detected_total") - spoofed; d != 1 {
			t.Errorf("gmail payload on %s: channel_spoofing_detected_total +%v", path, d)
		}
		if after := resolutionCounts(t, in); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("gmail payload on %s was resolved: %v → %v", path, before, after)
		}
	}

	// The gmail route resolves by the sender's address.
	mail := `{"from":"Guest One <guest1@sevilla.com>","subject":"Hola","body":"Hola","timestamp":"2026-11-20T10:00:00Z"}`
	before := resolutionCounts(t, in)
	status, _, got := Do(t, "POST", in.URL("/webhooks/gmail"), []byte(mail), signedBy(gmailSecret, mail, map[string]string{"X-Tenant-ID": "tenant_hotel_bcn"}))
	if status != 200 || !strings.Contains(replyText(t, got), "Hotel Sevilla Plaza") {
		t.Fatalf("gmail: %d %s", status, got)
	}
	if after := resolutionCounts(t, in); after["hit"] != before["hit"]+1 || after["isolation_errors"] != before["isolation_errors"]+1 {
		t.Fatalf("gmail: counts %v → %v", before, after)
	}

	// An inactive hotel does not resolve: its guests get the default.
	token := mintAdminToken(t, adminSecret, "ops", "5m")
	if status, got := adminCall(t, in, token, "PATCH", "/admin/tenants/tenant_hotel_bcn", `{"status":"inactive"}`); status != 200 {
		t.Fatalf("deactivate: %d %s", status, got)
	}
	status, got = postWhatsApp(t, in, "/webhooks/whatsapp", msg("", "34600222333", nil), nil)
	if status != 200 || !strings.Contains(replyText(t, got), "Bienvenido/a a Hotel Demo") {
		t.Fatalf("guest of an inactive hotel: %d %s", status, got)
	}
	// ...and a route that trusts it falls back to the default too.
	status, got = postWhatsApp(t, in, "/provided/webhooks/whatsapp", msg(madridPNID, "4479111000011", nil), nil)
	if status != 200 || !strings.Contains(replyText(t, got), "Bienvenido/a a Hotel Demo") {
		t.Fatalf("trusted but inactive tenant: %d %s", status, got)
	}
}

// The staging payloads written for test/sql/init-staging-db.sql's hotels
// (internal/whatsapp/testdata/seed_*.json and internal/email/testdata hold
// them too): bare envelopes with neither object, entry id nor business
// number, kept literal because that is the point.
const (
	seedWhatsAppMadrid    = `{"entry":[{"changes":[{"value":{"messages":[{"from":"34600111222","text":{"body":"Hola, quiero reservar una habitación para el 1 de noviembre"},"timestamp":"1698844800","type":"text"}]}}]}]}`
	seedWhatsAppMalicious = `{"entry":[{"changes":[{"value":{"messages":[{"from":"34600111222","text":{"body":"Test metadata injection"},"timestamp":"1698844800","type":"text","metadata":{"malicious_key":"should_be_filtered","x_tenant_override":"tenant_hotel_bcn","safe_key":"should_pass"}}]}}]}]}`
	seedGmailBarcelona    = `{"from":"guest1@barcelona.com","subject":"Consulta disponibilidad habitación","body":"Buenos días, quisiera saber si tienen disponibilidad para 2 personas del 5 al 7 de noviembre.","timestamp":"2025-10-22T10:30:00Z"}`
)

// migratedWithSeed applies the schema with `agente-caddy migrate` and then
// test/sql/init-staging-db.sql, unchanged, as psql would (one
// multi-statement simple-protocol Exec), twice (it is idempotent).
func migratedWithSeed(t *testing.T) string {
	t.Helper()
	pgURL := testservices.Postgres(t)
	out, code := Run(t, map[string]string{"POSTGRES_URL": pgURL}, "migrate")
	if code != 0 || !strings.Contains(out, "applied 0001_core\n") {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	if out, code := Run(t, map[string]string{"POSTGRES_URL": pgURL}, "migrate"); code != 0 || !strings.Contains(out, "schema up to date") {
		t.Fatalf("second migrate: exit %d\n%s", code, out)
	}
	seed, err := os.ReadFile(filepath.Join(RepoRoot(), "test", "sql", "init-staging-db.sql"))
	if err != nil {
		t.Fatal(err)
	}
	pool := connect(t, pgURL)
	for i := 0; i < 2; i++ {
		if _, err := pool.Exec(context.Background(), string(seed)); err != nil {
			t.Fatalf("init-staging-db.sql (run %d) against the migrated schema: %v", i+1, err)
		}
	}
	return pgURL
}

// TestSeedStagingDataResolves: the staging database, created by the
// binary's migrations plus test/sql/init-staging-db.sql, routes the staging
// payloads to their hotels, and the script's session of +34600111222 is the
// one the conversation continues.
func TestSeedStagingDataResolves(t *testing.T) {
	pgURL := migratedWithSeed(t)
	in := Start(t, Options{Env: map[string]string{"ENVIRONMENT": "test", "POSTGRES_URL": pgURL}, ReadyPath: "/health/ready"})
	before := resolutionCounts(t, in)

	// The staging payload whatsapp_tenant_madrid: from +34600111222, no business number.
	if status, got := postWhatsApp(t, in, "/webhooks/whatsapp", seedWhatsAppMadrid, nil); status != 200 || !strings.Contains(got, `"status":"ok"`) {
		t.Fatalf("whatsapp_tenant_madrid: %d %s", status, got)
	}
	status, got := postWhatsApp(t, in, "/webhooks/whatsapp", whatsapptest.Message{From: "34600111222", ID: "wamid.seed-2", Text: "Hola", Name: "Marta"}.JSON(), nil)
	if status != 200 || !strings.Contains(replyText(t, got), "Bienvenido/a a Hotel Madrid Central") {
		t.Fatalf("+34600111222 says hello: %d %s", status, got)
	}
	// The staging email payload gmail_tenant_bcn.
	status, _, got = Do(t, "POST", in.URL("/webhooks/gmail"), []byte(seedGmailBarcelona), signedBy(gmailSecret, seedGmailBarcelona, nil))
	if status != 200 || !strings.Contains(replyText(t, got), "Disponibilidad en Hotel Barcelona Beach") {
		t.Fatalf("gmail_tenant_bcn: %d %s", status, got)
	}
	if after := resolutionCounts(t, in); after["hit"] != before["hit"]+3 || after["default"] != before["default"] {
		t.Fatalf("resolutions %v → %v, want 3 more hits", before, after)
	}

	// The script's session_madrid_001 carried on (its intent history first).
	var sessionID, state string
	err := connect(t, pgURL).QueryRow(context.Background(),
		`SELECT session_id, state->>'intent_history' FROM sessions WHERE tenant_id = 'tenant_hotel_madrid' AND user_id = '+34600111222'`).Scan(&sessionID, &state)
	if err != nil || sessionID != "session_madrid_001" || !strings.HasPrefix(state, `["check_availability", `) || !strings.Contains(state, `"greeting"`) {
		t.Fatalf("madrid session: %s %s %v", sessionID, state, err)
	}
	var others int
	if err := connect(t, pgURL).QueryRow(context.Background(),
		`SELECT count(*) FROM sessions WHERE user_id IN ('+34600111222', '34600111222') AND tenant_id <> 'tenant_hotel_madrid'`).Scan(&others); err != nil || others != 0 {
		t.Fatalf("sessions of +34600111222 outside Madrid: %d %v", others, err)
	}
}

// TestSecurityBloqueantes: the blocking security checks through the binary,
// on the staging database of test/sql/init-staging-db.sql.
func TestSecurityBloqueantes(t *testing.T) {
	pgURL := migratedWithSeed(t)
	pool := connect(t, pgURL)
	env := map[string]string{"POSTGRES_URL": pgURL, "JWT_SECRET_KEY": adminSecret}
	// Development: events go through the durable inbox to the workers.
	dev := Start(t, Options{Env: env, ReadyPath: "/health/ready"})
	// Test: the same chain, answered inline so the test reads the replies.
	testEnv := map[string]string{"ENVIRONMENT": "test"}
	for k, v := range env {
		testEnv[k] = v
	}
	inline := Start(t, Options{Env: testEnv, ReadyPath: "/health/ready"})

	t.Run("metadata filter", func(t *testing.T) {
		filtered := metric(t, dev, "metadata_filtered_keys_total")
		if status, got := postWhatsApp(t, dev, "/webhooks/whatsapp", seedWhatsAppMalicious, nil); status != 200 || got != `{"status":"ok"}` {
			t.Fatalf("whatsapp_malicious_metadata: %d %s", status, got)
		}
		if d := metric(t, dev, "metadata_filtered_keys_total") - filtered; d != 2 {
			t.Fatalf("metadata_filtered_keys_total +%v, want +2 (malicious_key, x_tenant_override)", d)
		}
		// What reached the agent is in the inbox: the Madrid guest's
		// message with only the allow-listed key.
		var tenant, metadata, text string
		err := pool.QueryRow(context.Background(),
			`SELECT tenant_id, coalesce(payload->'metadata', 'null')::text, payload->>'text' FROM inbox_messages WHERE payload->>'text' = 'Test metadata injection'`).Scan(&tenant, &metadata, &text)
		if err != nil || tenant != "tenant_hotel_madrid" || metadata != `{"safe_key": "should_pass"}` {
			t.Fatalf("inbox row: tenant %q metadata %s (%v)", tenant, metadata, err)
		}
		// ...and the worker answers it.
		testservices.Eventually(t, 10*time.Second, "the worker processes the message", func() bool {
			var state string
			_ = pool.QueryRow(context.Background(), `SELECT state FROM inbox_messages WHERE payload->>'text' = 'Test metadata injection'`).Scan(&state)
			return state == "done"
		})
	})

	t.Run("channel spoofing", func(t *testing.T) {
		whatsappWithClaim := `{"object":"whatsapp_business_account","channel":"gmail","entry":[]}`
		cases := []struct {
			name, path, secret, body string
		}{
			{"gmail payload on the WhatsApp route", "/webhooks/whatsapp", devSecret, seedGmailBarcelona},
			{"gmail payload on the WhatsApp alias", "/api/webhooks/whatsapp", devSecret, seedGmailBarcelona},
			{"WhatsApp payload on the gmail route", "/webhooks/gmail", gmailSecret, seedWhatsAppMadrid},
			{"WhatsApp payload claiming gmail", "/webhooks/whatsapp", devSecret, whatsappWithClaim},
		}
		for _, in := range []*Instance{dev, inline} {
			for _, c := range cases {
				before := metric(t, in, "channel_spoofing_detected_total")
				status, hdr, got := Do(t, "POST", in.URL(c.path), []byte(c.body), signedBy(c.secret, c.body, nil))
				if status != 400 || hdr.Get("Content-Type") != "application/json" || !strings.Contains(got, `"status":400`) {
					t.Errorf("%s: %d %s, want 400 JSON", c.name, status, got)
				}
				if d := metric(t, in, "channel_spoofing_detected_total") - before; d != 1 {
					t.Errorf("%s: channel_spoofing_detected_total +%v, want +1", c.name, d)
				}
			}
		}
		// Nothing of them was accepted.
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox_messages WHERE channel = 'gmail' OR payload->>'text' LIKE 'Hola, quiero%'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("spoofed payloads in the inbox: %d %v", n, err)
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		// Each hotel gets its WhatsApp business number.
		token := mintAdminToken(t, adminSecret, "ops", "5m")
		for tenant, pnid := range map[string]string{"tenant_hotel_madrid": "600000001", "tenant_hotel_bcn": "600000002"} {
			if status, got := adminCall(t, inline, token, "POST", "/admin/tenants/"+tenant+"/identifiers", `{"identifier":"`+pnid+`","type":"phone_number_id"}`); status != 201 {
				t.Fatalf("%s number: %d %s", tenant, status, got)
			}
		}
		const guest = "34699123456" // nobody's identifier: the hotel decides
		n := 0
		say := func(pnid, text string, header map[string]string) string {
			t.Helper()
			n++
			status, got := postWhatsApp(t, inline, "/webhooks/whatsapp", whatsapptest.Message{PhoneNumberID: pnid, From: guest, ID: fmt.Sprintf("wamid.iso-%d", n), Text: text, Name: "Iris"}.JSON(), header)
			if status != 200 {
				t.Fatalf("%q to %s: %d %s", text, pnid, status, got)
			}
			return replyText(t, got)
		}
		testservices.Eventually(t, time.Second, "the numbers resolve", func() bool { return strings.Contains(say("600000002", "Hola", nil), "Hotel Barcelona Beach") })
		isolation := metric(t, inline, "tenant_isolation_errors_total")

		if r := say("600000001", "hola, ¿tenéis habitación doble del 5 al 7 de diciembre para 2?", nil); !strings.Contains(r, "Disponibilidad en Hotel Madrid Central") {
			t.Fatalf("Madrid offers: %s", r)
		}
		// The same guest picks "the double" at Barcelona, claiming to be
		// Madrid's conversation in the header and in the metadata: Barcelona
		// knows no offer of this guest.
		r := say("600000002", "la doble", map[string]string{"X-Tenant-ID": "tenant_hotel_madrid"})
		if strings.Contains(r, "Resumen de tu reserva") || strings.Contains(r, "Madrid") || !strings.Contains(r, "¿Para qué fechas?") {
			t.Fatalf("Barcelona's answer uses Madrid's conversation: %s", r)
		}
		if d := metric(t, inline, "tenant_isolation_errors_total") - isolation; d != 1 {
			t.Fatalf("tenant_isolation_errors_total +%v, want +1", d)
		}
		// At Madrid the conversation is where the guest left it: the double
		// is chosen, and the holder is asked ("Iris" is a profile nickname).
		if r := say("600000001", "la doble", nil); !strings.Contains(r, "¿A nombre de quién hago la reserva?") {
			t.Fatalf("Madrid lost its conversation: %s", r)
		}
		if r := say("600000001", "Iris Moreno, iris.moreno@example.com", nil); !strings.Contains(r, "Resumen de tu reserva en Hotel Madrid Central") ||
			!strings.Contains(r, "Titular: Iris Moreno (iris.moreno@example.com") {
			t.Fatalf("Madrid's booking summary: %s", r)
		}

		rows, err := pool.Query(context.Background(), `SELECT session_id, tenant_id, state::text FROM sessions WHERE user_id = '+34699123456' ORDER BY tenant_id`)
		if err != nil {
			t.Fatal(err)
		}
		type row struct{ id, tenant, state string }
		var got []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.tenant, &r.state); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if len(got) != 2 || got[0].tenant != "tenant_hotel_bcn" || got[1].tenant != "tenant_hotel_madrid" || got[0].id == got[1].id {
			t.Fatalf("sessions of the guest: %+v, want one per hotel", got)
		}
		if strings.Contains(got[0].state, "12-05") || !strings.Contains(got[1].state, "12-05") {
			t.Fatalf("Barcelona's session holds Madrid's dates:\nbcn:    %s\nmadrid: %s", got[0].state, got[1].state)
		}
	})
}

// TestDefaultTenantCreatedOnPostgres: with Postgres the directory is the
// tenants table, which sessions reference. The DEFAULT_TENANT_ID (here the
// development default, "default") is created at start when it is not there,
// named after its id, so a guest nobody else owns is answered from the first
// message; an operator renames it like any hotel.
func TestDefaultTenantCreatedOnPostgres(t *testing.T) {
	pgURL := testservices.Postgres(t)
	in := Start(t, Options{Env: map[string]string{"ENVIRONMENT": "test", "POSTGRES_URL": pgURL, "JWT_SECRET_KEY": adminSecret}, ReadyPath: "/health/ready"})
	unknown := func(id string) (int, string) {
		return postWhatsApp(t, in, "/webhooks/whatsapp", whatsapptest.Message{From: "4479222000001", ID: id, Text: "Hola", Name: "Noa"}.JSON(), nil)
	}
	before := resolutionCounts(t, in)
	if status, got := unknown("wamid.default-1"); status != 200 || !strings.Contains(replyText(t, got), "Bienvenido/a a Hotel Demo") {
		t.Fatalf("unknown guest on a fresh database: %d %s, want the default hotel's greeting", status, got)
	}
	if after := resolutionCounts(t, in); after["default"] != before["default"]+1 || after["miss_strict"] != before["miss_strict"] {
		t.Fatalf("resolutions %v → %v, want one default", before, after)
	}
	token := mintAdminToken(t, adminSecret, "ops", "5m")
	if status, got := adminCall(t, in, token, "PATCH", "/admin/tenants/default", `{"name":"Hotel Por Defecto"}`); status != 200 {
		t.Fatalf("rename default: %d %s", status, got)
	}
	status, got := unknown("wamid.default-2")
	if status != 200 || !strings.Contains(replyText(t, got), "Hotel Por Defecto") {
		t.Fatalf("unknown guest once the default hotel is renamed: %d %s", status, got)
	}
}

// TestPostgresOutageThroughTheBinary: Postgres stops under a running
// instance. /health/ready goes 503 naming the database, the tenant cache
// keeps resolving (an event for a known hotel is refused 503 only because
// the inbox cannot store it, so Meta redelivers), the admin API reads from
// the cache and refuses writes with 503; once Postgres is back, readiness
// recovers and a change made by hand arrives by NOTIFY again.
func TestPostgresOutageThroughTheBinary(t *testing.T) {
	srv := testservices.StartPostgres(t)
	in := Start(t, Options{Env: map[string]string{"POSTGRES_URL": srv.URL(), "JWT_SECRET_KEY": adminSecret, "DEFAULT_TENANT_ID": "hotel_outage"}, ReadyPath: "/health/ready"})
	token := mintAdminToken(t, adminSecret, "ops", "5m")
	for _, w := range []struct {
		method, path, body string
		status             int
	}{
		{"PATCH", "/admin/tenants/hotel_outage", `{"name":"Hotel Outage"}`, 200},
		{"POST", "/admin/tenants/hotel_outage/identifiers", `{"identifier":"611222333","type":"phone_number_id"}`, 201},
	} {
		if status, got := adminCall(t, in, token, w.method, w.path, w.body); status != w.status {
			t.Fatalf("%s %s: %d %s", w.method, w.path, status, got)
		}
	}
	n := 0
	event := func() (int, string) {
		n++
		return postWhatsApp(t, in, "/webhooks/whatsapp", whatsapptest.Message{PhoneNumberID: "611222333", From: "4479444000001", ID: fmt.Sprintf("wamid.outage-%d", n), Text: "Hola"}.JSON(), nil)
	}
	if status, got := event(); status != 200 {
		t.Fatalf("before the outage: %d %s", status, got)
	}

	srv.Stop()
	var ready string
	testservices.Eventually(t, 10*time.Second, "readiness reports the outage", func() bool {
		var status int
		status, _, ready = Do(t, "GET", in.URL("/health/ready"), nil, nil)
		return status == 503
	})
	if !strings.Contains(ready, `"database":{"error"`) || !strings.Contains(ready, `"ready":false`) {
		t.Fatalf("/health/ready during the outage: %s", ready)
	}
	if metric(t, in, "readiness_up") != 0 || metric(t, in, `dependency_up{name="database"}`) != 0 {
		t.Fatal("readiness metrics do not show the outage")
	}
	hits := metric(t, in, `tenant_resolution_total{result="hit"}`)
	if status, got := event(); status != 503 || !strings.Contains(got, `"status":503`) {
		t.Fatalf("event during the outage: %d %s, want 503 (redeliver)", status, got)
	}
	if metric(t, in, `tenant_resolution_total{result="hit"}`) != hits+1 {
		t.Fatal("the cache did not resolve the hotel during the outage")
	}
	if status, got := adminCall(t, in, token, "GET", "/admin/tenants/hotel_outage", ""); status != 200 || !strings.Contains(got, "611222333") {
		t.Fatalf("admin read during the outage: %d %s", status, got)
	}
	if status, got := adminCall(t, in, token, "POST", "/admin/tenants", `{"tenant_id":"hotel_new","name":"New"}`); status != 503 {
		t.Fatalf("admin write during the outage: %d %s, want 503", status, got)
	}

	srv.Start()
	testservices.Eventually(t, 15*time.Second, "readiness recovers", func() bool {
		status, _, _ := Do(t, "GET", in.URL("/health/ready"), nil, nil)
		return status == 200
	})
	testservices.Eventually(t, 5*time.Second, "events are accepted again", func() bool {
		status, _ := event()
		return status == 200
	})
	// LISTEN is back: an identifier inserted by hand resolves without a refresh.
	pool := connect(t, srv.URL())
	if _, err := pool.Exec(context.Background(), `INSERT INTO tenant_user_identifiers (tenant_id, identifier_type, identifier_value) VALUES ('hotel_outage', 'email', 'back@example.com')`); err != nil {
		t.Fatal(err)
	}
	testservices.Eventually(t, 7*time.Second, "a change after the restart arrives", func() bool {
		status, got := adminCall(t, in, token, "GET", "/admin/tenants/hotel_outage", "")
		return status == 200 && strings.Contains(got, "back@example.com")
	})
}
