// Package judge decides whether a canary is as good as its baseline.
//
// It keeps per-arm statistics over a sliding time window (Window), and
// compares two arms (Judge) the way the original system's canary-diff report
// did — p95 ratio and error-rate ratio against limits — with two additions
// taken from Kayenta's judge: a minimum sample size below which the answer is
// INCONCLUSIVE, and a significance test behind every FAIL, so that noise alone
// cannot fail a canary.
//
// The rule, exactly (rb, rc: baseline and canary error rates; Limits l):
//
//   - INCONCLUSIVE when either arm has fewer than l.MinSamples requests.
//   - latency FAIL when p95(canary) > l.P95IncreaseLimit × p95(baseline)
//     AND p95(canary) − p95(baseline) > l.P95IncreaseMin
//     AND the one-sided Mann-Whitney U test (canary latencies stochastically
//     greater than baseline latencies; normal approximation with tie and
//     continuity corrections) gives p < l.Alpha.
//     The absolute floor is what the ratio and the test cannot see: at a
//     few milliseconds, 1.4 ms against 2.2 ms is "57 % slower" and, over
//     thousands of requests, statistically significant, yet no guest or
//     sender can tell; a scheduler hiccup on a busy host makes as much.
//   - error FAIL when rc > l.ErrAbsMin
//     AND rc > l.ErrIncreaseLimit × max(rb, l.ErrAbsMin)
//     AND the one-sided Fisher exact test (canary error proportion greater
//     than baseline's) gives p < l.Alpha.
//     The floor stands in for the baseline's rate when that is below it (in
//     particular when it is 0), so a canary with 0.2 % errors against a
//     baseline with 0.01 % does not fail on a "20x" ratio of tiny numbers,
//     and Fisher's test keeps a handful of errors in a small sample from
//     failing a canary by chance.
//   - FAIL when either of the above holds, else PASS.
package judge

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// Status is a verdict's outcome.
type Status string

// The three outcomes. The strings are the report's.
const (
	Pass         Status = "PASS"
	Fail         Status = "FAIL"
	Inconclusive Status = "INCONCLUSIVE"
)

// Environment variables that override the default limits (the original
// system's names).
const (
	EnvP95IncreaseLimit = "P95_INCREASE_LIMIT"
	EnvErrIncreaseLimit = "ERR_INCREASE_LIMIT"
	EnvErrAbsMin        = "ERR_ABS_MIN"
	// EnvP95IncreaseMin is a duration ("5ms") or seconds ("0.005").
	EnvP95IncreaseMin = "P95_INCREASE_MIN"
)

// DefaultP95IncreaseMin is the smallest p95 increase that can fail a
// canary: 5 ms is below anything a guest or Meta (whose timeout is
// seconds) can notice and above the jitter of a shared 2-core host (GC
// pauses, scheduling), where identical upstreams at 1-5 ms differ by up to
// about a millisecond at p95; a real regression (a slow query, a lost
// cache: tens of milliseconds) is far above it.
const DefaultP95IncreaseMin = 5 * time.Millisecond

// Limits are the judge's thresholds. They appear in the report as "limits".
type Limits struct {
	// P95IncreaseLimit is the largest tolerated ratio canary p95 / baseline p95.
	P95IncreaseLimit float64 `json:"p95_increase_limit"`
	// P95IncreaseMin is the smallest p95 increase, in seconds, that can
	// fail the canary, whatever the ratio.
	P95IncreaseMin float64 `json:"p95_increase_min_seconds"`
	// ErrIncreaseLimit is the largest tolerated ratio of the canary's error
	// rate to max(baseline error rate, ErrAbsMin).
	ErrIncreaseLimit float64 `json:"err_increase_limit"`
	// ErrAbsMin is the error rate below which a canary never fails on errors.
	ErrAbsMin float64 `json:"err_abs_min"`
	// MinSamples is the number of requests each arm needs in the window
	// before the verdict can be PASS or FAIL.
	MinSamples uint64 `json:"min_samples"`
	// Alpha is the significance level of the latency and error tests.
	Alpha float64 `json:"alpha"`
}

