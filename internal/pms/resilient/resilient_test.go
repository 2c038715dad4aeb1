package resilient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/qloapps"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

const key = "RESILIENTKEY"

var hotel1 = pms.Hotel{TenantID: "hotel-uno", PMSID: 1}

// clock is a settable clock for cache freshness.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func stay(in, out string, adults int) pms.Stay {
	a, _ := pms.ParseDate(in)
	b, _ := pms.ParseDate(out)
	return pms.Stay{CheckIn: a, CheckOut: b, Adults: adults}
}

func guest() pms.Guest {
	return pms.Guest{FirstName: "Luis", LastName: "Pérez", Email: "luis@example.com", Phone: "+34611111111"}
}

func qlo(t testing.TB, fake *fakeqloapps.Server) *qloapps.Client {
	c, err := qloapps.New(qloapps.Config{BaseURL: fake.URL, APIKey: key, TimeZone: "Europe/Madrid"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func val(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// delta reads a metric now and returns a func giving its increase since.
func delta(c prometheus.Collector) func() float64 {
	before := val(c)
	return func() float64 { return val(c) - before }
}

// The whole fault scenario: the PMS answers 500 → after 5 failures the
// breaker opens, guests get stale availability marked as such, no request
// waits longer than the configured timeout; the PMS back → half-open → closed.
func TestFaultBreakerOpensServesStaleAndRecovers(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	clk := newClock()
	const timeout = 300 * time.Millisecond
	br := NewBreaker(BreakerSettings{Name: "fake", OpenTimeout: 300 * time.Millisecond})
	p := Wrap(qlo(t, fake), br, NewMemoryCache(MemoryCacheOptions{Now: clk.Now}), Options{
		Timeout: timeout, AttemptTimeout: 100 * time.Millisecond, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Now: clk.Now, Rand: func() float64 { return 0.5 },
	})
	ctx := bg(t)
	s := stay("2030-03-01", "2030-03-03", 2)

	first, err := p.Availability(ctx, hotel1, s)
	if err != nil || first.Stale || len(first.Offers) != 2 {
		t.Fatalf("healthy call: %+v, %v", first, err)
	}
	clk.Advance(2 * time.Minute) // the cached answer is now expired, kept for stale use

	fake.Inject(fakeqloapps.HotelARI, 1000, fakeqloapps.ServerError, 0)
	stale := delta(staleHits)
	failures := delta(breakerCalls.WithLabelValues("closed", "failure"))
	rejected := delta(breakerCalls.WithLabelValues("open", "rejected"))
	http5xx := delta(errorsTotal.WithLabelValues(OpAvailability, "http_5xx"))
	ariBefore := fake.Calls(fakeqloapps.HotelARI)
	for i := 0; i < 3; i++ { // 3 tries per call: calls 1 and 2 make the 5 failures
		a, err := p.Availability(ctx, hotel1, s)
		if err != nil {
			t.Fatalf("call %d: %v (a stale answer was cached)", i, err)
		}
		if !a.Stale || len(a.Offers) != 2 || a.Offers[0].Available != 3 || !a.AsOf.Equal(first.AsOf) {
			t.Fatalf("call %d: %+v, want the first answer marked stale", i, a)
		}
	}
	if got := fake.Calls(fakeqloapps.HotelARI) - ariBefore; got != 5 {
		t.Fatalf("PMS calls before opening = %d, want 5", got)
	}
	if br.State() != "open" || val(breakerState) != 1 {
		t.Fatalf("breaker %s (gauge %v), want open (1)", br.State(), val(breakerState))
	}
	if failures() != 5 || http5xx() != 5 || stale() != 3 || rejected() < 2 {
		t.Fatalf("failures %v, http_5xx %v, stale %v, rejected %v", failures(), http5xx(), stale(), rejected())
	}
	if val(breakerStreak) < 5 {
		t.Fatalf("failure streak gauge = %v", val(breakerStreak))
	}

	// While open, answers come from the cache without touching the PMS.
	callsOpen := fake.Calls(fakeqloapps.HotelARI)
	if a, err := p.Availability(ctx, hotel1, s); err != nil || !a.Stale {
		t.Fatalf("open: %+v, %v", a, err)
	}
	if fake.Calls(fakeqloapps.HotelARI) != callsOpen {
		t.Fatal("the PMS was called while the breaker was open")
	}

	// Half-open probe against a PMS that hangs: the guest still gets the
	// stale answer within the configured timeout.
	fake.ClearFaults()
	fake.Inject(fakeqloapps.HotelARI, 1, fakeqloapps.Hang, time.Minute)
	time.Sleep(350 * time.Millisecond) // past OpenTimeout (gobreaker reads the wall clock)
	timeouts := delta(errorsTotal.WithLabelValues(OpAvailability, "timeout"))
	start := time.Now()
	a, err := p.Availability(ctx, hotel1, s)
	waited := time.Since(start)
	if err != nil || !a.Stale {
		t.Fatalf("hung PMS: %+v, %v", a, err)
	}
	if waited > timeout+5*time.Second { // generous slack; the fake would have held the answer a minute
		t.Fatalf("guest waited %v with Timeout %v", waited, timeout)
	}
	if timeouts() != 1 || br.State() != "open" {
		t.Fatalf("timeouts %v, breaker %s: the failed probe must reopen it", timeouts(), br.State())
	}

	// The PMS is back: after OpenTimeout a probe closes the breaker and the
	// answer is fresh again.
	time.Sleep(350 * time.Millisecond)
	if br.State() != "half_open" {
		t.Fatalf("breaker %s after OpenTimeout, want half_open", br.State())
	}
	halfOpenOK := delta(breakerCalls.WithLabelValues("half_open", "success"))
	a, err = p.Availability(ctx, hotel1, s)
	if err != nil || a.Stale {
		t.Fatalf("recovered: %+v, %v", a, err)
	}
	if br.State() != "closed" || val(breakerState) != 0 || halfOpenOK() != 1 || val(breakerStreak) != 0 {
		t.Fatalf("breaker %s (gauge %v), half-open successes %v, streak %v", br.State(), val(breakerState), halfOpenOK(), val(breakerStreak))
	}
}

func TestBookingRetriedAfterTimeoutCreatesExactlyOneBooking(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), NewMemoryCache(MemoryCacheOptions{}), Options{
		Timeout: 5 * time.Second, AttemptTimeout: 200 * time.Millisecond, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
	})
	// QloApps makes the booking, then the answer never arrives in time.
	fake.Inject(fakeqloapps.CreateBooking, 1, fakeqloapps.Hang, 10*time.Second)
	retries := delta(retryAttempts.WithLabelValues(OpCreateBooking, "timeout"))
	req := pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: stay("2030-04-01", "2030-04-02", 2), Guest: guest(), Reference: "wa-retry-1"}
	b, err := p.CreateBooking(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	bookings := fake.Bookings()
	if len(bookings) != 1 || bookings[0].Source != "wa-retry-1" || b.ID != fmt.Sprint(bookings[0].ID) {
		t.Fatalf("fake holds %+v; CreateBooking returned %+v", bookings, b)
	}
	// Orders: two lookups by reference (before each attempt) and the status
	// read of the booking the second one found.
	if fake.Calls(fakeqloapps.CreateBooking) != 1 || fake.Calls(fakeqloapps.Orders) != 3 || retries() != 1 {
		t.Fatalf("POSTs %d, orders calls %d, retries %v; want 1, 3, 1",
			fake.Calls(fakeqloapps.CreateBooking), fake.Calls(fakeqloapps.Orders), retries())
	}
}

func TestBookingWithoutReferenceIsNeverRetried(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), nil, Options{
		AttemptTimeout: 200 * time.Millisecond, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
	})
	fake.Inject(fakeqloapps.CreateBooking, 1, fakeqloapps.Hang, 10*time.Second)
	req := pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: stay("2030-04-01", "2030-04-02", 2), Guest: guest()}
	_, err := p.CreateBooking(bg(t), req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the attempt's timeout", err)
	}
	if fake.Calls(fakeqloapps.CreateBooking) != 1 {
		t.Fatalf("POSTs = %d: a booking without reference was retried", fake.Calls(fakeqloapps.CreateBooking))
	}
}

