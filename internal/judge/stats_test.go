package judge

import (
	"math"
	"slices"
	"testing"
	"time"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.17g, want %.17g (±%g)", what, got, want, tol)
	}
}

// twoSided is the two-sided p-value.
func twoSided(r MannWhitneyResult) float64 {
	return math.Min(1, 2*math.Min(r.PGreater, r.PLess))
}

// mannWhitney is the test on plain samples x and y: the reference the binned
// test the judge uses is checked against, itself checked against published
// values. Empty samples, or samples whose values are all equal, give p-values
// of 1.
func mannWhitney(x, y []float64) MannWhitneyResult {
	xs := slices.Clone(x)
	ys := slices.Clone(y)
	slices.Sort(xs)
	slices.Sort(ys)
	var acc mwAccumulator
	i, j := 0, 0
	for i < len(xs) || j < len(ys) {
		var v float64
		switch {
		case i == len(xs):
			v = ys[j]
		case j == len(ys):
			v = xs[i]
		default:
			v = math.Min(xs[i], ys[j])
		}
		var cx, cy float64
		for i < len(xs) && xs[i] == v {
			cx++
			i++
		}
		for j < len(ys) && ys[j] == v {
			cy++
			j++
		}
		acc.group(cx, cy)
	}
	return acc.result()
}

// Published values of the asymptotic test with tie and continuity corrections.
func TestMannWhitneyKnownValues(t *testing.T) {
	// SciPy's mannwhitneyu documentation example (Conover's ages of male and
	// female employees): U = 17, asymptotic two-sided p = 0.11134688653314041.
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	r := mannWhitney(males, females)
	near(t, "U", r.U, 17, 0)
	near(t, "two-sided p", twoSided(r), 0.11134688653314041, 1e-12)
	near(t, "one-sided p (males greater)", r.PGreater, 0.11134688653314041/2, 1e-12)

	// ClickHouse's mannWhitneyUTest regression test (01560_mann_whitney.sql),
	// 20 vs 20 values with four tied pairs: U = 223, two-sided p =
	// 0.5426959774289482.
	left := []float64{310, 195, 530, 155, 530, 245, 385, 450, 465, 545, 170, 180, 125, 180, 230, 75, 430, 480, 495, 295}
	right := []float64{116, 171, 176, 421, 111, 326, 481, 111, 346, 441, 261, 411, 206, 521, 456, 446, 296, 51, 426, 261}
	r = mannWhitney(left, right)
	near(t, "U", r.U, 223, 0)
	near(t, "two-sided p", twoSided(r), 0.5426959774289482, 1e-12)
	rr := mannWhitney(right, left)
	near(t, "U swapped", rr.U, 20*20-223, 0)
	near(t, "PLess swapped = PGreater", rr.PLess, r.PGreater, 1e-15)

	// By hand, with ties: x = {1,2,2,3}, y = {2,3,3,4,5}.
	// U_x = 0 (x=1) + 2·½ (x=2 ties one y=2) + (1 + 2·½) (x=3 beats y=2,
	// ties two y=3) = 3; mean = 4·5/2 = 10; tie groups {2,2,2} and {3,3,3}
	// give Σ(t³−t) = 48, so var = 20/12 · (10 − 48/72) = 15.5556, sd =
	// 3.94405; z = (3 − 10 + 0.5)/sd = −1.64805; P(x smaller) = Φ(−1.64805)
	// = 0.049671.
	r = mannWhitney([]float64{1, 2, 2, 3}, []float64{2, 3, 3, 4, 5})
	near(t, "U", r.U, 3, 0)
	near(t, "PLess", r.PLess, 0.049671, 5e-7)
}

func TestMannWhitneyDegenerate(t *testing.T) {
	for name, c := range map[string][2][]float64{
		"all tied": {{5, 5, 5}, {5, 5}},
		"empty x":  {nil, {1, 2, 3}},
		"empty y":  {{1, 2}, nil},
	} {
		r := mannWhitney(c[0], c[1])
		if r.PGreater != 1 || r.PLess != 1 {
			t.Errorf("%s: p = %v/%v, want 1/1", name, r.PGreater, r.PLess)
		}
	}
}

