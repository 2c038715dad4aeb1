// Package resilient wraps any pms.PMS so a guest still gets an answer when
// the PMS is slow or down: a circuit breaker (gobreaker) that opens after
// consecutive infrastructure failures, bounded retries with exponential
// back-off and jitter for idempotent calls, a per-operation timeout, and a
// cache (Redis or memory) whose expired entries are served, marked stale,
// when the PMS cannot answer.
//
// Wiring: one Breaker per PMS identity, kept across config reloads in a
// caddy.UsagePool; one Cache per process (RedisCache shared by instances, or
// MemoryCache); Wrap(inner, breaker, cache, opts) for each config.
//
// What is retried: Availability, HotelInfo, RoomTypes and GetBooking on
// timeouts, 5xx, transport and decode failures; CreateBooking only when the
// request carries a Reference, because the pms.PMS contract makes the same
// Reference never book twice (the QloApps client looks it up first, the demo
// PMS dedupes it). CancelBooking and Ping are not retried.
//
// Caching: availability (60s), hotel info and room types (1h) are fresh for
// their TTL and kept StaleRetention (24h) for stale use. Keys are
// "pms:<tenant>:<operation>:<hotel id>[:<check-in>:<check-out>:a<adults>:c<children>]"
// under the cache's prefix. A booking made or cancelled deletes the tenant's
// availability entries whose stay overlaps the booking's (through the
// per-tenant index), fresh or stale: an answer known to be wrong is not
// served even as stale. Room types served stale cannot say so ([]RoomType
// has no Stale flag).
//
// pms_api_latency_seconds is observed per attempt by the wrapper. Its labels
// come from the inner PMS when it implements EndpointNamer (the QloApps
// client names its webservice path and method); otherwise endpoint is the
// operation name and method is GET for reads, POST for bookings, PUT for
// cancellations.
package resilient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// Operation names, the operation label of the metrics.
const (
	OpAvailability  = "availability"
	OpHotelInfo     = "hotel_info"
	OpRoomTypes     = "room_types"
	OpCreateBooking = "create_booking"
	OpGetBooking    = "get_booking"
	OpCancelBooking = "cancel_booking"
	OpPing          = "ping"
)

// EndpointNamer is implemented by PMS clients that can name the endpoint
// and HTTP method behind an operation, for pms_api_latency_seconds.
type EndpointNamer interface {
	Endpoint(operation string) (method, endpoint string)
}

