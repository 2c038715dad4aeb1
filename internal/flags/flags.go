// Package flags serves feature flags from Redis (shared by every instance)
// or from memory, with defaults from the environment.
//
// Sources, highest precedence first:
//  1. field <flag> of the Redis hash "feature_flags"
//     (HSET feature_flags features.interactive_messages 1; what
//     PUT /admin/feature-flags/{flag} writes);
//  2. the Redis key "feature:<flag>" (what the original system's Redis init
//     script wrote: SET feature:tenancy.dynamic.enabled "true");
//  3. the defaults: FEATURE_FLAGS, TENANCY_DYNAMIC_ENABLED, then the
//     built-ins of Defaults for the ENVIRONMENT (see DefaultsFromEnv);
//  4. false.
//
// A Redis value that is not one of 1/true/on/yes or 0/false/off/no
// (case-insensitive) is ignored and the next source decides.
//
// Reads are served from a snapshot at most TTL old (default 1 s), refreshed
// by one caller at a time with a single pipelined round trip, so the message
// hot path does not hit Redis per call and a change made on any instance is
// seen everywhere within TTL plus one round trip. While Redis is down the
// last values keep serving and LastError reports why.
package flags

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Known flags: the original system's, then this one's own.
const (
	InteractiveMessages  = "features.interactive_messages"
	TenancyDynamic       = "tenancy.dynamic.enabled"
	NLPFallbackEnhanced  = "nlp.fallback.enhanced"
	AudioOptimized       = "audio.processor.optimized"
	PMSCircuitBreaker    = "pms.circuit_breaker.enabled"
	MetadataStrict       = "metadata.validation.strict"
	ChannelSpoofingCheck = "channel.spoofing.detection"
	// WhatsAppMarkRead marks a guest's WhatsApp message read, with a typing
	// indicator, when a worker takes it into work.
	WhatsAppMarkRead = "whatsapp.mark_read"
	// AskEmail has the agent ask a WhatsApp guest for an email for the
	// booking confirmation, with the holder's name, when it has none; the
	// guest may decline. Off, an email is asked only when the PMS needs one.
	AskEmail = "booking.ask_email"
)

// Redis key names, after the store's key prefix.
const (
	HashKey   = "feature_flags"
	KeyPrefix = "feature:"
)

// DefaultTTL is how stale a cached flag may be.
const DefaultTTL = time.Second

// FlagEnabled is feature_flag_enabled{flag}: 1 or 0, updated whenever flags
// are read from their source or set.
var FlagEnabled = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "feature_flag_enabled",
	Help: "Feature flag state (1 enabled, 0 disabled) as last read or set.",
}, []string{"flag"})

// Collectors are the flag collectors, for telemetry.Register.
func Collectors() []prometheus.Collector { return []prometheus.Collector{FlagEnabled} }

// Defaults are the built-in flag values for an ENVIRONMENT. Interactive
// messages stay off in development and test so replies are plain text that
// tests can assert (as in the original system), on in staging and
// production. The security checks, the PMS breaker, WhatsApp read
// receipts and the email question are on everywhere; the rest are opt-in.
func Defaults(environment string) map[string]bool {
	prod := environment == "staging" || environment == "production"
	return map[string]bool{
		InteractiveMessages:  prod,
		TenancyDynamic:       false,
		NLPFallbackEnhanced:  false,
		AudioOptimized:       false,
		PMSCircuitBreaker:    true,
		MetadataStrict:       true,
		ChannelSpoofingCheck: true,
		WhatsAppMarkRead:     true,
		AskEmail:             true,
	}
}

// DefaultsFromEnv layers, lowest first: Defaults(ENVIRONMENT, default
// development), TENANCY_DYNAMIC_ENABLED for tenancy.dynamic.enabled, and
// FEATURE_FLAGS (see ParseList).
func DefaultsFromEnv(getenv func(string) string) (map[string]bool, error) {
	env := getenv("ENVIRONMENT")
	if env == "" {
		env = "development"
	}
	d := Defaults(env)
	if v := getenv("TENANCY_DYNAMIC_ENABLED"); v != "" {
		b, ok := ParseValue(v)
		if !ok {
			return nil, fmt.Errorf("TENANCY_DYNAMIC_ENABLED=%q is not a boolean", v)
		}
		d[TenancyDynamic] = b
	}
	list, err := ParseList(getenv("FEATURE_FLAGS"))
	if err != nil {
		return nil, fmt.Errorf("FEATURE_FLAGS: %w", err)
	}
	maps.Copy(d, list)
	return d, nil
}

