package canary

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/canary/canarytest"
	"github.com/agentehotel/agente-caddy/internal/judge"
)

// fakePrometheus answers the documented instant queries (and only those) with
// the HTTP API's vector format.
func fakePrometheus(t *testing.T, answers map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.Method != http.MethodGet {
			http.Error(w, `{"status":"error","error":"not found"}`, 404)
			return
		}
		q := r.URL.Query().Get("query")
		res, ok := answers[q]
		if !ok {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":"unexpected query %q"}`, q)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[%s]}}`, res)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func promScalar(v float64) string {
	return fmt.Sprintf(`{"metric":{},"value":[1700000000.0,"%g"]}`, v)
}

func promBuckets(cum map[string]float64) string {
	var parts []string
	for le, v := range cum {
		parts = append(parts, fmt.Sprintf(`{"metric":{"le":%q},"value":[1700000000.0,"%g"]}`, le, v))
	}
	return strings.Join(parts, ",")
}

func TestCanaryDiffFromPrometheus(t *testing.T) {
	sel := func(arm string) string { return `{name="checkout",arm="` + arm + `"}` }
	q := func(metric, arm, r string) string {
		return fmt.Sprintf(`sum(increase(%s%s[%s]))`, metric, sel(arm), r)
	}
	qb := func(arm, r string) string {
		return fmt.Sprintf(`sum by (le) (increase(canary_request_duration_seconds_bucket%s[%s]))`, sel(arm), r)
	}
	answers := map[string]string{
		q("canary_requests_total", "baseline", "10m"): promScalar(1000.4),
		q("canary_errors_total", "baseline", "10m"):   promScalar(2),
		qb("baseline", "10m"): promBuckets(map[string]float64{
			"0.01": 100, "0.02": 900, "0.05": 990, "0.1": 1000, "+Inf": 1000,
		}),
		q("canary_requests_total", "canary", "5m"): promScalar(500),
		q("canary_errors_total", "canary", "5m"):   promScalar(30), // 6 %
		qb("canary", "5m"): promBuckets(map[string]float64{
			"0.01": 50, "0.02": 450, "0.05": 495, "0.1": 500, "+Inf": 500,
		}),
	}
	prom := fakePrometheus(t, answers)
	env := map[string]string{"BASELINE_RANGE": "10m"} // CANARY_RANGE defaults to 5m
	out := filepath.Join(t.TempDir(), "report.json")
	o := Diff{Prometheus: prom.URL, Name: "checkout", Out: out, Getenv: func(k string) string { return env[k] }}
	v, err := o.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != judge.Fail || len(v.FailReasons) != 1 || !strings.Contains(v.FailReasons[0], "error rate") {
		t.Fatalf("%s %v", v.Status, v.FailReasons)
	}
	if v.Baseline.Requests != 1000 || v.Canary.Requests != 500 || v.Canary.ErrorRate != 0.06 {
		t.Fatalf("numbers %+v %+v", v.Baseline, v.Canary)
	}
	// p95: rank 950 of 1000 falls in (0.02, 0.05] holding 90 → 0.02 + 0.03·50/90.
	if want := 0.02 + 0.03*50/90; v.Baseline.P95Seconds < want-1e-9 || v.Baseline.P95Seconds > want+1e-9 {
		t.Fatalf("baseline p95 %v, want %v", v.Baseline.P95Seconds, want)
	}
	if doc := canarytest.ReadReport(t, out); doc["status"] != "FAIL" {
		t.Fatalf("report %v", doc)
	}

	// Limits from the environment apply.
	env["ERR_ABS_MIN"] = "0.1"
	if v, err := o.Run(t.Context()); err != nil || v.Status != judge.Pass || v.Limits.ErrAbsMin != 0.1 {
		t.Fatalf("with ERR_ABS_MIN=0.1: %s %v %+v", v.Status, err, v.Limits)
	}

	// Source and flag errors.
	for name, o2 := range map[string]Diff{
		"bad range":    {Prometheus: prom.URL, Name: "checkout", BaselineRange: "5 minutes", Out: out},
		"no name":      {Prometheus: prom.URL, Out: out},
		"bad url":      {Prometheus: "localhost:9090", Name: "checkout", Out: out},
		"unknown name": {Prometheus: prom.URL, Name: "other", Out: out},
		"unreachable":  {Prometheus: "http://127.0.0.1:1", Name: "checkout", Out: out, Timeout: time.Second},
	} {
		if _, err := o2.Run(t.Context()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
