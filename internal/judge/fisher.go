package judge

import "math"

// FisherGreater is the one-sided p-value of Fisher's exact test for "group 1's
// proportion (k1 of n1) is greater than group 2's (k2 of n2)": the
// probability, with the margins fixed, that group 1 holds k1 or more of the
// k1+k2 successes. It is exact for any counts, which matters for the small
// error counts a canary sees; terms are summed until they no longer change the
// result, so large counts stay cheap. Impossible inputs (k > n) and empty
// groups give 1.
func FisherGreater(k1, n1, k2, n2 uint64) float64 {
	if n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 {
		return 1
	}
	if k1 == 0 {
		return 1
	}
	n := float64(n1 + n2)
	succ := float64(k1 + k2)
	draws := float64(n1)
	kmax := math.Min(succ, draws)
	logDenom := logChoose(n, draws)
	mode := math.Floor((draws + 1) * (succ + 1) / (n + 2))
	var sum float64
	for k := float64(k1); k <= kmax; k++ {
		term := math.Exp(logChoose(succ, k) + logChoose(n-succ, draws-k) - logDenom)
		sum += term
		// Past the mode the terms only shrink.
		if k > mode && term <= sum*1e-17 {
			break
		}
	}
	return math.Min(1, sum)
}

func logChoose(n, k float64) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	a, _ := math.Lgamma(n + 1)
	b, _ := math.Lgamma(k + 1)
	c, _ := math.Lgamma(n - k + 1)
	return a - b - c
}
