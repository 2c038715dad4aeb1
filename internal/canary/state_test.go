package canary

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// twoArms is the config of a canary with baseline/canary weights, as a
// handler with no other settings gives it, but with an interval of an hour:
// tests drive the judge themselves.
func twoArms(baseline, canary int) Config {
	return withArms(Arm{Name: "baseline", Weight: baseline, Upstream: "127.0.0.1:9001"},
		Arm{Name: "canary", Weight: canary, Upstream: "127.0.0.1:9002"})
}

// withArms is the config of a canary with these arms, as a handler with no
// other settings gives it, but with an interval of an hour.
func withArms(arms ...Arm) Config {
	limits, err := LimitOverrides{}.Limits(nil)
	if err != nil {
		panic(err)
	}
	return Config{Arms: arms, Limits: limits, AutoRollback: true, Window: DefaultWindow, Interval: time.Hour}
}

// newState is the state of the canary name with cfg applied.
func newState(t testing.TB, name string, cfg Config) *State {
	t.Helper()
	s := NewState(name, zap.NewNop())
	if err := s.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

// fill records n requests per arm at `at`: baseline at base latency, canary
// at canaryLat with canaryErrs of them failed.
func fill(s *State, at time.Time, n int, base, canaryLat time.Duration, canaryErrs int) {
	for i := 0; i < n; i++ {
		// A little spread so that ranks are not all tied.
		jitter := time.Duration(i%17) * 100 * time.Microsecond
		s.arms["baseline"].record(at, base+jitter, false)
		s.arms["canary"].record(at, canaryLat+jitter, i < canaryErrs)
	}
}

func TestJudgeLoopProgressesOnPass(t *testing.T) {
	cfg := twoArms(90, 10)
	cfg.Steps = []int{1, 5, 25, 50, 100}
	cfg.Interval = 10 * time.Second
	s := newState(t, t.Name(), cfg)
	now := time.Now()

	s.Tick(now) // no data: INCONCLUSIVE, canary stays at 10
	if w := s.View().Weights; w["canary"] != 10 {
		t.Fatalf("advanced without a verdict: %v", w)
	}
	if s.View().LastJudgedStatus != judge.Inconclusive {
		t.Fatalf("last judged %q", s.View().LastJudgedStatus)
	}

	fill(s, now, 100, 20*time.Millisecond, 20*time.Millisecond, 0)
	want := []int{25, 50, 100}
	for i, w := range want {
		now = now.Add(10 * time.Second)
		fill(s, now, 100, 20*time.Millisecond, 20*time.Millisecond, 0)
		s.Tick(now)
		v := s.View()
		if v.Weights["canary"] != w || v.Weights["baseline"] != 100-w {
			t.Fatalf("step %d: weights %v, want canary %d", i, v.Weights, w)
		}
		if got := testutil.ToFloat64(weightGauge.WithLabelValues(t.Name(), "canary")); got != float64(w) {
			t.Fatalf("canary_weight gauge %v, want %d", got, w)
		}
	}
	if st := s.View().Status; st != statusPromoted {
		t.Fatalf("status %s after 100 %%", st)
	}
	if got := testutil.ToFloat64(verdictGauge.WithLabelValues(t.Name())); got != 1 {
		t.Fatalf("canary_verdict %v, want 1 (PASS)", got)
	}
	// A tick within half an interval of the last is skipped.
	last := s.View().LastJudgedAt
	s.Tick(now.Add(4 * time.Second))
	if !s.View().LastJudgedAt.Equal(*last) {
		t.Fatal("judged twice within half an interval")
	}
}

func TestJudgeLoopRollsBackOnFail(t *testing.T) {
	cfg := twoArms(50, 50)
	cfg.Steps = []int{75, 100}
	cfg.Interval = time.Second
	s := newState(t, t.Name(), cfg)
	now := time.Now()
	fill(s, now, 200, 20*time.Millisecond, 70*time.Millisecond, 0) // +50 ms
	before := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name()))
	s.Tick(now)
	v := s.View()
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
	s.Tick(now.Add(time.Second))
	if st := s.View().LastJudgedStatus; st != judge.Fail {
		t.Fatalf("second round: %s", st)
	}
	if d := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name())) - before; d != 1 {
		t.Fatalf("rolled back twice: +%v", d)
	}
	// Resume restarts at the first step with fresh windows.
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	v = s.View()
	if v.Weights["canary"] != 75 || v.Status != statusRunning || v.Arms["canary"].Requests != 0 {
		t.Fatalf("after resume: weights %v status %s canary requests %d", v.Weights, v.Status, v.Arms["canary"].Requests)
	}
}

