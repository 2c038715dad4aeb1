package testservices

import (
	"testing"
	"time"
)

// Eventually polls cond every 10ms until it holds and returns how long that
// took; the test fails when cond does not hold within the given time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
