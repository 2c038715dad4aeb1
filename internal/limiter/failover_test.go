package limiter

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// switchable is a primary backend that can be made to fail; it counts calls.
type switchable struct {
	inner Limiter
	down  atomic.Bool
	calls atomic.Int64
}

var errDown = errors.New("connection refused")

func (s *switchable) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	var out [1]Decision
	_, err := s.AllowAll(ctx, []Request{{Key: key, Limit: limit}}, out[:])
	return out[0], err
}

func (s *switchable) AllowAll(ctx context.Context, reqs []Request, out []Decision) (bool, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return false, errDown
	}
	return s.inner.AllowAll(ctx, reqs, out)
}

type failoverFixture struct {
	clock            *fakeClock
	primary          *switchable
	fallback         *Memory
	f                *Failover
	circuit          *Circuit
	degraded         []error
	opened, closedCt int
}

func newFailoverFixture(policy Policy) *failoverFixture {
	fx := &failoverFixture{clock: newFakeClock()}
	fx.primary = &switchable{inner: NewMemory(MemoryOptions{Now: fx.clock.Now})}
	fx.fallback = NewMemory(MemoryOptions{Now: fx.clock.Now})
	fx.circuit = NewCircuit(CircuitOptions{Now: fx.clock.Now, MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		OnChange: func(open bool, _ error) {
			if open {
				fx.opened++
			} else {
				fx.closedCt++
			}
		}})
	fx.f = NewFailover(fx.primary, fx.fallback, FailoverOptions{Policy: policy, Circuit: fx.circuit,
		OnDegraded: func(err error) { fx.degraded = append(fx.degraded, err) }})
	return fx
}

func TestFailoverAllowUsesLocalLimitAndBacksOff(t *testing.T) {
	fx := newFailoverFixture(PolicyAllow)
	ctx := context.Background()
	limit := Limit{Events: 3, Window: time.Minute}

	if d, err := fx.f.Allow(ctx, "k", limit); err != nil || !d.Allowed {
		t.Fatalf("healthy primary: %+v %v", d, err)
	}
	fx.primary.down.Store(true)

	// The first failure opens the circuit; the fallback still limits: 3 of 5.
	admitted := 0
	for i := 0; i < 5; i++ {
		d, err := fx.f.Allow(ctx, "k", limit)
		if err != nil {
			t.Fatalf("failover returned the backend error: %v", err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted != 3 {
		t.Fatalf("fallback admitted %d of 5, want its own limit of 3", admitted)
	}
	if calls := fx.primary.calls.Load(); calls != 2 {
		t.Fatalf("primary called %d times, want 2 (healthy + the failure that opened the circuit)", calls)
	}
	if len(fx.degraded) != 5 || !errors.Is(fx.degraded[0], errDown) || !errors.Is(fx.degraded[4], ErrBackendSkipped) {
		t.Fatalf("degraded notifications %v", fx.degraded)
	}
	if fx.opened != 1 || !fx.circuit.Open() {
		t.Fatalf("circuit opened %d times, open=%v", fx.opened, fx.circuit.Open())
	}

	// After the back-off one probe fails: the back-off doubles (2 s).
	fx.clock.Advance(time.Second)
	fx.f.Allow(ctx, "k", limit)
	if calls := fx.primary.calls.Load(); calls != 3 {
		t.Fatalf("primary called %d times after the back-off, want one probe (3)", calls)
	}
	fx.clock.Advance(time.Second)
	fx.f.Allow(ctx, "k", limit)
	if calls := fx.primary.calls.Load(); calls != 3 {
		t.Fatalf("primary probed again 1 s into a 2 s back-off")
	}

	// The backend comes back: the next probe closes the circuit, without restart.
	fx.primary.down.Store(false)
	fx.clock.Advance(time.Second)
	if d, err := fx.f.Allow(ctx, "k", limit); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("recovered primary: %+v %v, want its own count (2nd of 3)", d, err)
	}
	if fx.circuit.Open() || fx.closedCt != 1 {
		t.Fatalf("circuit open=%v closed %d times after recovery", fx.circuit.Open(), fx.closedCt)
	}
	if d, _ := fx.f.Allow(ctx, "k", limit); !d.Allowed || fx.primary.calls.Load() != 5 {
		t.Fatalf("after recovery every request goes to the primary: %+v, calls %d", d, fx.primary.calls.Load())
	}
}

func TestFailoverDenyRejects(t *testing.T) {
	fx := newFailoverFixture(PolicyDeny)
	fx.primary.down.Store(true)
	out := make([]Decision, 2)
	reqs := []Request{{Key: "a", Limit: Limit{Events: 3, Window: time.Minute}}, {Key: "b", Limit: Limit{Events: 9, Window: time.Minute}}}
	ok, err := fx.f.AllowAll(context.Background(), reqs, out)
	if err != nil || ok {
		t.Fatalf("deny policy with the backend down: admitted=%v err=%v", ok, err)
	}
	for i, d := range out {
		if d.Allowed || d.Limit != reqs[i].Limit.Events || d.RetryAfter != time.Second {
			t.Fatalf("decision %d: %+v, want rejected with the back-off as RetryAfter", i, d)
		}
	}
	if fx.fallback.Len() != 0 {
		t.Fatal("deny policy recorded requests in the fallback")
	}
}

func TestFailoverCallerCancelDoesNotOpenCircuit(t *testing.T) {
	fx := newFailoverFixture(PolicyAllow)
	fx.primary.down.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fx.f.Allow(ctx, "k", Limit{Events: 1, Window: time.Second})
	if fx.circuit.Open() {
		t.Fatal("a caller's cancelled context opened the circuit")
	}
}

func TestFailoverWithUnreachableRedis(t *testing.T) {
	r := NewRedis(newRedisClient(t, "redis://127.0.0.1:1/0"), RedisOptions{KeyPrefix: "x:"})
	var degraded atomic.Int64
	f := NewFailover(r, NewMemory(MemoryOptions{}), FailoverOptions{OnDegraded: func(error) { degraded.Add(1) }})
	admitted := 0
	for i := 0; i < 10; i++ {
		d, err := f.Allow(context.Background(), "k", Limit{Events: 4, Window: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted != 4 || degraded.Load() != 10 {
		t.Fatalf("admitted %d (want the local limit, 4), degraded %d (want 10)", admitted, degraded.Load())
	}
}