func TestReadsRetryOn5xxWithBackoff(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), nil, Options{BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	fake.Inject(fakeqloapps.Hotel, 2, fakeqloapps.ServerError, 0)
	fake.Inject(fakeqloapps.HotelRoomTypes, 1, fakeqloapps.MalformedJSON, 0)
	r5xx := delta(retryAttempts.WithLabelValues(OpHotelInfo, "http_5xx"))
	rDecode := delta(retryAttempts.WithLabelValues(OpRoomTypes, "decode"))
	calls := delta(apiCalls)
	info, err := p.HotelInfo(bg(t), hotel1)
	if err != nil || info.Name.In("en") != "The Hotel Prime" || info.Stale {
		t.Fatalf("%+v, %v", info, err)
	}
	rts, err := p.RoomTypes(bg(t), hotel1)
	if err != nil || len(rts) != 2 {
		t.Fatalf("%+v, %v", rts, err)
	}
	if fake.Calls(fakeqloapps.Hotel) != 3 || r5xx() != 2 || rDecode() != 1 || calls() != 5 {
		t.Fatalf("hotel GETs %d, 5xx retries %v, decode retries %v, api calls %v", fake.Calls(fakeqloapps.Hotel), r5xx(), rDecode(), calls())
	}
}

func TestRetriesNeverSleepPastTheDeadline(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	// A back-off of at least 5s cannot fit in a 300ms operation: one try only.
	p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), nil, Options{Timeout: 300 * time.Millisecond,
		BackoffBase: 10 * time.Second, BackoffMax: 10 * time.Second})
	fake.Inject(fakeqloapps.Hotel, 5, fakeqloapps.ServerError, 0)
	retries := delta(retryAttempts.WithLabelValues(OpHotelInfo, "http_5xx"))
	start := time.Now()
	_, err := p.HotelInfo(bg(t), hotel1)
	if !errors.Is(err, pms.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if fake.Calls(fakeqloapps.Hotel) != 1 || retries() != 0 {
		t.Fatalf("calls %d, retries %v", fake.Calls(fakeqloapps.Hotel), retries())
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("slept into a back-off longer than the deadline")
	}
}

