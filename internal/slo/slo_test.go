package slo

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func parse(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("rendered rules are not YAML: %v\n%s", err, b)
	}
	exprs := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if _, dup := exprs[r.Record]; dup {
				t.Errorf("%s recorded twice", r.Record)
			}
			exprs[r.Record] = r.Expr
		}
	}
	return exprs
}

func TestRenderNamesEverySeriesTheSeedLists(t *testing.T) {
	b, err := Render(Default())
	if err != nil {
		t.Fatal(err)
	}
	exprs := parse(t, b)
	for _, name := range []string{
		"orchestrator_slo_target", "orchestrator_error_budget_fraction", "orchestrator_message_rate_all",
		"orchestrator_burn_rate_fast", "orchestrator_burn_rate_slow", "orchestrator_burn_rate_fast2", "orchestrator_burn_rate_slow2",
		"orchestrator_error_budget_used_ratio_30m", "orchestrator_error_budget_remaining_ratio_30m",
		"orchestrator_error_budget_hours_to_exhaust_fast", "orchestrator_error_budget_hours_to_exhaust_slow",
		"orchestrator_slo_traffic_floor",
	} {
		if exprs[name] == "" {
			t.Errorf("no rule records %s", name)
		}
	}
	if got := exprs["orchestrator_message_rate_all"]; got != "sum(rate(orchestrator_messages_total[5m]))" {
		t.Errorf("orchestrator_message_rate_all = %q, want the original system's sum(rate(orchestrator_messages_total[5m]))", got)
	}
}

func TestRenderSubstitutesTargetBudgetAndFloor(t *testing.T) {
	cases := []struct {
		name              string
		p                 Params
		budget, target    string
		floor, periodText string
	}{
		{"seed default", Default(), "0.01", "0.99", "0.5", "[30d]"},
		{"99.5", Params{Target: 99.5, TrafficFloor: 0.5, Period: DefaultPeriod}, "0.005", "0.995", "0.5", "[30d]"},
		{"99.9 has no float noise", Params{Target: 99.9, TrafficFloor: 2, Period: 7 * 24 * time.Hour}, "0.001", "0.999", "2", "[7d]"},
		{"override wins over target", Params{Target: 99.5, BudgetFraction: 0.02, TrafficFloor: 0.1, Period: 720 * time.Hour}, "0.02", "0.98", "0.1", "[30d]"},
		{"period in hours", Params{Target: 95, TrafficFloor: 0, Period: 36 * time.Hour}, "0.05", "0.95", "0", "[36h]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Render(c.p)
			if err != nil {
				t.Fatal(err)
			}
			exprs := parse(t, b)
			if got, want := exprs["orchestrator_error_budget_fraction"], "vector("+c.budget+")"; got != want {
				t.Errorf("budget: %q, want %q", got, want)
			}
			if got, want := exprs["orchestrator_slo_target"], "vector("+c.target+")"; got != want {
				t.Errorf("target: %q, want %q", got, want)
			}
			if got, want := exprs["orchestrator_slo_traffic_floor"], "vector("+c.floor+")"; got != want {
				t.Errorf("floor: %q, want %q", got, want)
			}
			for _, burn := range []string{"fast", "slow", "fast2", "slow2"} {
				if !strings.HasSuffix(exprs["orchestrator_burn_rate_"+burn], " / "+c.budget) {
					t.Errorf("burn rate %s does not divide by the budget %s: %q", burn, c.budget, exprs["orchestrator_burn_rate_"+burn])
				}
			}
			if !strings.Contains(exprs["orchestrator_error_ratio_period"], c.periodText) {
				t.Errorf("period ratio does not use %s: %q", c.periodText, exprs["orchestrator_error_ratio_period"])
			}
		})
	}
}

func TestBurnWindowsAreTheMultiwindowPairs(t *testing.T) {
	b, _ := Render(Default())
	exprs := parse(t, b)
	for name, window := range map[string]string{"fast": "30m", "slow": "6h", "fast2": "5m", "slow2": "1h"} {
		if got := exprs["orchestrator_burn_rate_"+name]; !strings.HasPrefix(got, "orchestrator_error_ratio_"+window+" ") {
			t.Errorf("burn rate %s = %q, want the %s error ratio", name, got, window)
		}
		if got := exprs["orchestrator_error_ratio_"+window]; !strings.Contains(got, "["+window+"]") {
			t.Errorf("error ratio %s = %q", window, got)
		}
	}
}

func TestFromEnv(t *testing.T) {
	p, err := FromEnv(env(nil))
	if err != nil || p != Default() {
		t.Fatalf("empty env: %+v, %v; want the defaults", p, err)
	}
	p, err = FromEnv(env(map[string]string{"SLO_TARGET": "99.5", "SLO_TRAFFIC_FLOOR": "1.5", "SLO_PERIOD": "7d"}))
	if err != nil || p.Target != 99.5 || p.TrafficFloor != 1.5 || p.Period != 7*24*time.Hour || p.Budget() != 0.005 {
		t.Fatalf("got %+v (budget %v), %v", p, p.Budget(), err)
	}
	p, err = FromEnv(env(map[string]string{"SLO_TARGET": "99.5", "ERROR_BUDGET_FRACTION": "0.02"}))
	if err != nil || p.Budget() != 0.02 {
		t.Fatalf("override: budget %v, %v", p.Budget(), err)
	}
	for k, v := range map[string]string{
		"SLO_TARGET":            "100",
		"ERROR_BUDGET_FRACTION": "1.5",
		"SLO_TRAFFIC_FLOOR":     "-1",
		"SLO_PERIOD":            "soon",
	} {
		if _, err := FromEnv(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming %s", k, v, err, k)
		}
	}
	if _, err := FromEnv(env(map[string]string{"SLO_TARGET": "ninety"})); err == nil || !strings.Contains(err.Error(), "SLO_TARGET") {
		t.Errorf("non-number target: %v", err)
	}
	if _, err := Render(Params{Target: 0, Period: DefaultPeriod}); err == nil {
		t.Error("Render accepted a zero target")
	}
}

// The committed file is what Prometheus loads when nobody renders: it must be
// exactly the renderer's output for the defaults, or the two would drift.
func TestCommittedDefaultRulesAreRendered(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "observability", "prometheus", "generated", "slo_rules.yml")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Render(Default())
	if string(committed) != string(want) {
		t.Fatalf("%s is not the renderer's output for the defaults; run `make slo-rules-update`", path)
	}
}