// The binned test is the sample test with each bin's values tied.
func TestMannWhitneyBinnedMatchesSamples(t *testing.T) {
	x := []float64{0, 1, 1, 2, 3, 3, 3, 7, 9}
	y := []float64{1, 2, 2, 2, 4, 5, 5, 6, 8, 8, 9, 9}
	bx := make([]uint64, 10)
	by := make([]uint64, 12) // longer: trailing empty bins are ignored
	for _, v := range x {
		bx[int(v)]++
	}
	for _, v := range y {
		by[int(v)]++
	}
	a, b := mannWhitney(x, y), MannWhitneyBinned(bx, by)
	near(t, "U", b.U, a.U, 0)
	near(t, "PGreater", b.PGreater, a.PGreater, 1e-15)
	near(t, "PLess", b.PLess, a.PLess, 1e-15)
}

func TestFisherGreater(t *testing.T) {
	// Lady tasting tea: 3 of 4 right vs 1 of 4; P = (16 + 1)/70.
	near(t, "tea", FisherGreater(3, 4, 1, 4), 17.0/70, 1e-12)
	// 5 of 100 vs 0 of 100: only the table with all 5 in group 1 is as
	// extreme: C(100,5)/C(200,5).
	near(t, "5/100 vs 0/100", FisherGreater(5, 100, 0, 100), 0.029691605234293292, 1e-12)
	// One error in 60 vs none in 540: the error is in the canary with
	// probability 60/600.
	near(t, "1/60 vs 0/540", FisherGreater(1, 60, 0, 540), 0.1, 1e-12)
	near(t, "no successes", FisherGreater(0, 10, 3, 10), 1, 0)
	near(t, "bad input", FisherGreater(11, 10, 3, 10), 1, 0)
	// Large counts stay finite and sensible.
	p := FisherGreater(600, 10000, 500, 10000)
	if !(p > 0.0005 && p < 0.005) {
		t.Errorf("6%% vs 5%% over 10000: p = %g, want about 0.0009-0.002", p)
	}
}

func TestLatencyBins(t *testing.T) {
	prev := uint64(0)
	for i := 0; i < LatencyBins-1; i++ {
		up := binUpperMicros(i)
		if up <= prev {
			t.Fatalf("bin %d upper %d not above %d", i, up, prev)
		}
		if i >= linearBins && float64(up-prev)/float64(prev) > 1.0/64+1e-12 {
			t.Fatalf("bin %d is %d..%d µs, wider than 1/64", i, prev, up)
		}
		// The bin's own bounds map back to it.
		if b := latencyBin(time.Duration(prev) * time.Microsecond); b != i {
			t.Fatalf("lower bound %d µs of bin %d maps to bin %d", prev, i, b)
		}
		if b := latencyBin(time.Duration(up-1) * time.Microsecond); b != i {
			t.Fatalf("%d µs (top of bin %d) maps to bin %d", up-1, i, b)
		}
		prev = up
	}
	if b := latencyBin(-time.Second); b != 0 {
		t.Errorf("negative latency in bin %d", b)
	}
	if b := latencyBin(100 * time.Hour); b != LatencyBins-1 {
		t.Errorf("100h in bin %d, want the last", b)
	}
	if !math.IsInf(latencyUpper[LatencyBins-1], 1) {
		t.Error("last bin is not +Inf")
	}
}

func TestHistogramQuantile(t *testing.T) {
	// Prometheus-style buckets: 0.1, 0.2, 0.5, +Inf with 10, 70, 15, 5.
	h := Histogram{Upper: []float64{0.1, 0.2, 0.5, math.Inf(1)}, Counts: []uint64{10, 70, 15, 5}}
	// rank 95 is the 15th of 15 in (0.2, 0.5] → 0.5; rank 50 is the 40th of 70
	// in (0.1, 0.2] → 0.1 + 0.1·40/70.
	near(t, "p95", h.Quantile(0.95), 0.5, 1e-12)
	near(t, "p50", h.Quantile(0.5), 0.1+0.1*40/70, 1e-12)
	near(t, "p99 in +Inf", h.Quantile(0.99), 0.5, 0)
	near(t, "empty", Histogram{Upper: h.Upper, Counts: make([]uint64, 4)}.Quantile(0.95), 0, 0)

	// With the window's fine bins, p95 of 1..1000 ms is within a bin of 950 ms.
	w := NewWindow(time.Minute)
	at := time.Unix(1_700_000_000, 0)
	for i := 1; i <= 1000; i++ {
		w.Record(at, time.Duration(i)*time.Millisecond, false)
	}
	p95 := w.Snapshot(at).Latency.Quantile(0.95)
	near(t, "fine p95", p95, 0.950, 0.950/64)
}

