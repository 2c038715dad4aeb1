package canary

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// fill records n requests per arm at `at`: baseline at base latency, canary
// at canaryLat with canaryErrs of them failed.
func fill(s *state, at time.Time, n int, base, canaryLat time.Duration, canaryErrs int) {
	for i := 0; i < n; i++ {
		// A little spread so that ranks are not all tied.
		jitter := time.Duration(i%17) * 100 * time.Microsecond
		s.arms["baseline"].record(at, base+jitter, false)
		s.arms["canary"].record(at, canaryLat+jitter, i < canaryErrs)
	}
}

func TestJudgeLoopProgressesOnPass(t *testing.T) {
	h := twoArms(t.Name(), 90, 10)
	h.Steps = []int{1, 5, 25, 50, 100}
	h.Interval = 10_000_000_000 // 10s
	provision(t, h)
	s := h.state
	now := time.Now()

	s.tick(now) // no data: INCONCLUSIVE, canary stays at 10
	if w := s.view().Weights; w["canary"] != 10 {
		t.Fatalf("advanced without a verdict: %v", w)
	}
	if s.view().LastJudgedStatus != judge.Inconclusive {
		t.Fatalf("last judged %q", s.view().LastJudgedStatus)
	}

	fill(s, now, 100, 20*time.Millisecond, 20*time.Millisecond, 0)
	want := []int{25, 50, 100}
	for i, w := range want {
		now = now.Add(10 * time.Second)
		fill(s, now, 100, 20*time.Millisecond, 20*time.Millisecond, 0)
		s.tick(now)
		v := s.view()
		if v.Weights["canary"] != w || v.Weights["baseline"] != 100-w {
			t.Fatalf("step %d: weights %v, want canary %d", i, v.Weights, w)
		}
		if got := testutil.ToFloat64(weightGauge.WithLabelValues(t.Name(), "canary")); got != float64(w) {
			t.Fatalf("canary_weight gauge %v, want %d", got, w)
		}
	}
	if st := s.view().Status; st != statusPromoted {
		t.Fatalf("status %s after 100 %%", st)
	}
	if got := testutil.ToFloat64(verdictGauge.WithLabelValues(t.Name())); got != 1 {
		t.Fatalf("canary_verdict %v, want 1 (PASS)", got)
	}
	// A tick within half an interval of the last is skipped.
	last := s.view().LastJudgedAt
	s.tick(now.Add(4 * time.Second))
	if !s.view().LastJudgedAt.Equal(*last) {
		t.Fatal("judged twice within half an interval")
	}
}

func TestJudgeLoopRollsBackOnFail(t *testing.T) {
	h := twoArms(t.Name(), 50, 50)
	h.Steps = []int{75, 100}
	h.Interval = 1_000_000_000 // 1s
	provision(t, h)
	s := h.state
	now := time.Now()
	fill(s, now, 200, 20*time.Millisecond, 70*time.Millisecond, 0) // +50 ms
	before := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name()))
	s.tick(now)
	v := s.view()
	if v.Weights["canary"] != 0 || v.Weights["baseline"] != 100 || v.Status != statusRolledBack {
		t.Fatalf("after FAIL: weights %v status %s", v.Weights, v.Status)
	}
	if v.Verdict.Status != judge.Fail || v.AutoRollbacks != 1 {
		t.Fatalf("verdict %s, auto rollbacks %d", v.Verdict.Status, v.AutoRollbacks)
	}
	if d := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name())) - before; d != 1 {
		t.Fatalf("canary_rollbacks_total +%v", d)
	}
	if got := testutil.ToFloat64(verdictGauge.WithLabelValues(t.Name())); got != 2 {
		t.Fatalf("canary_verdict %v, want 2 (FAIL)", got)
	}
	// Still FAIL on the same window, but nothing more to roll back.
	s.tick(now.Add(time.Second))
	if st := s.view().LastJudgedStatus; st != judge.Fail {
		t.Fatalf("second round: %s", st)
	}
	if d := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name())) - before; d != 1 {
		t.Fatalf("rolled back twice: +%v", d)
	}
	// Resume restarts at the first step with fresh windows.
	if err := s.resume(); err != nil {
		t.Fatal(err)
	}
	v = s.view()
	if v.Weights["canary"] != 75 || v.Status != statusRunning || v.Arms["canary"].Requests != 0 {
		t.Fatalf("after resume: weights %v status %s canary requests %d", v.Weights, v.Status, v.Arms["canary"].Requests)
	}
}

