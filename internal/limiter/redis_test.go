package limiter

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// newRedisClient is a client of its own (its own connection pool), like a
// separate instance's.
func newRedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisBurstAdmitsExactlyEvents(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	r := NewRedis(client, RedisOptions{KeyPrefix: prefix})
	ctx := context.Background()
	admitted := 0
	for i := 0; i < 300; i++ {
		d, err := r.Allow(ctx, "zone:k", perMinute120)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
			if want := 120 - admitted; d.Remaining != want || d.ResetAfter != time.Minute || d.RetryAfter != 0 {
				t.Fatalf("admitted request %d: %+v, want remaining %d", i, d, want)
			}
			continue
		}
		if d.Remaining != 0 || d.Limit != 120 || d.RetryAfter <= 0 || d.RetryAfter > time.Minute ||
			d.ResetAfter < d.RetryAfter || d.ResetAfter > time.Minute {
			t.Fatalf("rejected request %d: %+v", i, d)
		}
	}
	if admitted != 120 {
		t.Fatalf("admitted %d of 300, want 120", admitted)
	}
	// Every key lives under the prefix and expires with its window.
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != prefix+"zone:k" {
		t.Fatalf("keys %v, want only %s", keys, prefix+"zone:k")
	}
	if ttl := client.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("key TTL %s, want within one window", ttl)
	}
	if n := client.ZCard(ctx, keys[0]).Val(); n != 120 {
		t.Fatalf("window holds %d admissions, want 120 (rejections are not recorded)", n)
	}
}

func TestRedisWindowSlides(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	r := NewRedis(client, RedisOptions{KeyPrefix: prefix})
	ctx := context.Background()
	limit := Limit{Events: 2, Window: 300 * time.Millisecond}
	for i := 0; i < 2; i++ {
		if d, err := r.Allow(ctx, "k", limit); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v %v", i, d, err)
		}
	}
	d, err := r.Allow(ctx, "k", limit)
	if err != nil || d.Allowed {
		t.Fatalf("3rd request: %+v %v, want rejected", d, err)
	}
	time.Sleep(d.RetryAfter + 20*time.Millisecond)
	if d, err := r.Allow(ctx, "k", limit); err != nil || !d.Allowed {
		t.Fatalf("after RetryAfter: %+v %v, want admitted", d, err)
	}
}

func TestRedisMultiZoneRejectedConsumesNothing(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	r := NewRedis(client, RedisOptions{KeyPrefix: prefix})
	ctx := context.Background()
	wide := Request{Key: "tenant:a", Limit: Limit{Events: 5, Window: time.Minute}}
	narrow := Request{Key: "ip:1", Limit: Limit{Events: 2, Window: time.Minute}}
	out := make([]Decision, 2)
	for i := 0; i < 10; i++ {
		ok, err := r.AllowAll(ctx, []Request{wide, narrow}, out)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i < 2) {
			t.Fatalf("request %d: admitted=%v", i, ok)
		}
		if !ok && (!out[0].Allowed || out[0].Remaining != 3 || out[1].Allowed || out[1].RetryAfter <= 0) {
			t.Fatalf("request %d: decisions %+v", i, out)
		}
	}
	if n := client.ZCard(ctx, prefix+wide.Key).Val(); n != 2 {
		t.Fatalf("wide zone holds %d admissions after 2 admitted and 8 rejected requests, want 2", n)
	}
}

// TestRedisClusterExact: three limiter instances, each with its own client
// and connection pool, share one Redis; 300 concurrent requests for one key
// at 120/min admit exactly 120 in total.
func TestRedisClusterExact(t *testing.T) {
	url, prefix := testservices.Redis(t)
	var instances []*Redis
	for i := 0; i < 3; i++ {
		instances = append(instances, NewRedis(newRedisClient(t, url), RedisOptions{KeyPrefix: prefix, Timeout: 5 * time.Second}))
	}
	var admitted, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(inst *Redis) {
			defer wg.Done()
			<-start
			d, err := inst.Allow(context.Background(), "webhook_post:tenant-1", perMinute120)
			if err != nil {
				failed.Add(1)
				t.Error(err)
				return
			}
			if d.Allowed {
				admitted.Add(1)
			}
		}(instances[i%3])
	}
	close(start)
	wg.Wait()
	if n := admitted.Load(); n != 120 || failed.Load() != 0 {
		t.Fatalf("3 instances admitted %d of 300 (errors %d), want exactly 120", n, failed.Load())
	}
}

func TestRedisUnreachableIsAnError(t *testing.T) {
	c := newRedisClient(t, "redis://127.0.0.1:1/0")
	r := NewRedis(c, RedisOptions{})
	_, err := r.Allow(context.Background(), "k", perMinute120)
	if err == nil || !strings.Contains(err.Error(), "redis rate limit") {
		t.Fatalf("err %v, want a redis rate limit error", err)
	}
}