// ParseValue reads a flag value: 1/true/on/yes → true, 0/false/off/no →
// false, case-insensitive, surrounding spaces and quotes ignored.
func ParseValue(s string) (value, ok bool) {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), `"'`))
	switch s {
	case "1", "true", "on", "yes":
		return true, true
	case "0", "false", "off", "no":
		return false, true
	}
	return false, false
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidName reports whether name can be a flag: 1-100 letters, digits,
// '.', '_' or '-', starting with a letter or digit.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// ParseList reads FEATURE_FLAGS: comma-separated name=value items, where
// value is anything ParseValue accepts. "name:value" (the original system's
// .env format, e.g. "nlp.fallback.enhanced:true,tenancy.dynamic.enabled:true")
// and a bare "name" (meaning true) are accepted too. Empty items are skipped.
func ParseList(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, raw, hasValue := item, "true", false
		if i := strings.LastIndexAny(item, "=:"); i >= 0 {
			name, raw, hasValue = strings.TrimSpace(item[:i]), item[i+1:], true
		}
		if !ValidName(name) {
			return nil, fmt.Errorf("%q: invalid flag name", item)
		}
		v, ok := ParseValue(raw)
		if !ok && hasValue {
			return nil, fmt.Errorf("%q: value must be true/false, 1/0, on/off or yes/no", item)
		}
		out[name] = v
	}
	return out, nil
}

