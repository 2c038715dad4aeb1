package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// canaryUpstream is a test upstream on loopback that sleeps delay and answers
// 500 to every failEvery-th request (0: never).
func canaryUpstream(t *testing.T, name string, delay time.Duration, failEvery int64) string {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		if i := n.Add(1); failEvery > 0 && i%failEvery == 0 {
			http.Error(w, name+" failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// canaryView is the part of GET /canary/<name> the test reads.
type canaryView struct {
	Status  string         `json:"status"`
	Weights map[string]int `json:"weights"`
	Arms    map[string]struct {
		Requests uint64 `json:"requests"`
		Errors   uint64 `json:"errors"`
	} `json:"arms"`
	Verdict struct {
		Status      string   `json:"status"`
		FailReasons []string `json:"fail_reasons"`
	} `json:"verdict"`
	AutoRollbacks    int        `json:"auto_rollbacks"`
	LastJudgedAt     *time.Time `json:"last_judged_at"`
	LastJudgedStatus string     `json:"last_judged_status"`
}

func getCanary(t *testing.T, in *Instance, name string) canaryView {
	t.Helper()
	status, _, body := Do(t, http.MethodGet, in.AdminURL("/canary/"+name), nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /canary/%s: %d %s", name, status, body)
	}
	var v canaryView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET /canary/%s: %v: %s", name, err, body)
	}
	return v
}

// send makes n GET requests to path with `workers` in parallel and returns
// the status counts.
func send(t *testing.T, in *Instance, path string, n, workers int) map[int]int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	codes := map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				code := -1
				if resp, err := client.Get(in.URL(path)); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return codes
}

// waitCanary polls GET /canary/<name> until ok or the deadline.
func waitCanary(t *testing.T, in *Instance, name string, within time.Duration, ok func(canaryView) bool) canaryView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := getCanary(t, in, name)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("canary %s: condition not met within %v; last view %+v", name, within, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// canaryDiff runs `agente-caddy canary-diff` against the instance and returns
// the exit code and the report.
func canaryDiff(t *testing.T, in *Instance, name string) (int, map[string]any) {
	t.Helper()
	out := filepath.Join(t.TempDir(), ".playbook", "canary_diff_report.json")
	output, code := Run(t, nil, "canary-diff", "--admin", fmt.Sprintf("127.0.0.1:%d", in.AdminPort), "--name", name, "--out", out)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("canary-diff %s (exit %d) wrote no report: %v\n%s", name, code, err, output)
	}
	var report map[string]any
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("report: %v: %s", err, raw)
	}
	t.Logf("canary-diff %s: exit %d, %s", name, code, raw)
	return code, report
}

