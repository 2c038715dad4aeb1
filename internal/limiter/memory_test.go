package limiter

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock shared by a test's limiters.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var perMinute120 = Limit{Events: 120, Window: time.Minute}

func TestMemoryBurstAdmitsExactlyEvents(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	ctx := context.Background()
	admitted := 0
	for i := 0; i < 300; i++ {
		d, err := m.Allow(ctx, "k", perMinute120)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
			if want := 120 - admitted; d.Remaining != want {
				t.Fatalf("request %d: remaining %d, want %d", i, d.Remaining, want)
			}
			if d.RetryAfter != 0 || d.ResetAfter != time.Minute {
				t.Fatalf("admitted request %d: retry %s reset %s", i, d.RetryAfter, d.ResetAfter)
			}
		} else if d.Remaining != 0 || d.Limit != 120 {
			t.Fatalf("rejected request %d: %+v", i, d)
		}
		// Spread the burst over 50 s: a token bucket would refill here.
		clock.Advance(50 * time.Second / 300)
	}
	if admitted != 120 {
		t.Fatalf("admitted %d of 300, want 120", admitted)
	}
}

func TestMemorySlidesOneSlotAtATime(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	ctx := context.Background()
	limit := Limit{Events: 3, Window: 10 * time.Second}
	for i := 0; i < 3; i++ { // at t = 0, 1, 2 s
		if d, _ := m.Allow(ctx, "k", limit); !d.Allowed {
			t.Fatalf("request %d rejected", i)
		}
		clock.Advance(time.Second)
	}
	// t = 3 s: full; the first admission (t=0) frees its slot at t=10.
	d, _ := m.Allow(ctx, "k", limit)
	if d.Allowed || d.RetryAfter != 7*time.Second || d.ResetAfter != 9*time.Second {
		t.Fatalf("at 3s: %+v, want rejected, retry 7s, reset 9s", d)
	}
	clock.Advance(7*time.Second - time.Nanosecond)
	if d, _ := m.Allow(ctx, "k", limit); d.Allowed {
		t.Fatalf("admitted 1ns before the oldest left the window: %+v", d)
	}
	clock.Advance(time.Nanosecond)
	if d, _ := m.Allow(ctx, "k", limit); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("at 10s: %+v, want admitted with 0 remaining", d)
	}
	if d, _ := m.Allow(ctx, "k", limit); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("at 10s again: %+v, want rejected until 11s", d)
	}
}

// TestMemoryNeverExceedsAnyWindow checks the defining property against a
// brute-force count over random arrivals: in every interval of one window
// at most Events are admitted, and a request is rejected only when the window
// before it is full.
func TestMemoryNeverExceedsAnyWindow(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	limit := Limit{Events: 7, Window: time.Second}
	rng := rand.New(rand.NewPCG(1, 2))
	var admittedAt []time.Time
	for i := 0; i < 5000; i++ {
		clock.Advance(time.Duration(rng.IntN(int(300 * time.Millisecond))))
		now := clock.Now()
		for len(admittedAt) > 0 && now.Sub(admittedAt[0]) >= limit.Window {
			admittedAt = admittedAt[1:]
		}
		inWindow := len(admittedAt)
		d, _ := m.Allow(context.Background(), "k", limit)
		if d.Allowed != (inWindow < limit.Events) {
			t.Fatalf("request %d: allowed=%v with %d admitted in the last window", i, d.Allowed, inWindow)
		}
		if d.Allowed {
			admittedAt = append(admittedAt, now)
		}
	}
}

func TestMemoryMultiZoneRejectedConsumesNothing(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	ctx := context.Background()
	wide := Request{Key: "tenant:a", Limit: Limit{Events: 5, Window: time.Minute}}
	narrow := Request{Key: "ip:1", Limit: Limit{Events: 2, Window: time.Minute}}
	out := make([]Decision, 2)
	for i := 0; i < 10; i++ {
		ok, err := m.AllowAll(ctx, []Request{wide, narrow}, out)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i < 2) {
			t.Fatalf("request %d: admitted=%v", i, ok)
		}
		if !ok {
			if !out[0].Allowed || out[0].Remaining != 3 {
				t.Fatalf("request %d: wide zone %+v, want room for 3 and nothing consumed", i, out[0])
			}
			if out[1].Allowed || out[1].RetryAfter != time.Minute {
				t.Fatalf("request %d: narrow zone %+v", i, out[1])
			}
			if s := Strictest(out); s != out[1] {
				t.Fatalf("strictest %+v, want the rejecting zone", s)
			}
		}
	}
	// The 8 rejected requests left the wide zone with 3 of 5.
	for i := 0; i < 3; i++ {
		if d, _ := m.Allow(ctx, wide.Key, wide.Limit); !d.Allowed {
			t.Fatalf("wide zone request %d rejected: rejected multi-zone requests consumed quota", i)
		}
	}
	if d, _ := m.Allow(ctx, wide.Key, wide.Limit); d.Allowed {
		t.Fatal("wide zone admitted a 6th request")
	}
}

