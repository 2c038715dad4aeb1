package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
	"github.com/agentehotel/agente-caddy/test/metricnames"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// Series Prometheus makes itself rather than scraping them.
var prometheusOwn = map[string]bool{
	"ALERTS": true, "ALERTS_FOR_STATE": true, "up": true,
	"scrape_duration_seconds": true, "scrape_samples_scraped": true, "scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
}

// observabilityQueries reads every PromQL expression of the rule files and
// dashboards, and the names recording rules define. uses maps each metric
// name to the places that read it.
func observabilityQueries(t *testing.T) (uses map[string][]string, recorded map[string]bool) {
	t.Helper()
	uses, recorded = map[string][]string{}, map[string]bool{}
	add := func(where, expr string) {
		names, err := metricnames.InExpr(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		for _, n := range names {
			uses[n] = append(uses[n], where)
		}
	}
	root := RepoRoot()
	ruleFiles, _ := filepath.Glob(filepath.Join(root, "observability/prometheus/*.yml"))
	generated, _ := filepath.Glob(filepath.Join(root, "observability/prometheus/generated/*.yml"))
	for _, f := range append(ruleFiles, generated...) {
		rel, _ := filepath.Rel(root, f)
		var rf struct {
			Groups []struct {
				Rules []struct {
					Alert, Record, Expr string
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
					add(rel+" record "+r.Record, r.Expr)
				} else {
					add(rel+" alert "+r.Alert, r.Expr)
				}
			}
		}
	}
	dashboards, _ := filepath.Glob(filepath.Join(root, "observability/grafana/dashboards/*.json"))
	for _, f := range dashboards {
		rel, _ := filepath.Rel(root, f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				add(fmt.Sprintf("%s panel %q", rel, p.Title), tg.Expr)
			}
		}
		for _, v := range d.Templating.List {
			q, _ := v.Query.(string)
			if m, ok := v.Query.(map[string]any); ok {
				q, _ = m["query"].(string)
			}
			add(fmt.Sprintf("%s variable %s", rel, v.Name), q)
		}
	}
	return uses, recorded
}