// Options tunes a wrapper. Zero values take the defaults.
type Options struct {
	// Timeout bounds a whole operation, retries included: no guest waits
	// longer. Default 5s.
	Timeout time.Duration
	// AttemptTimeout bounds one call to the PMS of an operation that may be
	// retried, leaving room in Timeout for a retry. A call that is never
	// retried (a booking without a reference, a cancellation) has the whole
	// Timeout: cutting it short would only turn a slow PMS's success into
	// an unknown outcome. Default 2s (never more than Timeout).
	AttemptTimeout time.Duration
	// MaxAttempts is how many times a retryable operation may call the PMS.
	// Default 3; 1 disables retries.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the wait before retry n: a random
	// duration in [d/2, d) with d = min(BackoffMax, BackoffBase·2^(n-1)).
	// Defaults 100ms and 1s.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Freshness of cached answers. Defaults 60s, 1h, 1h.
	AvailabilityTTL time.Duration
	HotelInfoTTL    time.Duration
	RoomTypesTTL    time.Duration
	// StaleRetention is how long answers are kept for stale use. Default 24h.
	StaleRetention time.Duration
	// MaxConcurrent is how many calls this wrapper has at the PMS at once;
	// another waits for a free slot, within its operation's Timeout (a
	// wait that ends there fails as the PMS being unavailable, so a stale
	// answer may serve). It keeps the PMS's load apart from how many
	// conversations the workers handle at once: most turns never ask the
	// PMS, the others should not all ask it together. Default 16.
	MaxConcurrent int
	// OnCacheError is told about cache failures, which never fail a call
	// (the PMS is asked instead). Optional.
	OnCacheError func(operation string, err error)
	// Now is the clock that dates cache entries and judges their freshness;
	// Rand is the jitter source (tests). Defaults time.Now and
	// math/rand/v2.Float64. Deadlines always use the real clock.
	Now  func() time.Time
	Rand func() float64
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 5*time.Second)
	def(&o.AttemptTimeout, 2*time.Second)
	if o.AttemptTimeout > o.Timeout {
		o.AttemptTimeout = o.Timeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 16
	}
	def(&o.BackoffBase, 100*time.Millisecond)
	def(&o.BackoffMax, time.Second)
	def(&o.AvailabilityTTL, 60*time.Second)
	def(&o.HotelInfoTTL, time.Hour)
	def(&o.RoomTypesTTL, time.Hour)
	def(&o.StaleRetention, 24*time.Hour)
	if o.StaleRetention < o.AvailabilityTTL {
		o.StaleRetention = o.AvailabilityTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// PMS is a pms.PMS with breaker, retries, timeout and cache in front of another.
type PMS struct {
	inner   pms.PMS
	breaker *Breaker
	cache   Cache
	opts    Options
	namer   EndpointNamer
	// slots holds a token per call at the PMS (Options.MaxConcurrent).
	slots chan struct{}
}

var (
	_ pms.PMS           = (*PMS)(nil)
	_ pms.GuestRequirer = (*PMS)(nil)
)

// Wrap puts inner behind breaker and cache. breaker nil gets a private
// breaker with default settings; cache nil disables caching (and stale
// answers).
func Wrap(inner pms.PMS, breaker *Breaker, cache Cache, opts Options) *PMS {
	if breaker == nil {
		breaker = NewBreaker(BreakerSettings{})
	}
	p := &PMS{inner: inner, breaker: breaker, cache: cache, opts: opts.withDefaults()}
	p.slots = make(chan struct{}, p.opts.MaxConcurrent)
	p.namer, _ = inner.(EndpointNamer)
	return p
}

// GuestRequirements are the wrapped PMS's: the wrapper adds no requirement.
func (p *PMS) GuestRequirements() pms.GuestFields { return pms.GuestRequirementsOf(p.inner) }

func (p *PMS) endpoint(op string) (method, endpoint string) {
	if p.namer != nil {
		if m, e := p.namer.Endpoint(op); m != "" && e != "" {
			return m, e
		}
	}
	switch op {
	case OpCreateBooking:
		return "POST", op
	case OpCancelBooking:
		return "PUT", op
	}
	return "GET", op
}

func done(op string, err error) {
	status := "success"
	if err != nil {
		status = "error"
	}
	operations.WithLabelValues(op, status).Inc()
}

// spanNames are the operations' span names, made once.
var spanNames = map[string]string{}

func init() {
	for _, op := range []string{OpAvailability, OpHotelInfo, OpRoomTypes, OpCreateBooking, OpGetBooking, OpCancelBooking, OpPing} {
		spanNames[op] = "pms." + op
	}
}

// start starts op's span (a child of ctx's: none, no span); finish ends it
// with op's metric.
func (p *PMS) start(ctx context.Context, op, tenant string) (context.Context, trace.Span) {
	ctx, span := tracing.Start(ctx, spanNames[op], trace.SpanKindClient)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("pms.operation", op), attribute.String("agente.tenant_id", tenant),
			attribute.String("pms.breaker.state", p.breaker.State()))
	}
	return ctx, span
}

func finish(span trace.Span, op string, err error) {
	done(op, err)
	tracing.End(span, err)
}

// note sets an attribute on ctx's span when it records (one, not a
// variadic list: that slice would be allocated on every call, recording or
// not).
func note(ctx context.Context, kv attribute.KeyValue) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(kv)
	}
}

