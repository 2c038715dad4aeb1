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

// pipelineCounter counts the pipelines carrying script calls and the script
// calls a client sends, in pipelines and alone (a new connection's own
// handshake is left out); its first such pipeline waits, so the decisions
// asked meanwhile queue.
type pipelineCounter struct {
	pipelines, commands, singles atomic.Int64
	firstWait                    time.Duration
}

func (h *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			h.singles.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if isScript(c) {
				n++
			}
		}
		if n > 0 {
			if h.pipelines.Add(1) == 1 {
				time.Sleep(h.firstWait)
			}
			h.commands.Add(int64(n))
		}
		return next(ctx, cmds)
	}
}

func isScript(c redis.Cmder) bool { return c.Name() == "evalsha" || c.Name() == "eval" }

// Decisions asked together share round trips, each still decided on its
// own: 200 at once against a limit of 120 admit exactly 120, in a handful
// of pipelines (one command each, none outside a pipeline), and after the
// server lost its scripts the next batch loads it again.
func TestRedisDecisionsAskedTogetherShareRoundTrips(t *testing.T) {
	client, prefix := testservices.RedisClient(t)
	ctx := context.Background()
	// Loaded beforehand, so that every decision is one EVALSHA.
	if err := slidingWindow.Load(ctx, client).Err(); err != nil {
		t.Fatal(err)
	}
	hook := &pipelineCounter{firstWait: 50 * time.Millisecond}
	client.AddHook(hook)
	r := NewRedis(client, RedisOptions{KeyPrefix: prefix, Timeout: -1})
	burst := func(key string) (admitted, failed int64) {
		var ok, bad atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				d, err := r.Allow(ctx, key, perMinute120)
				if err != nil {
					bad.Add(1)
				} else if d.Allowed {
					ok.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		return ok.Load(), bad.Load()
	}
	if ok, bad := burst("zone:a"); ok != 120 || bad != 0 {
		t.Fatalf("admitted %d of 200 (errors %d), want 120", ok, bad)
	}
	p, c, s := hook.pipelines.Load(), hook.commands.Load(), hook.singles.Load()
	t.Logf("200 decisions: %d pipelines, %d commands, %d single commands", p, c, s)
	if c != 200 || s != 0 || p > 20 {
		t.Fatalf("200 decisions went as %d pipelines of %d commands and %d single commands; want 200 commands in at most 20 pipelines", p, c, s)
	}

	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, bad := burst("zone:b"); ok != 120 || bad != 0 {
		t.Fatalf("after SCRIPT FLUSH: admitted %d of 200 (errors %d), want 120", ok, bad)
	}
}