func TestJudgeLoopRespectsAutoRollbackOffAndPause(t *testing.T) {
	cfg := twoArms(50, 50)
	cfg.AutoRollback = false
	s := newState(t, t.Name(), cfg)
	now := time.Now()
	fill(s, now, 200, 20*time.Millisecond, 20*time.Millisecond, 40) // 20 % errors
	s.Tick(now)
	if v := s.View(); v.Verdict.Status != judge.Fail || v.Weights["canary"] != 50 {
		t.Fatalf("auto_rollback off: %s %v", v.Verdict.Status, v.Weights)
	}

	pcfg := twoArms(90, 10)
	pcfg.Steps = []int{50, 100}
	p := newState(t, t.Name()+"-paused", pcfg)
	p.Pause()
	fill(p, now, 100, 20*time.Millisecond, 20*time.Millisecond, 0)
	p.Tick(now)
	if v := p.View(); v.Weights["canary"] != 10 || v.Status != statusPaused || v.Verdict.Status != judge.Pass {
		t.Fatalf("paused: %v %s %s", v.Weights, v.Status, v.Verdict.Status)
	}
}

func TestCanaryPercentSharesTheRest(t *testing.T) {
	s := newState(t, t.Name(), withArms(Arm{Name: "baseline", Weight: 60}, Arm{Name: "other", Weight: 30}, Arm{Name: "canary", Weight: 10}))
	s.mu.Lock()
	err := s.setCanaryPercentLocked(25)
	w := s.weights
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// 75 shared 60:30 → 50 and 25.
	if w["canary"] != 25 || w["baseline"] != 50 || w["other"] != 25 {
		t.Fatalf("weights %v", w)
	}
}

// A rollout that reached 100 % is finished: the baseline's samples are
// dropped and no judge round rolls the canary back, even when the canary's
// latency then rises far above what the baseline used to serve.
func TestPromotedRolloutStaysPromoted(t *testing.T) {
	cfg := twoArms(50, 50)
	cfg.Steps = []int{100}
	cfg.Interval = 10 * time.Second
	s := newState(t, t.Name(), cfg)
	now := time.Now()
	fill(s, now, 200, 20*time.Millisecond, 20*time.Millisecond, 0)
	s.Tick(now)
	v := s.View()
	if v.Status != statusPromoted || v.Weights["canary"] != 100 {
		t.Fatalf("after a PASS to 100 %%: status %s weights %v", v.Status, v.Weights)
	}
	if n := v.Arms["baseline"].Requests; n != 0 {
		t.Fatalf("baseline keeps %d stale samples after the promotion", n)
	}
	before := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name()))
	for round := 1; round <= 10; round++ {
		now = now.Add(10 * time.Second)
		for i := 0; i < 100; i++ {
			s.arms["canary"].record(now, 70*time.Millisecond+time.Duration(i%17)*100*time.Microsecond, false)
		}
		s.Tick(now)
		if v := s.View(); v.Status != statusPromoted || v.Weights["canary"] != 100 {
			t.Fatalf("round %d after the promotion: status %s weights %v", round, v.Status, v.Weights)
		}
	}
	if d := testutil.ToFloat64(rollbacksTotal.WithLabelValues(t.Name())) - before; d != 0 {
		t.Fatalf("rolled back %v times after the promotion", d)
	}
	// The admin API can still roll it back by hand.
	if err := s.Rollback(); err != nil || s.View().Weights["canary"] != 0 {
		t.Fatalf("manual rollback: %v %v", err, s.View().Weights)
	}
}

// Weights set to the canary alone (admin API or config) are a promotion too.
func TestFullWeightIsPromoted(t *testing.T) {
	s := newState(t, t.Name(), twoArms(0, 100))
	if st := s.View().Status; st != statusPromoted {
		t.Fatalf("config canary 100: status %s", st)
	}
	s2 := newState(t, t.Name()+"2", twoArms(90, 10))
	if err := s2.SetWeights(map[string]int{"baseline": 0, "canary": 5}); err != nil {
		t.Fatal(err)
	}
	if st := s2.View().Status; st != statusPromoted {
		t.Fatalf("admin weights canary-only: status %s", st)
	}
}

func TestDetailSeriesPerArm(t *testing.T) {
	s := newState(t, t.Name(), twoArms(90, 10))
	now := time.Now()
	s.now = func() time.Time { return now }
	fill(s, now, 50, 20*time.Millisecond, 40*time.Millisecond, 5)
	d := s.Detail()
	if d.Name != t.Name() || d.Weights["canary"] != 10 {
		t.Fatalf("view part: %+v", d.View)
	}
	for arm, wantErrs := range map[string]uint64{"baseline": 0, "canary": 5} {
		pts := d.Series[arm]
		if len(pts) != judge.WindowSlots {
			t.Fatalf("%s: %d points", arm, len(pts))
		}
		last := pts[len(pts)-1]
		if last.Requests != 50 || last.Errors != wantErrs {
			t.Fatalf("%s: current bucket %+v", arm, last)
		}
	}
	if b, c := d.Series["baseline"][judge.WindowSlots-1].P50Seconds, d.Series["canary"][judge.WindowSlots-1].P50Seconds; c <= b {
		t.Fatalf("canary p50 %v not above baseline's %v", c, b)
	}
}
