package inbox

import (
	"container/heap"
	"slices"
	"time"
)

// The memory queue never looks at more than it takes. Each conversation
// keeps its open entries (pending and held) in a FIFO; a conversation whose
// head can be claimed now (pending, due, no live lease) waits in its
// tenant's ready list, and tenants with a ready conversation wait in one
// ring. A claim takes the next tenant of the ring, that tenant's next
// conversation and its head: O(1) per item claimed, whatever the backlog,
// round-robin across hotels, and in acceptance order within a conversation.
// Heads not due yet (a retry) and leases that may expire wait in two
// min-heaps and join the ready lists when a claim finds them due.
//
// Entries in the ready lists and heaps may be stale (the conversation was
// finished, re-leased or extended since); each is re-checked when taken out,
// and each conversation is in the ready lists at most once.

// memConv is one conversation of a memory queue.
type memConv[T any] struct {
	key    string
	tenant *memTenant[T]
	fifo   []*memEntry[T] // open entries (pending and held), seq order
	ready  bool           // in its tenant's ready list
	// lease is the latest claim's (token 0: none since the last outcome);
	// an expired lease stays until another claim replaces it, so a late
	// outcome of its worker still counts when nobody took over.
	lease    memLease
	leaseIdx int // in the lease heap while live, else -1
}

// memTenant is one tenant's ready conversations, oldest-ready first. Tenants
// are kept once seen: there are as many as hotels.
type memTenant[T any] struct {
	id    string
	ready ring[*memConv[T]]
	inRR  bool // in the queue's tenant ring
}

// ring is a FIFO on a growable circular buffer: push and pop are O(1).
type ring[T any] struct {
	buf        []T
	head, size int
}

func (r *ring[T]) len() int { return r.size }

