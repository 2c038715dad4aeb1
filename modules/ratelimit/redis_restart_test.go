package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/limiter"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// privateRedis is a redis-server of this test's own, which it may kill.
type privateRedis struct {
	t   *testing.T
	srv *localserver.Redis
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	testservices.Require(t, "redis-server binary (for the kill/restart test)", err)
	srv, err := localserver.NewRedis(bin)
	if err != nil {
		t.Fatal(err)
	}
	r := &privateRedis{t: t, srv: srv}
	r.start()
	t.Cleanup(srv.Stop)
	return r
}

func (r *privateRedis) url() string { return r.srv.URL() }

func (r *privateRedis) start() {
	r.t.Helper()
	if err := r.srv.Start(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *privateRedis) stop() { r.srv.Stop() }

func (r *privateRedis) client() *redis.Client {
	opts, _ := redis.ParseURL(r.url())
	c := redis.NewClient(opts)
	r.t.Cleanup(func() { c.Close() })
	return c
}

// TestRedisKilledAndBack: Redis dies mid-test → no 5xx, the configured
// behaviour (allow: a local limit; deny: 429); Redis returns → the shared
// limits are used again, without a restart of Caddy.
func TestRedisKilledAndBack(t *testing.T) {
	rs := startPrivateRedis(t)
	route := func(policy string) string {
		return fmt.Sprintf(`
		ratelimit {
			zone shared {
				key {header.X-Client}
				events 3
				window 1m
			}
			backend redis %s
			key_prefix t:
			on_backend_error %s
		}
		respond "ok"`, rs.url(), policy)
	}
	s := startServer(t, route("allow"))
	ctx := context.Background()
	direct := rs.client()

	// Redis up: counts live in Redis.
	if codes := s.statuses("a", 2); count(codes, 200) != 2 {
		t.Fatalf("Redis up: %v", codes)
	}
	if n := direct.ZCard(ctx, "t:shared:a").Val(); n != 2 {
		t.Fatalf("Redis holds %d admissions for a, want 2", n)
	}

	// Redis killed, allow: each instance limits on its own; never a 5xx.
	rs.stop()
	errorsBefore := testutil.ToFloat64(backendErrors)
	codes := s.statuses("b", 5)
	no5xx(t, codes)
	if count(codes, 200) != 3 || count(codes, 429) != 2 {
		t.Fatalf("Redis down, allow: %v, want the local limit (3 admitted)", codes)
	}
	if d := testutil.ToFloat64(backendErrors) - errorsBefore; d != 5 {
		t.Fatalf("ratelimit_backend_errors_total +%v, want +5", d)
	}

	// Still down, reloaded to deny: 429 with Retry-After, never a 5xx.
	if err := s.reload(route("deny")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r := s.get(fmt.Sprint("c", i))
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("Redis down, deny: %d %v", r.status, r.header)
		}
	}

	// Redis back (empty, same port): the circuit's next probe finds it and
	// requests are decided by Redis again. With deny, a 200 proves it.
	rs.start()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		client := fmt.Sprint("probe", i)
		r := s.get(client)
		if r.status >= 500 {
			t.Fatalf("recovering: %d", r.status)
		}
		if r.status == 200 {
			if n := direct.ZCard(ctx, "t:shared:"+client).Val(); n != 1 {
				t.Fatalf("admitted after recovery but Redis holds %d admissions for %s", n, client)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis back for 15s, requests still not decided by it")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Shared again: another instance (a limiter of its own on the same Redis)
	// uses up d's quota; this Caddy sees it.
	other := limiter.NewRedis(rs.client(), limiter.RedisOptions{KeyPrefix: "t:"})
	for i := 0; i < 3; i++ {
		if d, err := other.Allow(ctx, "shared:d", limiter.Limit{Events: 3, Window: time.Minute}); err != nil || !d.Allowed {
			t.Fatalf("other instance, request %d: %+v %v", i, d, err)
		}
	}
	if r := s.get("d"); r.status != http.StatusTooManyRequests {
		t.Fatalf("after another instance used d's quota: %d, want 429", r.status)
	}
}
