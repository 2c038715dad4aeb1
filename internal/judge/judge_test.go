package judge

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// arm records n requests with latencies from draw and the first errs of them
// failed, into a fresh window, and returns its snapshot.
func arm(n, errs int, draw func() time.Duration) ArmSample {
	w := NewWindow(5 * time.Minute)
	for i := 0; i < n; i++ {
		w.Record(t0, draw(), i < errs)
	}
	return w.Snapshot(t0)
}

// lognormal draws median·exp(σ·N(0,1)) + shift.
func lognormal(seed uint64, median time.Duration, sigma float64, shift time.Duration) func() time.Duration {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	return func() time.Duration {
		return time.Duration(float64(median)*math.Exp(sigma*r.NormFloat64())) + shift
	}
}

func TestJudgeIdenticalPasses(t *testing.T) {
	// Different seeds: two independent samples of the same distribution.
	for seed := uint64(1); seed <= 20; seed++ {
		b := arm(1000, 0, lognormal(seed, 20*time.Millisecond, 0.4, 0))
		c := arm(1000, 0, lognormal(seed+1000, 20*time.Millisecond, 0.4, 0))
		v := Judge(DefaultLimits(), b, c)
		if v.Status != Pass {
			t.Fatalf("seed %d: %s %v (analysis %+v)", seed, v.Status, v.FailReasons, v.Analysis)
		}
	}
}

func TestJudgeLatencyShiftFails(t *testing.T) {
	b := arm(500, 0, lognormal(1, 20*time.Millisecond, 0.4, 0))
	c := arm(500, 0, lognormal(2, 20*time.Millisecond, 0.4, 50*time.Millisecond))
	v := Judge(DefaultLimits(), b, c)
	if v.Status != Fail || len(v.FailReasons) != 1 || !strings.Contains(v.FailReasons[0], "p95 latency") {
		t.Fatalf("got %s %v", v.Status, v.FailReasons)
	}
	if v.Analysis.LatencyPValue > 1e-6 {
		t.Errorf("latency p-value %g, want tiny", v.Analysis.LatencyPValue)
	}
	if v.Analysis.P95Ratio < 2 {
		t.Errorf("p95 ratio %g, want > 2", v.Analysis.P95Ratio)
	}
}

// A canary whose p95 is far above the baseline's only because its spread is
// wider, with the same median, is not stochastically slower: the p95 rule
// alone would fail it, the significance requirement does not.
func TestJudgeNoiseWithEqualMediansDoesNotFail(t *testing.T) {
	b := arm(400, 0, lognormal(3, 100*time.Millisecond, 0.1, 0))
	c := arm(400, 0, lognormal(4, 100*time.Millisecond, 1.0, 0))
	v := Judge(DefaultLimits(), b, c)
	if v.Analysis.P95Ratio < 2 {
		t.Fatalf("test premise: p95 ratio %g should exceed the limit by far", v.Analysis.P95Ratio)
	}
	if v.Status == Fail {
		t.Fatalf("failed on noise: %v (p=%g)", v.FailReasons, v.Analysis.LatencyPValue)
	}
	if v.Analysis.LatencyPValue < 0.05 {
		t.Errorf("p-value %g for equal medians", v.Analysis.LatencyPValue)
	}
}

func TestJudgeErrorRate(t *testing.T) {
	same := func(seed uint64) func() time.Duration { return lognormal(seed, 20*time.Millisecond, 0.3, 0) }
	cases := []struct {
		name               string
		bn, be, cn, ce     int
		want               Status
		wantReasonContains string
	}{
		{"5% vs 0%", 1000, 0, 1000, 50, Fail, "error rate 0.0500"},
		{"5% vs 4.5%: ratio under 1.5", 1000, 45, 1000, 50, Pass, ""},
		// 0.4 % < err_abs_min even though the ratio to a 0.1 % baseline is 4.
		{"under the floor", 1000, 1, 1000, 4, Pass, ""},
		// One error in 60 against none in 540: 1.7 % is over the floor and
		// the ratio, but Fisher's p = 0.1.
		{"one error is noise", 540, 0, 60, 1, Pass, ""},
		// 1 % vs 0 %: 1 % > 1.5·0.5 %, and 10 of 1000 vs 0 of 9000 is significant.
		{"baseline 0 uses the floor", 9000, 0, 1000, 10, Fail, "error rate"},
	}
	for i, c := range cases {
		v := Judge(DefaultLimits(), arm(c.bn, c.be, same(uint64(10+i))), arm(c.cn, c.ce, same(uint64(100+i))))
		if v.Status != c.want {
			t.Errorf("%s: %s %v, want %s", c.name, v.Status, v.FailReasons, c.want)
			continue
		}
		if c.wantReasonContains != "" && (len(v.FailReasons) != 1 || !strings.Contains(v.FailReasons[0], c.wantReasonContains)) {
			t.Errorf("%s: reasons %v", c.name, v.FailReasons)
		}
	}
}

func TestJudgeInconclusiveBelowMinSamples(t *testing.T) {
	// 20 requests with a glaring problem are still INCONCLUSIVE.
	b := arm(20, 0, lognormal(5, 20*time.Millisecond, 0.3, 0))
	c := arm(20, 10, lognormal(6, 20*time.Millisecond, 0.3, time.Second))
	v := Judge(DefaultLimits(), b, c)
	if v.Status != Inconclusive || len(v.FailReasons) != 2 {
		t.Fatalf("got %s %v", v.Status, v.FailReasons)
	}
	// One arm short is enough.
	v = Judge(DefaultLimits(), arm(500, 0, lognormal(7, time.Millisecond, 0.3, 0)), c)
	if v.Status != Inconclusive || len(v.FailReasons) != 1 || !strings.Contains(v.FailReasons[0], "canary has 20") {
		t.Fatalf("got %s %v", v.Status, v.FailReasons)
	}
}

