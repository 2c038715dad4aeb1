package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

func TestSLORulesCommand(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join(RepoRoot(), "observability/prometheus/generated/slo_rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out, code := Run(t, nil, "slo-rules")
	if code != 0 || out != string(committed) {
		t.Fatalf("slo-rules with no settings (exit %d) is not the committed default", code)
	}
	out, code = Run(t, nil, "slo-rules", "--target", "99.5")
	if code != 0 || !strings.Contains(out, "expr: vector(0.005)") || !strings.Contains(out, "orchestrator_error_ratio_5m / 0.005") {
		t.Fatalf("--target 99.5 (exit %d):\n%s", code, out)
	}
	out, _ = Run(t, map[string]string{"SLO_TARGET": "99.9", "SLO_TRAFFIC_FLOOR": "2"}, "slo-rules")
	if !strings.Contains(out, "vector(0.001)") || !strings.Contains(out, "vector(2)") {
		t.Errorf("SLO_TARGET=99.9 SLO_TRAFFIC_FLOOR=2:\n%s", out)
	}
	out, _ = Run(t, map[string]string{"SLO_TARGET": "99.9"}, "slo-rules", "--target", "95")
	if !strings.Contains(out, "vector(0.05)") {
		t.Errorf("the flag does not override SLO_TARGET:\n%s", out)
	}
	out, _ = Run(t, map[string]string{"SLO_TARGET": "99.5", "ERROR_BUDGET_FRACTION": "0.02"}, "slo-rules")
	if !strings.Contains(out, "orchestrator_error_budget_fraction\n        expr: vector(0.02)") {
		t.Errorf("ERROR_BUDGET_FRACTION does not override the target:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "slo_rules.yml")
	if out, code := Run(t, nil, "slo-rules", "--target", "99.5", "--out", file); code != 0 {
		t.Fatalf("--out: exit %d %s", code, out)
	}
	written, _ := os.ReadFile(file)
	stdout, _ := Run(t, nil, "slo-rules", "--target", "99.5")
	if string(written) != stdout {
		t.Error("--out wrote something else than stdout")
	}
	if out, code := Run(t, nil, "slo-rules", "--target", "100"); code == 0 || !strings.Contains(out, "SLO_TARGET") {
		t.Errorf("--target 100: exit %d %s", code, out)
	}
}

func TestAlertmanagerConfigCommand(t *testing.T) {
	out, code := Run(t, nil, "alertmanager-config")
	if code != 0 || !strings.Contains(out, `receiver: "null"`) || strings.Contains(out, "slack_configs") {
		t.Fatalf("no channels (exit %d):\n%s", code, out)
	}
	out, code = Run(t, map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/X", "ALERT_EMAIL_TO": "oncall@hotel.example"}, "alertmanager-config")
	if code != 0 || !strings.Contains(out, "slack_configs") || strings.Contains(out, "email_configs") || !strings.Contains(out, "ALERT_EMAIL_TO is set but SMTP_HOST is not") {
		t.Fatalf("slack, half email (exit %d):\n%s", code, out)
	}
	if out, code := Run(t, map[string]string{"SMTP_PORT": "smtp"}, "alertmanager-config"); code == 0 || !strings.Contains(out, "SMTP_PORT") {
		t.Errorf("bad SMTP_PORT: exit %d %s", code, out)
	}
}

func TestSyntheticHealthCheckAndHealthcheckCommands(t *testing.T) {
	in := Start(t, Options{})
	base := fmt.Sprintf("http://127.0.0.1:%d", in.SitePort)
	out, code := Run(t, map[string]string{"HEALTH_CHECK_URL": base}, "synthetic-health-check")
	if code != 0 || !strings.Contains(out, base+": OK") || strings.Count(out, " ok ") != 3 {
		t.Errorf("healthy instance: exit %d\n%s", code, out)
	}
	if out, code := Run(t, nil, "healthcheck", "--url", base+"/health/live"); code != 0 {
		t.Errorf("healthcheck of a live instance: exit %d %s", code, out)
	}

	// Redis unreachable: alive but not ready.
	degraded := Start(t, Options{Env: map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}})
	out, code = Run(t, nil, "synthetic-health-check", "--url", fmt.Sprintf("http://127.0.0.1:%d", degraded.SitePort), "--max-retries", "1")
	if code != 1 || !strings.Contains(out, "DEGRADED") {
		t.Errorf("instance without Redis: exit %d, want 1 (DEGRADED)\n%s", code, out)
	}

	closed := fmt.Sprintf("http://127.0.0.1:%d", testservices.FreePort(t))
	out, code = Run(t, map[string]string{"HEALTH_CHECK_URL": closed, "MAX_RETRIES": "1", "TIMEOUT": "1"}, "synthetic-health-check")
	if code != 2 || !strings.Contains(out, "DOWN") {
		t.Errorf("nothing listening: exit %d, want 2 (DOWN)\n%s", code, out)
	}
	if out, code := Run(t, nil, "healthcheck", "--url", closed+"/health/live", "--timeout", "1s"); code != 1 {
		t.Errorf("healthcheck with nothing listening: exit %d, want 1\n%s", code, out)
	}
	if out, code := Run(t, map[string]string{"HEALTH_CHECK_URL": "not a url"}, "synthetic-health-check"); code != 3 {
		t.Errorf("bad URL: exit %d, want 3\n%s", code, out)
	}
}