// DefaultLimits are the original system's limits with a minimum of 50
// samples per arm and a 5 % significance level.
func DefaultLimits() Limits {
	return Limits{
		P95IncreaseLimit: 1.10,
		P95IncreaseMin:   DefaultP95IncreaseMin.Seconds(),
		ErrIncreaseLimit: 1.50,
		ErrAbsMin:        0.005,
		MinSamples:       50,
		Alpha:            0.05,
	}
}

// LimitsFromEnv returns DefaultLimits with P95_INCREASE_LIMIT,
// ERR_INCREASE_LIMIT and ERR_ABS_MIN taken from getenv when set (nil getenv
// means os.Getenv). A malformed or out-of-range value is an error naming the
// variable.
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	l := DefaultLimits()
	for _, v := range []struct {
		name string
		dst  *float64
	}{
		{EnvP95IncreaseLimit, &l.P95IncreaseLimit},
		{EnvErrIncreaseLimit, &l.ErrIncreaseLimit},
		{EnvErrAbsMin, &l.ErrAbsMin},
	} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return l, fmt.Errorf("%s: %q is not a number", v.name, s)
		}
		*v.dst = f
	}
	if s := getenv(EnvP95IncreaseMin); s != "" {
		d, err := ParseSeconds(s)
		if err != nil {
			return l, fmt.Errorf("%s: %v", EnvP95IncreaseMin, err)
		}
		l.P95IncreaseMin = d
	}
	if err := l.Validate(); err != nil {
		return l, err
	}
	return l, nil
}

// ParseSeconds reads a duration ("5ms") or a number of seconds ("0.005")
// as seconds.
func ParseSeconds(s string) (float64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration nor seconds", s)
	}
	return d.Seconds(), nil
}

// Validate reports the first limit out of range, naming it as the
// environment and the Caddyfile do.
func (l Limits) Validate() error {
	switch {
	case !(l.P95IncreaseLimit > 0) || math.IsInf(l.P95IncreaseLimit, 0):
		return fmt.Errorf("p95_increase_limit (%s) must be a positive number, got %v", EnvP95IncreaseLimit, l.P95IncreaseLimit)
	case !(l.P95IncreaseMin >= 0) || math.IsInf(l.P95IncreaseMin, 0):
		return fmt.Errorf("p95_increase_min (%s) must be a duration >= 0, got %vs", EnvP95IncreaseMin, l.P95IncreaseMin)
	case !(l.ErrIncreaseLimit > 0) || math.IsInf(l.ErrIncreaseLimit, 0):
		return fmt.Errorf("err_increase_limit (%s) must be a positive number, got %v", EnvErrIncreaseLimit, l.ErrIncreaseLimit)
	case !(l.ErrAbsMin >= 0 && l.ErrAbsMin < 1):
		return fmt.Errorf("err_abs_min (%s) must be in [0, 1), got %v", EnvErrAbsMin, l.ErrAbsMin)
	case l.MinSamples < 1:
		return fmt.Errorf("min_samples must be at least 1, got %d", l.MinSamples)
	case !(l.Alpha > 0 && l.Alpha < 1):
		return fmt.Errorf("alpha must be in (0, 1), got %v", l.Alpha)
	}
	return nil
}

// ArmStats are one arm's numbers in the report.
type ArmStats struct {
	Requests   uint64  `json:"requests"`
	ErrorRate  float64 `json:"error_rate"`
	P95Seconds float64 `json:"p95_seconds"`
}

// Analysis holds the intermediate figures behind a verdict. It is not part of
// the report (Verdict omits it from JSON); the admin API shows it.
type Analysis struct {
	// P95Ratio is canary p95 / baseline p95 (baseline floored at 1 µs).
	P95Ratio float64 `json:"p95_ratio"`
	// LatencyPValue is the one-sided Mann-Whitney p-value for "canary slower".
	LatencyPValue float64 `json:"latency_p_value"`
	// ErrorRatio is canary error rate / max(baseline error rate, ErrAbsMin),
	// or 0 when both are 0.
	ErrorRatio float64 `json:"error_ratio"`
	// ErrorPValue is the one-sided Fisher exact p-value for "canary errs
	// more", computed only when the floor and ratio rules are exceeded (1
	// otherwise: there is nothing to test).
	ErrorPValue float64 `json:"error_p_value"`
}

