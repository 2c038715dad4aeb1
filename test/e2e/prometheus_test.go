package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// prometheusConfig is the shipped prometheus.yml with its rule files, scraping
// the instance on loopback every second instead of the compose services.
func prometheusConfig(t *testing.T, target string) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(), "observability", "prometheus")
	b, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var rules []any
	for _, r := range cfg["rule_files"].([]any) {
		rules = append(rules, filepath.Join(dir, r.(string)))
	}
	cfg["rule_files"] = rules
	cfg["global"].(map[string]any)["scrape_interval"] = "1s"
	cfg["global"].(map[string]any)["evaluation_interval"] = "1s"
	delete(cfg, "alerting")
	jobs := cfg["scrape_configs"].([]any)
	job := jobs[0].(map[string]any)
	if job["job_name"] != "agente-caddy" {
		t.Fatalf("the first scrape job of prometheus.yml is %v, want agente-caddy", job["job_name"])
	}
	job["static_configs"] = []any{map[string]any{"targets": []string{target}}}
	cfg["scrape_configs"] = []any{job}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type promResponse struct {
	Status string `json:"status"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		} `json:"result"`
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name   string `json:"name"`
				Health string `json:"health"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

// promGet asks Prometheus's HTTP API; false while it is not up yet or on error.
func promGet(t *testing.T, base, path string) (promResponse, bool) {
	t.Helper()
	var r promResponse
	resp, err := http.Get(base + path)
	if err != nil {
		return r, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" {
		return r, false
	}
	return r, true
}

// A real Prometheus (Debian's package) loads the shipped configuration and
// rules, scrapes the running binary on loopback and answers PromQL about our
// metrics.
func TestPrometheusScrapesTheBinary(t *testing.T) {
	bin := testservices.Tool(t, "prometheus", "prometheus")
	in := Start(t, Options{})
	walkWebhookChain(t, in)

	port := testservices.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin,
		"--config.file="+prometheusConfig(t, fmt.Sprintf("127.0.0.1:%d", in.SitePort)),
		"--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address="+fmt.Sprintf("127.0.0.1:%d", port),
		"--log.level=warn")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", logs.String())
		}
	})

	query := "/api/v1/query?query=" + url.QueryEscape(`sum(http_requests_total{job="agente-caddy",endpoint="/webhooks/whatsapp"})`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, ok := promGet(t, base, query); ok && len(r.Data.Result) == 1 {
			if v, _ := r.Data.Result[0].Value[1].(string); v != "" && v != "0" {
				break
			}
		}
		if time.Now().After(deadline) {
			r, _ := promGet(t, base, "/api/v1/query?query=up")
			t.Fatalf("Prometheus has no http_requests_total from the binary after 30s (up: %+v)", r.Data.Result)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r, ok := promGet(t, base, "/api/v1/query?query="+url.QueryEscape(`up{job="agente-caddy"}`)); !ok || len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "1" {
		t.Errorf("up{job=\"agente-caddy\"}: %+v", r.Data.Result)
	}

	// Every shipped rule group is loaded.
	r, ok := promGet(t, base, "/api/v1/rules")
	if !ok {
		t.Fatal("GET /api/v1/rules failed")
	}
	loaded := map[string]int{}
	for _, g := range r.Data.Groups {
		loaded[g.Name] = len(g.Rules)
		for _, rule := range g.Rules {
			if rule.Health == "err" {
				t.Errorf("rule %s of group %s evaluates with an error", rule.Name, g.Name)
			}
		}
	}
	for _, g := range []string{"http", "readiness", "pms", "orchestrator", "orchestrator_slo", "orchestrator_slo_period", "security_blockers", "pms_cache", "pms_circuit_breaker_predictive", "canary"} {
		if loaded[g] == 0 {
			t.Errorf("rule group %s not loaded (loaded: %v)", g, loaded)
		}
	}
}