// call runs fn through the breaker, retrying when retry is set and the
// failure is retryable, never past ctx's deadline.
func call[T any](p *PMS, ctx context.Context, op string, retry bool, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	method, endpoint := p.endpoint(op)
	for attempt := 1; ; attempt++ {
		if err := p.acquire(ctx, op); err != nil {
			return zero, err
		}
		report, err := p.breaker.guard()
		if err != nil {
			p.release()
			errorsTotal.WithLabelValues(op, "breaker_open").Inc()
			note(ctx, attribute.Bool("pms.breaker.rejected", true))
			return zero, err
		}
		note(ctx, attribute.Int("pms.attempts", attempt))
		actx, cancel := ctx, context.CancelFunc(func() {})
		if retry {
			actx, cancel = context.WithTimeout(ctx, p.opts.AttemptTimeout)
		}
		start := time.Now()
		apiCalls.Inc()
		v, err := fn(actx)
		apiLatency.WithLabelValues(endpoint, method).Observe(time.Since(start).Seconds())
		cancel()
		p.release()
		report(err)
		if err == nil {
			return v, nil
		}
		kind := errorType(err)
		if kind != "" {
			errorsTotal.WithLabelValues(op, kind).Inc()
		}
		if !retry || attempt >= p.opts.MaxAttempts || !infrastructureFailure(err) || ctx.Err() != nil {
			return zero, err
		}
		wait := p.backoff(attempt)
		// Deadlines are wall-clock time; Options.Now only dates cache entries.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return zero, err
		}
		retryAttempts.WithLabelValues(op, kind).Inc()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, err
		case <-t.C:
		}
	}
}

// acquire waits for a free slot at the PMS (a retry waits again: a call
// backing off holds none). A caller that gives up gets its own error; an
// operation whose time runs out waiting fails as the PMS being unavailable,
// without counting against the breaker: the PMS did not fail, it was busy.
func (p *PMS) acquire(ctx context.Context, op string) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	start := time.Now()
	select {
	case p.slots <- struct{}{}:
		note(ctx, attribute.Int64("pms.slot_wait_ms", time.Since(start).Milliseconds()))
		return nil
	case <-ctx.Done():
		if callerGaveUp(ctx.Err()) {
			return ctx.Err()
		}
		errorsTotal.WithLabelValues(op, "busy").Inc()
		return fmt.Errorf("%w: %d calls were at the PMS for the whole wait: %w", pms.ErrUnavailable, cap(p.slots), ctx.Err())
	}
}

func (p *PMS) release() { <-p.slots }

func (p *PMS) backoff(attempt int) time.Duration {
	d := p.opts.BackoffBase << (attempt - 1)
	if d > p.opts.BackoffMax || d <= 0 {
		d = p.opts.BackoffMax
	}
	return d/2 + time.Duration(p.opts.Rand()*float64(d/2))
}

// servesStale reports whether an expired cached answer may stand in for
// err: the PMS failed, is rejected by the breaker, or refused our
// credentials. A real answer (not found, invalid) is not papered over.
func servesStale(err error) bool {
	return infrastructureFailure(err) || errors.Is(err, pms.ErrUnauthorized)
}

// ---- cache plumbing -------------------------------------------------------

type cached[T any] struct {
	FetchedAt time.Time `json:"fetched_at"`
	Value     T         `json:"value"`
}

func escapeKeyPart(s string) string { return url.QueryEscape(s) }

func hotelKey(op string, h pms.Hotel) string {
	return "pms:" + escapeKeyPart(h.TenantID) + ":" + op + ":" + strconv.Itoa(h.PropertyID())
}

func availabilityKey(h pms.Hotel, s pms.Stay) string {
	key := hotelKey(OpAvailability, h) + ":" + s.CheckIn.String() + ":" + s.CheckOut.String() +
		":a" + strconv.Itoa(s.Adults) + ":c" + strconv.Itoa(s.Children)
	// Ages can change the price; a party without them keeps the old key.
	for i, age := range s.ChildAges {
		sep := ","
		if i == 0 {
			sep = ":ages"
		}
		key += sep + strconv.Itoa(age)
	}
	return key
}

