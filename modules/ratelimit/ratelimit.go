// Package ratelimit is the http.handlers.ratelimit Caddy module: per-zone
// request limits decided by internal/limiter, in memory or shared by every
// instance through Redis.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/limiter"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("ratelimit", parseCaddyfile)
	// After authentication (admin limits key on the token's subject) and
	// tenant resolution (webhook limits key on the hotel), both ordered
	// before basic_auth; before the handlers it protects.
	httpcaddyfile.RegisterDirectiveOrder("ratelimit", httpcaddyfile.After, "basic_auth")
}

// Handler limits the rate of requests per zone and answers 429 past a limit.
//
// Each zone counts requests by a key (any placeholder, evaluated per request)
// with an exact sliding window: at most `events` requests per key in any
// interval of length `window`. When several zones apply to a request, it is
// admitted only if every one of them has room, and only then counted in each:
// a request rejected by one zone consumes nothing in the others, whatever the
// zones' order. Zones are identified by name: two handlers (or two configs,
// across a reload) with a zone of the same name share its counts.
//
// Every response to a request some zone applies to carries, for the most
// constraining zone (on a rejection, the one that frees up last; else the one
// with the least left): `RateLimit-Limit` (events), `RateLimit-Remaining`
// (requests left now) and `RateLimit-Reset` (seconds until the window is empty
// again) — the IETF draft's header names. A rejection fails the request
// with 429 (for handle_errors to render; json_error writes
// `{"error": ..., "status": 429}`) and `Retry-After` in whole seconds, at
// least 1: when a request would be admitted again; its `RateLimit-Reset`
// says the same, so the two never disagree.
//
// Backends: `memory` (default) keeps counts in this process; they survive a
// config reload (a key at its limit stays limited). `redis <url>` shares counts
// among every instance using the same Redis and key prefix, one atomic script
// per request, on the Redis server's clock. An empty URL (e.g. an unset
// `{env.REDIS_URL}`) means memory, so one Caddyfile serves dev and prod.
// When Redis fails, `on_backend_error allow` (default) decides with a local
// in-memory limit (each instance still limits on its own) and `deny` rejects
// (429); either way Redis is skipped for a short back-off after a failure
// (250ms, doubling to 2s) and used again as soon as it answers.
//
// Caddyfile:
//
//	ratelimit [<matcher>] {
//	    zone <name> {
//	        key     <placeholder>        # e.g. {http.vars.tenant_id} or {remote_host}
//	        events  <n>                  # e.g. {$RATE_LIMIT_WEBHOOK_POST:120}
//	        window  <duration>           # e.g. 1m
//	        match   { <request matchers> }  # optional: the zone applies only to matching requests
//	    }
//	    backend memory | redis [<url>]   # e.g. redis {env.REDIS_URL}
//	    key_prefix       <prefix>        # Redis keys' prefix, default "ratelimit:"
//	    on_backend_error allow|deny      # default allow
//	    timeout          <duration>      # one Redis decision's deadline, default 250ms
//	    enabled          <bool>          # e.g. {env.RATE_LIMIT_ENABLED}; empty means true
//	}
//
// `events` and `window` are read when the Caddyfile is adapted, so take
// environment values with the adapt-time form `{$VAR:default}`; the backend
// URL, `key_prefix` and `enabled` also accept runtime placeholders such as
// `{env.VAR}`, resolved when the config is loaded. A zone key longer than 256
// bytes is replaced by its SHA-256, and a key that evaluates to empty counts
// all such requests together.
type Handler struct {
	// Zones are the limits; each applies to the requests its matchers
	// match (all requests without matchers).
	Zones []*Zone `json:"zones,omitempty"`
	// Backend is "memory" (default) or "redis".
	Backend string `json:"backend,omitempty"`
	// RedisURL is the redis:// or rediss:// URL for the redis backend;
	// placeholders are resolved at provisioning; empty means memory.
	RedisURL string `json:"redis_url,omitempty"`
	// KeyPrefix is prepended to every Redis key (default "ratelimit:").
	KeyPrefix string `json:"key_prefix,omitempty"`
	// OnBackendError is "allow" (default: decide with a local in-memory
	// limit) or "deny" (reject) when Redis cannot decide.
	OnBackendError string `json:"on_backend_error,omitempty"`
	// Timeout bounds one Redis decision (default 250ms).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Enabled is "true", "false", or a placeholder resolved at
	// provisioning (e.g. "{env.RATE_LIMIT_ENABLED}"); empty means true.
	// When false, requests pass through untouched.
	Enabled string `json:"enabled,omitempty"`

	enabled  bool
	limiter  limiter.Limiter
	memKey   string
	redisKey string
	scratch  *sync.Pool
	logger   *zap.Logger
}

