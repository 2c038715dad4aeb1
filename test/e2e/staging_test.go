package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func randomSecret(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b) // 48 characters, no placeholder shape
}

// stagingEnv is what Caddyfile.staging needs to serve on loopback: staging
// secrets that pass the startup check, Postgres and Redis of the test
// services, Caddy's local CA for `localhost`, and free ports.
func stagingEnv(t *testing.T, graph *fakegraph.Server, appSecret string) map[string]string {
	t.Helper()
	redisURL, prefix := testservices.Redis(t)
	pmsKey := randomSecret(t)
	qlo := fakeqloapps.Start(t, pmsKey)
	return map[string]string{
		"ENVIRONMENT":           "staging",
		"DOMAIN":                "localhost",
		"TLS_ISSUER":            "internal",
		"HTTPS_PORT":            strconv.Itoa(testservices.FreePort(t)),
		"HTTP_PORT":             strconv.Itoa(testservices.FreePort(t)),
		"XDG_DATA_HOME":         t.TempDir(), // Caddy's storage: a fresh local CA
		"XDG_CONFIG_HOME":       t.TempDir(),
		"SECRET_KEY":            randomSecret(t),
		"JWT_SECRET_KEY":        randomSecret(t),
		"WHATSAPP_APP_SECRET":   appSecret,
		"WHATSAPP_VERIFY_TOKEN": randomSecret(t),
		"WHATSAPP_ACCESS_TOKEN": "EAAG" + randomSecret(t),
		"WHATSAPP_API_BASE":     graph.BaseURL(),
		"GMAIL_WEBHOOK_SECRET":  randomSecret(t),
		"POSTGRES_URL":          testservices.Postgres(t),
		"REDIS_URL":             redisURL,
		"REDIS_KEY_PREFIX":      prefix,
		"PMS_TYPE":              "qloapps",
		"PMS_BASE_URL":          qlo.URL,
		"PMS_API_KEY":           pmsKey,
	}
}

// otlpReceiver counts OTLP/HTTP trace exports.
func otlpReceiver(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var exports atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && len(body) > 0 {
			exports.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &exports
}

// localCAClient trusts the root of the instance's internal CA, read from
// Caddy's admin API, so the test checks the real chain instead of skipping
// verification.
func localCAClient(t *testing.T, in *Instance) *http.Client {
	t.Helper()
	var ca struct {
		Root string `json:"root_certificate"`
	}
	testservices.Eventually(t, 20*time.Second, "admin /pki/ca/local serves the root", func() bool {
		status, _, body := Do(t, "GET", in.AdminURL("/pki/ca/local"), nil, nil)
		return status == 200 && json.Unmarshal([]byte(body), &ca) == nil && ca.Root != ""
	})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ca.Root)) {
		t.Fatalf("root certificate is not PEM: %q", ca.Root)
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		// The HTTP port's redirect is checked as an answer, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func sendTLS(t *testing.T, c *http.Client, method, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(b))
}