func TestAnswersAreNotInfrastructureFailures(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	br := NewBreaker(BreakerSettings{})
	p := Wrap(qlo(t, fake), br, nil, Options{BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	notFound := delta(errorsTotal.WithLabelValues(OpGetBooking, "http_4xx"))
	for i := 0; i < 8; i++ {
		if _, err := p.GetBooking(bg(t), hotel1, "424242"); !errors.Is(err, pms.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	}
	if br.State() != "closed" || fake.Calls(fakeqloapps.GetBooking) != 8 || notFound() != 8 {
		t.Fatalf("breaker %s, calls %d (no retries expected), 4xx %v", br.State(), fake.Calls(fakeqloapps.GetBooking), notFound())
	}
	// A sold-out booking is an answer too.
	for _, ref := range []string{"a", "b", "c", "d", "e", "f"} {
		_, err := p.CreateBooking(bg(t), pms.BookingRequest{Hotel: hotel1, RoomTypeID: 2, Stay: stay("2030-09-01", "2030-09-02", 1), Guest: guest(), Reference: ref})
		if err != nil && !errors.Is(err, pms.ErrSoldOut) {
			t.Fatalf("%s: %v", ref, err)
		}
	}
	if br.State() != "closed" {
		t.Fatalf("sold-out answers opened the breaker")
	}
}

func TestCacheFreshnessPerOperation(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	clk := newClock()
	p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), NewMemoryCache(MemoryCacheOptions{Now: clk.Now}), Options{Now: clk.Now})
	ctx := bg(t)
	s := stay("2030-02-01", "2030-02-02", 2)
	hits, misses := delta(cacheHits), delta(cacheMisses)
	before := CacheFigures()
	for i := 0; i < 3; i++ {
		if _, err := p.Availability(ctx, hotel1, s); err != nil {
			t.Fatal(err)
		}
		if _, err := p.HotelInfo(ctx, hotel1); err != nil {
			t.Fatal(err)
		}
	}
	if fake.Calls(fakeqloapps.HotelARI) != 1 || fake.Calls(fakeqloapps.Hotel) != 1 || hits() != 4 || misses() != 2 {
		t.Fatalf("ari %d, hotel %d, hits %v, misses %v", fake.Calls(fakeqloapps.HotelARI), fake.Calls(fakeqloapps.Hotel), hits(), misses())
	}
	// The dashboard's figures are the same counters.
	if after := CacheFigures(); after.Hits-before.Hits != 4 || after.Misses-before.Misses != 2 || after.HitRatio <= 0 || after.HitRatio > 1 {
		t.Fatalf("CacheFigures() before %+v after %+v", before, after)
	}
	// Another party size or another tenant is another question.
	s3 := s
	s3.Adults = 1
	if _, err := p.Availability(ctx, hotel1, s3); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Availability(ctx, pms.Hotel{TenantID: "hotel-dos", PMSID: 1}, s); err != nil {
		t.Fatal(err)
	}
	if fake.Calls(fakeqloapps.HotelARI) != 3 {
		t.Fatalf("ari calls = %d, want 3", fake.Calls(fakeqloapps.HotelARI))
	}
	clk.Advance(61 * time.Second) // availability (60s) expired, hotel info (1h) not
	if _, err := p.Availability(ctx, hotel1, s); err != nil {
		t.Fatal(err)
	}
	if _, err := p.HotelInfo(ctx, hotel1); err != nil {
		t.Fatal(err)
	}
	if fake.Calls(fakeqloapps.HotelARI) != 4 || fake.Calls(fakeqloapps.Hotel) != 1 {
		t.Fatalf("after 61s: ari %d, hotel %d", fake.Calls(fakeqloapps.HotelARI), fake.Calls(fakeqloapps.Hotel))
	}
}

func TestBookingsInvalidateOverlappingAvailability(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T, now func() time.Time) Cache{
		"memory": func(t *testing.T, now func() time.Time) Cache { return NewMemoryCache(MemoryCacheOptions{Now: now}) },
		"redis": func(t *testing.T, _ func() time.Time) Cache {
			c, prefix := testservices.RedisClient(t)
			return NewRedisCache(c, prefix)
		},
	} {
		t.Run(name, func(t *testing.T) {
			fake := fakeqloapps.Start(t, key)
			clk := newClock()
			p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), mk(t, clk.Now), Options{Now: clk.Now})
			ctx := bg(t)
			overlapping := stay("2030-05-02", "2030-05-05", 2)
			apart := stay("2030-05-10", "2030-05-12", 2)
			other := pms.Hotel{TenantID: "hotel-dos", PMSID: 1}
			for _, q := range []struct {
				h pms.Hotel
				s pms.Stay
			}{{hotel1, overlapping}, {hotel1, apart}, {other, overlapping}} {
				if _, err := p.Availability(ctx, q.h, q.s); err != nil {
					t.Fatal(err)
				}
			}
			b, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: stay("2030-05-04", "2030-05-06", 2), Guest: guest(), Reference: "inv-" + name})
			if err != nil {
				t.Fatal(err)
			}
			ari := fake.Calls(fakeqloapps.HotelARI)
			a, err := p.Availability(ctx, hotel1, overlapping)
			if err != nil || a.Offers[0].Available != 2 {
				t.Fatalf("overlapping stay after booking: %+v, %v (must be asked again)", a, err)
			}
			if _, err := p.Availability(ctx, hotel1, apart); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Availability(ctx, other, overlapping); err != nil {
				t.Fatal(err)
			}
			if got := fake.Calls(fakeqloapps.HotelARI) - ari; got != 1 {
				t.Fatalf("PMS asked %d times; only the booking tenant's overlapping entry was to be dropped", got)
			}
			if _, err := p.CancelBooking(ctx, hotel1, b.ID); err != nil {
				t.Fatal(err)
			}
			a, err = p.Availability(ctx, hotel1, overlapping)
			if err != nil || a.Offers[0].Available != 3 {
				t.Fatalf("after cancel: %+v, %v", a, err)
			}
		})
	}
}