// Zone is one named limit.
type Zone struct {
	// Name identifies the zone: in metrics, in keys (shared by zones of the
	// same name), in error messages.
	Name string `json:"name"`
	// Key is evaluated per request (placeholders) to pick whose count to use.
	Key string `json:"key"`
	// Events is how many requests one key may make per window.
	Events int `json:"events"`
	// Window is the length of the sliding window.
	Window caddy.Duration `json:"window"`
	// MatcherSetsRaw restricts the zone to matching requests.
	MatcherSetsRaw caddyhttp.RawMatcherSets `json:"match,omitempty" caddy:"namespace=http.matchers"`

	matchers        caddyhttp.MatcherSets
	keyPrefix       string
	allowed, denied prometheus.Counter
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.ratelimit",
		New: func() caddy.Module { return new(Handler) },
	}
}

const (
	defaultKeyPrefix = "ratelimit:"
	maxKeyLen        = 256
	memoryPoolKey    = "memory"
)

// The IETF draft's RateLimit-* headers, spelled canonically so that setting
// them does not allocate (header names are case-insensitive).
const (
	headerLimit      = "Ratelimit-Limit"
	headerRemaining  = "Ratelimit-Remaining"
	headerReset      = "Ratelimit-Reset"
	headerRetryAfter = "Retry-After"
)

// pool holds what outlives one config: the in-memory windows (one store for
// every zone; zones' keys are namespaced by zone name) and one Redis client
// and circuit per URL.
var pool = caddy.NewUsagePool()

type memoryStore struct{ *limiter.Memory }

func (memoryStore) Destruct() error { return nil }

type redisConn struct {
	client  *redis.Client
	circuit *limiter.Circuit
}

func (c *redisConn) Destruct() error { return c.client.Close() }

