// Package bodybudget reads request bodies into pooled buffers under a cap on
// the bytes held at once, in total and per client.
//
// A webhook body must be held whole before its signature can be checked, so
// an unauthenticated client decides how much memory a request costs: a
// thousand connections that each send almost the largest accepted body and
// stall would pin a thousand buffers. A Budget bounds that: a read reserves
// the capacity of the buffer it fills before reading into it, and is refused
// (ErrOverBudget: the caller answers 503, which Meta retries) when the
// reservation would take the bytes in flight over the instance's limit or
// the client's share of it. A client address can therefore hold at most its
// share, however many connections it opens, and the rest of the budget stays
// for everybody else.
//
// Buffers come from size-classed pools (4 KiB to 1 MiB, ×4 apart), so a
// steady stream of webhooks allocates almost nothing; a body grows through
// the classes as it arrives unless its Content-Length says its size up front.
package bodybudget

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// ErrOverBudget is a read refused because the bytes in flight would exceed
// the budget (the instance's or the client's).
var ErrOverBudget = errors.New("bodybudget: memory for request bodies exhausted")

// ErrTooLarge is a body longer than the read's limit; nothing is kept.
var ErrTooLarge = errors.New("bodybudget: body larger than the limit")

// classes are the pooled buffer capacities.
var classes = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

var pools [len(classes)]sync.Pool

// Budget is a cap on the bytes of request bodies held at once. The zero
// value has no limit; set one with SetLimits. Safe for concurrent use.
type Budget struct {
	mu     sync.Mutex
	limit  int64 // total; 0: none
	perKey int64 // one key's share; 0: none
	used   int64
	byKey  map[string]int64

	refused atomic.Uint64
}

// New is a budget of limit bytes in total and perKey bytes per key (0: no
// limit).
func New(limit, perKey int64) *Budget {
	b := &Budget{}
	b.SetLimits(limit, perKey)
	return b
}

// SetLimits changes the limits; reads already holding bytes keep them.
func (b *Budget) SetLimits(limit, perKey int64) {
	b.mu.Lock()
	b.limit, b.perKey = max(limit, 0), max(perKey, 0)
	b.mu.Unlock()
}

// InUse is the number of bytes reserved now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Refused counts reads refused with ErrOverBudget.
func (b *Budget) Refused() uint64 { return b.refused.Load() }

func (b *Budget) reserve(key string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.used+n > b.limit {
		b.refused.Add(1)
		return false
	}
	if b.perKey > 0 && b.byKey[key]+n > b.perKey {
		b.refused.Add(1)
		return false
	}
	b.used += n
	if b.byKey == nil {
		b.byKey = map[string]int64{}
	}
	b.byKey[key] += n
	return true
}

func (b *Budget) release(key string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if left := b.byKey[key] - n; left > 0 {
		b.byKey[key] = left
	} else {
		delete(b.byKey, key)
	}
}

// Body is a body read under a budget. Its bytes are valid until Release,
// after which the buffer serves another request: whatever keeps them longer
// must copy them.
type Body struct {
	budget *Budget
	key    string
	buf    []byte
}

// Bytes is the body.
func (b *Body) Bytes() []byte {
	if b == nil {
		return nil
	}
	return b.buf
}

// Release gives the buffer back to its pool and its bytes back to the
// budget. Calling it again does nothing.
func (b *Body) Release() {
	if b == nil || b.budget == nil {
		return
	}
	b.budget.give(b.key, b.buf)
	b.budget, b.buf = nil, nil
}

func (b *Budget) give(key string, buf []byte) {
	b.release(key, int64(cap(buf)))
	putBuffer(buf)
}

// take reserves and returns an empty buffer of at least size bytes.
func (b *Budget) take(key string, size int) ([]byte, bool) {
	c := classFor(size)
	if !b.reserve(key, int64(c)) {
		return nil, false
	}
	return getBuffer(c), true
}

// classFor is the capacity a buffer of size bytes gets: the smallest class
// that holds it, or exactly size above the largest class.
func classFor(size int) int {
	for _, c := range classes {
		if size <= c {
			return c
		}
	}
	return size
}

func getBuffer(capacity int) []byte {
	for i, c := range classes {
		if c == capacity {
			if p, ok := pools[i].Get().(*[]byte); ok {
				return (*p)[:0]
			}
			return make([]byte, 0, c)
		}
	}
	return make([]byte, 0, capacity)
}

func putBuffer(buf []byte) {
	for i, c := range classes {
		if c == cap(buf) {
			buf = buf[:0]
			pools[i].Put(&buf)
			return
		}
	}
}

// Read reads r to its end into a pooled buffer, at most limit bytes,
// reserving the buffer's capacity from the budget under key (the client)
// before reading into it. sizeHint is the announced length (Content-Length)
// or -1. It fails with ErrTooLarge past limit, with ErrOverBudget when the
// budget has no room, or with r's error; on failure nothing is held.
func (b *Budget) Read(r io.Reader, key string, limit, sizeHint int64) (*Body, error) {
	if sizeHint > limit {
		return nil, ErrTooLarge
	}
	first := int64(classes[0])
	if sizeHint >= 0 {
		first = max(sizeHint, 1)
	}
	buf, ok := b.take(key, int(min(first, max(limit, 1))))
	if !ok {
		return nil, ErrOverBudget
	}
	fail := func(err error) (*Body, error) {
		b.give(key, buf)
		return nil, err
	}
	for {
		if len(buf) == cap(buf) {
			// Full: either the body ends here or it needs a larger buffer.
			// One byte tells, without growing for a body that exactly fits.
			var probe [1]byte
			n, err := io.ReadFull(r, probe[:])
			if n == 0 {
				if err == io.EOF {
					return &Body{budget: b, key: key, buf: buf}, nil
				}
				return fail(err)
			}
			if int64(len(buf)) >= limit {
				return fail(ErrTooLarge)
			}
			next := min(int64(classFor(cap(buf)+1)), limit)
			bigger, ok := b.take(key, int(next))
			if !ok {
				return fail(ErrOverBudget)
			}
			bigger = append(append(bigger, buf...), probe[0])
			b.give(key, buf)
			buf = bigger
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > limit {
				return fail(ErrTooLarge)
			}
			return &Body{budget: b, key: key, buf: buf}, nil
		}
		if err != nil {
			return fail(err)
		}
	}
}