func TestMemoryConcurrentExact(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out := make([]Decision, 2)
			// Half the requests also pass a second zone with room for all.
			reqs := []Request{{Key: "hot", Limit: perMinute120}}
			if i%2 == 0 {
				reqs = append(reqs, Request{Key: "roomy", Limit: Limit{Events: 1000, Window: time.Minute}})
			}
			ok, err := m.AllowAll(context.Background(), reqs, out)
			if err != nil {
				t.Error(err)
			}
			if ok {
				admitted.Add(1)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if n := admitted.Load(); n != 120 {
		t.Fatalf("admitted %d of 300 concurrent, want 120", n)
	}
}

func TestMemoryDropsIdleKeys(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clock.Now, SweepEvery: time.Second})
	ctx := context.Background()
	limit := Limit{Events: 2, Window: 10 * time.Second}
	for i := 0; i < 1000; i++ {
		m.Allow(ctx, string(rune('a'+i%26))+string(rune(i)), limit)
	}
	if n := m.Len(); n != 1000 {
		t.Fatalf("%d keys, want 1000", n)
	}
	clock.Advance(10 * time.Second)
	// Touch every shard once: each sweeps as it is used.
	for i := 0; i < 5000; i++ {
		m.Allow(ctx, "fresh"+string(rune(i)), Limit{Events: 1, Window: time.Millisecond})
	}
	clock.Advance(time.Second)
	for i := 0; i < 5000; i++ {
		m.Allow(ctx, "again"+string(rune(i)), Limit{Events: 1, Window: time.Millisecond})
	}
	// Only the last pass's keys can remain; the first 1000 and the
	// "fresh" ones (expired 1 s ago) are gone.
	if n := m.Len(); n > 5000 {
		t.Fatalf("%d keys after the windows passed, want only the last pass's (<= 5000)", n)
	}
}

func TestMemoryRingGrowsOnlyAsNeeded(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clock.Now})
	limit := Limit{Events: 100000, Window: time.Hour}
	m.Allow(context.Background(), "k", limit)
	s := &m.shards[m.shardOf("k")]
	if c := cap(s.keys["k"].times); c > 4 {
		t.Fatalf("one admission allocated %d slots for a 100000-event limit", c)
	}
	for i := 0; i < 9; i++ {
		m.Allow(context.Background(), "k", limit)
	}
	if c := cap(s.keys["k"].times); c > 16 {
		t.Fatalf("10 admissions hold %d slots", c)
	}
}

func TestInvalidLimits(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	for _, l := range []Limit{{0, time.Second}, {-1, time.Second}, {1, 0}} {
		if _, err := m.Allow(context.Background(), "k", l); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("%+v: err %v, want ErrInvalidLimit", l, err)
		}
	}
	if _, err := m.AllowAll(context.Background(), []Request{{Key: "a", Limit: perMinute120}}, nil); err == nil {
		t.Error("AllowAll without room for decisions: no error")
	}
}

func TestStrictestAdmitted(t *testing.T) {
	ds := []Decision{
		{Allowed: true, Limit: 10, Remaining: 5, ResetAfter: time.Minute},
		{Allowed: true, Limit: 3, Remaining: 1, ResetAfter: time.Second},
		{Allowed: true, Limit: 4, Remaining: 1, ResetAfter: time.Hour},
	}
	if s := Strictest(ds); s != ds[2] {
		t.Fatalf("strictest %+v, want least remaining, longest reset", s)
	}
	rejected := append(ds, Decision{Limit: 2, RetryAfter: time.Second}, Decision{Limit: 9, RetryAfter: 5 * time.Second})
	if s := Strictest(rejected); s != rejected[4] {
		t.Fatalf("strictest %+v, want the rejection with the longest wait", s)
	}
}

func TestPeekRecordsNothing(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemory(MemoryOptions{Now: func() time.Time { return now }})
	l := Limit{Events: 2, Window: time.Minute}
	for i := 0; i < 5; i++ {
		if d, err := m.Peek("k", l); err != nil || !d.Allowed || d.Remaining != 2 {
			t.Fatalf("peek %d on an empty key: %+v %v", i, d, err)
		}
	}
	_, _ = m.Allow(context.Background(), "k", l)
	now = now.Add(10 * time.Second)
	_, _ = m.Allow(context.Background(), "k", l)
	d, _ := m.Peek("k", l)
	if d.Allowed || d.RetryAfter != 50*time.Second {
		t.Fatalf("peek at the limit: %+v, want refused with RetryAfter 50s", d)
	}
	now = now.Add(50 * time.Second)
	if d, _ := m.Peek("k", l); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("peek after the first left the window: %+v", d)
	}
}