// exerciseForMetrics drives the running binary through every path that
// records a metric the dashboards and alerts read. Extend it as modules land:
// a name missing from the scrape either was renamed (fix the code or the
// rules) or was never exercised here (exercise it, or have the module
// initialise its label children at start).
func exerciseForMetrics(t *testing.T, in *Instance, qlo *fakeqloapps.Server) {
	t.Helper()
	post := func(path, body string, header map[string]string) int {
		status, _, _ := Do(t, "POST", in.URL(path), []byte(body), header)
		return status
	}

	// The admin API: the default tenant (created at start; renamed here) and
	// a hotel for the envelope's number (with QloApps the hotel needs its
	// pms_hotel_id for its guests to reach the PMS), flags, dashboard.
	token, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, "admin-token", "--sub", "drift-test")
	if code != 0 {
		t.Fatalf("admin-token: exit %d %s", code, token)
	}
	auth := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(token), "Content-Type": "application/json"}
	for _, r := range []struct{ method, path, body string }{
		{"PATCH", "/admin/tenants/default", `{"name":"Hotel Default"}`},
		{"POST", "/admin/tenants", `{"tenant_id":"tenant_drift","name":"Hotel Drift","pms_hotel_id":1}`},
		{"POST", "/admin/tenants/tenant_drift/identifiers", `{"identifier":"106540352242922","type":"phone_number_id"}`},
		{"POST", "/admin/tenants/tenant_drift/identifiers", `{"identifier":"+34600111222"}`},
		{"POST", "/admin/tenants/refresh", ""},
		{"GET", "/admin/tenants", ""},
		{"GET", "/admin/feature-flags", ""},
		{"PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":true}`},
		{"GET", "/admin/dashboard", ""},
	} {
		var body []byte
		if r.body != "" {
			body = []byte(r.body)
		}
		if status, _, got := Do(t, r.method, in.URL(r.path), body, auth); status >= 300 {
			t.Errorf("%s %s: %d %s", r.method, r.path, status, got)
		}
	}

	walkWebhookChain(t, in)

	// The staging payloads: metadata keys to filter, another hotel's guest, an email.
	for _, f := range []string{"internal/whatsapp/testdata/seed_whatsapp_malicious_metadata.json", "internal/whatsapp/testdata/seed_whatsapp_tenant_madrid.json"} {
		body, err := os.ReadFile(filepath.Join(RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		post("/webhooks/whatsapp", string(body), signed(string(body)))
	}
	gmail, _ := os.ReadFile(filepath.Join(RepoRoot(), "internal/email/testdata/seed_gmail_tenant_bcn.json"))
	post("/webhooks/gmail", string(gmail), signedBy(gmailSecret, string(gmail), nil))
	// Envelopes that do not normalise.
	for _, bad := range []string{`{"object":"whatsapp_business_account"}`, `{"object":"whatsapp_business_account","entry":[{"id":"1"}]}`, `{"entry":[{"changes":[{"value":{}}]}]}`} {
		post("/webhooks/whatsapp", bad, signed(bad))
	}
	// A client claiming another tenant than the one resolved.
	hdr := signed(envelope)
	hdr["X-Tenant-ID"] = "tenant_hotel_bcn"
	post("/webhooks/whatsapp", envelope, hdr)

	// The PMS: an availability question answered (then cached), then the
	// PMS failing: errors, retries, the breaker.
	ask := func(id, text string) {
		m := envelopeMessage
		m.ID, m.Text = id, text
		body := m.JSON()
		post("/webhooks/whatsapp", body, signed(body))
	}
	ask("wamid.drift-avail-1", "¿Tienen habitación para 2 personas del 5 al 7 de noviembre?")
	ask("wamid.drift-avail-2", "¿Tienen habitación para 2 personas del 5 al 7 de noviembre?")
	qlo.Inject("", 100, fakeqloapps.ServerError, 0)
	for i, dates := range []string{"del 10 al 12 de diciembre", "del 14 al 16 de diciembre", "del 18 al 20 de diciembre", "del 22 al 24 de diciembre"} {
		ask(fmt.Sprintf("wamid.drift-fail-%d", i), "¿Hay disponibilidad para 2 personas "+dates+"?")
	}
	Do(t, "GET", in.URL("/health/ready"), nil, nil)
}

// exerciseCanary runs the canary scenarios' config and sends traffic through
// a canary whose canary arm fails half the time.
func exerciseCanary(t *testing.T) *Instance {
	t.Helper()
	in := Start(t, Options{Config: "test/e2e/testdata/canary.Caddyfile", ReadyPath: "/ready", Env: map[string]string{
		"BASELINE_UPSTREAM": canaryUpstream(t, "baseline", 0, 0),
		"SLOW_UPSTREAM":     canaryUpstream(t, "slow", 0, 0),
		"FLAKY_UPSTREAM":    canaryUpstream(t, "flaky", 0, 2),
		"TWIN_UPSTREAM":     canaryUpstream(t, "twin", 0, 0),
	}})
	for i := 0; i < 40; i++ {
		Do(t, "GET", in.URL(fmt.Sprintf("/errors/%d", i)), nil, nil)
	}
	return in
}

// TestMetricNamesDoNotDrift: every metric name a rule, alert or dashboard
// reads is exported by the binary (or recorded by a rule, or made by
// Prometheus). Renaming a metric in code fails this test.
func TestMetricNamesDoNotDrift(t *testing.T) {
	uses, recorded := observabilityQueries(t)
	if len(uses) < 60 {
		t.Fatalf("only %d metric names found in the rules and dashboards: the extraction is broken", len(uses))
	}
	graph := fakegraph.Start(t, "drift-token")
	const pmsKey = "drift-pms-key"
	qlo := fakeqloapps.Start(t, pmsKey)
	redisURL, prefix := testservices.Redis(t)
	// Development (not test): messages go through the durable inbox and the
	// workers, as in production, and walkWebhookChain's answers hold.
	in := Start(t, Options{Env: map[string]string{
		"ENVIRONMENT":           "development",
		"POSTGRES_URL":          testservices.Postgres(t),
		"REDIS_URL":             redisURL,
		"REDIS_KEY_PREFIX":      prefix,
		"PMS_TYPE":              "qloapps",
		"PMS_BASE_URL":          qlo.URL,
		"PMS_API_KEY":           pmsKey,
		"WHATSAPP_ACCESS_TOKEN": "drift-token",
		"WHATSAPP_API_BASE":     graph.BaseURL(),
	}})
	exerciseForMetrics(t, in, qlo)
	canary := exerciseCanary(t)

	// Replies leave through the outbox and the canary's judge ticks in the
	// background: give them a few seconds.
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		scraped := map[string]bool{}
		// The canary scenarios' config has no metrics route: both are read
		// from the admin API's /metrics, which serves the same registry.
		for _, inst := range []*Instance{in, canary} {
			for n := range scrape(t, inst.AdminURL("/metrics")).names() {
				scraped[n] = true
			}
		}
		missing = missing[:0]
		for name := range uses {
			if !scraped[name] && !recorded[name] && !prometheusOwn[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d metric names read by observability/ are not in the binary's /metrics after the exercise:\n", len(missing))
		for _, n := range missing {
			w := uses[n]
			more := ""
			if len(w) > 3 {
				more = fmt.Sprintf(" (+%d more)", len(w)-3)
				w = w[:3]
			}
			fmt.Fprintf(&b, "  %-44s read by %s%s\n", n, strings.Join(w, "; "), more)
		}
		t.Error(b.String())
	}
}