// stub is a programmable pms.PMS for cases the fake cannot stage.
type stub struct {
	hotelInfo func(ctx context.Context) (pms.HotelInfo, error)
	calls     atomic.Int32
}

func (s *stub) Availability(_ context.Context, _ pms.Hotel, st pms.Stay) (pms.Availability, error) {
	return pms.Availability{Stay: st, Currency: "EUR", AsOf: time.Now(), Offers: []pms.Offer{
		{RoomType: pms.RoomType{ID: 1, Name: pms.Untranslated("General Rooms")}, Available: 3, TotalPrice: 220},
		{RoomType: pms.RoomType{ID: 2, Name: pms.Untranslated("Delux Rooms")}, Available: 2, TotalPrice: 330},
	}}, nil
}
func (s *stub) HotelInfo(ctx context.Context, _ pms.Hotel) (pms.HotelInfo, error) {
	s.calls.Add(1)
	return s.hotelInfo(ctx)
}
func (s *stub) RoomTypes(context.Context, pms.Hotel) ([]pms.RoomType, error) { return nil, nil }
func (s *stub) CreateBooking(context.Context, pms.BookingRequest) (pms.Booking, error) {
	return pms.Booking{}, nil
}
func (s *stub) GetBooking(context.Context, pms.Hotel, string) (pms.Booking, error) {
	return pms.Booking{}, nil
}
func (s *stub) CancelBooking(context.Context, pms.Hotel, string) (pms.Booking, error) {
	return pms.Booking{}, nil
}
func (s *stub) Ping(context.Context) error { return nil }

