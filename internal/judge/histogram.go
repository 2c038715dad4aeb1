package judge

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a distribution as counts over ordered bins.
type Histogram struct {
	// Upper holds each bin's upper bound (seconds), ascending; the last may
	// be +Inf. Bin i covers (Upper[i-1], Upper[i]], bin 0 starts at 0.
	Upper []float64
	// Counts holds the number of values in each bin; len(Counts) == len(Upper).
	Counts []uint64
}

// Total is the number of values.
func (h Histogram) Total() uint64 {
	var t uint64
	for _, c := range h.Counts {
		t += c
	}
	return t
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) by linear interpolation
// inside the bin that holds it, as Prometheus's histogram_quantile does: a
// value in the +Inf bin is reported as that bin's lower bound. An empty
// histogram gives 0.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Total()
	if total == 0 || len(h.Upper) != len(h.Counts) {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		prev := cum
		cum += float64(c)
		if cum < rank {
			continue
		}
		lower := 0.0
		if i > 0 {
			lower = h.Upper[i-1]
		}
		upper := h.Upper[i]
		if math.IsInf(upper, 1) {
			return lower
		}
		return lower + (upper-lower)*(rank-prev)/float64(c)
	}
	return h.Upper[len(h.Upper)-1]
}

func (h Histogram) sameBins(o Histogram) bool {
	if len(h.Upper) != len(o.Upper) || len(h.Counts) != len(o.Counts) {
		return false
	}
	if len(h.Upper) > 0 && &h.Upper[0] == &o.Upper[0] {
		return true
	}
	for i := range h.Upper {
		if h.Upper[i] != o.Upper[i] {
			return false
		}
	}
	return true
}

// Latency bins: log-linear in microseconds, in the manner of an HDR
// histogram. Values below 128 µs get a bin each; above, every power of two
// is split into 64 bins, so a bin is at most 1/64 (1.6 %) of its lower bound
// wide. 2048 bins reach 2^37 µs (38 h); longer latencies land in the last,
// +Inf, bin.
const (
	linearBins   = 128
	subBinBits   = 6
	subBins      = 1 << subBinBits
	binMagnitude = subBinBits + 1 // bit length of the values in [64, 128)

	// LatencyBins is the number of bins of a Window's latency histogram.
	LatencyBins = 2048
)

// latencyUpper are the latency bins' upper bounds in seconds, shared by
// every Window's snapshots.
var latencyUpper = func() []float64 {
	u := make([]float64, LatencyBins)
	for i := range u {
		u[i] = float64(binUpperMicros(i)) / 1e6
	}
	u[LatencyBins-1] = math.Inf(1)
	return u
}()

// latencyBin is the bin of latency d.
func latencyBin(d time.Duration) int {
	us := d.Microseconds()
	if us < linearBins {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	v := uint64(us)
	shift := bits.Len64(v) - binMagnitude // ≥ 1 here
	mant := v >> uint(shift)              // in [64, 128)
	i := linearBins + (shift-1)*subBins + int(mant-subBins)
	if i >= LatencyBins {
		return LatencyBins - 1
	}
	return i
}

// binUpperMicros is the exclusive upper bound of bin i in microseconds.
func binUpperMicros(i int) uint64 {
	if i < linearBins {
		return uint64(i + 1)
	}
	shift := (i-linearBins)/subBins + 1
	mant := uint64(subBins + (i-linearBins)%subBins)
	return (mant + 1) << uint(shift)
}
