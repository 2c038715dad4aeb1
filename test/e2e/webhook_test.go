package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

var devSecret = config.DevDefaults["WHATSAPP_APP_SECRET"]

// envelopeMessage is a guest's "Hola" to the business number
// 106540352242922, which caddy/dev-tenants.yaml gives tenant_hotel_madrid.
var envelopeMessage = whatsapptest.Message{PhoneNumberID: "106540352242922", From: "16505551234", ID: "wamid.e2e-1", Name: "Sheena", Text: "Hola"}

// envelope is the webhook of envelopeMessage.
var envelope = envelopeMessage.JSON()

// signed is signedBy with the development app secret.
func signed(body string) map[string]string { return signedBy(devSecret, body, nil) }

// walkWebhookChain sends one request per step of the webhook validation order
// (and the other routes) through the running binary.
func walkWebhookChain(t *testing.T, in *Instance) {
	t.Helper()
	big := `{"p":"` + strings.Repeat("a", 1<<20) + `"}`
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		contains                 string
	}{
		{"live", "GET", "/health/live", "", nil, 200, `"alive"`},
		{"ready", "GET", "/health/ready", "", nil, 200, `"ready":true`},
		{"handshake", "GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + config.DevDefaults["WHATSAPP_VERIFY_TOKEN"], "", nil, 200, "1158201444"},
		{"handshake alias", "GET", "/api/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=42&hub.verify_token=" + config.DevDefaults["WHATSAPP_VERIFY_TOKEN"], "", nil, 200, "42"},
		{"handshake wrong token", "GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess", "", nil, 403, `"status":403`},
		{"handshake wrong mode", "GET", "/webhooks/whatsapp?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=" + config.DevDefaults["WHATSAPP_VERIFY_TOKEN"], "", nil, 403, `"error"`},
		{"signed event", "POST", "/webhooks/whatsapp", envelope, signed(envelope), 200, `{"status":"ok"}`},
		{"signed event alias", "POST", "/api/webhooks/whatsapp", envelope, signed(envelope), 200, `"ok"`},
		{"no signature", "POST", "/webhooks/whatsapp", envelope, map[string]string{"Content-Type": "application/json"}, 401, `"status":401`},
		{"signature of another body", "POST", "/webhooks/whatsapp", envelope, signed(`{}`), 401, `"status":401`},
		{"wrong content type", "POST", "/webhooks/whatsapp", envelope, signedBy(devSecret, envelope, map[string]string{"Content-Type": "text/plain"}), 415, `"status":415`},
		{"too large", "POST", "/webhooks/whatsapp", big, signed(big), 413, `"status":413`},
		{"empty body", "POST", "/webhooks/whatsapp", "", signed(""), 400, `"status":400`},
		{"invalid JSON", "POST", "/webhooks/whatsapp", `{"entry":`, signed(`{"entry":`), 400, `"status":400`},
		{"wrong method", "PUT", "/webhooks/whatsapp", "", nil, 405, `"status":405`},
		{"unknown path", "GET", "/wp-login.php", "", nil, 404, `"status":404`},
	}
	for _, c := range cases {
		var body []byte
		if c.body != "" || c.method == "POST" {
			body = []byte(c.body)
		}
		status, hdr, got := Do(t, c.method, in.URL(c.path), body, c.header)
		if status != c.status || !strings.Contains(got, c.contains) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, status, got, c.status, c.contains)
		}
		if status >= 400 && hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s: error answered as %q, want application/json", c.name, hdr.Get("Content-Type"))
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing", c.name)
		}
	}
	m := scrape(t, in.URL("/metrics"))
	for _, want := range []string{
		`http_requests_total{endpoint="/webhooks/whatsapp",method="POST",status_code="401"}`,
		`http_requests_total{endpoint="/webhooks/whatsapp",method="POST",status_code="413"}`,
		`request_duration_seconds_bucket{endpoint="/webhooks/whatsapp",method="POST"}`,
		`webhook_signature_checks_total{result="valid"}`,
		`webhook_signature_checks_total{result="mismatch"}`,
		`caddy_http_requests_total`,
	} {
		if !m.has(want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if v, ok := m.value("readiness_up"); !ok || v != 1 {
		t.Errorf("/metrics lacks readiness_up 1")
	}
}

func TestWebhookChainSurvivesReload(t *testing.T) {
	in := Start(t, Options{})
	walkWebhookChain(t, in)

	caddyfile, err := os.ReadFile(filepath.Join(RepoRoot(), "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	loads := strings.Count(in.Logs(), "load complete")
	in.Reload(caddyfile)
	// The log line may land just after /load answers.
	testservices.Eventually(t, 10*time.Second, "the config is reloaded", func() bool {
		return strings.Count(in.Logs(), "load complete") == loads+1
	})
	walkWebhookChain(t, in)
}

func TestStartupRefusesPlaceholderSecretsInProduction(t *testing.T) {
	env := map[string]string{
		"ENVIRONMENT":           "production",
		"SECRET_KEY":            strings.Repeat("k", 40),
		"JWT_SECRET_KEY":        "CHANGE_ME_please_to_a_real_secret_value",
		"WHATSAPP_APP_SECRET":   "real-app-secret",
		"WHATSAPP_VERIFY_TOKEN": "real-verify-token",
		"WHATSAPP_ACCESS_TOKEN": "EAAG-real",
		"GMAIL_WEBHOOK_SECRET":  "real-gmail",
		"POSTGRES_URL":          "postgres://nobody@127.0.0.1:1/none",
		"REDIS_URL":             "redis://127.0.0.1:1/0",
		"SITE_ADDRESS":          "127.0.0.1:0",
		"CADDY_ADMIN":           "127.0.0.1:0",
	}
	out, code := Run(t, env, "run", "--config", "Caddyfile")
	if code == 0 || !strings.Contains(out, "JWT_SECRET_KEY") {
		t.Fatalf("exit %d, want non-zero naming JWT_SECRET_KEY:\n%s", code, out)
	}
	delete(env, "WHATSAPP_APP_SECRET")
	env["JWT_SECRET_KEY"] = "short"
	out, code = Run(t, env, "run", "--config", "Caddyfile")
	if code == 0 || !strings.Contains(out, "WHATSAPP_APP_SECRET is required") || !strings.Contains(out, "JWT_SECRET_KEY is 5 bytes") {
		t.Fatalf("exit %d, want non-zero naming WHATSAPP_APP_SECRET and JWT_SECRET_KEY:\n%s", code, out)
	}
}

func TestListModulesShowsOurs(t *testing.T) {
	out, code := Run(t, nil, "list-modules")
	if code != 0 {
		t.Fatalf("list-modules exit %d\n%s", code, out)
	}
	for _, id := range []string{"agente", "http.matchers.hmac_webhook", "http.handlers.whatsapp_webhook", "http.handlers.email_inbound", "http.handlers.health", "http.handlers.admin_api", "http.handlers.json_error", "http.handlers.request_metrics"} {
		if !strings.Contains(out, id+"\n") {
			t.Errorf("list-modules lacks %s", id)
		}
	}
}

func TestShippedCaddyfilesAdapt(t *testing.T) {
	cases := []struct {
		file string
		env  map[string]string
		want []string // substrings of the adapted JSON
	}{
		{"Caddyfile", nil, []string{`"hmac_webhook"`, `"request_metrics"`}},
		// ACME for the domain, admin on localhost, JSON logs, tracing, the internal listener,
		// certificates in Postgres (validate connects to it).
		{"Caddyfile.staging", map[string]string{"DOMAIN": "hotel.example", "POSTGRES_URL": testservices.Postgres(t)}, []string{
			`"host":["hotel.example"]`, `"listen":"localhost:2019"`, `"format":"json"`, `"handler":"tracing"`,
			`"listen":[":9180"]`, `"hmac_webhook"`, `"install_trust":false`,
			`"storage":{"connection_string":"{env.POSTGRES_URL}","module":"postgres"}`}},
		{"Caddyfile.staging", map[string]string{"DOMAIN": "hotel.example", "TLS_ISSUER": "internal", "CADDY_ADMIN_PORT": "2999", "HTTPS_PORT": "8443", "CERT_STORAGE": "file"}, []string{
			`"module":"internal"`, `"listen":"localhost:2999"`, `"https_port":8443`}},
	}
	for _, c := range cases {
		out, code := Run(t, c.env, "validate", "--config", c.file, "--adapter", "caddyfile")
		if code != 0 {
			t.Errorf("validate %s %v: exit %d\n%s", c.file, c.env, code, out)
		}
		out, code = Run(t, c.env, "adapt", "--config", c.file, "--adapter", "caddyfile")
		if code != 0 {
			t.Errorf("adapt %s %v: exit %d\n%s", c.file, c.env, code, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("adapt %s %v: lacks %s", c.file, c.env, w)
			}
		}
		if strings.Contains(c.file, "staging") && (strings.Contains(out, `"listen":"0.0.0.0`) || strings.Contains(out, `"listen":":2019"`)) {
			t.Errorf("%s exposes the admin API beyond localhost", c.file)
		}
	}
	// Unknown issuer names fail loudly instead of falling back.
	if out, code := Run(t, map[string]string{"DOMAIN": "hotel.example", "TLS_ISSUER": "letsencrypt"}, "adapt", "--config", "Caddyfile.staging"); code == 0 {
		t.Errorf("TLS_ISSUER=letsencrypt adapted:\n%s", out)
	}
}

func TestHandshakeAttemptsAreRateLimited(t *testing.T) {
	in := Start(t, Options{Env: map[string]string{"RATE_LIMIT_WEBHOOK_GET": "3"}})
	guess := in.URL("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess")
	for i := 0; i < 3; i++ {
		if status, _, _ := Do(t, "GET", guess, nil, nil); status != 403 {
			t.Fatalf("attempt %d: %d, want 403", i+1, status)
		}
	}
	status, hdr, body := Do(t, "GET", guess, nil, nil)
	if status != 429 || hdr.Get("Retry-After") == "" || hdr.Get("RateLimit-Limit") != "3" || !strings.Contains(body, `"status":429`) {
		t.Fatalf("4th attempt: %d %v %s, want 429 with Retry-After and RateLimit-* headers", status, hdr, body)
	}

	off := Start(t, Options{Env: map[string]string{"RATE_LIMIT_WEBHOOK_GET": "3", "RATE_LIMIT_ENABLED": "false"}})
	for i := 0; i < 5; i++ {
		if status, _, _ := Do(t, "GET", off.URL("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess"), nil, nil); status != 403 {
			t.Fatalf("RATE_LIMIT_ENABLED=false, attempt %d: %d", i+1, status)
		}
	}
}