func TestStaleServedForOutagesNotForAnswers(t *testing.T) {
	clk := newClock()
	var answer error
	st := &stub{hotelInfo: func(context.Context) (pms.HotelInfo, error) {
		if answer != nil {
			return pms.HotelInfo{}, answer
		}
		return pms.HotelInfo{Name: pms.Untranslated("Stub")}, nil
	}}
	p := Wrap(st, NewBreaker(BreakerSettings{FailureThreshold: 100}), NewMemoryCache(MemoryCacheOptions{Now: clk.Now}),
		Options{Now: clk.Now, MaxAttempts: 1})
	ctx := bg(t)
	if _, err := p.HotelInfo(ctx, hotel1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	for _, e := range []error{pms.ErrUnavailable, fmt.Errorf("x: %w", context.DeadlineExceeded), pms.ErrUnauthorized,
		fmt.Errorf("%w: %w", pms.ErrMalformed, pms.ErrUnavailable)} {
		answer = e
		info, err := p.HotelInfo(ctx, hotel1)
		if err != nil || !info.Stale || info.Name.In("es") != "Stub" {
			t.Errorf("%v: %+v, %v; want the stale answer", e, info, err)
		}
	}
	for _, e := range []error{pms.ErrNotFound, pms.ErrInvalid} {
		answer = e
		if _, err := p.HotelInfo(ctx, hotel1); !errors.Is(err, e) {
			t.Errorf("%v: err = %v; a real answer must not be hidden by a stale one", e, err)
		}
	}
	// Past the stale retention there is nothing to serve.
	clk.Advance(25 * time.Hour)
	answer = pms.ErrUnavailable
	if _, err := p.HotelInfo(ctx, hotel1); !errors.Is(err, pms.ErrUnavailable) {
		t.Fatalf("after retention: %v", err)
	}
}

func TestCallerCancellationDoesNotCountAgainstThePMS(t *testing.T) {
	st := &stub{hotelInfo: func(ctx context.Context) (pms.HotelInfo, error) {
		<-ctx.Done()
		return pms.HotelInfo{}, ctx.Err()
	}}
	br := NewBreaker(BreakerSettings{FailureThreshold: 1})
	p := Wrap(st, br, nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := p.HotelInfo(ctx, hotel1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if br.State() != "closed" || st.calls.Load() != 1 {
		t.Fatalf("breaker %s, calls %d: a guest leaving is not a PMS failure (and is not retried)", br.State(), st.calls.Load())
	}
}

func TestPingGoesThroughTheBreaker(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	br := NewBreaker(BreakerSettings{FailureThreshold: 2, OpenTimeout: time.Hour})
	p := Wrap(qlo(t, fake), br, nil, Options{})
	fake.Inject("", 2, fakeqloapps.ServerError, 0)
	for i := 0; i < 2; i++ {
		if err := p.Ping(bg(t)); !errors.Is(err, pms.ErrUnavailable) {
			t.Fatal(err)
		}
	}
	err := p.Ping(bg(t))
	if !errors.Is(err, pms.ErrCircuitOpen) || !errors.Is(err, pms.ErrUnavailable) || fake.Calls(fakeqloapps.Hotels) != 2 {
		t.Fatalf("err = %v, calls %d", err, fake.Calls(fakeqloapps.Hotels))
	}
}

func histCount(t *testing.T, endpoint, method string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := apiLatency.WithLabelValues(endpoint, method).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestLatencyObservedPerAttemptWithEndpointLabels(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	p := Wrap(qlo(t, fake), nil, nil, Options{BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	before := histCount(t, "/api/hotel_ari", "POST")
	fake.Inject(fakeqloapps.HotelARI, 1, fakeqloapps.ServerError, 0)
	if _, err := p.Availability(bg(t), hotel1, stay("2030-01-01", "2030-01-02", 1)); err != nil {
		t.Fatal(err)
	}
	if got := histCount(t, "/api/hotel_ari", "POST") - before; got != 2 {
		t.Fatalf("observations = %d, want 2 (failed try + retry)", got)
	}
	st := &stub{hotelInfo: func(context.Context) (pms.HotelInfo, error) { return pms.HotelInfo{}, nil }}
	before = histCount(t, OpHotelInfo, "GET")
	if _, err := Wrap(st, nil, nil, Options{}).HotelInfo(bg(t), hotel1); err != nil {
		t.Fatal(err)
	}
	if got := histCount(t, OpHotelInfo, "GET") - before; got != 1 {
		t.Fatalf("default labels: observations = %d", got)
	}
}

func TestConcurrentCallsDuringAnOutage(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	clk := newClock()
	br := NewBreaker(BreakerSettings{OpenTimeout: 20 * time.Millisecond, HalfOpenMaxRequests: 2})
	p := Wrap(qlo(t, fake), br, NewMemoryCache(MemoryCacheOptions{Now: clk.Now}), Options{
		AttemptTimeout: 200 * time.Millisecond, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, Now: clk.Now})
	ctx := bg(t)
	stays := []pms.Stay{stay("2030-01-01", "2030-01-02", 1), stay("2030-01-05", "2030-01-07", 2)}
	for _, s := range stays {
		if _, err := p.Availability(ctx, hotel1, s); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Hour)
	fake.Inject(fakeqloapps.HotelARI, 40, fakeqloapps.ServerError, 0)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				a, err := p.Availability(ctx, hotel1, stays[(g+i)%2])
				if err != nil || len(a.Offers) == 0 {
					failures.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d calls got no answer although every stay was cached", failures.Load())
	}
}

// Room types are cached per hotel with every language's names: a Spanish
// guest after an English one gets the Spanish names from the same entry,
// and an entry cached before names had languages (one string) is still
// read, as an untranslated name.
func TestCachedRoomTypesKeepEveryLanguage(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	cache := NewMemoryCache(MemoryCacheOptions{})
	p := Wrap(qlo(t, fake), NewBreaker(BreakerSettings{}), cache, Options{})
	for range 2 {
		rts, err := p.RoomTypes(bg(t), hotel1)
		if err != nil || len(rts) != 2 || rts[0].Name.In("en") != "General Rooms" || rts[0].Name.In("es") != "Habitaciones generales" {
			t.Fatalf("room types %+v, %v", rts, err)
		}
	}
	if n := fake.Calls(fakeqloapps.HotelRoomTypes); n != 1 {
		t.Errorf("QloApps asked %d times, want once (the second answer is the cached one)", n)
	}
	legacy := pms.Hotel{TenantID: "legacy", PMSID: 1}
	old := `{"value":[{"ID":1,"Name":"Double","MaxAdults":2,"MaxChildren":1,"MaxGuests":3,"Description":"Habitación doble"}],"fetched_at":"` +
		time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	if err := cache.Set(bg(t), hotelKey(OpRoomTypes, legacy), []byte(old), time.Hour); err != nil {
		t.Fatal(err)
	}
	rts, err := p.RoomTypes(bg(t), legacy)
	if err != nil || len(rts) != 1 || rts[0].Name.In("en") != "Double" || rts[0].Description.In("es") != "Habitación doble" {
		t.Fatalf("legacy entry: %+v, %v", rts, err)
	}
	if n := fake.Calls(fakeqloapps.HotelRoomTypes); n != 1 {
		t.Errorf("the legacy entry was not read: QloApps asked %d times", n)
	}
}

// At most MaxConcurrent calls are at the PMS at once; the others wait for
// a slot and go when one ends. A call whose operation times out while it
// waits fails as the PMS being unavailable, never reaches the PMS and does
// not count against the breaker.
func TestCallsAtThePMSAreBoundedAndTheRestWait(t *testing.T) {
	var at, most atomic.Int32
	gate := make(chan struct{})
	st := &stub{hotelInfo: func(ctx context.Context) (pms.HotelInfo, error) {
		n := at.Add(1)
		defer at.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-gate:
			return pms.HotelInfo{Name: pms.Untranslated("Stub")}, nil
		case <-ctx.Done():
			return pms.HotelInfo{}, ctx.Err()
		}
	}}
	br := NewBreaker(BreakerSettings{FailureThreshold: 1})
	p := Wrap(st, br, nil, Options{MaxConcurrent: 2, Timeout: time.Minute, MaxAttempts: 1})
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := p.HotelInfo(context.Background(), hotel1)
			errs <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for st.calls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls reached the PMS, want 2", st.calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// The other three wait: a short-lived operation among them times out
	// in the queue.
	short := Wrap(st, br, nil, Options{MaxConcurrent: 2, Timeout: 30 * time.Millisecond, MaxAttempts: 1})
	short.slots = p.slots
	busy := delta(errorsTotal.WithLabelValues(OpHotelInfo, "busy"))
	if _, err := short.HotelInfo(context.Background(), hotel1); !errors.Is(err, pms.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a call that timed out waiting: %v; want ErrUnavailable and the deadline", err)
	}
	if busy() != 1 {
		t.Errorf("pms_errors_total{error_type=\"busy\"} +%v, want +1", busy())
	}
	if n := st.calls.Load(); n != 2 {
		t.Errorf("%d calls reached the PMS while two were at it, want 2", n)
	}
	close(gate)
	for range 5 {
		if err := <-errs; err != nil {
			t.Errorf("a waiting call: %v", err)
		}
	}
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d calls at the PMS at once, want 2", m)
	}
	if st.calls.Load() != 5 || br.State() != "closed" {
		t.Errorf("%d calls, breaker %s; want all 5 through and the breaker closed", st.calls.Load(), br.State())
	}
}