// Provision resolves placeholders, loads matchers and connects the backend.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := telemetry.Register(ctx.GetMetricsRegistry(), Collectors()...); err != nil {
		return err
	}
	repl := caddy.NewReplacer()
	enabled := strings.TrimSpace(repl.ReplaceAll(h.Enabled, ""))
	h.enabled = true
	if enabled != "" {
		b, err := strconv.ParseBool(enabled)
		if err != nil {
			return fmt.Errorf("enabled: %q is not a boolean", enabled)
		}
		h.enabled = b
	}
	for _, z := range h.Zones {
		if z == nil {
			continue
		}
		if z.MatcherSetsRaw != nil {
			mods, err := ctx.LoadModule(z, "MatcherSetsRaw")
			if err != nil {
				return fmt.Errorf("zone %s: loading matchers: %w", z.Name, err)
			}
			if err := z.matchers.FromInterface(mods); err != nil {
				return fmt.Errorf("zone %s: %w", z.Name, err)
			}
		}
		z.keyPrefix = z.Name + ":"
		z.allowed = decisions.WithLabelValues(z.Name, "allowed")
		z.denied = decisions.WithLabelValues(z.Name, "limited")
	}
	h.scratch = &sync.Pool{New: func() any { return new(scratch) }}
	if !h.enabled {
		h.logger.Info("rate limiting disabled", zap.String("enabled", h.Enabled))
		return nil
	}

	val, _, err := pool.LoadOrNew(memoryPoolKey, func() (caddy.Destructor, error) {
		return memoryStore{limiter.NewMemory(limiter.MemoryOptions{})}, nil
	})
	if err != nil {
		return err
	}
	h.memKey = memoryPoolKey
	mem := val.(memoryStore).Memory

	redisURL := strings.TrimSpace(repl.ReplaceAll(h.RedisURL, ""))
	if h.Backend != "redis" || redisURL == "" {
		if h.Backend == "redis" {
			h.logger.Info("redis backend without a URL: rate limits are kept in memory, per instance")
		}
		h.limiter = mem
		return nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("redis_url: %v", redactedErr(err, redisURL))
	}
	val, shared, err := pool.LoadOrNew("redis:"+redisURL, func() (caddy.Destructor, error) {
		return newRedisConn(opts, redactURL(redisURL)), nil
	})
	if err != nil {
		return err
	}
	h.redisKey = "redis:" + redisURL
	conn := val.(*redisConn)

	prefix := repl.ReplaceAll(h.KeyPrefix, "")
	if prefix == "" {
		prefix = defaultKeyPrefix
	}
	policy := limiter.PolicyAllow
	if h.OnBackendError == "deny" {
		policy = limiter.PolicyDeny
	}
	h.limiter = limiter.NewFailover(
		limiter.NewRedis(conn.client, limiter.RedisOptions{KeyPrefix: prefix, Timeout: time.Duration(h.Timeout)}),
		mem,
		limiter.FailoverOptions{Policy: policy, Circuit: conn.circuit, OnDegraded: func(error) { backendErrors.Inc() }},
	)

	if shared {
		// Only a new client is asked: every handler and reload using the
		// URL would otherwise wait on the same dead Redis in turn.
		return nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := conn.client.Ping(pingCtx).Err(); err != nil {
		h.logger.Warn("rate limit Redis unreachable at startup; deciding by on_backend_error until it answers",
			zap.String("redis", redactURL(redisURL)), zap.String("on_backend_error", h.onBackendError()), zap.Error(err))
	}
	return nil
}

func newRedisConn(opts *redis.Options, name string) *redisConn {
	// A request waits on this client: let context deadlines cut reads, and
	// retry once (a connection from the pool may be stale after a Redis
	// restart) rather than three times with back-off; dial once (a dead
	// Redis is the circuit's business, not a reason to hold the request).
	opts.ContextTimeoutEnabled = true
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1
	}
	logger := caddy.Log().Named("http.handlers.ratelimit")
	return &redisConn{
		client: redis.NewClient(opts),
		circuit: limiter.NewCircuit(limiter.CircuitOptions{OnChange: func(open bool, err error) {
			if open {
				logger.Warn("rate limit Redis failed; using on_backend_error until it answers", zap.String("redis", name), zap.Error(err))
			} else {
				logger.Info("rate limit Redis answers again; shared limits resumed", zap.String("redis", name))
			}
		}}),
	}
}

func (h *Handler) onBackendError() string {
	if h.OnBackendError == "" {
		return "allow"
	}
	return h.OnBackendError
}

// Validate rejects bad config, naming the field.
func (h *Handler) Validate() error {
	if len(h.Zones) == 0 {
		return fmt.Errorf("zones: at least one zone is required")
	}
	seen := make(map[string]bool, len(h.Zones))
	for i, z := range h.Zones {
		if z == nil || z.Name == "" {
			return fmt.Errorf("zones[%d]: name is required", i)
		}
		if seen[z.Name] {
			return fmt.Errorf("zone %s: defined twice", z.Name)
		}
		seen[z.Name] = true
		if z.Key == "" {
			return fmt.Errorf("zone %s: key is required", z.Name)
		}
		if z.Events <= 0 {
			return fmt.Errorf("zone %s: events must be > 0, got %d", z.Name, z.Events)
		}
		if z.Window <= 0 {
			return fmt.Errorf("zone %s: window must be > 0, got %s", z.Name, time.Duration(z.Window))
		}
	}
	switch h.Backend {
	case "", "memory", "redis":
	default:
		return fmt.Errorf("backend: must be memory or redis, got %q", h.Backend)
	}
	if h.Backend != "redis" && h.RedisURL != "" {
		return fmt.Errorf("redis_url: set, but backend is not redis")
	}
	switch h.OnBackendError {
	case "", "allow", "deny":
	default:
		return fmt.Errorf("on_backend_error: must be allow or deny, got %q", h.OnBackendError)
	}
	if h.Timeout < 0 {
		return fmt.Errorf("timeout: must be >= 0, got %s", time.Duration(h.Timeout))
	}
	return nil
}

