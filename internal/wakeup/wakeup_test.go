package wakeup

import (
	"sync"
	"testing"
)

func pending(s Signal) bool {
	select {
	case <-s.C():
		return true
	default:
		return false
	}
}

func TestAsksWhileBusyLeaveOneWakeUp(t *testing.T) {
	s := New()
	if pending(s) {
		t.Fatal("a new signal has a wake-up pending")
	}
	for range 5 {
		s.Wake()
	}
	if !pending(s) {
		t.Fatal("five asks left no wake-up")
	}
	if pending(s) {
		t.Fatal("five asks left more than one wake-up")
	}
	s.Wake()
	if !pending(s) {
		t.Fatal("an ask after the loop woke left no wake-up")
	}
}

func TestWakeNeverBlocks(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				s.Wake()
			}
		})
	}
	wg.Wait() // nobody receives: a blocking Wake would hang here
	if !pending(s) || pending(s) {
		t.Fatal("want exactly one wake-up pending")
	}
}

func TestCopiesShareTheWakeUp(t *testing.T) {
	s := New()
	copied := s
	copied.Wake()
	if !pending(s) {
		t.Fatal("a copy's ask did not wake the original's waiter")
	}
}