// lookup reads key; found reports an entry (fresh or not).
func lookup[T any](p *PMS, ctx context.Context, op, key string) (entry cached[T], found bool) {
	if p.cache == nil {
		return entry, false
	}
	b, ok, err := p.cache.Get(ctx, key)
	if err != nil {
		p.cacheError(op, err)
		return entry, false
	}
	if !ok {
		return entry, false
	}
	if err := json.Unmarshal(b, &entry); err != nil {
		p.cacheError(op, fmt.Errorf("cached %s is unreadable: %w", key, err))
		return entry, false
	}
	return entry, true
}

func (p *PMS) fresh(fetched time.Time, ttl time.Duration) bool {
	age := p.opts.Now().Sub(fetched)
	return age >= 0 && age < ttl
}

func (p *PMS) cacheError(op string, err error) {
	if p.opts.OnCacheError != nil {
		p.opts.OnCacheError(op, err)
	}
}

func store[T any](p *PMS, ctx context.Context, op, key string, v T, index func(ctx context.Context, b []byte) error) {
	if p.cache == nil {
		return
	}
	b, err := json.Marshal(cached[T]{FetchedAt: p.opts.Now(), Value: v})
	if err != nil {
		p.cacheError(op, err)
		return
	}
	if index != nil {
		err = index(ctx, b)
	} else {
		err = p.cache.Set(ctx, key, b, p.opts.StaleRetention)
	}
	if err != nil {
		p.cacheError(op, err)
	}
}

// cachedRead is the read path shared by the cached operations: fresh hit,
// else the PMS, else the stale entry.
func cachedRead[T any](p *PMS, ctx context.Context, op, key string, ttl time.Duration,
	fetch func(context.Context) (T, error), save func(context.Context, T), markStale func(*T, time.Time),
) (T, error) {
	entry, found := lookup[T](p, ctx, op, key)
	if found && p.fresh(entry.FetchedAt, ttl) {
		cacheHits.Inc()
		note(ctx, attribute.String("pms.cache", "hit"))
		return entry.Value, nil
	}
	if p.cache != nil {
		cacheMisses.Inc()
		note(ctx, attribute.String("pms.cache", "miss"))
	}
	v, err := call(p, ctx, op, true, fetch)
	if err == nil {
		save(ctx, v)
		return v, nil
	}
	if found && servesStale(err) {
		staleHits.Inc()
		note(ctx, attribute.String("pms.cache", "stale"))
		markStale(&entry.Value, entry.FetchedAt)
		return entry.Value, nil
	}
	var zero T
	return zero, err
}

func (p *PMS) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.opts.Timeout)
}

// ---- pms.PMS --------------------------------------------------------------

// Availability implements pms.PMS.
func (p *PMS) Availability(ctx context.Context, h pms.Hotel, s pms.Stay) (a pms.Availability, err error) {
	ctx, span := p.start(ctx, OpAvailability, h.TenantID)
	defer func() { finish(span, OpAvailability, err) }()
	if verr := s.Validate(); verr != nil {
		return pms.Availability{}, fmt.Errorf("%w: %v", pms.ErrInvalid, verr)
	}
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	key := availabilityKey(h, s)
	return cachedRead(p, ctx, OpAvailability, key, p.opts.AvailabilityTTL,
		func(c context.Context) (pms.Availability, error) { return p.inner.Availability(c, h, s) },
		func(c context.Context, v pms.Availability) {
			store(p, c, OpAvailability, key, v, func(c context.Context, b []byte) error {
				return p.cache.SetAvailability(c, h.TenantID, key, s.CheckIn, s.CheckOut, b, p.opts.StaleRetention)
			})
		},
		func(v *pms.Availability, fetched time.Time) {
			v.Stale = true
			if v.AsOf.IsZero() {
				v.AsOf = fetched
			}
		})
}

// HotelInfo implements pms.PMS.
func (p *PMS) HotelInfo(ctx context.Context, h pms.Hotel) (info pms.HotelInfo, err error) {
	ctx, span := p.start(ctx, OpHotelInfo, h.TenantID)
	defer func() { finish(span, OpHotelInfo, err) }()
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	key := hotelKey(OpHotelInfo, h)
	return cachedRead(p, ctx, OpHotelInfo, key, p.opts.HotelInfoTTL,
		func(c context.Context) (pms.HotelInfo, error) { return p.inner.HotelInfo(c, h) },
		func(c context.Context, v pms.HotelInfo) { store(p, c, OpHotelInfo, key, v, nil) },
		func(v *pms.HotelInfo, _ time.Time) { v.Stale = true })
}