func TestJudgeLoopRespectsAutoRollbackOffAndPause(t *testing.T) {
	off := false
	h := twoArms(t.Name(), 50, 50)
	h.AutoRollback = &off
	provision(t, h)
	now := time.Now()
	fill(h.state, now, 200, 20*time.Millisecond, 20*time.Millisecond, 40) // 20 % errors
	h.state.tick(now)
	if v := h.state.view(); v.Verdict.Status != judge.Fail || v.Weights["canary"] != 50 {
		t.Fatalf("auto_rollback off: %s %v", v.Verdict.Status, v.Weights)
	}

	p := twoArms(t.Name()+"-paused", 90, 10)
	p.Steps = []int{50, 100}
	provision(t, p)
	p.state.pause()
	fill(p.state, now, 100, 20*time.Millisecond, 20*time.Millisecond, 0)
	p.state.tick(now)
	if v := p.state.view(); v.Weights["canary"] != 10 || v.Status != statusPaused || v.Verdict.Status != judge.Pass {
		t.Fatalf("paused: %v %s %s", v.Weights, v.Status, v.Verdict.Status)
	}
}

func TestCanaryPercentSharesTheRest(t *testing.T) {
	h := &Handler{Name: t.Name(), Arms: []Arm{{Name: "baseline", Weight: 60}, {Name: "other", Weight: 30}, {Name: "canary", Weight: 10}}}
	provision(t, h)
	h.state.mu.Lock()
	err := h.state.setCanaryPercentLocked(25)
	w := h.state.weights
	h.state.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// 75 shared 60:30 → 50 and 25.
	if w["canary"] != 25 || w["baseline"] != 50 || w["other"] != 25 {
		t.Fatalf("weights %v", w)
	}
}

// Requests, admin writes, judge rounds and a reload at the same time (run
// with -race): every request is still measured exactly once.
func TestConcurrentTrafficAndControl(t *testing.T) {
	h := twoArms(t.Name(), 90, 10)
	h.Steps = []int{20, 50}
	h.Interval = 10_000_000 // 10ms
	provision(t, h)
	measured := func() float64 {
		return testutil.ToFloat64(requestsTotal.WithLabelValues(t.Name(), "baseline")) +
			testutil.ToFloat64(requestsTotal.WithLabelValues(t.Name(), "canary"))
	}
	before := measured()
	var served atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				r := request("192.0.2.1:1", http.Header{"X-Guest-Phone": {fmt.Sprint(i)}})
				if err := h.ServeHTTP(httptest.NewRecorder(), r, terminal); err != nil {
					t.Error(err)
					return
				}
				served.Add(1)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		switch i % 5 {
		case 0:
			_ = h.state.setWeights(map[string]int{"baseline": 100 - i%100, "canary": i % 100})
		case 1:
			h.state.tick(time.Now().Add(time.Duration(i) * time.Second))
		case 2:
			_ = h.state.view()
		case 3:
			_ = h.state.rollback()
		case 4:
			again := provision(t, twoArms(t.Name(), 90, 10))
			_ = again.Cleanup()
		}
	}
	close(done)
	wg.Wait()
	if d := measured() - before; d != float64(served.Load()) {
		t.Fatalf("canary_requests_total +%v for %d requests served", d, served.Load())
	}
}