// Options configure a Store; zero values take the defaults.
type Options struct {
	// Client is the shared Redis; nil keeps flags in memory (one instance).
	Client redis.UniversalClient
	// KeyPrefix is prepended to every key ("feature_flags", "feature:<flag>").
	KeyPrefix string
	// Defaults apply when Redis says nothing about a flag (DefaultsFromEnv).
	Defaults map[string]bool
	// TTL is how stale a read may be (default and maximum 1 s).
	TTL time.Duration
	// Timeout bounds one Redis round trip (default 500 ms).
	Timeout time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Store reads and writes feature flags.
type Store struct {
	opts     Options
	hashKey  string
	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex // one refresh at a time; guards tracked and memory
	tracked  map[string]bool
	memory   map[string]bool // Set values without Redis
	errMu    sync.Mutex
	lastErr  error
	gaugesMu sync.Mutex
}

type snapshot struct {
	values map[string]bool
	at     time.Time
}

// New builds a Store. Without a client it serves Defaults plus Set values.
func New(opts Options) *Store {
	if c, ok := opts.Client.(*redis.Client); ok && c == nil {
		opts.Client = nil // a nil *redis.Client (no REDIS_URL) means memory
	}
	if opts.TTL <= 0 || opts.TTL > DefaultTTL {
		opts.TTL = DefaultTTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts, hashKey: opts.KeyPrefix + HashKey, tracked: map[string]bool{}, memory: map[string]bool{}}
	for name := range opts.Defaults {
		s.tracked[name] = true
	}
	values := s.merge(nil, nil)
	s.snap.Store(&snapshot{values: values})
	s.publish(values)
	return s
}

// Redis reports whether the store reads a shared Redis.
func (s *Store) Redis() bool { return s.opts.Client != nil }

// Enabled reports whether flag is on. It answers from the snapshot while it
// is fresher than TTL; otherwise one caller refreshes it from Redis while
// concurrent callers keep the previous value. A flag never seen before is
// fetched synchronously once.
func (s *Store) Enabled(ctx context.Context, flag string) bool {
	st := s.snap.Load()
	v, known := st.values[flag]
	if known && (s.opts.Client == nil || s.opts.Now().Sub(st.at) < s.opts.TTL) {
		return v
	}
	if !known {
		s.mu.Lock()
		s.tracked[flag] = true
		s.mu.Unlock()
		s.refresh(ctx, true)
	} else {
		s.refresh(ctx, false)
	}
	st = s.snap.Load()
	if v, ok := st.values[flag]; ok {
		return v
	}
	return s.opts.Defaults[flag]
}

// All returns every known flag: the defaults, flags read so far, and every
// field of the hash and "feature:*" key in Redis (a SCAN: admin use only).
// On a Redis error it returns the last known values and the error.
func (s *Store) All(ctx context.Context) (map[string]bool, error) {
	if s.opts.Client != nil {
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		var names []string
		iter := s.opts.Client.Scan(ctx, 0, s.opts.KeyPrefix+KeyPrefix+"*", 200).Iterator()
		for iter.Next(ctx) {
			if name := strings.TrimPrefix(iter.Val(), s.opts.KeyPrefix+KeyPrefix); ValidName(name) {
				names = append(names, name)
			}
		}
		if err := iter.Err(); err != nil {
			s.setErr(err)
			return maps.Clone(s.snap.Load().values), fmt.Errorf("reading feature flags from Redis: %w", err)
		}
		s.mu.Lock()
		for _, n := range names {
			s.tracked[n] = true
		}
		s.mu.Unlock()
		if err := s.refresh(ctx, true); err != nil {
			return maps.Clone(s.snap.Load().values), err
		}
	}
	return maps.Clone(s.snap.Load().values), nil
}

// Set turns flag on or off for every instance (HSET feature_flags flag 1|0),
// or in memory without Redis. The new value is visible to this instance's
// reads when Set returns.
func (s *Store) Set(ctx context.Context, flag string, enabled bool) error {
	if !ValidName(flag) {
		return fmt.Errorf("invalid flag name %q", flag)
	}
	if s.opts.Client == nil {
		s.mu.Lock()
		s.tracked[flag] = true
		s.memory[flag] = enabled
		values := s.merge(nil, nil)
		s.snap.Store(&snapshot{values: values, at: s.opts.Now()})
		s.mu.Unlock()
		s.publish(values)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	v := "0"
	if enabled {
		v = "1"
	}
	if err := s.opts.Client.HSet(ctx, s.hashKey, flag, v).Err(); err != nil {
		s.setErr(err)
		return fmt.Errorf("writing feature flag to Redis: %w", err)
	}
	s.mu.Lock()
	s.tracked[flag] = true
	s.mu.Unlock()
	if err := s.refresh(ctx, true); err != nil {
		// Written but not re-read: still make this instance see it.
		s.mu.Lock()
		st := s.snap.Load()
		values := maps.Clone(st.values)
		values[flag] = enabled
		s.snap.Store(&snapshot{values: values, at: st.at})
		s.mu.Unlock()
		s.publish(map[string]bool{flag: enabled})
	}
	return nil
}

// LastError is the last Redis error, nil once a read succeeds again.
func (s *Store) LastError() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.lastErr
}

func (s *Store) setErr(err error) {
	s.errMu.Lock()
	s.lastErr = err
	s.errMu.Unlock()
}

// refresh re-reads the tracked flags in one pipelined round trip. With wait
// false it gives up if another refresh is running (the caller serves the
// current snapshot); with wait true it always reads.
func (s *Store) refresh(ctx context.Context, wait bool) error {
	if s.opts.Client == nil {
		if wait { // a newly tracked flag: give it its default
			s.mu.Lock()
			s.snap.Store(&snapshot{values: s.merge(nil, nil), at: s.opts.Now()})
			s.mu.Unlock()
		}
		return nil
	}
	if wait {
		s.mu.Lock()
	} else if !s.mu.TryLock() {
		return nil
	}
	defer s.mu.Unlock()
	if !wait && s.opts.Now().Sub(s.snap.Load().at) < s.opts.TTL {
		return nil // refreshed while we waited
	}
	names := slices.Sorted(maps.Keys(s.tracked))
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	pipe := s.opts.Client.Pipeline()
	hash := pipe.HGetAll(ctx, s.hashKey)
	var keys *redis.SliceCmd
	if len(names) > 0 {
		ks := make([]string, len(names))
		for i, n := range names {
			ks[i] = s.opts.KeyPrefix + KeyPrefix + n
		}
		keys = pipe.MGet(ctx, ks...)
	}
	_, err := pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		s.setErr(err)
		// Keep serving what we had, plus defaults for newly tracked flags,
		// and do not retry before TTL: a Redis outage must not turn every
		// read into a round trip.
		old := s.snap.Load().values
		values := s.merge(nil, nil)
		maps.Copy(values, old)
		s.snap.Store(&snapshot{values: values, at: s.opts.Now()})
		return fmt.Errorf("reading feature flags from Redis: %w", err)
	}
	s.setErr(nil)
	keyValues := map[string]string{}
	if keys != nil {
		for i, v := range keys.Val() {
			if str, ok := v.(string); ok {
				keyValues[names[i]] = str
			}
		}
	}
	for name := range hash.Val() {
		if ValidName(name) {
			s.tracked[name] = true
		}
	}
	values := s.merge(hash.Val(), keyValues)
	s.snap.Store(&snapshot{values: values, at: s.opts.Now()})
	s.publish(values)
	return nil
}

// merge computes every tracked flag from the hash, the keys, the memory
// overrides and the defaults; s.mu is held (or s is not shared yet).
func (s *Store) merge(hash, keys map[string]string) map[string]bool {
	out := make(map[string]bool, len(s.tracked))
	for name := range s.tracked {
		if v, ok := ParseValue(hash[name]); ok {
			out[name] = v
		} else if v, ok := ParseValue(keys[name]); ok {
			out[name] = v
		} else if v, ok := s.memory[name]; ok {
			out[name] = v
		} else {
			out[name] = s.opts.Defaults[name]
		}
	}
	return out
}

func (s *Store) publish(values map[string]bool) {
	s.gaugesMu.Lock()
	defer s.gaugesMu.Unlock()
	for name, v := range values {
		g := 0.0
		if v {
			g = 1
		}
		FlagEnabled.WithLabelValues(name).Set(g)
	}
}
