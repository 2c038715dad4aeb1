package logsample

import (
	"fmt"
	"testing"
	"time"
)

func TestOneLinePerKeyAndInterval(t *testing.T) {
	now := time.Unix(0, 0)
	s := New(10 * time.Second)
	s.now = func() time.Time { return now }
	if ok, n := s.Allow("a"); !ok || n != 0 {
		t.Fatal("first event of a key not let through")
	}
	for i := 0; i < 99; i++ {
		if ok, _ := s.Allow("a"); ok {
			t.Fatalf("event %d within the interval let through", i+2)
		}
	}
	if ok, _ := s.Allow("b"); !ok {
		t.Fatal("another key's first event held back by a's flood")
	}
	now = now.Add(10 * time.Second)
	if ok, n := s.Allow("a"); !ok || n != 99 {
		t.Fatalf("after the interval: %v, %d suppressed, want true, 99", ok, n)
	}
}

func TestBoundedKeys(t *testing.T) {
	now := time.Unix(0, 0)
	s := New(time.Second)
	s.now = func() time.Time { return now }
	s.maxKeys = 3
	for i := 0; i < 3; i++ {
		s.Allow(fmt.Sprint(i))
	}
	if ok, _ := s.Allow("new"); ok || s.Dropped() != 1 || len(s.keys) != 3 {
		t.Fatalf("full sampler: ok=%v dropped=%d keys=%d", ok, s.Dropped(), len(s.keys))
	}
	now = now.Add(time.Second)
	if ok, _ := s.Allow("new"); !ok || len(s.keys) > 3 {
		t.Fatalf("after idle keys expired: ok=%v keys=%d", ok, len(s.keys))
	}
}
