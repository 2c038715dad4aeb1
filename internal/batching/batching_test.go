package batching

import (
	"sync"
	"testing"
	"time"
)

// Items added while a batch is being flushed go together in the next one,
// in order, each exactly once, never more than take allows; a lone item
// goes at once.
func TestItemsAddedDuringAFlushGoTogether(t *testing.T) {
	var mu sync.Mutex
	var batches [][]int
	release := make(chan struct{})
	first := true
	done := make(chan struct{}, 100)
	q := New(UpTo[int](3), func(b []int) {
		if first {
			first = false
			<-release // the first batch is on the wire while the others queue
		}
		mu.Lock()
		batches = append(batches, append([]int(nil), b...))
		mu.Unlock()
		for range b {
			done <- struct{}{}
		}
	})
	q.Add(0)
	time.Sleep(20 * time.Millisecond) // the flusher holds item 0
	for i := 1; i <= 7; i++ {
		q.Add(i)
	}
	close(release)
	for range 8 {
		<-done
	}
	mu.Lock()
	got := batches
	mu.Unlock()
	want := [][]int{{0}, {1, 2, 3}, {4, 5, 6}, {7}}
	if len(got) != len(want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("batches %v, want %v", got, want)
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("batches %v, want %v", got, want)
			}
		}
	}

	// Idle again: a lone item goes at once, alone.
	q.Add(8)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a lone item was not flushed")
	}
	mu.Lock()
	defer mu.Unlock()
	if last := batches[len(batches)-1]; len(batches) != 5 || len(last) != 1 || last[0] != 8 {
		t.Fatalf("batches %v, want a last batch of [8]", batches)
	}
}
