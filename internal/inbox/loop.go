package inbox

import (
	"context"
	"errors"
	"log/slog"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tracing"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// claimed is one leased item: the lease belongs to its conversation and is
// fenced by token.
type claimed[T any] struct {
	seq        int64
	key        string // conversation key
	token      int64
	attempts   int // including this one
	acceptedAt time.Time
	item       T
	// traceParent is the W3C traceparent stored with the item (the span
	// that accepted or queued it), "" without tracing.
	traceParent string
	// claimStart and claimEnd time the claim that took the item, for its
	// span (wall clock, whatever the loop's clock).
	claimStart, claimEnd time.Time
}

// queue is what the loop needs from a backend's inbox or outbox.
type queue[T any] interface {
	// claim leases up to n conversation heads that are due and not leased,
	// appended to into (the loop hands back its last claim's, emptied, so
	// that a claim of an item or two allocates nothing).
	claim(ctx context.Context, into []claimed[T], now time.Time, owner string, n int, leaseUntil time.Time) ([]claimed[T], error)
	// extend renews c's lease; errLeaseLost if another worker has it now.
	// It reads only c's fence (seq, key, token): the heartbeat passes no
	// item (fenceClaim).
	extend(ctx context.Context, c claimed[T], leaseUntil time.Time) error
	// retry schedules another attempt at `at` and frees the conversation.
	retry(ctx context.Context, c claimed[T], now, at time.Time, msg string) error
	// fail gives the item up (dead / failed) and frees the conversation.
	fail(ctx context.Context, c claimed[T], now time.Time, msg string) error
	// release frees the conversation without counting the attempt.
	release(ctx context.Context, c claimed[T]) error
	// hold parks the item (StateHeld) without counting the attempt; its
	// conversation stays blocked behind it.
	hold(ctx context.Context, c claimed[T], now time.Time, msg string) error
	// suppress finishes the item as StateSuppressed without counting the
	// attempt and frees the conversation.
	suppress(ctx context.Context, c claimed[T], now time.Time, msg string) error
	// pending counts the items waiting for an attempt.
	pending(ctx context.Context) (int, error)
	// held counts the items held.
	held(ctx context.Context) (int, error)
}

type queueKind int

const (
	queueInbox queueKind = iota
	queueOutbox
)

type outcome struct {
	replies []OutboundReply
	// writes are the handler's deferred writes, run by the completion;
	// deferred runs its after-commit hooks once the completion committed.
	writes     []store.Statement
	deferred   *store.Deferred
	providerID string
	err        error
}

type result int

const (
	resultDone result = iota
	resultRetry
	resultGaveUp
	resultLeaseLost
	resultHeld
	resultSuppressed
)

// finishTimeout bounds the write that records an outcome; it is not tied to
// the Run context, so a shutdown still records what finished.
const finishTimeout = 10 * time.Second

// instantQueue is a queue whose calls do no I/O and return at once (the
// memory backend's): they need no deadline, and a timer per call is three
// allocations per message (BenchmarkMemoryLoop: 32 → 29; its CPU figures
// overlapped).
type instantQueue interface{ instant() }

// bounded is ctx without its cancellation, bounded by finishTimeout unless
// the queue's calls return at once.
func (l *loop[T]) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if _, ok := l.q.(instantQueue); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, finishTimeout)
}

// pendingEvery is how often the pending gauge is refreshed.
const pendingEvery = 5 * time.Second

