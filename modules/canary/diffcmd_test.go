package canary

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/judge"
)

func readReport(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "fail_reasons", "baseline", "canary", "limits"} {
		if _, ok := doc[k]; !ok {
			t.Fatalf("report lacks %q: %s", k, raw)
		}
	}
	if len(doc) != 5 {
		t.Fatalf("report has extra keys: %s", raw)
	}
	return doc
}

func TestCanaryDiffFromAdmin(t *testing.T) {
	name := "diff-admin"
	h := provision(t, twoArms(name, 50, 50))
	srv := adminServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	out := filepath.Join(t.TempDir(), ".playbook", "canary_diff_report.json")
	o := diffOptions{admin: addr, name: name, out: out}

	// No traffic yet: INCONCLUSIVE.
	v, err := o.run(t.Context())
	if err != nil || v.Status != judge.Inconclusive || exitCode(v.Status) != ExitInconclusive {
		t.Fatalf("%s %v", v.Status, err)
	}
	if doc := readReport(t, out); doc["status"] != "INCONCLUSIVE" {
		t.Fatalf("report %v", doc)
	}

	// A slower canary: FAIL, exit 1.
	fill(h.state, time.Now(), 200, 10*time.Millisecond, 60*time.Millisecond, 0)
	v, err = o.run(t.Context())
	if err != nil || v.Status != judge.Fail || exitCode(v.Status) != ExitFail {
		t.Fatalf("%s %v", v.Status, err)
	}
	doc := readReport(t, out)
	if doc["status"] != "FAIL" || len(doc["fail_reasons"].([]any)) != 1 || doc["canary"].(map[string]any)["requests"] != 200.0 {
		t.Fatalf("report %v", doc)
	}

	// Without --name, the only canary is chosen — unless there are several.
	o.name = ""
	if _, err := o.run(t.Context()); err != nil {
		t.Fatalf("sole canary: %v", err)
	}
	provision(t, twoArms("diff-admin-2", 50, 50))
	if _, err := o.run(t.Context()); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("two canaries, no name: %v", err)
	}

	// Unknown canary and unreachable admin API are source errors.
	o.name = "nope"
	if _, err := o.run(t.Context()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown canary: %v", err)
	}
	o.admin = "127.0.0.1:1"
	o.timeout = time.Second
	if _, err := o.run(t.Context()); err == nil {
		t.Fatal("unreachable admin API gave no error")
	}
}

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
	o := diffOptions{prometheus: prom.URL, name: "checkout", out: out, getenv: func(k string) string { return env[k] }}
	v, err := o.run(t.Context())
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
	if doc := readReport(t, out); doc["status"] != "FAIL" {
		t.Fatalf("report %v", doc)
	}

	// Limits from the environment apply.
	env["ERR_ABS_MIN"] = "0.1"
	if v, err := o.run(t.Context()); err != nil || v.Status != judge.Pass || v.Limits.ErrAbsMin != 0.1 {
		t.Fatalf("with ERR_ABS_MIN=0.1: %s %v %+v", v.Status, err, v.Limits)
	}

	// Source and flag errors.
	for name, o2 := range map[string]diffOptions{
		"bad range":    {prometheus: prom.URL, name: "checkout", baselineRange: "5 minutes", out: out},
		"no name":      {prometheus: prom.URL, out: out},
		"bad url":      {prometheus: "localhost:9090", name: "checkout", out: out},
		"unknown name": {prometheus: prom.URL, name: "other", out: out},
		"unreachable":  {prometheus: "http://127.0.0.1:1", name: "checkout", out: out, timeout: time.Second},
	} {
		if _, err := o2.run(t.Context()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// fill records n requests per arm at `at`: baseline at base latency, canary
// at canaryLat with canaryErrs of them failed.
func fill(s *canary.State, at time.Time, n int, base, canaryLat time.Duration, canaryErrs int) {
	routes := s.Routes()
	b, c := routes.ByOverride("baseline"), routes.ByOverride("canary")
	for i := 0; i < n; i++ {
		// A little spread so that ranks are not all tied.
		jitter := time.Duration(i%17) * 100 * time.Microsecond
		b.Record(at, base+jitter, false)
		c.Record(at, canaryLat+jitter, i < canaryErrs)
	}
}
