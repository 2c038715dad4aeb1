package limiter

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const (
	memoryShards = 64
	// defaultSweepEvery is how often a shard drops its idle keys, at most.
	defaultSweepEvery = 30 * time.Second
)

// MemoryOptions configure a Memory limiter.
type MemoryOptions struct {
	// Now is the clock (default time.Now). Tests inject a fake one.
	Now func() time.Time
	// SweepEvery is the least time between two sweeps of one shard's idle
	// keys (default 30s). Sweeps piggyback on decisions: no goroutine.
	SweepEvery time.Duration
}

// Memory is an in-process exact sliding-window limiter.
//
// Keys are spread over 64 shards, each a map under its own mutex. A key holds
// the times of its admitted requests still inside its window in a ring that
// grows on demand up to the limit's Events (never pre-allocated), so memory is
// bounded by the requests admitted in the last window. A key whose window
// holds nothing is dropped by the next sweep of its shard.
type Memory struct {
	now        func() time.Time
	base       time.Time // times are nanoseconds since base (monotonic with time.Now)
	sweepEvery int64
	seed       maphash.Seed
	shards     [memoryShards]memoryShard
}

type memoryShard struct {
	mu        sync.Mutex
	keys      map[string]*slidingLog
	nextSweep int64
	_         [40]byte // keep shards on separate cache lines
}

// slidingLog is one key's admitted request times, oldest first, in a ring.
type slidingLog struct {
	times   []int64
	head, n int
	expires int64 // time from which the log holds nothing any more
}

// NewMemory returns an empty Memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = defaultSweepEvery
	}
	m := &Memory{now: opts.Now, base: opts.Now(), sweepEvery: int64(opts.SweepEvery), seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].keys = make(map[string]*slidingLog)
	}
	return m
}

func (m *Memory) clock() int64 { return int64(m.now().Sub(m.base)) }

func (m *Memory) shardOf(key string) uint8 {
	return uint8(maphash.String(m.seed, key) % memoryShards)
}

// Len is the number of keys held (for tests and introspection).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Decision, error) {
	if err := limit.validate(); err != nil {
		return Decision{}, err
	}
	now := m.clock()
	s := &m.shards[m.shardOf(key)]
	s.mu.Lock()
	s.maybeSweep(now, m.sweepEvery)
	log := s.keys[key]
	count, freeing, newest := log.window(now, limit)
	admit := count < limit.Events
	if admit {
		if log == nil {
			log = &slidingLog{}
			s.keys[key] = log
		}
		log.record(now, limit)
	}
	s.mu.Unlock()
	return verdict(limit, admit, count, time.Duration(now), time.Duration(freeing), time.Duration(newest)), nil
}

// Peek is Allow without recording anything: whether key has room under
// limit now, and if not, when it will (RetryAfter). It lets a caller count
// only some outcomes (failures, say) and still refuse before the work.
func (m *Memory) Peek(key string, limit Limit) (Decision, error) {
	if err := limit.validate(); err != nil {
		return Decision{}, err
	}
	now := m.clock()
	s := &m.shards[m.shardOf(key)]
	s.mu.Lock()
	count, freeing, newest := s.keys[key].window(now, limit)
	s.mu.Unlock()
	return verdict(limit, false, count, time.Duration(now), time.Duration(freeing), time.Duration(newest)), nil
}

// AllowAll implements Limiter: every shard involved is locked (in index
// order, so concurrent calls cannot deadlock) while all limits are checked
// and, only if all have room, the request is recorded in each.
func (m *Memory) AllowAll(ctx context.Context, reqs []Request, out []Decision) (bool, error) {
	if err := checkArgs(reqs, out); err != nil {
		return false, err
	}
	switch len(reqs) {
	case 0:
		return true, nil
	case 1:
		d, err := m.Allow(ctx, reqs[0].Key, reqs[0].Limit)
		out[0] = d
		return d.Allowed, err
	}
	var shardBuf [8]uint8
	shardOfReq := shardBuf[:0]
	if len(reqs) > len(shardBuf) {
		shardOfReq = make([]uint8, 0, len(reqs))
	}
	var locked [memoryShards]bool
	for i := range reqs {
		si := m.shardOf(reqs[i].Key)
		shardOfReq = append(shardOfReq, si)
		locked[si] = true
	}
	now := m.clock()
	for i := range locked {
		if locked[i] {
			m.shards[i].mu.Lock()
			m.shards[i].maybeSweep(now, m.sweepEvery)
		}
	}
	var stateBuf [8]windowState
	states := stateBuf[:0]
	if len(reqs) > len(stateBuf) {
		states = make([]windowState, 0, len(reqs))
	}
	admit := true
	for i := range reqs {
		var st windowState
		st.count, st.freeing, st.newest = m.shards[shardOfReq[i]].keys[reqs[i].Key].window(now, reqs[i].Limit)
		states = append(states, st)
		admit = admit && st.count < reqs[i].Limit.Events
	}
	for i, st := range states {
		out[i] = verdict(reqs[i].Limit, admit, st.count, time.Duration(now), time.Duration(st.freeing), time.Duration(st.newest))
	}
	if admit {
		for i := range reqs {
			s := &m.shards[shardOfReq[i]]
			log := s.keys[reqs[i].Key]
			if log == nil {
				log = &slidingLog{}
				s.keys[reqs[i].Key] = log
			}
			log.record(now, reqs[i].Limit)
		}
	}
	for i := len(locked) - 1; i >= 0; i-- {
		if locked[i] {
			m.shards[i].mu.Unlock()
		}
	}
	return admit, nil
}

type windowState struct {
	count           int
	freeing, newest int64
}

// maybeSweep drops the shard's keys whose windows hold nothing, at most once
// per interval. Called with s.mu held.
func (s *memoryShard) maybeSweep(now, every int64) {
	if now < s.nextSweep {
		return
	}
	s.nextSweep = now + every
	for k, log := range s.keys {
		if now >= log.expires {
			delete(s.keys, k)
		}
	}
}

// window trims the times that left the window and describes what is left:
// count, when a slot frees (if count >= Events), the newest time (if count > 0).
// A nil log is an empty one.
func (l *slidingLog) window(now int64, limit Limit) (count int, freeing, newest int64) {
	if l == nil {
		return 0, 0, 0
	}
	window := int64(limit.Window)
	for l.n > 0 && l.times[l.head] <= now-window {
		l.head = (l.head + 1) % len(l.times)
		l.n--
	}
	if l.n == 0 {
		return 0, 0, 0
	}
	newest = l.times[(l.head+l.n-1)%len(l.times)]
	if l.n >= limit.Events {
		// The (n-Events+1)th oldest must leave the window for one to fit.
		freeing = l.times[(l.head+l.n-limit.Events)%len(l.times)] + window
	}
	return l.n, freeing, newest
}

// record appends now, growing the ring by doubling up to the limit's Events.
func (l *slidingLog) record(now int64, limit Limit) {
	if l.n == len(l.times) {
		size := 2 * len(l.times)
		if size < 4 {
			size = 4
		}
		if size > limit.Events {
			size = max(limit.Events, l.n+1)
		}
		grown := make([]int64, size)
		for i := 0; i < l.n; i++ {
			grown[i] = l.times[(l.head+i)%len(l.times)]
		}
		l.times, l.head = grown, 0
	}
	l.times[(l.head+l.n)%len(l.times)] = now
	l.n++
	if exp := now + int64(limit.Window); exp > l.expires {
		l.expires = exp
	}
}
