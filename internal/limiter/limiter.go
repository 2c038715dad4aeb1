// Package limiter decides whether a request fits its rate limits.
//
// # Semantics: an exact sliding window
//
// A Limit of Events per Window means: for one key, at most Events requests
// are admitted in ANY interval of length Window. "120 per minute" admits
// exactly 120 of a burst of 300, however fast or slow the burst arrives, and
// the 121st is admitted only when the first admitted one is a full Window old.
// This is a sliding log (the times of the admitted requests still inside the
// window), not a token bucket (GCRA would admit 120 at once and then one more
// every 500 ms, i.e. up to 239 in the first minute) nor a fixed window (up to
// 240 across a window boundary).
//
// Rejected requests are not recorded: a client hammering a limited key gets
// its quota back as its admitted requests age out, not later.
//
// # Several limits at once
//
// AllowAll decides one request against several limits (zones) atomically:
// the request is admitted only if every limit has room, and only then is it
// recorded in every limit. A request rejected by one zone consumes nothing in
// the others (unlike limiters that charge zones one after the other). Memory
// does this under the locks of every shard involved; Redis in one Lua script,
// one round trip for any number of zones.
//
// # Decisions
//
// Decision.Remaining is what is left after this request (if admitted).
// RetryAfter is zero when admitted; when rejected it is the time until a
// request would be admitted (the oldest admission that must leave the window
// does so). ResetAfter is the time until the window holds none of the
// requests it counts now, i.e. until Remaining is back to Limit.
//
// # Backends
//
// Memory is per process (sharded, bounded: one slot per admitted request
// still in its window, idle keys dropped). Redis is shared by every instance
// using the same server and key prefix, with the server's clock (TIME), so N
// instances admit exactly Events per Window in total. Failover puts a local
// Memory behind Redis for when Redis is unreachable.
package limiter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limit is "Events per Window".
type Limit struct {
	Events int
	Window time.Duration
}

func (l Limit) validate() error {
	if l.Events <= 0 {
		return fmt.Errorf("%w: events must be > 0, got %d", ErrInvalidLimit, l.Events)
	}
	if l.Window <= 0 {
		return fmt.Errorf("%w: window must be > 0, got %s", ErrInvalidLimit, l.Window)
	}
	return nil
}

// Request is one key checked against one limit; a zone's share of a request.
type Request struct {
	Key   string
	Limit Limit
}

// Decision is one limit's verdict on a request.
type Decision struct {
	// Allowed: this limit had room. For AllowAll, the request was admitted
	// only if every decision is Allowed.
	Allowed bool
	// Limit is the limit's Events.
	Limit int
	// Remaining is how many more requests this limit admits now (after
	// this one, when it was admitted).
	Remaining int
	// ResetAfter is the time until the window is empty again (Remaining back
	// to Limit).
	ResetAfter time.Duration
	// RetryAfter is zero when allowed; else the time until this limit
	// admits a request again.
	RetryAfter time.Duration
}

// Limiter is a rate-limit backend.
type Limiter interface {
	// Allow decides one request for key against limit, recording it when
	// admitted.
	Allow(ctx context.Context, key string, limit Limit) (Decision, error)
	// AllowAll decides one request against every reqs[i] at once, writing
	// each limit's verdict to out[i] (len(out) >= len(reqs)). It reports
	// whether the request was admitted; it is recorded in every limit if so,
	// and in none otherwise. Keys must be distinct.
	AllowAll(ctx context.Context, reqs []Request, out []Decision) (bool, error)
}

var (
	// ErrInvalidLimit is returned for a Limit with non-positive Events or Window.
	ErrInvalidLimit = errors.New("limiter: invalid limit")
	// ErrBackendSkipped is passed to Failover's OnDegraded for requests decided
	// without the primary backend because it failed recently (back-off).
	ErrBackendSkipped = errors.New("limiter: backend skipped after a recent failure")
)

func checkArgs(reqs []Request, out []Decision) error {
	if len(out) < len(reqs) {
		return fmt.Errorf("limiter: %d requests but room for %d decisions", len(reqs), len(out))
	}
	for i := range reqs {
		if err := reqs[i].Limit.validate(); err != nil {
			return fmt.Errorf("key %q: %w", reqs[i].Key, err)
		}
	}
	return nil
}

// verdict is one limit's decision given its window before this request:
// count requests inside, a slot freeing at freeing (when count >= Events), the
// newest at newest (when count > 0); all times on one clock.
func verdict(l Limit, admitted bool, count int, now, freeing, newest time.Duration) Decision {
	d := Decision{Limit: l.Events}
	switch {
	case admitted:
		d.Allowed, d.Remaining, d.ResetAfter = true, max(0, l.Events-count-1), l.Window
	case count < l.Events:
		// Had room, but another limit rejected the request: nothing recorded.
		d.Allowed, d.Remaining = true, l.Events-count
		if count > 0 {
			d.ResetAfter = max(0, newest+l.Window-now)
		}
	default:
		d.RetryAfter = max(0, freeing-now)
		d.ResetAfter = max(0, newest+l.Window-now)
	}
	return d
}

// Strictest picks the decision to report to a client among one request's
// decisions: when some limit rejected, the rejecting one with the longest
// RetryAfter (the request fits only once all of them have room); else the one
// with the least Remaining (ties: the longest ResetAfter). The zero Decision
// for an empty slice.
func Strictest(ds []Decision) Decision {
	var best Decision
	found := false
	for _, d := range ds {
		if !found {
			best, found = d, true
			continue
		}
		switch {
		case best.Allowed && !d.Allowed:
			best = d
		case !best.Allowed && d.Allowed:
		case !d.Allowed:
			if d.RetryAfter > best.RetryAfter {
				best = d
			}
		case d.Remaining < best.Remaining ||
			(d.Remaining == best.Remaining && d.ResetAfter > best.ResetAfter):
			best = d
		}
	}
	return best
}
