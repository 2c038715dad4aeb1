package judge

import (
	"sync"
	"time"
)

// WindowSlots is the number of time buckets a Window is divided into: data
// leaves the window one bucket (span/30) at a time.
const WindowSlots = 30

// Window keeps one arm's requests, errors and latency histogram over the last
// span of time, as a ring of WindowSlots time buckets. Recording is one short
// critical section with no allocation (a bucket's histogram is allocated the
// first time the bucket is used and reused after). Memory: 8 KiB of counters
// per bucket, 240 KiB per window once every bucket has seen traffic.
//
// Windows are safe for concurrent use.
type Window struct {
	bucket int64 // nanoseconds per slot

	mu    sync.Mutex
	slots [WindowSlots]windowSlot
}

type windowSlot struct {
	epoch    int64 // absolute bucket number (UnixNano / bucket); 0 = never used
	requests uint64
	errors   uint64
	counts   []uint32
}

// NewWindow returns an empty window covering span (at least WindowSlots
// nanoseconds; shorter spans are raised to that).
func NewWindow(span time.Duration) *Window {
	if span < WindowSlots {
		span = WindowSlots
	}
	return &Window{bucket: int64(span) / WindowSlots}
}

// Record adds one request that ended at `at`, took latency, and failed or not.
func (w *Window) Record(at time.Time, latency time.Duration, failed bool) {
	epoch := at.UnixNano() / w.bucket
	bin := latencyBin(latency)
	w.mu.Lock()
	s := &w.slots[epoch%WindowSlots]
	if s.epoch != epoch {
		if s.epoch > epoch {
			// The slot has moved on to a newer bucket: this record arrived
			// after its own bucket left the window.
			w.mu.Unlock()
			return
		}
		s.reset(epoch)
	}
	s.requests++
	if failed {
		s.errors++
	}
	s.counts[bin]++
	w.mu.Unlock()
}

func (s *windowSlot) reset(epoch int64) {
	s.epoch = epoch
	s.requests = 0
	s.errors = 0
	if s.counts == nil {
		s.counts = make([]uint32, LatencyBins)
	} else {
		clear(s.counts)
	}
}

// Snapshot sums the buckets still inside the window at `at`: the current
// bucket and the WindowSlots−1 before it.
func (w *Window) Snapshot(at time.Time) ArmSample {
	cur := at.UnixNano() / w.bucket
	out := ArmSample{Latency: Histogram{Upper: latencyUpper, Counts: make([]uint64, LatencyBins)}}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.slots {
		s := &w.slots[i]
		if s.requests == 0 || s.epoch > cur || s.epoch <= cur-WindowSlots {
			continue
		}
		out.Requests += s.requests
		out.Errors += s.errors
		for b, c := range s.counts {
			out.Latency.Counts[b] += uint64(c)
		}
	}
	return out
}

// Reset empties the window.
func (w *Window) Reset() {
	w.mu.Lock()
	for i := range w.slots {
		w.slots[i].epoch = 0
		w.slots[i].requests = 0
		w.slots[i].errors = 0
		clear(w.slots[i].counts)
	}
	w.mu.Unlock()
}

// SeriesPoint is one time bucket of a Window: what ended in
// [Start, Start+span/WindowSlots).
type SeriesPoint struct {
	Start      time.Time `json:"start"`
	Requests   uint64    `json:"requests"`
	Errors     uint64    `json:"errors"`
	ErrorRate  float64   `json:"error_rate"`
	P50Seconds float64   `json:"p50_seconds"`
	P95Seconds float64   `json:"p95_seconds"`
}

// Series is the window at `at` bucket by bucket, oldest first: always
// WindowSlots points, the last being the current bucket; a bucket without
// requests is a point with zeros, so charts of several arms line up.
func (w *Window) Series(at time.Time) []SeriesPoint {
	cur := at.UnixNano() / w.bucket
	out := make([]SeriesPoint, WindowSlots)
	h := Histogram{Upper: latencyUpper, Counts: make([]uint64, LatencyBins)}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range out {
		epoch := cur - int64(WindowSlots-1-i)
		p := SeriesPoint{Start: time.Unix(0, epoch*w.bucket).UTC()}
		s := &w.slots[epoch%WindowSlots]
		if s.epoch == epoch && s.requests > 0 {
			p.Requests, p.Errors = s.requests, s.errors
			p.ErrorRate = float64(s.errors) / float64(s.requests)
			for b, c := range s.counts {
				h.Counts[b] = uint64(c)
			}
			p.P50Seconds, p.P95Seconds = h.Quantile(0.50), h.Quantile(0.95)
		}
		out[i] = p
	}
	return out
}
