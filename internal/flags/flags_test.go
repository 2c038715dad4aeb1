package flags

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// clock is a manual clock shared by the stores of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]bool{"1": true, "true": true, "TRUE": true, " on ": true, "yes": true, `"true"`: true,
		"0": false, "false": false, "Off": false, "no": false, "'false'": false} {
		if v, ok := ParseValue(in); !ok || v != want {
			t.Errorf("ParseValue(%q) = %v, %v", in, v, ok)
		}
	}
	for _, in := range []string{"", "2", "enabled", "truee", "y"} {
		if _, ok := ParseValue(in); ok {
			t.Errorf("ParseValue(%q) accepted", in)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList(" features.interactive_messages=true, nlp.fallback.enhanced:false ,,audio.processor.optimized, pms.circuit_breaker.enabled=OFF")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{InteractiveMessages: true, NLPFallbackEnhanced: false, AudioOptimized: true, PMSCircuitBreaker: false}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// The original system's .env.staging line, verbatim.
	seed, err := ParseList("nlp.fallback.enhanced:true,tenancy.dynamic.enabled:true,audio.processor.optimized:true,pms.circuit_breaker.enabled:true")
	if err != nil || len(seed) != 4 || !seed[TenancyDynamic] {
		t.Fatalf("the original system's FEATURE_FLAGS: %v %v", seed, err)
	}
	for _, bad := range []string{"a=maybe", "a=", "bad name=true", "=true", "a b"} {
		if _, err := ParseList(bad); err == nil {
			t.Errorf("ParseList(%q) accepted", bad)
		}
	}
}

func TestDefaultsFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	d, err := DefaultsFromEnv(env(nil))
	if err != nil || d[InteractiveMessages] || d[TenancyDynamic] || !d[ChannelSpoofingCheck] {
		t.Fatalf("development defaults %v %v", d, err)
	}
	d, _ = DefaultsFromEnv(env(map[string]string{"ENVIRONMENT": "test"}))
	if d[InteractiveMessages] {
		t.Fatal("interactive messages on in test")
	}
	d, _ = DefaultsFromEnv(env(map[string]string{"ENVIRONMENT": "staging", "TENANCY_DYNAMIC_ENABLED": "true", "FEATURE_FLAGS": "features.interactive_messages=false,x.y=on"}))
	if d[InteractiveMessages] || !d[TenancyDynamic] || !d["x.y"] {
		t.Fatalf("staging defaults %v", d)
	}
	// FEATURE_FLAGS wins over TENANCY_DYNAMIC_ENABLED.
	d, _ = DefaultsFromEnv(env(map[string]string{"TENANCY_DYNAMIC_ENABLED": "true", "FEATURE_FLAGS": "tenancy.dynamic.enabled:false"}))
	if d[TenancyDynamic] {
		t.Fatal("FEATURE_FLAGS did not override TENANCY_DYNAMIC_ENABLED")
	}
	if _, err := DefaultsFromEnv(env(map[string]string{"TENANCY_DYNAMIC_ENABLED": "sure"})); err == nil {
		t.Fatal("bad TENANCY_DYNAMIC_ENABLED accepted")
	}
	if _, err := DefaultsFromEnv(env(map[string]string{"FEATURE_FLAGS": "a=perhaps"})); err == nil {
		t.Fatal("bad FEATURE_FLAGS accepted")
	}
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	var noRedis *redis.Client // what the app hands over without REDIS_URL
	s := New(Options{Client: noRedis, Defaults: map[string]bool{"a.on": true, "a.off": false}})
	if s.Redis() {
		t.Fatal("nil *redis.Client taken for a client")
	}
	if !s.Enabled(ctx, "a.on") || s.Enabled(ctx, "a.off") || s.Enabled(ctx, "never.set") {
		t.Fatal("defaults")
	}
	if err := s.Set(ctx, "a.off", true); err != nil {
		t.Fatal(err)
	}
	if !s.Enabled(ctx, "a.off") {
		t.Fatal("Set not visible")
	}
	if got := testutil.ToFloat64(FlagEnabled.WithLabelValues("a.off")); got != 1 {
		t.Fatalf("gauge %v", got)
	}
	if err := s.Set(ctx, "bad name", true); err == nil {
		t.Fatal("bad name accepted")
	}
	all, err := s.All(ctx)
	if err != nil || len(all) != 3 || !all["a.off"] || all["never.set"] {
		t.Fatalf("All = %v, %v", all, err)
	}
}

