// Package logsample decides which of many similar events get a log line:
// the first of each key per interval, with a count of the ones left out, so
// a flood from one client costs one line per interval, not one per request,
// and a quiet client's single refusal is never lost.
package logsample

import (
	"sync"
	"time"
)

// DefaultMaxKeys bounds the keys remembered: past it, keys idle for an
// interval are forgotten, and if none is, a new key's events are dropped
// (counted in Dropped) until some are, so a flood from many addresses cannot
// grow the sampler without bound.
const DefaultMaxKeys = 10000

// Sampler is safe for concurrent use.
type Sampler struct {
	every   time.Duration
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	keys    map[string]*entry
	dropped uint64
}

type entry struct {
	last       time.Time // when a line was last let through
	suppressed uint64    // events left out since
}

// New lets one event per key through every interval.
func New(every time.Duration) *Sampler {
	return &Sampler{every: every, maxKeys: DefaultMaxKeys, now: time.Now, keys: map[string]*entry{}}
}

// Allow reports whether this event of key gets a line, and if so how many
// of key's events were left out since its previous line.
func (s *Sampler) Allow(key string) (ok bool, suppressed uint64) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys[key]
	if e == nil {
		if len(s.keys) >= s.maxKeys {
			s.sweep(now)
			if len(s.keys) >= s.maxKeys {
				s.dropped++
				return false, 0
			}
		}
		s.keys[key] = &entry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < s.every {
		e.suppressed++
		return false, 0
	}
	suppressed, e.suppressed, e.last = e.suppressed, 0, now
	return true, suppressed
}

// Dropped counts events of new keys left out because the sampler was full.
func (s *Sampler) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// sweep forgets keys whose last line is an interval old and that left
// nothing out since (what they left out would otherwise be lost).
func (s *Sampler) sweep(now time.Time) {
	for k, e := range s.keys {
		if now.Sub(e.last) >= s.every && e.suppressed == 0 {
			delete(s.keys, k)
		}
	}
}