func TestJudgeDifferentBinsInconclusive(t *testing.T) {
	b := ArmSample{Requests: 100, Latency: Histogram{Upper: []float64{0.1, math.Inf(1)}, Counts: []uint64{100, 0}}}
	c := ArmSample{Requests: 100, Latency: Histogram{Upper: []float64{0.2, math.Inf(1)}, Counts: []uint64{100, 0}}}
	if v := Judge(DefaultLimits(), b, c); v.Status != Inconclusive {
		t.Fatalf("got %s", v.Status)
	}
}

// The verdict's JSON is the canary report's shape (canary-diff's
// .playbook/canary_diff_report.json), key for key.
func TestVerdictJSONShape(t *testing.T) {
	v := Judge(DefaultLimits(), arm(100, 0, lognormal(8, 20*time.Millisecond, 0.3, 0)), arm(100, 0, lognormal(9, 20*time.Millisecond, 0.3, 0)))
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if got, want := keys(doc), []string{"baseline", "canary", "fail_reasons", "limits", "status"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("top-level keys %v, want %v", got, want)
	}
	for _, a := range []string{"baseline", "canary"} {
		if got, want := keys(doc[a].(map[string]any)), []string{"error_rate", "p95_seconds", "requests"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s keys %v, want %v", a, got, want)
		}
	}
	if got, want := keys(doc["limits"].(map[string]any)), []string{"alpha", "err_abs_min", "err_increase_limit", "min_samples", "p95_increase_limit", "p95_increase_min_seconds"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("limits keys %v, want %v", got, want)
	}
	if doc["status"] != "PASS" {
		t.Errorf("status %v", doc["status"])
	}
	if fr, ok := doc["fail_reasons"].([]any); !ok || len(fr) != 0 {
		t.Errorf("fail_reasons %v, want []", doc["fail_reasons"])
	}
}

func TestLimitsFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	l, err := LimitsFromEnv(env(nil))
	if err != nil || l != DefaultLimits() {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	l, err = LimitsFromEnv(env(map[string]string{"P95_INCREASE_LIMIT": "1.2", "ERR_INCREASE_LIMIT": "2", "ERR_ABS_MIN": "0.01"}))
	if err != nil || l.P95IncreaseLimit != 1.2 || l.ErrIncreaseLimit != 2 || l.ErrAbsMin != 0.01 {
		t.Fatalf("overrides: %+v %v", l, err)
	}
	l, err = LimitsFromEnv(env(map[string]string{"P95_INCREASE_MIN": "12ms"}))
	if err != nil || l.P95IncreaseMin != 0.012 {
		t.Fatalf("P95_INCREASE_MIN=12ms: %+v %v", l, err)
	}
	for k, v := range map[string]string{"P95_INCREASE_LIMIT": "fast", "ERR_INCREASE_LIMIT": "-1", "ERR_ABS_MIN": "1.5", "P95_INCREASE_MIN": "-1ms"} {
		_, err := LimitsFromEnv(env(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v should name the variable", k, v, err)
		}
	}
}

// uniform draws uniformly in [lo, hi) plus shift.
func uniform(seed uint64, lo, hi, shift time.Duration) func() time.Duration {
	r := rand.New(rand.NewPCG(seed, 0xfa57))
	return func() time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) + shift }
}

// Identical upstreams answering in 1-5 ms pass, 20 times out of 20, even
// when one arm runs a little slower than the other, as the second of two
// processes on a busy 2-core host does (up to 0.8 ms here, the gap the
// issue saw: p95 1.4 ms against 2.2 ms): the ratio and the test alone
// failed those; the absolute floor does not. 50 ms more still fails.
func TestJudgeFastIdenticalUpstreams(t *testing.T) {
	l := DefaultLimits()
	for seed := uint64(1); seed <= 20; seed++ {
		offset := time.Duration(seed%5) * 200 * time.Microsecond // 0 to 0.8 ms
		b := arm(2000, 0, uniform(seed, time.Millisecond, 5*time.Millisecond, 0))
		c := arm(2000, 0, uniform(seed+100, time.Millisecond, 5*time.Millisecond, offset))
		if v := Judge(l, b, c); v.Status != Pass {
			t.Errorf("round %d (canary +%s): %s %v", seed, offset, v.Status, v.FailReasons)
		}
		c = arm(2000, 0, uniform(seed+200, time.Millisecond, 5*time.Millisecond, 50*time.Millisecond))
		if v := Judge(l, b, c); v.Status != Fail {
			t.Errorf("round %d (canary +50ms): %s, want FAIL", seed, v.Status)
		}
	}
	// The premise: without the floor, the small offsets do fail.
	l.P95IncreaseMin = 0
	failed := 0
	for seed := uint64(1); seed <= 20; seed++ {
		offset := time.Duration(seed%5) * 200 * time.Microsecond
		b := arm(2000, 0, uniform(seed, time.Millisecond, 5*time.Millisecond, 0))
		c := arm(2000, 0, uniform(seed+100, time.Millisecond, 5*time.Millisecond, offset))
		if Judge(l, b, c).Status == Fail {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("premise: without the absolute floor no round failed; the test shows nothing")
	}
	t.Logf("without the floor, %d of 20 rounds FAIL", failed)
}
