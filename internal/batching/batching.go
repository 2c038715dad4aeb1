// Package batching sends work that arrives together as one batch: callers
// add items, one flusher at a time takes what has queued and hands it to a
// flush function. There is no timer: an item added while nothing is being
// flushed goes at once, alone; items added during a flush go together in
// the next one. So one expensive operation (a commit, a round trip) serves
// many callers under load and costs a lone caller nothing.
//
// The inbox's group commit (internal/inbox), the Redis limiter's
// pipelined decisions (internal/limiter) and the workers' reads of a
// message's consent and session (internal/hotel) are built on it. A
// caller that needs an answer puts a buffered channel in its item and
// waits on it.
package batching

import "sync"

// Queue batches items of type T.
type Queue[T any] struct {
	take  func(pending []T) int
	flush func(batch []T)

	mu       sync.Mutex
	pending  []T
	flushing bool
}

// New returns a queue whose flusher hands each batch to flush. take says
// how many of the pending items (in order, at least one is there) the next
// batch takes; it is called under the queue's lock and must return 1 to
// len(pending). flush runs on the flusher's goroutine, one batch at a time.
func New[T any](take func(pending []T) int, flush func(batch []T)) *Queue[T] {
	return &Queue[T]{take: take, flush: flush}
}

// UpTo is a take for batches of at most n items.
func UpTo[T any](n int) func([]T) int {
	return func(pending []T) int { return min(len(pending), n) }
}

// Add queues item and starts a flusher when none is running.
func (q *Queue[T]) Add(item T) {
	q.mu.Lock()
	q.pending = append(q.pending, item)
	start := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if start {
		go q.run()
	}
}

// run flushes batches until nothing is pending.
func (q *Queue[T]) run() {
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.flushing = false
			q.mu.Unlock()
			return
		}
		n := max(1, min(q.take(q.pending), len(q.pending)))
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		if len(q.pending) == 0 {
			q.pending = nil
		}
		q.mu.Unlock()
		q.flush(batch)
	}
}
