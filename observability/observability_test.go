// Package observability holds the tests of the Prometheus, Alertmanager and
// Grafana configuration in this directory: Prometheus's own promtool and
// Alertmanager's amtool check them, promtool runs the alert unit tests, and
// the dashboards are held to the alerts they mirror.
package observability

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/agentehotel/agente-caddy/internal/alertmanager"
	"github.com/agentehotel/agente-caddy/internal/slo"
	"github.com/agentehotel/agente-caddy/test/metricnames"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func promtool(t *testing.T) string { return testservices.Tool(t, "promtool", "prometheus") }

func TestPromtoolChecksConfigAndRules(t *testing.T) {
	pt := promtool(t)
	out := run(t, "prometheus", pt, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "3 rule files found") {
		t.Errorf("prometheus.yml should load alerts, recording rules and the generated SLO rules:\n%s", out)
	}
	run(t, "prometheus", pt, "check", "rules", "alerts.yml", "recording_rules.yml", "generated/slo_rules.yml")
}

// The alert unit tests (prometheus/tests/*.yml): CircuitBreakerOpen,
// HighWebhook429Rate, DependencyDown, the SLO burn rates,
// TenantIsolationViolation and more fire on synthetic series and stay silent
// on healthy ones.
func TestPromtoolRuleUnitTests(t *testing.T) {
	pt := promtool(t)
	tests, _ := filepath.Glob("prometheus/tests/*.yml")
	if len(tests) < 2 {
		t.Fatalf("rule unit tests missing: %v", tests)
	}
	args := []string{"test", "rules"}
	for _, f := range tests {
		args = append(args, strings.TrimPrefix(f, "prometheus/"))
	}
	run(t, "prometheus", pt, args...)
}