// The staging chain over HTTPS on loopback: Caddyfile.staging with the local
// CA, Postgres, Redis, QloApps (the fake), JSON access logs and OpenTelemetry
// traces; a signed
// webhook through TLS is accepted, an unsigned one refused.
func TestStagingChainOverTLS(t *testing.T) {
	graph := fakegraph.Start(t, "unused")
	appSecret := randomSecret(t)
	env := stagingEnv(t, graph, appSecret)
	otlp, exports := otlpReceiver(t)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.URL
	env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
	env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
	env["OTEL_SERVICE_NAME"] = "agente-caddy-e2e"

	// The harness polls SitePort over plain HTTP: that is the internal
	// listener here; the admin API listens on localhost:AdminPort.
	site, admin := testservices.FreePort(t), testservices.FreePort(t)
	env["INTERNAL_ADDRESS"] = fmt.Sprintf("127.0.0.1:%d", site)
	env["CADDY_ADMIN_PORT"] = strconv.Itoa(admin)
	in := Start(t, Options{Config: "Caddyfile.staging", Env: env, SitePort: site, AdminPort: admin})
	client := localCAClient(t, in)
	base := "https://localhost:" + env["HTTPS_PORT"]

	// The certificate is issued just after start: wait for the handshake.
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", base+"/health/live", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TLS service on %s: %v\n%s", base, err, in.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A hotel whose WhatsApp number is the envelope's, registered through
	// the admin API over TLS with a token minted from the staging secret.
	token, code := Run(t, map[string]string{"JWT_SECRET_KEY": env["JWT_SECRET_KEY"]}, "admin-token", "--sub", "e2e-staging")
	if code != 0 {
		t.Fatalf("admin-token: exit %d %s", code, token)
	}
	auth := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(token), "Content-Type": "application/json"}
	if status, _, body := sendTLS(t, client, "POST", base+"/admin/tenants", `{"tenant_id":"tenant_hotel_madrid","name":"Hotel Madrid Central"}`, auth); status != 201 {
		t.Fatalf("creating a tenant over TLS: %d %s", status, body)
	}
	if status, _, body := sendTLS(t, client, "POST", base+"/admin/tenants/tenant_hotel_madrid/identifiers", `{"identifier":"106540352242922","type":"phone_number_id"}`, auth); status != 201 {
		t.Fatalf("registering the hotel's number: %d %s", status, body)
	}

	if status, hdr, body := sendTLS(t, client, "POST", base+"/webhooks/whatsapp", envelope, signedBy(appSecret, envelope, nil)); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("signed webhook over TLS: %d %s", status, body)
	} else if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers missing over TLS: %v", hdr)
	}
	if status, _, body := sendTLS(t, client, "POST", base+"/webhooks/whatsapp", envelope, map[string]string{"Content-Type": "application/json"}); status != 401 {
		t.Errorf("unsigned webhook over TLS: %d %s", status, body)
	}
	// Signed with the development secret: staging must not accept it.
	if status, _, _ := sendTLS(t, client, "POST", base+"/webhooks/whatsapp", envelope, signed(envelope)); status != 401 {
		t.Errorf("webhook signed with the development secret: %d, want 401", status)
	}
	status, _, body := sendTLS(t, client, "GET", base+"/health/ready", "", nil)
	if status != 200 || !strings.Contains(body, `"database"`) || !strings.Contains(body, `"redis"`) || !strings.Contains(body, `"pms"`) {
		t.Errorf("readiness over TLS on Postgres, Redis and QloApps: %d %s", status, body)
	}

	// Another Host over the same TLS connection's name: our JSON 404, not
	// Caddy's empty 200, and not even a signed webhook gets through.
	for _, path := range []string{"/health/live", "/webhooks/whatsapp"} {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(envelope))
		for k, v := range signedBy(appSecret, envelope, nil) {
			req.Header.Set(k, v)
		}
		req.Host = "other.example"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("another Host over TLS: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), `"unknown host"`) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Host other.example, %s over TLS: %d %s %v, want our JSON 404", path, resp.StatusCode, b, resp.Header)
		}
	}

	// Plain HTTP on the HTTP port redirects to HTTPS.
	status, hdr, _ := sendTLS(t, &http.Client{CheckRedirect: client.CheckRedirect, Timeout: 5 * time.Second}, "GET", "http://localhost:"+env["HTTP_PORT"]+"/health/live", "", nil)
	if status != http.StatusPermanentRedirect || !strings.HasPrefix(hdr.Get("Location"), "https://localhost") {
		t.Errorf("HTTP port: %d Location %q, want a redirect to HTTPS", status, hdr.Get("Location"))
	}

	// The admin API answers on localhost only, so the CA was read there; the
	// internal listener serves metrics (Caddy's and ours) for Prometheus.
	m := scrape(t, in.URL("/metrics"))
	for _, want := range []string{`http_requests_total{endpoint="/webhooks/whatsapp",method="POST",status_code="200"}`, "caddy_http_requests_total", "db_pool_max_connections"} {
		if !m.has(want) {
			t.Errorf("internal /metrics lacks %s", want)
		}
	}
	// The public site has no /metrics; the internal listener is bound to
	// INTERNAL_ADDRESS's host only and shows readiness with its details.
	if status, _, body := sendTLS(t, client, "GET", base+"/metrics", "", nil); status != 404 {
		t.Errorf("public /metrics: %d %.80s, want 404", status, body)
	}
	if got := listeners(t, site); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("internal listener on %v, want [127.0.0.1] only", got)
	}
	if status, _, body := Do(t, "GET", in.URL("/health/ready"), nil, nil); status != 200 || !strings.Contains(body, `"database":{"up":true}`) {
		t.Errorf("internal readiness: %d %s", status, body)
	}
	if status, _, _ := Do(t, "POST", in.URL("/webhooks/whatsapp"), []byte(envelope), signedBy(appSecret, envelope, nil)); status != 404 {
		t.Errorf("internal listener served a webhook: %d, want 404 (health and metrics only)", status)
	}

	// Access logs are JSON lines.
	var access int
	for _, line := range strings.Split(in.Logs(), "\n") {
		if !strings.Contains(line, "http.log.access") {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("access log line is not JSON: %q", line)
			continue
		}
		access++
	}
	if access == 0 {
		t.Errorf("no access log lines:\n%s", in.Logs())
	}

	// Traces reach the OTLP endpoint.
	testservices.Eventually(t, 15*time.Second, "an OTLP trace export", func() bool { return exports.Load() > 0 })
}