func TestRedisPrecedenceAndTTL(t *testing.T) {
	ctx := context.Background()
	client, prefix := testservices.RedisClient(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	s := New(Options{Client: client, KeyPrefix: prefix, Now: clk.Now,
		Defaults: map[string]bool{"f.hash": false, "f.key": false, "f.default": true, "f.both": false}})

	// The original system's two formats.
	client.HSet(ctx, prefix+HashKey, "f.hash", "1")
	client.Set(ctx, prefix+"feature:f.key", "true", 0)
	client.HSet(ctx, prefix+HashKey, "f.both", "off")
	client.Set(ctx, prefix+"feature:f.both", "true", 0)
	client.HSet(ctx, prefix+HashKey, "f.default", "garbage") // ignored: the default decides

	clk.Advance(2 * time.Second)
	cases := map[string]bool{"f.hash": true, "f.key": true, "f.both": false, "f.default": true}
	for f, want := range cases {
		if got := s.Enabled(ctx, f); got != want {
			t.Errorf("%s = %v, want %v", f, got, want)
		}
	}
	// A flag only in Redis, never read before, is fetched on first read.
	client.Set(ctx, prefix+"feature:only.redis", "yes", 0)
	if !s.Enabled(ctx, "only.redis") {
		t.Error("flag only in Redis not read")
	}

	// Within the TTL the cached value serves, without Redis.
	client.HSet(ctx, prefix+HashKey, "f.hash", "0")
	clk.Advance(500 * time.Millisecond)
	if !s.Enabled(ctx, "f.hash") {
		t.Fatal("re-read Redis within the TTL")
	}
	clk.Advance(600 * time.Millisecond)
	if s.Enabled(ctx, "f.hash") {
		t.Fatal("change not seen after the TTL")
	}
	if got := testutil.ToFloat64(FlagEnabled.WithLabelValues("f.hash")); got != 0 {
		t.Fatalf("gauge %v after read", got)
	}

	if _, err := s.All(ctx); err != nil {
		t.Fatal(err)
	}
	client.Set(ctx, prefix+"feature:scanned.only", "1", 0)
	all, err := s.All(ctx)
	if err != nil || !all["scanned.only"] || !all["only.redis"] || all["f.hash"] {
		t.Fatalf("All = %v, %v", all, err)
	}
}

func TestSetVisibleOnAnotherInstanceWithinTTL(t *testing.T) {
	ctx := context.Background()
	client, prefix := testservices.RedisClient(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	a := New(Options{Client: client, KeyPrefix: prefix, Now: clk.Now, Defaults: map[string]bool{InteractiveMessages: false}})
	b := New(Options{Client: client, KeyPrefix: prefix, Now: clk.Now, Defaults: map[string]bool{InteractiveMessages: false}})
	if a.Enabled(ctx, InteractiveMessages) || b.Enabled(ctx, InteractiveMessages) {
		t.Fatal("default not off")
	}
	clk.Advance(2 * time.Second)
	_ = b.Enabled(ctx, InteractiveMessages) // b refreshes now: its snapshot is fresh
	if err := a.Set(ctx, InteractiveMessages, true); err != nil {
		t.Fatal(err)
	}
	if !a.Enabled(ctx, InteractiveMessages) {
		t.Fatal("Set not visible on the writer at once")
	}
	if v, _ := client.HGet(ctx, prefix+HashKey, InteractiveMessages).Result(); v != "1" {
		t.Fatalf("hash field = %q, want 1", v)
	}
	clk.Advance(DefaultTTL)
	if !b.Enabled(ctx, InteractiveMessages) {
		t.Fatal("Set on a not visible on b after one TTL")
	}
}

func TestRedisDownKeepsLastValues(t *testing.T) {
	ctx := context.Background()
	url, prefix := testservices.Redis(t)
	opts, _ := redis.ParseURL(url)
	client := redis.NewClient(opts)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	client.HSet(ctx, prefix+HashKey, "f.x", "1")
	s := New(Options{Client: client, KeyPrefix: prefix, Now: clk.Now})
	if !s.Enabled(ctx, "f.x") {
		t.Fatal("not read")
	}
	client.Del(ctx, prefix+HashKey)
	client.Close() // Redis "down" for this store

	clk.Advance(2 * time.Second)
	if !s.Enabled(ctx, "f.x") {
		t.Fatal("last value lost while Redis is down")
	}
	if s.LastError() == nil {
		t.Fatal("no error reported")
	}
	if s.Enabled(ctx, "f.new") {
		t.Fatal("unknown flag not false")
	}
	if err := s.Set(ctx, "f.x", false); err == nil {
		t.Fatal("Set without Redis succeeded")
	}
	if _, err := s.All(ctx); err == nil {
		t.Fatal("All without Redis succeeded")
	}
}

// TestConcurrentReadsAndSets is meaningful under -race.
func TestConcurrentReadsAndSets(t *testing.T) {
	ctx := context.Background()
	client, prefix := testservices.RedisClient(t)
	s := New(Options{Client: client, KeyPrefix: prefix, TTL: time.Millisecond})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				s.Enabled(ctx, "f.race")
				s.Enabled(ctx, "f.other")
			}
		})
	}
	for i := range 20 {
		if err := s.Set(ctx, "f.race", i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if s.Enabled(ctx, "f.race") {
		t.Fatal("last Set (false) not visible")
	}
}

func TestMarkReadIsOnByDefaultEverywhere(t *testing.T) {
	for _, env := range []string{"development", "test", "staging", "production"} {
		if !Defaults(env)[WhatsAppMarkRead] {
			t.Errorf("%s: %s off", env, WhatsAppMarkRead)
		}
	}
	d, err := DefaultsFromEnv(func(k string) string {
		return map[string]string{"FEATURE_FLAGS": WhatsAppMarkRead + "=false"}[k]
	})
	if err != nil || d[WhatsAppMarkRead] {
		t.Fatalf("FEATURE_FLAGS does not turn it off: %v %v", d, err)
	}
}

func TestEmailQuestionIsOnByDefaultEverywhere(t *testing.T) {
	for _, env := range []string{"development", "test", "staging", "production"} {
		if !Defaults(env)[AskEmail] {
			t.Errorf("%s: %s off", env, AskEmail)
		}
	}
	d, err := DefaultsFromEnv(func(k string) string {
		return map[string]string{"FEATURE_FLAGS": AskEmail + "=false"}[k]
	})
	if err != nil || d[AskEmail] {
		t.Fatalf("FEATURE_FLAGS does not turn it off: %v %v", d, err)
	}
}