func (r *ring[T]) push(v T) {
	if r.size == len(r.buf) {
		n := max(8, 2*len(r.buf))
		buf := make([]T, n)
		for i := range r.size {
			buf[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = v
	r.size++
}

func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	if r.size == 0 && len(r.buf) > 64 {
		r.buf, r.head = nil, 0 // a burst's buffer is not kept for ever
	}
	return v
}

// timed is a conversation to look at again at `at` (its head's retry).
type timed[T any] struct {
	at   time.Time
	conv *memConv[T]
}

type timerHeap[T any] []timed[T]

func (h timerHeap[T]) Len() int           { return len(h) }
func (h timerHeap[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap[T]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap[T]) Push(x any)        { *h = append(*h, x.(timed[T])) }
func (h *timerHeap[T]) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

func (h *timerHeap[T]) due(now time.Time) (timed[T], bool) {
	if len(*h) == 0 || (*h)[0].at.After(now) {
		return timed[T]{}, false
	}
	return heap.Pop(h).(timed[T]), true
}

// leaseHeap orders the leased conversations by lease expiry; each knows
// its index, so a finished claim leaves the heap at once and an extended one
// moves in place.
type leaseHeap[T any] []*memConv[T]

func (h leaseHeap[T]) Len() int           { return len(h) }
func (h leaseHeap[T]) Less(i, j int) bool { return h[i].lease.until.Before(h[j].lease.until) }
func (h leaseHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].leaseIdx, h[j].leaseIdx = i, j
}
func (h *leaseHeap[T]) Push(x any) {
	c := x.(*memConv[T])
	c.leaseIdx = len(*h)
	*h = append(*h, c)
}
func (h *leaseHeap[T]) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.leaseIdx = -1
	return c
}

// memRetention bounds what a memory queue keeps once finished: the newest
// keepFinished finished entries stay listable, older ones are dropped.
type memRetention struct {
	keepFinished int
}

// conv returns key's conversation, created on first use.
func (q *memQueue[T]) conv(key, tenant string) *memConv[T] {
	c := q.convs[key]
	if c == nil {
		t := q.tenants[tenant]
		if t == nil {
			t = &memTenant[T]{id: tenant}
			q.tenants[tenant] = t
		}
		c = &memConv[T]{key: key, tenant: t, leaseIdx: -1}
		q.convs[key] = c
	}
	return c
}

// leased reports whether c's lease is live at now.
func (c *memConv[T]) leased(now time.Time) bool {
	return c.lease.token != 0 && c.lease.until.After(now)
}

// schedule puts c where its state says: in its tenant's ready list when its
// head can be claimed now, in the retry heap when the head is due later;
// nothing when leased (the lease heap has it), held, empty (c is forgotten)
// or already ready. The caller holds b.mu.
func (q *memQueue[T]) schedule(c *memConv[T], now time.Time) {
	if c.ready {
		return
	}
	if len(c.fifo) == 0 {
		if c.lease.token == 0 && q.convs[c.key] == c {
			delete(q.convs, c.key)
		}
		return
	}
	if c.leased(now) {
		return
	}
	h := c.fifo[0]
	if h.state != StatePending {
		return
	}
	if h.nextAt.After(now) {
		heap.Push(&q.retries, timed[T]{at: h.nextAt, conv: c})
		return
	}
	c.ready = true
	t := c.tenant
	t.ready.push(c)
	if !t.inRR {
		t.inRR = true
		q.rr.push(t)
	}
}

// promote moves what has come due by now (retries, expired leases) into
// the ready lists; the caller holds b.mu.
func (q *memQueue[T]) promote(now time.Time) {
	for {
		t, ok := q.retries.due(now)
		if !ok {
			break
		}
		q.schedule(t.conv, now)
	}
	for len(q.leases) > 0 && !q.leases[0].lease.until.After(now) {
		q.schedule(heap.Pop(&q.leases).(*memConv[T]), now)
	}
}

// take leases c's head to a claim; the caller holds b.mu.
func (q *memQueue[T]) take(c *memConv[T], token int64, until time.Time) {
	c.lease = memLease{token: token, until: until}
	if c.leaseIdx >= 0 {
		heap.Fix(&q.leases, c.leaseIdx)
	} else {
		heap.Push(&q.leases, c)
	}
}

// free ends c's lease (an outcome was recorded); the caller holds b.mu.
func (q *memQueue[T]) free(c *memConv[T]) {
	if c.leaseIdx >= 0 {
		heap.Remove(&q.leases, c.leaseIdx)
	}
	c.lease = memLease{}
}

// next pops the next claimable conversation, round-robin across tenants, or
// nil; the caller holds b.mu.
func (q *memQueue[T]) next(now time.Time) *memConv[T] {
	for q.rr.len() > 0 {
		t := q.rr.pop()
		var got *memConv[T]
		for t.ready.len() > 0 && got == nil {
			c := t.ready.pop()
			c.ready = false
			if len(c.fifo) > 0 && !c.leased(now) && c.fifo[0].state == StatePending && !c.fifo[0].nextAt.After(now) {
				got = c
			} else {
				q.schedule(c, now) // stale: put it where it belongs now
			}
		}
		if t.ready.len() > 0 {
			q.rr.push(t)
		} else {
			t.inRR = false
		}
		if got != nil {
			return got
		}
	}
	return nil
}

// setState moves e to state, keeping the open counts; the caller holds b.mu.
func (q *memQueue[T]) setState(e *memEntry[T], state string) {
	q.counts[e.state]--
	e.state = state
	q.counts[state]++
}

// retain drops the oldest finished entries beyond the retention, in one pass
// once twice as many have accumulated, so the cost per finished entry stays
// constant; the caller holds b.mu. The dead (or failed) are kept apart, up
// to as many again: they wait for someone to replay them, and a busy day's
// answered messages must not push them out of the dead letters' list.
func (q *memQueue[T]) retain() {
	keep := q.retention.keepFinished
	failed := q.counts[q.failState]
	others := q.finished - failed
	if keep <= 0 || others <= 2*keep && failed <= 2*keep {
		return
	}
	excess, excessFailed := max(0, others-keep), max(0, failed-keep)
	q.all = slices.DeleteFunc(q.all, func(e *memEntry[T]) bool {
		switch {
		case e.state == StatePending || e.state == StateHeld:
			return false
		case e.state == q.failState:
			if excessFailed == 0 {
				return false
			}
			excessFailed--
		default:
			if excess == 0 {
				return false
			}
			excess--
		}
		q.finished--
		q.counts[e.state]--
		delete(q.bySeq, e.seq)
		return true
	})
}