func TestWindowSlides(t *testing.T) {
	span := 30 * time.Second // 1 s buckets
	w := NewWindow(span)
	t0 := time.Unix(1_700_000_000, 0)
	w.Record(t0, 10*time.Millisecond, false)
	w.Record(t0.Add(500*time.Millisecond), 20*time.Millisecond, true)
	w.Record(t0.Add(10*time.Second), 30*time.Millisecond, false)

	s := w.Snapshot(t0.Add(10 * time.Second))
	if s.Requests != 3 || s.Errors != 1 || s.Latency.Total() != 3 {
		t.Fatalf("all in window: %d requests, %d errors, %d latencies", s.Requests, s.Errors, s.Latency.Total())
	}
	// At t0+29s the first bucket is the oldest still in the window.
	if s := w.Snapshot(t0.Add(29 * time.Second)); s.Requests != 3 {
		t.Fatalf("at +29s: %d requests, want 3", s.Requests)
	}
	// At t0+30s it has left.
	if s := w.Snapshot(t0.Add(30 * time.Second)); s.Requests != 1 || s.Errors != 0 {
		t.Fatalf("at +30s: %d requests %d errors, want 1 and 0", s.Requests, s.Errors)
	}
	// A record for a bucket that has been recycled is dropped, not misfiled.
	w.Record(t0.Add(31*time.Second), time.Millisecond, false) // takes over the slot of t0+1s
	w.Record(t0.Add(1*time.Second), time.Millisecond, false)  // same slot, older bucket
	if s := w.Snapshot(t0.Add(31 * time.Second)); s.Requests != 2 {
		t.Fatalf("after late record: %d requests, want 2", s.Requests)
	}
	w.Reset()
	if s := w.Snapshot(t0.Add(31 * time.Second)); s.Requests != 0 || s.Latency.Total() != 0 {
		t.Fatalf("after reset: %+v", s.Requests)
	}
}

func BenchmarkWindowRecord(b *testing.B) {
	w := NewWindow(5 * time.Minute)
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i time.Duration
		for pb.Next() {
			i++
			w.Record(at, i*time.Microsecond, false)
		}
	})
}

func BenchmarkJudge(b *testing.B) {
	bw, cw := NewWindow(5*time.Minute), NewWindow(5*time.Minute)
	at := time.Now()
	for i := 0; i < 100000; i++ {
		bw.Record(at, time.Duration(1000+i%5000)*time.Microsecond, i%100 == 0)
		cw.Record(at, time.Duration(1100+i%5000)*time.Microsecond, i%90 == 0)
	}
	l := DefaultLimits()
	b.ReportAllocs()
	for b.Loop() {
		Judge(l, bw.Snapshot(at), cw.Snapshot(at))
	}
}

func TestWindowSeries(t *testing.T) {
	span := 30 * time.Second // 1 s buckets
	w := NewWindow(span)
	t0 := time.Unix(1_700_000_000, 0)
	for i := 1; i <= 100; i++ {
		w.Record(t0, time.Duration(i)*time.Millisecond, i%10 == 0)
	}
	w.Record(t0.Add(5*time.Second), 300*time.Millisecond, false)

	at := t0.Add(5 * time.Second)
	s := w.Series(at)
	if len(s) != WindowSlots {
		t.Fatalf("%d points, want %d", len(s), WindowSlots)
	}
	last, first := s[WindowSlots-1], s[WindowSlots-6]
	if !last.Start.Equal(at) || !first.Start.Equal(t0) {
		t.Fatalf("buckets start at %v and %v, want %v and %v", first.Start, last.Start, t0, at)
	}
	if first.Requests != 100 || first.Errors != 10 || first.ErrorRate != 0.1 {
		t.Fatalf("t0 bucket: %+v", first)
	}
	near(t, "t0 p50", first.P50Seconds, 0.050, 0.050/64)
	near(t, "t0 p95", first.P95Seconds, 0.095, 0.095/64)
	if last.Requests != 1 || last.Errors != 0 {
		t.Fatalf("last bucket: %+v", last)
	}
	near(t, "last p95", last.P95Seconds, 0.300, 0.300/64)
	var total uint64
	for i, p := range s {
		total += p.Requests
		if i > 0 && !p.Start.Equal(s[i-1].Start.Add(time.Second)) {
			t.Fatalf("point %d starts at %v after %v", i, p.Start, s[i-1].Start)
		}
	}
	if total != 101 {
		t.Fatalf("series holds %d requests, want 101", total)
	}
	// Once t0's bucket has left the window, its slot's data is not shown
	// as a newer bucket's.
	if s := w.Series(t0.Add(30 * time.Second)); s[0].Requests != 0 || s[WindowSlots-1].Requests != 0 {
		t.Fatalf("after sliding: first %+v last %+v", s[0], s[WindowSlots-1])
	}
}
