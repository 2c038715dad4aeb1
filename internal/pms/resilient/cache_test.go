package resilient

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func day(s string) pms.Date {
	d, err := pms.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// testCacheContract exercises what the wrapper relies on from any Cache.
func testCacheContract(t *testing.T, c Cache) {
	ctx := bg(t)
	if _, ok, err := c.Get(ctx, "pms:t:hotel_info:1"); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	if err := c.Set(ctx, "pms:t:hotel_info:1", []byte(`{"v":1}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := c.Get(ctx, "pms:t:hotel_info:1"); !ok || err != nil || string(b) != `{"v":1}` {
		t.Fatalf("get = %s %v %v", b, ok, err)
	}
	// Index three stays of tenant t and one of tenant u.
	stays := map[string][2]string{
		"pms:t:availability:1:a": {"2030-01-01", "2030-01-03"},
		"pms:t:availability:1:b": {"2030-01-03", "2030-01-05"},
		"pms:t:availability:1:c": {"2030-02-01", "2030-02-02"},
		"pms:u:availability:1:a": {"2030-01-01", "2030-01-03"},
	}
	for k, s := range stays {
		tenant := strings.Split(k, ":")[1]
		if err := c.SetAvailability(ctx, tenant, k, day(s[0]), day(s[1]), []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// A booking for the night of Jan 2 overlaps a only (b starts on Jan 3).
	n, err := c.InvalidateAvailability(ctx, "t", day("2030-01-02"), day("2030-01-03"))
	if err != nil || n != 1 {
		t.Fatalf("invalidated %d, %v; want 1", n, err)
	}
	present := func(k string) bool {
		_, ok, err := c.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if present("pms:t:availability:1:a") || !present("pms:t:availability:1:b") || !present("pms:t:availability:1:c") ||
		!present("pms:u:availability:1:a") {
		t.Fatal("invalidation dropped the wrong entries")
	}
	// Nights Jan 2–Jan 4 overlap b now.
	if n, err := c.InvalidateAvailability(ctx, "t", day("2030-01-02"), day("2030-01-05")); err != nil || n != 1 {
		t.Fatalf("second invalidation: %d, %v", n, err)
	}
	if n, err := c.InvalidateAvailability(ctx, "nobody", day("2030-01-01"), day("2031-01-01")); err != nil || n != 0 {
		t.Fatalf("unknown tenant: %d, %v", n, err)
	}
}

func TestMemoryCacheContract(t *testing.T) {
	testCacheContract(t, NewMemoryCache(MemoryCacheOptions{}))
}

func TestRedisCacheContractKeepsKeysUnderPrefix(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	testCacheContract(t, NewRedisCache(client, prefix))
	keys, err := client.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var idx int
	for _, k := range keys {
		if strings.HasPrefix(k, prefix+"pms:availability_index:") {
			idx++
		}
	}
	// hotel_info, t's entry c, u's entry a, and the two tenants' indexes.
	if len(keys) != 5 || idx != 2 {
		t.Fatalf("keys under %s: %v", prefix, keys)
	}
	ttl, err := client.TTL(context.Background(), prefix+"pms:t:hotel_info:1").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("entry TTL = %v, %v; want the retention", ttl, err)
	}
}

func TestMemoryCacheExpiresAndBoundsEntries(t *testing.T) {
	clk := newClock()
	c := NewMemoryCache(MemoryCacheOptions{MaxEntries: 3, Now: clk.Now})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_ = c.SetAvailability(ctx, "t", fmt.Sprint("k", i), day("2030-01-01"), day("2030-01-02"), []byte("v"), time.Duration(i+1)*time.Minute)
	}
	if c.Len() != 3 {
		t.Fatalf("len = %d, want the cap 3", c.Len())
	}
	if _, ok, _ := c.Get(ctx, "k0"); ok {
		t.Fatal("the soonest-expiring entry survived eviction")
	}
	clk.Advance(4*time.Minute + time.Second)
	if _, ok, _ := c.Get(ctx, "k3"); ok {
		t.Fatal("an entry outlived its retention")
	}
	if _, ok, _ := c.Get(ctx, "k4"); !ok {
		t.Fatal("an entry vanished before its retention")
	}
}

func TestWrapperServesStaleFromRedis(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	clk := newClock()
	calls := 0
	var fail bool
	st := &stub{hotelInfo: func(context.Context) (pms.HotelInfo, error) {
		calls++
		if fail {
			return pms.HotelInfo{}, pms.ErrUnavailable
		}
		return pms.HotelInfo{Name: pms.Text{"es": "Hotel Redis", "en": "Redis Hotel"}, CheckInTime: "15:00"}, nil
	}}
	opts := Options{Now: clk.Now, MaxAttempts: 1}
	p := Wrap(st, NewBreaker(BreakerSettings{}), NewRedisCache(client, prefix), opts)
	if _, err := p.HotelInfo(bg(t), hotel1); err != nil {
		t.Fatal(err)
	}
	// Another instance sharing Redis answers from the same entry, with the
	// name in every language: the entry is the hotel's, not one guest's.
	p2 := Wrap(st, NewBreaker(BreakerSettings{}), NewRedisCache(client, prefix), opts)
	if info, err := p2.HotelInfo(bg(t), hotel1); err != nil || info.Name.In("en") != "Redis Hotel" || info.Name.In("es") != "Hotel Redis" || calls != 1 {
		t.Fatalf("second instance: %+v, %v, PMS calls %d", info, err, calls)
	}
	clk.Advance(2 * time.Hour)
	fail = true
	info, err := p2.HotelInfo(bg(t), hotel1)
	if err != nil || !info.Stale || info.CheckInTime != "15:00" {
		t.Fatalf("stale from Redis: %+v, %v", info, err)
	}
	raw, err := client.Get(context.Background(), prefix+"pms:hotel-uno:hotel_info:1").Bytes()
	if err != nil {
		t.Fatalf("entry not under the documented key: %v", err)
	}
	var e cached[pms.HotelInfo]
	if json.Unmarshal(raw, &e) != nil || e.FetchedAt.IsZero() || e.Value.Stale {
		t.Fatalf("stored entry = %s", raw)
	}
}

func TestCacheErrorsFallBackToThePMS(t *testing.T) {
	// A Redis nobody listens on: every cache call fails fast.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1,
		DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer client.Close()
	var cacheErrs int
	st := &stub{hotelInfo: func(context.Context) (pms.HotelInfo, error) { return pms.HotelInfo{Name: pms.Untranslated("Up")}, nil }}
	p := Wrap(st, nil, NewRedisCache(client, "x:"), Options{OnCacheError: func(string, error) { cacheErrs++ }})
	info, err := p.HotelInfo(bg(t), hotel1)
	if err != nil || info.Name.In("es") != "Up" || cacheErrs != 2 {
		t.Fatalf("%+v, %v, cache errors %d (get and set)", info, err, cacheErrs)
	}
}

// ---- benchmarks -----------------------------------------------------------

// benchmarkHit measures a fresh cache hit of Availability through the
// wrapper and reports it as a ratio to the reference measured in the same
// run: decoding the same cached bytes, the least a hit can cost.
func benchmarkHit(b *testing.B, c Cache) {
	st := &stub{}
	p := Wrap(st, nil, c, Options{})
	ctx := context.Background()
	s := stay("2030-01-01", "2030-01-03", 2)
	if _, err := p.Availability(ctx, hotel1, s); err != nil {
		b.Fatal(err)
	}
	raw, ok, err := c.Get(ctx, availabilityKey(hotel1, s))
	if err != nil || !ok {
		b.Fatal("not cached", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Availability(ctx, hotel1, s); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	hit := b.Elapsed()
	// The reference, timed by hand over as many iterations (a nested
	// testing.Benchmark would deadlock on the benchmark lock).
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var e cached[pms.Availability]
		if err := json.Unmarshal(raw, &e); err != nil {
			b.Fatal(err)
		}
	}
	if ref := time.Since(start); ref > 0 {
		b.ReportMetric(float64(hit)/float64(ref), "x_decode_ref")
	}
}

func BenchmarkAvailabilityCacheHit(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchmarkHit(b, NewMemoryCache(MemoryCacheOptions{})) })
	b.Run("redis", func(b *testing.B) {
		client, prefix := testservices.RedisClient(b)
		benchmarkHit(b, NewRedisCache(client, prefix))
	})
}

// A tenant's availability index forgets the entries Redis has expired: it
// holds the live entries, not every stay ever asked for, so it does not grow
// without bound under steady traffic (each addition keeps it alive).
func TestRedisIndexForgetsExpiredEntries(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	c := NewRedisCache(client, prefix)
	ctx := bg(t)
	set := func(key string, retention time.Duration) {
		t.Helper()
		if err := c.SetAvailability(ctx, "t", key, day("2030-01-01"), day("2030-01-03"), []byte("v"), retention); err != nil {
			t.Fatal(err)
		}
	}
	set("pms:t:availability:1:short", 50*time.Millisecond)
	set("pms:t:availability:1:kept", time.Hour)
	// Wait for Redis to expire the short entry (an outcome, not a timing
	// assertion: the deadline only bounds a hang).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := client.Exists(ctx, prefix+"pms:t:availability:1:short").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis never expired the short entry")
		}
	}
	set("pms:t:availability:1:new", time.Hour)
	members, err := client.ZCard(ctx, c.indexKey("t")).Result()
	if err != nil || members != 2 {
		t.Fatalf("index holds %d members (%v), want 2: the live entries only", members, err)
	}
}
