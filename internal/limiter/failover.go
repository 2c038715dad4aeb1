package limiter

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Policy says what Failover does with a request the primary backend could
// not decide.
type Policy int

const (
	// PolicyAllow decides it with the local fallback limiter: the service
	// stays up and every instance still enforces the limits on its own.
	PolicyAllow Policy = iota
	// PolicyDeny rejects it (RetryAfter: the rest of the back-off).
	PolicyDeny
)

// Circuit remembers that a backend failed, so that for a back-off period
// requests skip it instead of each paying its timeout. After the back-off one
// request (the probe) tries the backend again: success closes the circuit,
// failure doubles the back-off (up to a maximum). Share one Circuit between
// all users of one backend connection.
type Circuit struct {
	now              func() time.Time
	minWait, maxWait time.Duration
	onChange         func(open bool, err error)

	// openUntil is 0 while closed (the fast path reads only this), else
	// the UnixNano until which the backend is skipped.
	openUntil atomic.Int64
	probing   atomic.Bool
	mu        sync.Mutex
	wait      time.Duration
}

// CircuitOptions configure a Circuit.
type CircuitOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MinBackoff is the first back-off (default 250ms); MaxBackoff caps its
	// doubling (default 2s): the longest a recovered backend stays unused.
	MinBackoff, MaxBackoff time.Duration
	// OnChange, if set, is told when the circuit opens (with the error) and
	// closes again (nil).
	OnChange func(open bool, err error)
}

// NewCircuit returns a closed circuit.
func NewCircuit(opts CircuitOptions) *Circuit {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(2*time.Second, opts.MinBackoff)
	}
	return &Circuit{now: opts.Now, minWait: opts.MinBackoff, maxWait: opts.MaxBackoff, onChange: opts.OnChange}
}

// Open reports whether the backend is currently being skipped.
func (c *Circuit) Open() bool { return c.openUntil.Load() != 0 }

// acquire tells whether to call the backend, and whether that call is the
// probe of a back-off that has elapsed.
func (c *Circuit) acquire() (use, probe bool) {
	until := c.openUntil.Load()
	if until == 0 {
		return true, false
	}
	if c.now().UnixNano() < until {
		return false, false
	}
	if c.probing.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false
}

// remaining is the rest of the back-off (at least the minimum).
func (c *Circuit) remaining() time.Duration {
	if until := c.openUntil.Load(); until != 0 {
		if d := time.Duration(until - c.now().UnixNano()); d > c.minWait {
			return d
		}
	}
	return c.minWait
}

func (c *Circuit) success(probe bool) {
	if c.openUntil.Load() == 0 {
		return
	}
	c.mu.Lock()
	wasOpen := c.openUntil.Swap(0) != 0
	c.wait = 0
	if probe {
		c.probing.Store(false)
	}
	c.mu.Unlock()
	if wasOpen && c.onChange != nil {
		c.onChange(false, nil)
	}
}

func (c *Circuit) failure(probe bool, err error) {
	c.mu.Lock()
	opening := c.openUntil.Load() == 0
	switch {
	case opening:
		c.wait = c.minWait
	case probe:
		c.wait = min(2*c.wait, c.maxWait)
	default:
		// A call started before the circuit opened: the back-off stands.
		c.mu.Unlock()
		return
	}
	c.openUntil.Store(c.now().Add(c.wait).UnixNano())
	if probe {
		c.probing.Store(false)
	}
	c.mu.Unlock()
	if opening && c.onChange != nil {
		c.onChange(true, err)
	}
}

// release ends a probe that neither succeeded nor failed (the caller's
// context ended first).
func (c *Circuit) release(probe bool) {
	if probe {
		c.probing.Store(false)
	}
}

// FailoverOptions configure a Failover.
type FailoverOptions struct {
	// Policy for requests the primary cannot decide (default PolicyAllow).
	Policy Policy
	// Circuit shared with other users of the primary (default: a new one).
	Circuit *Circuit
	// OnDegraded, if set, is called once per request decided without the
	// primary: with its error, or ErrBackendSkipped during a back-off.
	OnDegraded func(err error)
}

// Failover decides with a primary (shared) backend and, when that fails or is
// in back-off, by its Policy: with the fallback (local) limiter, or by
// rejecting. It never returns the primary's error.
type Failover struct {
	primary, fallback Limiter
	policy            Policy
	circuit           *Circuit
	onDegraded        func(error)
}

// NewFailover returns a Failover over primary, with fallback for PolicyAllow.
func NewFailover(primary, fallback Limiter, opts FailoverOptions) *Failover {
	if opts.Circuit == nil {
		opts.Circuit = NewCircuit(CircuitOptions{})
	}
	return &Failover{primary: primary, fallback: fallback, policy: opts.Policy, circuit: opts.Circuit, onDegraded: opts.OnDegraded}
}

// Allow implements Limiter.
func (f *Failover) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	var out [1]Decision
	_, err := f.AllowAll(ctx, []Request{{Key: key, Limit: limit}}, out[:])
	return out[0], err
}

// AllowAll implements Limiter.
func (f *Failover) AllowAll(ctx context.Context, reqs []Request, out []Decision) (bool, error) {
	if err := checkArgs(reqs, out); err != nil {
		return false, err
	}
	cause := ErrBackendSkipped
	if use, probe := f.circuit.acquire(); use {
		ok, err := f.primary.AllowAll(ctx, reqs, out)
		if err == nil {
			f.circuit.success(probe)
			return ok, nil
		}
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about the backend.
			f.circuit.release(probe)
		} else {
			f.circuit.failure(probe, err)
		}
		cause = err
	}
	if f.onDegraded != nil {
		f.onDegraded(cause)
	}
	if f.policy == PolicyAllow {
		return f.fallback.AllowAll(ctx, reqs, out)
	}
	wait := f.circuit.remaining()
	for i := range reqs {
		out[i] = Decision{Limit: reqs[i].Limit.Events, RetryAfter: wait, ResetAfter: wait}
	}
	return false, nil
}