// refreshGauges sets pendingGauge (and heldGauge, when set) from the queue's
// counts now and then every pendingEvery, until ctx ends.
func (l *loop[T]) refreshGauges(ctx context.Context) {
	ticker := time.NewTicker(pendingEvery)
	defer ticker.Stop()
	for {
		if n, err := l.q.pending(ctx); err == nil {
			l.pendingGauge.Set(float64(n))
		}
		if l.heldGauge != nil {
			if n, err := l.q.held(ctx); err == nil {
				l.heldGauge.Set(float64(n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// loop claims due items and runs them on up to `workers` goroutines, one per
// conversation, renewing leases while they run.
type loop[T any] struct {
	name        string
	q           queue[T]
	workers     int
	owner       string
	lease       time.Duration
	poll        time.Duration
	now         func() time.Time
	rand        func() float64
	log         *slog.Logger
	maxAttempts int
	backoff     Backoff
	// holds applies Hold and Suppress (the outbox); elsewhere they are
	// ordinary errors.
	holds bool
	// wakeClaims: after a claim that found less than it asked for, the
	// loop claims again only when woken (or polled), not each time an item
	// finishes. Its queue must then wake the loop when an outcome leaves
	// more of the item's conversation to do; any outcome but done makes
	// the loop claim again anyway. The outbox's 32 senders otherwise
	// claimed at nearly every finished reply, one reply per claim.
	wakeClaims bool

	// work runs an item under a context that ends after timeout (none: 0),
	// when the lease is lost, or when the loop stops.
	work     func(ctx context.Context, c claimed[T]) outcome
	timeout  time.Duration
	complete func(ctx context.Context, now time.Time, c claimed[T], o outcome) error
	observe  func(c claimed[T], r result)
	// pendingGauge, when set, shows q.pending, refreshed every pendingEvery;
	// heldGauge likewise q.held.
	pendingGauge prometheus.Gauge
	heldGauge    prometheus.Gauge

	// tracer makes each item's span, named spanName, a child of the span
	// its traceParent names, with the attributes attrs gives, and the
	// claim's and the outcome's spans under it (the zero Tracer: none).
	tracer                tracing.Tracer
	spanName              string
	attrs                 func(T) []attribute.KeyValue
	claimSpan, finishSpan string
}

func (l *loop[T]) run(ctx context.Context, wake wakeup.Signal) {
	// The loop's goroutines and those it starts carry these labels in CPU
	// profiles, so a process running the edge and the workers together
	// can be split into the two (pprof's -tagfocus role=worker).
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("role", "worker", "queue", l.name)))
	defer pprof.SetGoroutineLabels(ctx)
	l.claimSpan, l.finishSpan = l.name+".claim", l.name+".finish"
	var wg sync.WaitGroup
	defer wg.Wait()
	// finished carries, per item or run of items, whether all ended done.
	finished := make(chan bool, l.workers)
	// The items run on `workers` goroutines that live as long as the loop:
	// a goroutine per item started on a small stack and grew it through the
	// handler's calls every time. A claim takes at most the free slots, so
	// the buffer always has room for what it hands out.
	jobs := make(chan claimed[T], l.workers)
	defer close(jobs)
	_, instant := l.q.(instantQueue)
	for range l.workers {
		wg.Go(func() {
			var taken []claimed[T] // reused by each of this worker's claims
			for c := range jobs {
				allDone := l.process(ctx, c)
				// On a queue whose claims cost nothing (memory), the slot
				// takes the next item itself: with a backlog the loop is
				// not woken per item, and the workers do not wait for it
				// behind the edge's goroutines. Postgres claims stay
				// grouped by the loop.
				for instant && ctx.Err() == nil {
					var err error
					taken, err = l.claim(ctx, taken[:0], 1)
					if err != nil || len(taken) == 0 {
						break
					}
					allDone = l.process(ctx, taken[0]) && allDone
				}
				finished <- allDone
			}
		})
	}
	if l.pendingGauge != nil {
		// Counting the pending items reads every one of them (tens of
		// milliseconds with a backlog of 100,000 on Postgres): the claims
		// do not wait for it.
		wg.Go(func() { l.refreshGauges(ctx) })
	}
	ticker := time.NewTicker(l.poll)
	defer ticker.Stop()
	inflight := 0
	failures := 0
	// drained: the last claim found less than it asked for (wakeClaims).
	drained := false
	var cs []claimed[T] // each claim's items, handed to the workers by value
	for {
		if ctx.Err() != nil {
			return
		}
		// A claim costs about the same for one item as for several, so
		// while items are in flight it waits until half the slots are free
		// and takes them in one statement; with none in flight it claims at
		// once, so a lone message is not delayed.
		if free := l.workers - inflight; free > 0 && (inflight == 0 || free >= (l.workers+1)/2) && !drained {
			var err error
			cs, err = l.claim(ctx, cs[:0], free)
			drained = l.wakeClaims && err == nil && len(cs) < free
			if ctx.Err() != nil {
				l.releaseAll(ctx, cs)
				return
			}
			switch {
			case err != nil && ctx.Err() == nil:
				// Log the first failure and then one in 60, so an outage
				// is visible without flooding.
				if failures%60 == 0 {
					l.log.Warn("claiming work failed; retrying", "queue", l.name, "error", err, "failures", failures+1)
				}
				failures++
			case err == nil:
				if failures > 0 {
					l.log.Info("claiming work recovered", "queue", l.name, "failures", failures)
					failures = 0
				}
			}
			for _, c := range cs {
				inflight++
				jobs <- c
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake.C():
			drained = false
		case <-ticker.C:
			drained = false
		case done := <-finished:
			inflight--
			drained = drained && done
		}
		// Take every completion already signalled, so the next claim asks
		// for all free slots at once.
		for taken := false; !taken; {
			select {
			case done := <-finished:
				inflight--
				drained = drained && done
			default:
				taken = true
			}
		}
	}
}

// claim is not cancelled by shutdown: a claim abandoned mid-flight can still
// commit on the server, and its items would then sit leased, unseen, until
// the lease expires. So every claim is awaited, and handed back if Run is
// stopping by then.
func (l *loop[T]) claim(ctx context.Context, into []claimed[T], n int) ([]claimed[T], error) {
	cctx, cancel := l.bounded(ctx)
	defer cancel()
	now := l.now()
	start := time.Now()
	cs, err := l.q.claim(cctx, into, now, l.owner, n, now.Add(l.lease))
	end := time.Now()
	for i := len(into); i < len(cs); i++ {
		cs[i].claimStart, cs[i].claimEnd = start, end
	}
	return cs, err
}

func (l *loop[T]) releaseAll(ctx context.Context, cs []claimed[T]) {
	fctx, cancel := l.bounded(ctx)
	defer cancel()
	for _, c := range cs {
		if err := l.q.release(fctx, c); err != nil {
			l.log.Warn("handing back a claim at shutdown failed; it is retried after its lease expires",
				"queue", l.name, "seq", c.seq, "error", err)
		}
	}
}

// process runs one claimed item: the work under a lease kept alive by a
// heartbeat, then the outcome recorded under the same fence. Its span starts
// with the claim and continues the trace stored with the item. It reports
// whether the item ended done.
func (l *loop[T]) process(ctx context.Context, c claimed[T]) bool {
	if l.tracer.On() {
		ctx = tracing.WithParent(ctx, c.traceParent)
	}
	ctx, span := l.tracer.StartAt(ctx, l.spanName, trace.SpanKindConsumer, c.claimStart)
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("agente.attempt", c.attempts), attribute.String("agente.claimed_by", l.owner),
			attribute.Int64("agente.seq", c.seq))
		if l.attrs != nil {
			span.SetAttributes(l.attrs(c.item)...)
		}
		_, claim := l.tracer.StartAt(ctx, l.claimSpan, trace.SpanKindInternal, c.claimStart)
		claim.End(trace.WithTimestamp(c.claimEnd))
	}
	// The work's context, with its timeout, is made beside the heartbeat's,
	// not under it: the timeout does not stop the heartbeat (the lease is
	// kept until the work returns), and a context made under another gives
	// that one a set of children, allocated per item.
	bctx, stopBeat := context.WithCancel(ctx)
	var wctx context.Context
	var cancelWork context.CancelFunc
	if l.timeout > 0 {
		wctx, cancelWork = context.WithTimeout(ctx, l.timeout)
	} else {
		wctx, cancelWork = context.WithCancel(ctx)
	}
	var lost atomic.Bool
	// The heartbeat starts when the first renewal is due, on a timer: most
	// items are done long before, and a goroutine per item, waiting only to
	// be told so, cost two scheduler hand-offs each. It is given the claim's
	// fence, not the claim: capturing c moved the whole claim, item
	// included, to the heap for every item.
	fence := c.fence()
	var beating sync.WaitGroup
	beating.Add(1)
	beat := time.AfterFunc(l.beatEvery(), func() {
		defer beating.Done()
		l.heartbeat(bctx, fence, func() { lost.Store(true); cancelWork(); stopBeat() })
	})
	out := l.work(wctx, c)
	cancelWork()
	stopBeat()
	if beat.Stop() {
		beating.Done() // it never started
	}
	beating.Wait()
	if out.err != nil && span.IsRecording() {
		span.RecordError(out.err)
		var held heldError
		var suppressed suppressedError
		if !errors.As(out.err, &held) && !errors.As(out.err, &suppressed) {
			span.SetStatus(codes.Error, out.err.Error())
		}
	}

	fctx, fcancel := l.bounded(ctx)
	defer fcancel()
	fctx, fspan := l.tracer.Start(fctx, l.finishSpan, trace.SpanKindInternal)
	done, err := l.finish(fctx, span, c, out, ctx.Err() != nil || lost.Load())
	tracing.End(fspan, err)
	if errors.Is(err, errLeaseLost) {
		l.record(span, c, resultLeaseLost)
		l.log.Warn("lease lost before the outcome was recorded; another worker owns it now",
			"queue", l.name, "seq", c.seq, "attempt", c.attempts)
		return false
	}
	if err != nil {
		// The lease will expire and the item will be claimed again.
		l.log.Warn("recording outcome failed; the item will be retried after its lease expires",
			"queue", l.name, "seq", c.seq, "error", err)
	}
	return done && err == nil
}

// resultNames name results in spans.
var resultNames = [...]string{resultDone: "done", resultRetry: "retry", resultGaveUp: "gave_up",
	resultLeaseLost: "lease_lost", resultHeld: "held", resultSuppressed: "suppressed"}

// record observes r, and names it on span (the item's).
func (l *loop[T]) record(span trace.Span, c claimed[T], r result) {
	l.observe(c, r)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("agente.outcome", resultNames[r]))
	}
}

// leaseFence is what identifies a claim's lease to the queue's extend: the
// item's seq, its conversation and the claim's token.
type leaseFence struct {
	seq   int64
	key   string
	token int64
}

func (c *claimed[T]) fence() leaseFence { return leaseFence{seq: c.seq, key: c.key, token: c.token} }

// fenceClaim is the claim the fence was taken from, for extend, without
// its item: extend reads only the fence.
func fenceClaim[T any](f leaseFence) claimed[T] {
	return claimed[T]{seq: f.seq, key: f.key, token: f.token}
}

// beatEvery is how often a running item's lease is renewed.
func (l *loop[T]) beatEvery() time.Duration { return max(l.lease/3, time.Millisecond) }

// heartbeat renews the lease now (the first renewal is due: process
// starts it on a timer) and then every beatEvery until ctx ends or the
// lease is lost.
func (l *loop[T]) heartbeat(ctx context.Context, f leaseFence, lostLease func()) {
	c := fenceClaim[T](f)
	var t *time.Ticker
	for {
		if t != nil {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return // the work ended as the first renewal came due
		}
		hctx, cancel := l.bounded(ctx)
		err := l.q.extend(hctx, c, l.now().Add(l.lease))
		cancel()
		if errors.Is(err, errLeaseLost) {
			lostLease()
			return
		}
		if err != nil && ctx.Err() == nil {
			l.log.Warn("renewing lease failed", "queue", l.name, "seq", c.seq, "error", err)
		}
		if t == nil {
			t = time.NewTicker(l.beatEvery())
			defer t.Stop()
		}
	}
}

func (l *loop[T]) finish(ctx context.Context, span trace.Span, c claimed[T], out outcome, interrupted bool) (done bool, err error) {
	now := l.now()
	if out.err == nil {
		err := l.complete(ctx, now, c, out)
		if err == nil {
			l.record(span, c, resultDone)
			return true, nil
		}
		var pe permanentError
		if !errors.As(err, &pe) {
			return false, err
		}
		out.err = err // e.g. an invalid reply: no retry can fix it
	}
	if interrupted {
		// Shutdown or lost lease: not the item's fault, so the attempt
		// does not count (release fails with errLeaseLost when lost).
		return false, l.q.release(ctx, c)
	}
	msg := out.err.Error()
	if l.holds {
		var held heldError
		var suppressed suppressedError
		switch {
		case errors.As(out.err, &held):
			if err := l.q.hold(ctx, c, now, msg); err != nil {
				return false, err
			}
			l.record(span, c, resultHeld)
			return false, nil
		case errors.As(out.err, &suppressed):
			if err := l.q.suppress(ctx, c, now, msg); err != nil {
				return false, err
			}
			l.record(span, c, resultSuppressed)
			return false, nil
		}
	}
	retry, after := classify(out.err)
	if !retry || c.attempts >= l.maxAttempts {
		if err := l.q.fail(ctx, c, now, msg); err != nil {
			return false, err
		}
		l.record(span, c, resultGaveUp)
		l.log.Warn("giving up", "queue", l.name, "seq", c.seq, "attempts", c.attempts, "error", msg)
		return false, nil
	}
	delay := max(l.backoff.Delay(c.attempts, l.rand()), after)
	if err := l.q.retry(ctx, c, now, now.Add(delay), msg); err != nil {
		return false, err
	}
	l.record(span, c, resultRetry)
	return false, nil
}