func TestSLORulesForOtherTargetsPassPromtool(t *testing.T) {
	pt := promtool(t)
	dir := t.TempDir()
	var files []string
	for i, p := range []slo.Params{
		{Target: 99.5, TrafficFloor: 0.5, Period: slo.DefaultPeriod},
		{Target: 99.9, TrafficFloor: 2, Period: 7 * 24 * 3600e9},
		{Target: 99, BudgetFraction: 0.05, TrafficFloor: 0, Period: 36 * 3600e9},
	} {
		b, err := slo.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("slo_%d.yml", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	run(t, dir, pt, append([]string{"check", "rules"}, files...)...)
}

// ---------------------------------------------------------------- rules

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T, path string) []rule {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func alerts(t *testing.T) map[string]rule {
	t.Helper()
	m := map[string]rule{}
	for _, r := range loadRules(t, "prometheus/alerts.yml") {
		if r.Alert == "" {
			t.Errorf("alerts.yml records %s: recording rules belong in recording_rules.yml", r.Record)
			continue
		}
		if _, dup := m[r.Alert]; dup {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		m[r.Alert] = r
	}
	return m
}

// Every alert the original system defined, by name.
var seedAlerts = []string{
	// its general alerts
	"HighHttp5xxRate", "HighWebhook429Rate", "HighPmsLatencyP95", "CircuitBreakerOpen", "DependencyDown",
	"OrchestratorHighErrorRateWarning", "OrchestratorHighErrorRateCritical", "OrchestratorHighLatencyP95",
	"OrchestratorSLODegradationWarning", "OrchestratorSLODegradationCritical",
	"OrchestratorSLOBurnRateWarning", "OrchestratorSLOBurnRateCritical",
	"OrchestratorSLOBudgetExhaustForecastWarning", "OrchestratorSLOBudgetExhaustForecastCritical",
	"PmsCacheHitRatioLowWarning", "PmsCacheHitRatioLowCritical",
	// its predictive PMS circuit-breaker alerts
	"PmsCircuitBreakerImminentOpenWarning", "PmsCircuitBreakerImminentOpenCritical",
	// its staging security blockers and performance alerts
	"TenantIsolationViolation", "MetadataInjectionAttempt", "ChannelSpoofingDetected", "StaleCacheHighUsage",
	"HighLatency", "ErrorRateHigh",
}

var comparison = regexp.MustCompile(`(==|!=|>=|<=|>|<)\s*(?:bool\s+)?([0-9][0-9.eE+-]*)`)

func TestAlertsCoverTheSeedsAndAreRoutable(t *testing.T) {
	all := alerts(t)
	for _, name := range seedAlerts {
		if _, ok := all[name]; !ok {
			t.Errorf("alert %s of the original system missing from alerts.yml", name)
		}
	}
	bloqueante := map[string]string{"TenantIsolationViolation": "1", "MetadataInjectionAttempt": "2", "ChannelSpoofingDetected": "3", "StaleCacheHighUsage": "4"}
	for name, r := range all {
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning (Alertmanager routes on it)", name, s)
		}
		if r.Labels["component"] == "" {
			t.Errorf("%s: no component label (Alertmanager routes on it)", name)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary and description annotations are required", name)
		}
		if want := bloqueante[name]; r.Labels["bloqueante"] != want {
			t.Errorf("%s: bloqueante %q, want %q", name, r.Labels["bloqueante"], want)
		}
		if strings.HasSuffix(name, "Warning") || strings.HasSuffix(name, "Critical") {
			family := strings.TrimSuffix(strings.TrimSuffix(name, "Warning"), "Critical")
			if r.Labels["family"] != family {
				t.Errorf("%s: family %q, want %q (the inhibit rule pairs Warning and Critical by it)", name, r.Labels["family"], family)
			}
			if want := map[bool]string{true: "warning", false: "critical"}[strings.HasSuffix(name, "Warning")]; r.Labels["severity"] != want {
				t.Errorf("%s: severity %q, want %q", name, r.Labels["severity"], want)
			}
		}
		// The threshold annotation must be a constant the expression compares with.
		th := r.Annotations["threshold"]
		if _, err := strconv.ParseFloat(th, 64); err != nil {
			t.Errorf("%s: threshold annotation %q is not a number", name, th)
			continue
		}
		found := false
		for _, m := range comparison.FindAllStringSubmatch(r.Expr, -1) {
			if m[2] == th {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: threshold %s is not a constant its expression compares with: %s", name, th, r.Expr)
		}
	}
}

// ---------------------------------------------------------------- dashboards

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
	Templ  struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Datasource  struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// The original system's dashboards with their stable uids (links and
// bookmarks use them; its security dashboard already had the uid
// security-blockers-staging).
var wantDashboards = map[string]string{
	"agente-overview":           "Agente - Overview",
	"alerts-overview":           "Alertas - Overview",
	"webhooks-rate-limit":       "Webhooks - Rate Limit",
	"readiness-overview":        "Readiness & Dependencies",
	"slo-health":                "SLO Health",
	"database-performance":      "Database & PMS Performance",
	"security-blockers-staging": "Security Blockers",
	"canary":                    "Canary",
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s is not valid JSON: %v", f, err)
			continue
		}
		if prev, dup := out[d.UID]; dup {
			t.Errorf("%s: uid %q already used by %q", f, d.UID, prev.Title)
		}
		out[d.UID] = d
	}
	return out
}

var alertRef = regexp.MustCompile(`Alert: ([A-Za-z0-9]+)`)

// alertsOverRawRange is an _over_time function of ALERTS on a range without
// a subquery step, e.g. count_over_time(ALERTS{...}[1h]).
var alertsOverRawRange = regexp.MustCompile(`_over_time\(\s*ALERTS(\{[^}]*\})?\s*\[[^:\]]*\]`)

// exprs returns every PromQL query of a dashboard, templating included.
func (d dashboard) exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templ.List {
		switch q := v.Query.(type) {
		case string:
			out = append(out, q)
		case map[string]any:
			if s, ok := q["query"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func TestDashboards(t *testing.T) {
	ds := loadDashboards(t)
	for uid, title := range wantDashboards {
		if d, ok := ds[uid]; !ok || d.Title != title {
			t.Errorf("dashboard uid %q (%q) missing or retitled", uid, title)
		}
	}
	all := alerts(t)
	referenced := 0
	for uid, d := range ds {
		for _, e := range d.exprs() {
			if _, err := metricnames.InExpr(e); err != nil {
				t.Errorf("%s: %v", uid, err)
			}
			if alertsOverRawRange.MatchString(e) {
				t.Errorf("%s: %s counts ALERTS samples over a plain range; their spacing is each rule group's interval, so use a subquery ([1h:15s])", uid, e)
			}
		}
		ids := map[int]bool{}
		for _, p := range d.Panels {
			where := fmt.Sprintf("%s panel %d %q", uid, p.ID, p.Title)
			if ids[p.ID] {
				t.Errorf("%s: duplicate panel id", where)
			}
			ids[p.ID] = true
			if p.Datasource.UID != "prometheus" {
				t.Errorf("%s: datasource uid %q, want the provisioned \"prometheus\"", where, p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			// Convention: "Alert: <name>" in a description means the panel
			// draws that alert's threshold as a step.
			for _, m := range alertRef.FindAllStringSubmatch(p.Description, -1) {
				referenced++
				a, ok := all[m[1]]
				if !ok {
					t.Errorf("%s: refers to alert %s, which alerts.yml lacks", where, m[1])
					continue
				}
				th, _ := strconv.ParseFloat(a.Annotations["threshold"], 64)
				var steps []float64
				for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
					if s.Value != nil {
						steps = append(steps, *s.Value)
					}
				}
				if !slices.Contains(steps, th) {
					t.Errorf("%s: alert %s fires at %v but the panel's threshold steps are %v", where, m[1], th, steps)
				}
			}
		}
	}
	if referenced < 20 {
		t.Errorf("only %d panel-to-alert threshold references; the convention is not being used", referenced)
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			Name, UID, Type, URL string
		} `yaml:"datasources"`
	}
	b, _ := os.ReadFile("grafana/provisioning/datasources/datasources.yml")
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range ds.Datasources {
		if d.UID == "prometheus" && d.Type == "prometheus" && d.URL == "http://prometheus:9090" {
			found = true
		}
	}
	if !found {
		t.Errorf("no Prometheus datasource with uid prometheus: %+v", ds)
	}
	var dash struct {
		Providers []struct {
			Folder  string `yaml:"folder"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, _ = os.ReadFile("grafana/provisioning/dashboards/dashboards.yml")
	if err := yaml.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Providers) != 1 || dash.Providers[0].Folder != "Agente Hotel" || dash.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard provider: %+v", dash)
	}
}

// ---------------------------------------------------------------- Alertmanager

func TestAlertmanagerConfigsPassAmtoolAndRoute(t *testing.T) {
	amtool := testservices.Tool(t, "amtool", "prometheus-alertmanager")
	envs := map[string]map[string]string{
		"nothing": nil,
		"slack":   {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XXXX"},
		"email":   {"ALERT_EMAIL_TO": "oncall@hotel.example", "SMTP_HOST": "smtp.hotel.example", "SMTP_USER": "am@hotel.example", "SMTP_PASSWORD": "pw"},
		"both": {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XXXX", "ALERT_EMAIL_TO": "oncall@hotel.example",
			"ALERT_EMAIL_FROM": "am@hotel.example", "SMTP_HOST": "smtp.hotel.example", "SMTP_PORT": "465"},
	}
	// alert labels -> receivers, in routing order
	routes := []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=TenantIsolationViolation", "severity=critical", "component=security", "bloqueante=1"}, "security-team,critical-alerts"},
		{[]string{"alertname=MetadataInjectionAttempt", "severity=warning", "component=security", "bloqueante=2"}, "security-team,warning-alerts"},
		{[]string{"alertname=StaleCacheHighUsage", "severity=warning", "component=availability", "bloqueante=4"}, "devops-team"},
		{[]string{"alertname=CircuitBreakerOpen", "severity=critical", "component=availability"}, "critical-alerts"},
		{[]string{"alertname=HighLatency", "severity=warning", "component=performance"}, "devops-team"},
		{[]string{"alertname=OrchestratorSLOBurnRateWarning", "severity=warning", "component=slo"}, "warning-alerts"},
		{[]string{"alertname=Watchdog", "severity=none"}, "null"},
	}
	dir := t.TempDir()
	for name, env := range envs {
		s, err := alertmanager.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := alertmanager.Render(s)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".yml")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, dir, amtool, "check-config", f)
		for _, r := range routes {
			out := run(t, dir, amtool, append([]string{"config", "routes", "test", "--config.file=" + f}, r.labels...)...)
			got := strings.TrimSpace(lastLine(out))
			if got != r.want {
				t.Errorf("%s: %v routed to %q, want %q", name, r.labels, got, r.want)
			}
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