// TestCanaryEndToEnd runs the canary scenarios against the real binary with
// test upstreams on loopback: +50 ms → FAIL and auto-rollback; 5 % 5xx →
// FAIL; identical → PASS; 20 requests → INCONCLUSIVE; then a config reload in
// the middle of traffic keeps counts and weights.
func TestCanaryEndToEnd(t *testing.T) {
	const base = 20 * time.Millisecond // sleep-dominated latencies: scheduling noise is small beside them
	env := map[string]string{
		"BASELINE_UPSTREAM": canaryUpstream(t, "baseline", base, 0),
		"SLOW_UPSTREAM":     canaryUpstream(t, "slow", base+50*time.Millisecond, 0),
		"FLAKY_UPSTREAM":    canaryUpstream(t, "flaky", base, 20),
		"TWIN_UPSTREAM":     canaryUpstream(t, "twin", base, 0),
	}
	const config = "test/e2e/testdata/canary.Caddyfile"
	in := Start(t, Options{Config: config, Env: env, ReadyPath: "/ready"})

	t.Run("slower canary fails and is rolled back", func(t *testing.T) {
		codes := send(t, in, "/latency/x", 400, 16)
		if codes[200] != 400 {
			t.Fatalf("statuses %v", codes)
		}
		v := waitCanary(t, in, "e2e-latency", 10*time.Second, func(v canaryView) bool { return v.Status == "rolled_back" })
		if v.Weights["canary"] != 0 || v.Weights["baseline"] != 100 || v.AutoRollbacks != 1 || v.Verdict.Status != "FAIL" {
			t.Fatalf("after rollback: %+v", v)
		}
		if !strings.Contains(strings.Join(v.Verdict.FailReasons, " "), "p95 latency") {
			t.Fatalf("fail reasons %v", v.Verdict.FailReasons)
		}
		// After the rollback every request goes to the baseline.
		before := v.Arms["canary"].Requests
		send(t, in, "/latency/x", 50, 8)
		if got := getCanary(t, in, "e2e-latency").Arms["canary"].Requests; got != before {
			t.Fatalf("canary still receives traffic after rollback: %d → %d", before, got)
		}
		m := scrape(t, in.AdminURL("/metrics"))
		for _, want := range []struct {
			series string
			value  float64
		}{
			{`canary_rollbacks_total{name="e2e-latency"}`, 1},
			{`canary_weight{arm="canary",name="e2e-latency"}`, 0},
			{`canary_verdict{name="e2e-latency"}`, 2},
		} {
			if v, ok := m.value(want.series); !ok || v != want.value {
				t.Errorf("/metrics lacks %s %v", want.series, want.value)
			}
		}
		code, report := canaryDiff(t, in, "e2e-latency")
		if code != 1 || report["status"] != "FAIL" {
			t.Fatalf("canary-diff: exit %d, report %v", code, report)
		}
	})

	t.Run("canary with 5% errors fails", func(t *testing.T) {
		send(t, in, "/errors/x", 600, 16)
		v := waitCanary(t, in, "e2e-errors", 10*time.Second, func(v canaryView) bool { return v.Status == "rolled_back" })
		if !strings.Contains(strings.Join(v.Verdict.FailReasons, " "), "error rate") || v.Arms["canary"].Errors == 0 || v.Arms["baseline"].Errors != 0 {
			t.Fatalf("after rollback: %+v", v)
		}
		code, report := canaryDiff(t, in, "e2e-errors")
		if code != 1 || report["status"] != "FAIL" {
			t.Fatalf("canary-diff: exit %d, report %v", code, report)
		}
	})

	t.Run("identical canary passes", func(t *testing.T) {
		send(t, in, "/same/x", 400, 16)
		code, report := canaryDiff(t, in, "e2e-same")
		if code != 0 || report["status"] != "PASS" {
			t.Fatalf("canary-diff: exit %d, report %v", code, report)
		}
		c := report["canary"].(map[string]any)
		if c["requests"].(float64) < 100 || c["error_rate"].(float64) != 0 {
			t.Fatalf("canary numbers %v", c)
		}
	})

	t.Run("20 requests are inconclusive", func(t *testing.T) {
		send(t, in, "/few/x", 20, 4)
		// The judge loop, not only the view, finds nothing to act on.
		sent := time.Now()
		v := waitCanary(t, in, "e2e-few", 10*time.Second, func(v canaryView) bool {
			return v.LastJudgedAt != nil && v.LastJudgedAt.After(sent)
		})
		if v.LastJudgedStatus != "INCONCLUSIVE" || v.Verdict.Status != "INCONCLUSIVE" || v.Weights["canary"] != 50 || v.Status != "running" {
			t.Fatalf("%+v", v)
		}
		code, report := canaryDiff(t, in, "e2e-few")
		if code != 2 || report["status"] != "INCONCLUSIVE" {
			t.Fatalf("canary-diff: exit %d, report %v", code, report)
		}
	})

	t.Run("reload keeps counts and weights", func(t *testing.T) {
		status, _, body := Do(t, http.MethodPost, in.AdminURL("/canary/e2e-same/weights"), []byte(`{"baseline":70,"canary":30}`), map[string]string{"Content-Type": "application/json"})
		if status != 200 {
			t.Fatalf("POST weights: %d %s", status, body)
		}
		before := getCanary(t, in, "e2e-same")

		// Reload while requests are in flight; the new config differs only
		// in what /ready answers, so we can tell it is running.
		src, err := os.ReadFile(filepath.Join(RepoRoot(), config))
		if err != nil {
			t.Fatal(err)
		}
		reloaded := []byte(strings.Replace(string(src), `respond "ok"`, `respond "reloaded"`, 1))
		done := make(chan map[int]int)
		go func() { done <- send(t, in, "/same/x", 200, 8) }()
		time.Sleep(100 * time.Millisecond)
		in.Reload(reloaded)
		codes := <-done
		if codes[200] != 200 {
			t.Fatalf("statuses across the reload %v", codes)
		}
		if _, _, b := Do(t, http.MethodGet, in.URL("/ready"), nil, nil); b != "reloaded" {
			t.Fatalf("/ready answers %q: the reload did not happen", b)
		}

		after := getCanary(t, in, "e2e-same")
		total := func(v canaryView) uint64 { return v.Arms["baseline"].Requests + v.Arms["canary"].Requests }
		if total(after) != total(before)+200 {
			t.Fatalf("requests: %d before, %d after 200 more across a reload", total(before), total(after))
		}
		if after.Weights["baseline"] != 70 || after.Weights["canary"] != 30 {
			t.Fatalf("runtime weights lost on reload: %v", after.Weights)
		}
		// The rolled-back canary stays rolled back.
		if v := getCanary(t, in, "e2e-latency"); v.Weights["canary"] != 0 || v.Status != "rolled_back" {
			t.Fatalf("e2e-latency after reload: %+v", v)
		}
		// Prometheus counters carried over too.
		m := scrape(t, in.AdminURL("/metrics"))
		b, _ := m.value(`canary_requests_total{arm="baseline",name="e2e-same"}`)
		c, _ := m.value(`canary_requests_total{arm="canary",name="e2e-same"}`)
		if uint64(b+c) != total(after) {
			t.Fatalf("canary_requests_total for e2e-same is %v, window holds %d", b+c, total(after))
		}
	})
}
