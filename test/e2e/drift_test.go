package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/metricnames"
	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/internal/testservices"
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

// scrapedNames are the sample names of a Prometheus text exposition
// (histograms appear as their _bucket, _sum and _count series).
func scrapedNames(exposition string) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// exerciseForMetrics drives the running binary through every path that
// records a metric the dashboards and alerts read. Extend it as modules land:
// a name missing from the scrape either was renamed (fix the code or the
// rules) or was never exercised here (exercise it, or have the module
// initialise its label children at start).
func exerciseForMetrics(t *testing.T, in *Instance) {
	t.Helper()
	walkWebhookChain(t, in)

	// Seed payloads: a text message with metadata keys to filter, an email.
	for _, f := range []string{"internal/whatsapp/testdata/seed_whatsapp_malicious_metadata.json", "internal/whatsapp/testdata/seed_whatsapp_tenant_madrid.json"} {
		body, err := os.ReadFile(filepath.Join(RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		Do(t, "POST", in.URL("/webhooks/whatsapp"), body, signed(string(body)))
	}
	gmail, _ := os.ReadFile(filepath.Join(RepoRoot(), "internal/email/testdata/seed_gmail_tenant_bcn.json"))
	Do(t, "POST", in.URL("/webhooks/gmail"), gmail, map[string]string{
		"Content-Type":        "application/json",
		"X-Hub-Signature-256": signature.Sign(config.DevDefaults["GMAIL_WEBHOOK_SECRET"], gmail),
	})
	// A client claiming another tenant than the one resolved.
	hdr := signed(envelope)
	hdr["X-Tenant-ID"] = "tenant_hotel_bcn"
	Do(t, "POST", in.URL("/webhooks/whatsapp"), []byte(envelope), hdr)

	// The admin API, when the binary has it.
	if token, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, "admin-token", "--sub", "drift-test"); code == 0 {
		auth := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(token), "Content-Type": "application/json"}
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/admin/tenants", ""},
			{"POST", "/admin/tenants", `{"tenant_id":"tenant_drift","name":"Hotel Drift"}`},
			{"POST", "/admin/tenants/tenant_drift/identifiers", `{"identifier":"+34600999888"}`},
			{"POST", "/admin/tenants/refresh", ""},
			{"GET", "/admin/feature-flags", ""},
			{"PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":true}`},
			{"GET", "/admin/dashboard", ""},
		} {
			var body []byte
			if r.body != "" {
				body = []byte(r.body)
			}
			Do(t, r.method, in.URL(r.path), body, auth)
		}
	} else {
		t.Logf("no admin-token subcommand yet; admin API not exercised")
	}
	Do(t, "GET", in.URL("/health/ready"), nil, nil)
}

// TestMetricNamesDoNotDrift: every metric name a rule, alert or dashboard
// reads is exported by the binary (or recorded by a rule, or made by
// Prometheus). Renaming a metric in code fails this test.
func TestMetricNamesDoNotDrift(t *testing.T) {
	uses, recorded := observabilityQueries(t)
	if len(uses) < 60 {
		t.Fatalf("only %d metric names found in the rules and dashboards: the extraction is broken", len(uses))
	}
	redisURL, prefix := testservices.Redis(t)
	in := Start(t, Options{Env: map[string]string{
		"ENVIRONMENT":      "test",
		"POSTGRES_URL":     testservices.Postgres(t),
		"REDIS_URL":        redisURL,
		"REDIS_KEY_PREFIX": prefix,
	}})
	exerciseForMetrics(t, in)
	_, _, exposition := Do(t, "GET", in.URL("/metrics"), nil, nil)
	scraped := scrapedNames(exposition)

	var missing []string
	for name := range uses {
		if !scraped[name] && !recorded[name] && !prometheusOwn[name] {
			missing = append(missing, name)
		}
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

func TestScrapedNames(t *testing.T) {
	got := scrapedNames("# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 3\nb 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.1\nh_count 1\n")
	for _, want := range []string{"a_total", "b", "h_bucket", "h_sum", "h_count"} {
		if !got[want] {
			t.Errorf("%s not found in %v", want, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("got %v", got)
	}
}