// Cleanup releases this config's hold on the shared windows and Redis client.
func (h *Handler) Cleanup() error {
	if h.redisKey != "" {
		if _, err := pool.Delete(h.redisKey); err != nil {
			return err
		}
	}
	if h.memKey != "" {
		if _, err := pool.Delete(h.memKey); err != nil {
			return err
		}
	}
	return nil
}

// scratch holds one request's per-zone buffers, reused across requests.
type scratch struct {
	zones []*Zone
	reqs  []limiter.Request
	out   []limiter.Decision
}

// ServeHTTP decides the request against every zone that applies.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.enabled {
		return next.ServeHTTP(w, r)
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	s := h.scratch.Get().(*scratch)
	defer func() {
		clear(s.zones)
		s.zones, s.reqs, s.out = s.zones[:0], s.reqs[:0], s.out[:0]
		h.scratch.Put(s)
	}()
	for _, z := range h.Zones {
		if len(z.matchers) > 0 {
			ok, err := z.matchers.AnyMatchWithError(r)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		s.zones = append(s.zones, z)
		s.reqs = append(s.reqs, limiter.Request{Key: storeKey(z.keyPrefix, repl.ReplaceAll(z.Key, "")), Limit: limiter.Limit{Events: z.Events, Window: time.Duration(z.Window)}})
		s.out = append(s.out, limiter.Decision{})
	}
	if len(s.reqs) == 0 {
		return next.ServeHTTP(w, r)
	}
	admitted, err := h.limiter.AllowAll(r.Context(), s.reqs, s.out)
	if err != nil {
		// Only invalid limits get here (Validate rules them out); the
		// Redis backend's errors are handled by the failover.
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	for i, z := range s.zones {
		switch {
		case admitted:
			z.allowed.Inc()
		case !s.out[i].Allowed:
			z.denied.Inc()
		}
	}
	d := limiter.Strictest(s.out)
	hdr := w.Header()
	hdr.Set(headerLimit, strconv.Itoa(d.Limit))
	hdr.Set(headerRemaining, strconv.Itoa(d.Remaining))
	if admitted {
		hdr.Set(headerReset, strconv.FormatInt(ceilSeconds(d.ResetAfter, 0), 10))
		return next.ServeHTTP(w, r)
	}
	// Refused: both headers say when a request is admitted again. (Until
	// the whole window empties would tell a client at Remaining 0 to wait
	// longer than it must, and contradict Retry-After.)
	retry := strconv.FormatInt(ceilSeconds(d.RetryAfter, 1), 10)
	hdr.Set(headerReset, retry)
	hdr.Set(headerRetryAfter, retry)
	return caddyhttp.Error(http.StatusTooManyRequests, errRateLimited)
}

var errRateLimited = errors.New("rate limit exceeded")

// storeKey is a zone's key as stored: namespaced by the zone, and hashed when
// long (keys can come from client-controlled headers).
func storeKey(zonePrefix, key string) string {
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		return zonePrefix + "sha256:" + hex.EncodeToString(sum[:])
	}
	return zonePrefix + key
}

// ceilSeconds rounds d up to whole seconds, at least least.
func ceilSeconds(d time.Duration, least int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, least)
}

func redactURL(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx" + s[i:]
		}
	}
	return s
}

// redactedErr keeps a URL's password out of a parse error message.
func redactedErr(err error, rawURL string) error {
	msg := err.Error()
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, redactURL(rawURL))
	}
	return fmt.Errorf("%s", msg)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
