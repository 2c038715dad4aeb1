package metricnames

import (
	"reflect"
	"strings"
	"testing"
)

func TestInExpr(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`http_requests_total`, []string{"http_requests_total"}},
		{`sum by (endpoint) (rate(http_requests_total{status_code=~"5.."}[5m]))`, []string{"http_requests_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(pms_api_latency_seconds_bucket{endpoint="/api/availability"}[5m])))`, []string{"pms_api_latency_seconds_bucket"}},
		{`sum(rate(x_total[5m])) by (le, intent)`, []string{"x_total"}},
		{`sum without (instance) (up)`, []string{"up"}},
		{`max_over_time(pms_circuit_breaker_state[1m]) >= 1`, []string{"pms_circuit_breaker_state"}},
		// the original system's predictive breaker rules
		{`clamp_min((5 - pms_circuit_breaker_failure_streak) / clamp_min(pms_cb_failure_streak_rate, 0.000001) / 60, 0)`, []string{"pms_cb_failure_streak_rate", "pms_circuit_breaker_failure_streak"}},
		{`(pms_cb_failure_streak_fraction >= 0.6) * (pms_cb_failure_ratio_1m > 0.5)`, []string{"pms_cb_failure_ratio_1m", "pms_cb_failure_streak_fraction"}},
		// vector matching keywords and their label lists
		{`a >= 0.6 and on() b > 0.5 unless on(instance, job) c == 1`, []string{"a", "b", "c"}},
		{`a * on(instance) group_left(version, le) b_info`, []string{"a", "b_info"}},
		{`a / ignoring(code) group_right b`, []string{"a", "b"}},
		{`a > bool 1 or vector(0)`, []string{"a"}},
		{`readiness_up < 1 and (time() - readiness_last_check_timestamp) < 300`, []string{"readiness_last_check_timestamp", "readiness_up"}},
		// durations, offsets, @, numbers, Inf/NaN
		{`rate(a[1h30m:1m] offset 5m) @ start() + 1e-6 + 0x1F + Inf - NaN`, []string{"a"}},
		{`increase(x[30d]) / 0.01`, []string{"x"}},
		// strings with braces and keywords inside are not names
		{`label_replace(up, "dst", "$1 sum(by)", "src", "(.*)")`, []string{"up"}},
		{`count_values("version", build_info)`, []string{"build_info"}},
		{`topk(5, orchestrator_error_ratio_by_intent_5m)`, []string{"orchestrator_error_ratio_by_intent_5m"}},
		// selectors by name
		{`{__name__="db_pool_idle_connections", job="x"}`, []string{"db_pool_idle_connections"}},
		{`sum({__name__ = 'a_total'})`, []string{"a_total"}},
		// Grafana variables and template queries
		{`sum by (arm) (rate(canary_requests_total{name=~"$canary"}[$__rate_interval]))`, []string{"canary_requests_total"}},
		{`rate(x[${__interval}]) * $factor`, []string{"x"}},
		{`label_values(canary_requests_total, name)`, []string{"canary_requests_total"}},
		{`label_values(name)`, []string{}},
		{`query_result(topk(3, sum by (intent) (rate(orchestrator_messages_total[1h]))))`, []string{"orchestrator_messages_total"}},
		// Prometheus's own series
		{`count(ALERTS{alertstate="firing"}) or vector(0)`, []string{"ALERTS"}},
		// comments
		{"sum(a) # b\n+ c", []string{"a", "c"}},
		// case-insensitive keywords
		{`a AND b`, []string{"a", "b"}},
		{`SUM BY (x) (a)`, []string{"a"}},
	}
	for _, c := range cases {
		got, err := InExpr(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if len(got) == 0 && len(c.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.expr, got, c.want)
		}
	}
}

func TestInExprErrors(t *testing.T) {
	for _, expr := range []string{
		`{__name__=~"pms_.*"}`,
		`sum(rate(x[5m])`,
		`x{a="b}`,
		`x{a=}`,
		`rate(x[5m)`,
	} {
		if _, err := InExpr(expr); err == nil {
			t.Errorf("%s: no error", expr)
		} else if !strings.Contains(err.Error(), expr) {
			t.Errorf("%s: error %q does not quote the expression", expr, err)
		}
	}
}

// FuzzInExpr: any input gives names or an error, never a panic or a hang.
func FuzzInExpr(f *testing.F) {
	for _, s := range []string{`sum by (le) (rate(a_bucket{x="}"}[5m]))`, `label_values(a, b)`, `{__name__="x"}`, `$x ${y} "z`, `a and on() b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		_, _ = InExpr(expr)
	})
}
