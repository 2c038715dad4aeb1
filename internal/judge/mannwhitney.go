package judge

import "math"

// MannWhitneyResult is the outcome of a Mann-Whitney U (Wilcoxon rank-sum)
// test of x against y. The test uses the normal approximation with the tie
// correction of the variance and a continuity correction of 0.5 (as R's
// wilcox.test(exact=FALSE, correct=TRUE) and SciPy's
// mannwhitneyu(method="asymptotic") do), which is what the judge needs for
// samples of 50 and more.
type MannWhitneyResult struct {
	// U is x's statistic: the number of pairs (xi, yj) with xi > yj, a tie
	// counting one half. y's statistic is len(x)·len(y) − U.
	U float64
	// PGreater is the one-sided p-value for "x tends to be larger than y".
	PGreater float64
	// PLess is the one-sided p-value for "x tends to be smaller than y".
	PLess float64
}

// MannWhitneyBinned tests two samples given as counts over the same ordered
// bins (x[i] and y[i] are the numbers of each sample's values in bin i). All
// values of one bin are treated as tied, so with the judge's fine latency bins
// (1/64 relative width) this is the test on the latencies rounded to that
// precision; with coarse bins (a Prometheus histogram's buckets) the ties make
// the test conservative. Bins beyond the shorter slice count as empty.
func MannWhitneyBinned(x, y []uint64) MannWhitneyResult {
	var acc mwAccumulator
	for i := 0; i < max(len(x), len(y)); i++ {
		var cx, cy float64
		if i < len(x) {
			cx = float64(x[i])
		}
		if i < len(y) {
			cy = float64(y[i])
		}
		if cx+cy > 0 {
			acc.group(cx, cy)
		}
	}
	return acc.result()
}

// mwAccumulator takes the tie groups of the pooled sample in ascending order.
type mwAccumulator struct {
	nx, ny float64
	u      float64 // x's U so far
	ties   float64 // Σ (t³ − t) over tie groups
}

func (a *mwAccumulator) group(cx, cy float64) {
	// Each x in this group beats every y below it and ties with the y here.
	a.u += cx * (a.ny + cy/2)
	a.nx += cx
	a.ny += cy
	t := cx + cy
	a.ties += t*t*t - t
}

func (a *mwAccumulator) result() MannWhitneyResult {
	r := MannWhitneyResult{U: a.u, PGreater: 1, PLess: 1}
	n := a.nx + a.ny
	if a.nx == 0 || a.ny == 0 || n < 2 {
		return r
	}
	mean := a.nx * a.ny / 2
	variance := a.nx * a.ny / 12 * ((n + 1) - a.ties/(n*(n-1)))
	if !(variance > 0) {
		return r
	}
	sd := math.Sqrt(variance)
	r.PGreater = upperTail((a.u - mean - 0.5) / sd)
	r.PLess = upperTail(-(a.u - mean + 0.5) / sd)
	return r
}

// upperTail is P(Z > z) for a standard normal Z.
func upperTail(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}
