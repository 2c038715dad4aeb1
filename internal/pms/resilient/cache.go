package resilient

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Cache stores PMS answers. Values are kept for a retention far longer than
// their freshness so an expired answer can still be served, marked stale,
// when the PMS fails. Availability entries are also indexed per tenant by
// their stay dates, so a booking can drop exactly the entries whose dates it
// overlaps.
type Cache interface {
	// Get returns the value under key, if any.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key for retention.
	Set(ctx context.Context, key string, value []byte, retention time.Duration) error
	// SetAvailability is Set plus recording key in tenant's availability
	// index with the stay's dates [checkIn, checkOut).
	SetAvailability(ctx context.Context, tenant, key string, checkIn, checkOut pms.Date, value []byte, retention time.Duration) error
	// InvalidateAvailability deletes tenant's availability entries whose stay
	// overlaps [from, to) and returns how many it deleted.
	InvalidateAvailability(ctx context.Context, tenant string, from, to pms.Date) (int, error)
}

func overlaps(aFrom, aTo, bFrom, bTo pms.Date) bool {
	return aFrom.Before(bTo) && bFrom.Before(aTo)
}

// ---- memory ---------------------------------------------------------------

type memEntry struct {
	value   []byte
	expires time.Time
}

type stayRange struct{ from, to pms.Date }

// MemoryCache is a Cache in this process's memory, for running without
// Redis. Entries expire after their retention; past MaxEntries the oldest
// expiring entries are dropped first.
type MemoryCache struct {
	mu         sync.Mutex
	now        func() time.Time
	maxEntries int
	entries    map[string]memEntry
	index      map[string]map[string]stayRange // tenant → key → stay
	sets       int
}

// MemoryCacheOptions configures a MemoryCache.
type MemoryCacheOptions struct {
	// MaxEntries bounds the cache. Default 10000.
	MaxEntries int
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// NewMemoryCache returns an empty MemoryCache.
func NewMemoryCache(o MemoryCacheOptions) *MemoryCache {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &MemoryCache{now: o.Now, maxEntries: o.MaxEntries, entries: map[string]memEntry{}, index: map[string]map[string]stayRange{}}
}

// Get implements Cache.
func (m *MemoryCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		return nil, false, nil
	}
	if !m.now().Before(e.expires) {
		delete(m.entries, key)
		return nil, false, nil
	}
	return e.value, true, nil
}

// Set implements Cache.
func (m *MemoryCache) Set(_ context.Context, key string, value []byte, retention time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setLocked(key, value, retention)
	return nil
}

func (m *MemoryCache) setLocked(key string, value []byte, retention time.Duration) {
	m.entries[key] = memEntry{value: append([]byte(nil), value...), expires: m.now().Add(retention)}
	m.sets++
	if len(m.entries) > m.maxEntries || m.sets%1024 == 0 {
		m.sweepLocked()
	}
}

// sweepLocked drops expired entries, then the soonest-expiring ones while
// over capacity, and forgets index records of dropped keys.
func (m *MemoryCache) sweepLocked() {
	now := m.now()
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	for len(m.entries) > m.maxEntries {
		var victim string
		var first time.Time
		for k, e := range m.entries {
			if victim == "" || e.expires.Before(first) {
				victim, first = k, e.expires
			}
		}
		delete(m.entries, victim)
	}
	for tenant, keys := range m.index {
		for k := range keys {
			if _, ok := m.entries[k]; !ok {
				delete(keys, k)
			}
		}
		if len(keys) == 0 {
			delete(m.index, tenant)
		}
	}
}

// SetAvailability implements Cache.
func (m *MemoryCache) SetAvailability(_ context.Context, tenant, key string, checkIn, checkOut pms.Date, value []byte, retention time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	idx := m.index[tenant]
	if idx == nil {
		idx = map[string]stayRange{}
		m.index[tenant] = idx
	}
	idx[key] = stayRange{checkIn, checkOut}
	m.setLocked(key, value, retention)
	return nil
}

// InvalidateAvailability implements Cache.
func (m *MemoryCache) InvalidateAvailability(_ context.Context, tenant string, from, to pms.Date) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, r := range m.index[tenant] {
		if overlaps(r.from, r.to, from, to) {
			if _, ok := m.entries[k]; ok {
				n++
			}
			delete(m.entries, k)
			delete(m.index[tenant], k)
		}
	}
	return n, nil
}

// Len is the number of entries held (expired ones included until swept).
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// ---- redis ----------------------------------------------------------------

// RedisCache is a Cache in Redis, shared by every instance. Every key it
// writes starts with its prefix. A tenant's availability index is a sorted
// set at prefix+"pms:availability_index:"+tenant whose members are
// "checkIn|checkOut|key", scored by when that entry expires (Unix ms). Each
// addition drops the members whose entries have expired, so the index holds
// the live entries only, and the index itself expires a retention after its
// last addition.
type RedisCache struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisCache returns a cache writing under keyPrefix (e.g. "agente:").
func NewRedisCache(client redis.UniversalClient, keyPrefix string) *RedisCache {
	return &RedisCache{client: client, prefix: keyPrefix}
}

func (r *RedisCache) indexKey(tenant string) string {
	return r.prefix + "pms:availability_index:" + escapeKeyPart(tenant)
}

// Get implements Cache.
func (r *RedisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Set implements Cache.
func (r *RedisCache) Set(ctx context.Context, key string, value []byte, retention time.Duration) error {
	return r.client.Set(ctx, r.prefix+key, value, retention).Err()
}

// SetAvailability implements Cache.
func (r *RedisCache) SetAvailability(ctx context.Context, tenant, key string, checkIn, checkOut pms.Date, value []byte, retention time.Duration) error {
	idx := r.indexKey(tenant)
	// Redis expires the entry by its own clock; ours only decides when its
	// index member goes, so skew only moves that by as much.
	now := time.Now()
	// Pipelined, not MULTI: the key and the index may live in different
	// cluster slots.
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.prefix+key, value, retention)
		p.ZAdd(ctx, idx, redis.Z{Score: float64(now.Add(retention).UnixMilli()), Member: checkIn.String() + "|" + checkOut.String() + "|" + key})
		p.ZRemRangeByScore(ctx, idx, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		p.Expire(ctx, idx, retention)
		return nil
	})
	return err
}

// InvalidateAvailability implements Cache. An entry stored concurrently with
// the invalidation, from an answer the PMS gave before the booking, can
// survive it; its freshness (availability TTL) bounds how long.
func (r *RedisCache) InvalidateAvailability(ctx context.Context, tenant string, from, to pms.Date) (int, error) {
	idx := r.indexKey(tenant)
	members, err := r.client.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, err
	}
	var keys []string
	var gone []any
	for _, m := range members {
		parts := strings.SplitN(m, "|", 3)
		if len(parts) != 3 {
			gone = append(gone, m)
			continue
		}
		f, err1 := pms.ParseDate(parts[0])
		t, err2 := pms.ParseDate(parts[1])
		if err1 != nil || err2 != nil || overlaps(f, t, from, to) {
			keys = append(keys, r.prefix+parts[2])
			gone = append(gone, m)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	// One DEL per key: keys of a cluster may not share a slot.
	dels := make([]*redis.IntCmd, 0, len(keys))
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			dels = append(dels, p.Del(ctx, k))
		}
		p.ZRem(ctx, idx, gone...)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range dels {
		n += int(d.Val())
	}
	return n, nil
}