// RoomTypes implements pms.PMS.
func (p *PMS) RoomTypes(ctx context.Context, h pms.Hotel) (rts []pms.RoomType, err error) {
	ctx, span := p.start(ctx, OpRoomTypes, h.TenantID)
	defer func() { finish(span, OpRoomTypes, err) }()
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	key := hotelKey(OpRoomTypes, h)
	return cachedRead(p, ctx, OpRoomTypes, key, p.opts.RoomTypesTTL,
		func(c context.Context) ([]pms.RoomType, error) { return p.inner.RoomTypes(c, h) },
		func(c context.Context, v []pms.RoomType) { store(p, c, OpRoomTypes, key, v, nil) },
		func(*[]pms.RoomType, time.Time) {})
}

// CreateBooking implements pms.PMS. It is retried only when req.Reference
// is set (the implementation dedupes it). The tenant's cached availability
// overlapping the stay is dropped after the call went out, whether it
// succeeded or failed in a way that may have booked.
func (p *PMS) CreateBooking(ctx context.Context, req pms.BookingRequest) (b pms.Booking, err error) {
	ctx, span := p.start(ctx, OpCreateBooking, req.Hotel.TenantID)
	defer func() { finish(span, OpCreateBooking, err) }()
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	b, err = call(p, ctx, OpCreateBooking, req.Reference != "", func(c context.Context) (pms.Booking, error) {
		return p.inner.CreateBooking(c, req)
	})
	if err == nil || (infrastructureFailure(err) && !errors.Is(err, pms.ErrCircuitOpen)) {
		p.invalidate(ctx, OpCreateBooking, req.Hotel.TenantID, req.Stay)
	}
	return b, err
}

// GetBooking implements pms.PMS (retried, never cached).
func (p *PMS) GetBooking(ctx context.Context, h pms.Hotel, id string) (b pms.Booking, err error) {
	ctx, span := p.start(ctx, OpGetBooking, h.TenantID)
	defer func() { finish(span, OpGetBooking, err) }()
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	return call(p, ctx, OpGetBooking, true, func(c context.Context) (pms.Booking, error) {
		return p.inner.GetBooking(c, h, id)
	})
}

// CancelBooking implements pms.PMS (not retried). A successful cancellation
// drops the tenant's cached availability overlapping the booking's stay.
func (p *PMS) CancelBooking(ctx context.Context, h pms.Hotel, id string) (b pms.Booking, err error) {
	ctx, span := p.start(ctx, OpCancelBooking, h.TenantID)
	defer func() { finish(span, OpCancelBooking, err) }()
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	b, err = call(p, ctx, OpCancelBooking, false, func(c context.Context) (pms.Booking, error) {
		return p.inner.CancelBooking(c, h, id)
	})
	if err == nil && !b.Stay.CheckIn.IsZero() {
		p.invalidate(ctx, OpCancelBooking, h.TenantID, b.Stay)
	}
	return b, err
}

// Ping implements pms.PMS through the breaker (so readiness probes also
// probe a half-open breaker), without retries or cache.
func (p *PMS) Ping(ctx context.Context) (err error) {
	ctx, span := p.start(ctx, OpPing, "")
	defer func() { finish(span, OpPing, err) }()
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	_, err = call(p, ctx, OpPing, false, func(c context.Context) (struct{}, error) {
		return struct{}{}, p.inner.Ping(c)
	})
	return err
}

// invalidate drops availability entries overlapping s. It runs even when
// ctx is spent (a timed-out booking may have been made).
func (p *PMS) invalidate(ctx context.Context, op, tenant string, s pms.Stay) {
	if p.cache == nil {
		return
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if _, err := p.cache.InvalidateAvailability(ictx, tenant, s.CheckIn, s.CheckOut); err != nil {
		p.cacheError(op, err)
	}
}
