package inbox

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
	"github.com/prometheus/client_golang/prometheus"
)

// stubQueue hands out one item and scripts what extend answers.
type stubQueue struct {
	mu        sync.Mutex
	handedOut bool
	extends   int
	loseAfter int // extend calls that succeed before the lease is "taken"
	released  chan struct{}
}

func (q *stubQueue) claim(ctx context.Context, into []claimed[string], now time.Time, owner string, n int, until time.Time) ([]claimed[string], error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.handedOut {
		return into, nil
	}
	q.handedOut = true
	return append(into, claimed[string]{seq: 1, key: "k", token: 7, attempts: 1, item: "x"}), nil
}

func (q *stubQueue) extend(ctx context.Context, c claimed[string], until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.extends++
	if q.extends > q.loseAfter {
		return errLeaseLost
	}
	return nil
}

func (q *stubQueue) retry(context.Context, claimed[string], time.Time, time.Time, string) error {
	panic("retry: the item was interrupted, not failed")
}

func (q *stubQueue) fail(context.Context, claimed[string], time.Time, string) error {
	panic("fail: the item was interrupted, not failed")
}

func (q *stubQueue) release(ctx context.Context, c claimed[string]) error {
	close(q.released)
	return errLeaseLost
}

func (q *stubQueue) hold(context.Context, claimed[string], time.Time, string) error {
	panic("hold: the item was interrupted, not held")
}

func (q *stubQueue) suppress(context.Context, claimed[string], time.Time, string) error {
	panic("suppress: the item was interrupted, not suppressed")
}

func (q *stubQueue) pending(context.Context) (int, error) { return 0, nil }

func (q *stubQueue) held(context.Context) (int, error) { return 0, nil }

// A worker renews its lease while it works and, once the lease is lost,
// has its work cancelled and records nothing.
func TestHeartbeatRenewsAndCancelsOnLostLease(t *testing.T) {
	q := &stubQueue{loseAfter: 3, released: make(chan struct{})}
	var results []result
	var mu sync.Mutex
	cancelled := make(chan struct{})
	l := &loop[string]{
		name: "test", q: q, workers: 1, owner: "me",
		lease: 30 * time.Millisecond, poll: time.Hour,
		now: time.Now, rand: func() float64 { return 0 },
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		maxAttempts: 3, backoff: Backoff{Base: time.Second, Max: time.Second},
		work: func(ctx context.Context, c claimed[string]) outcome {
			<-ctx.Done() // works until told to stop
			close(cancelled)
			return outcome{err: ctx.Err()}
		},
		complete: func(context.Context, time.Time, claimed[string], outcome) error {
			t.Error("complete called for interrupted work")
			return nil
		},
		observe: func(_ claimed[string], r result) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		},
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan struct{})
	go func() { l.run(ctx, wakeup.New()); close(done) }()
	select {
	case <-q.released:
	case <-time.After(10 * time.Second):
		t.Fatal("the lost lease never stopped the work")
	}
	<-cancelled
	stop()
	<-done
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.extends != q.loseAfter+1 {
		t.Errorf("extend called %d times, want %d (renewals until the loss)", q.extends, q.loseAfter+1)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(results) != 1 || results[0] != resultLeaseLost {
		t.Errorf("results %v, want one lease-lost", results)
	}
}

func TestCollectorsRegisterTwiceAndCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 { // a config reload registers again
		if err := telemetry.Register(reg, Collectors()...); err != nil {
			t.Fatal(err)
		}
	}
	ib := NewMemory(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	before := sample(t, reg, "inbox_accepted_total", map[string]string{"kind": "message", "result": "duplicate"})
	for range 3 {
		if _, err := ib.Accept(context.Background(), []chat.Message{{TenantID: "t", Channel: "whatsapp", ID: "m", From: "1"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	after := sample(t, reg, "inbox_accepted_total", map[string]string{"kind": "message", "result": "duplicate"})
	// Other tests may count too, but never down; these three accepts add
	// at least two duplicates.
	if after-before < 2 {
		t.Errorf("duplicates counted %v → %v, want +2 at least", before, after)
	}
	names := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"inbox_accepted_total", "inbox_pending", "outbox_pending"} {
		if !names[n] {
			t.Errorf("metric %s not exposed (have %v)", n, names)
		}
	}
}

func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// countStuckQueue hands out items one claim at a time and never finishes
// counting its pending items (a count that reads a huge backlog).
type countStuckQueue struct {
	stubQueue
	next     int
	counting chan struct{} // closed when pending is first asked
	once     sync.Once
}

func (q *countStuckQueue) claim(ctx context.Context, into []claimed[string], now time.Time, owner string, n int, until time.Time) ([]claimed[string], error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next >= 3 {
		return into, nil
	}
	q.next++
	return append(into, claimed[string]{seq: int64(q.next), key: "k", token: 7, attempts: 1, item: "x"}), nil
}

func (q *countStuckQueue) extend(context.Context, claimed[string], time.Time) error { return nil }

func (q *countStuckQueue) pending(ctx context.Context) (int, error) {
	q.once.Do(func() { close(q.counting) })
	<-ctx.Done()
	return 0, ctx.Err()
}

// The claims go on while the pending gauge's count is still running: that
// count reads the whole backlog, the claims must not.
func TestClaimsDoNotWaitForThePendingCount(t *testing.T) {
	q := &countStuckQueue{counting: make(chan struct{})}
	completed := make(chan int64, 3)
	l := &loop[string]{
		name: "test", q: q, workers: 1, owner: "me",
		lease: time.Minute, poll: 10 * time.Millisecond,
		now: time.Now, rand: func() float64 { return 0 },
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		maxAttempts: 3, backoff: Backoff{Base: time.Second, Max: time.Second},
		work: func(context.Context, claimed[string]) outcome { return outcome{} },
		complete: func(_ context.Context, _ time.Time, c claimed[string], _ outcome) error {
			completed <- c.seq
			return nil
		},
		observe:      func(claimed[string], result) {},
		pendingGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_pending"}),
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx, wakeup.New()); close(done) }()
	defer func() { stop(); <-done }()
	<-q.counting
	for want := int64(1); want <= 3; want++ {
		select {
		case seq := <-completed:
			if seq != want {
				t.Fatalf("item %d completed, want %d", seq, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("item %d was never claimed while the pending count ran", want)
		}
	}
}