// Verdict is the judge's answer; its JSON is the canary report (what
// canary-diff writes to .playbook/canary_diff_report.json).
type Verdict struct {
	Status      Status   `json:"status"`
	FailReasons []string `json:"fail_reasons"`
	Baseline    ArmStats `json:"baseline"`
	Canary      ArmStats `json:"canary"`
	Limits      Limits   `json:"limits"`
	Analysis    Analysis `json:"-"`
}

// ArmSample is what the judge needs of one arm over the window.
type ArmSample struct {
	Requests uint64
	Errors   uint64
	// Latency must use the same bins for both arms.
	Latency Histogram
}

// ErrorRate is Errors / Requests, 0 without requests.
func (a ArmSample) ErrorRate() float64 {
	if a.Requests == 0 {
		return 0
	}
	return float64(a.Errors) / float64(a.Requests)
}

func (a ArmSample) stats() ArmStats {
	return ArmStats{Requests: a.Requests, ErrorRate: a.ErrorRate(), P95Seconds: a.Latency.Quantile(0.95)}
}

// minP95 floors the baseline's p95 in the ratio so that a 0 never divides.
const minP95 = 1e-6

// Judge compares canary to baseline under l. See the package comment for the
// rule.
func Judge(l Limits, baseline, canary ArmSample) Verdict {
	v := Verdict{
		FailReasons: []string{},
		Baseline:    baseline.stats(),
		Canary:      canary.stats(),
		Limits:      l,
		Analysis:    Analysis{LatencyPValue: 1, ErrorPValue: 1},
	}
	v.Analysis.P95Ratio = v.Canary.P95Seconds / math.Max(v.Baseline.P95Seconds, minP95)
	refRate := math.Max(v.Baseline.ErrorRate, l.ErrAbsMin)
	if refRate > 0 {
		v.Analysis.ErrorRatio = v.Canary.ErrorRate / refRate
	}

	if baseline.Requests < l.MinSamples || canary.Requests < l.MinSamples {
		v.Status = Inconclusive
		for _, a := range []struct {
			name string
			n    uint64
		}{{"baseline", baseline.Requests}, {"canary", canary.Requests}} {
			if a.n < l.MinSamples {
				v.FailReasons = append(v.FailReasons, fmt.Sprintf(
					"insufficient data: %s has %d requests in the window, min_samples is %d", a.name, a.n, l.MinSamples))
			}
		}
		return v
	}

	if !baseline.Latency.sameBins(canary.Latency) {
		v.Status = Inconclusive
		v.FailReasons = append(v.FailReasons, "latency histograms of the two arms use different bins")
		return v
	}
	mw := MannWhitneyBinned(canary.Latency.Counts, baseline.Latency.Counts)
	v.Analysis.LatencyPValue = mw.PGreater
	increase := v.Canary.P95Seconds - v.Baseline.P95Seconds
	if v.Analysis.P95Ratio > l.P95IncreaseLimit && increase > l.P95IncreaseMin && mw.PGreater < l.Alpha {
		v.FailReasons = append(v.FailReasons, fmt.Sprintf(
			"p95 latency %.4fs is %.2fx the baseline's %.4fs (limit %.2fx), %.1fms more (floor %.1fms); Mann-Whitney one-sided p=%.3g < alpha %g",
			v.Canary.P95Seconds, v.Analysis.P95Ratio, v.Baseline.P95Seconds, l.P95IncreaseLimit,
			increase*1000, l.P95IncreaseMin*1000, mw.PGreater, l.Alpha))
	}

	if v.Canary.ErrorRate > l.ErrAbsMin && v.Canary.ErrorRate > l.ErrIncreaseLimit*refRate {
		p := FisherGreater(canary.Errors, canary.Requests, baseline.Errors, baseline.Requests)
		v.Analysis.ErrorPValue = p
		if p < l.Alpha {
			v.FailReasons = append(v.FailReasons, fmt.Sprintf(
				"error rate %.4f is %.2fx max(baseline %.4f, err_abs_min %g) (limit %.2fx); Fisher one-sided p=%.3g < alpha %g",
				v.Canary.ErrorRate, v.Analysis.ErrorRatio, v.Baseline.ErrorRate, l.ErrAbsMin, l.ErrIncreaseLimit, p, l.Alpha))
		}
	}

	if len(v.FailReasons) > 0 {
		v.Status = Fail
	} else {
		v.Status = Pass
	}
	return v
}
