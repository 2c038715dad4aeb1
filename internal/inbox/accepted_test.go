package inbox_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// The messages accepted since a moment (the dashboard's messages of the
// day) are all of them, on both backends: the memory inbox keeps only its
// newest finished entries, and its count used to be taken among the ones it
// still listed (1,000 at most). A redelivery is not counted again, an
// erased guest's messages are not counted any more.
func TestAcceptedSinceCountsEveryMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := e.options("a")
		opts.MemoryKeepFinished = 50
		ib := e.instance(t, opts)
		accept := func(from, prefix string, n int) {
			t.Helper()
			for i := 0; i < n; i += 100 {
				var batch []chat.Message
				for j := i; j < min(n, i+100); j++ {
					batch = append(batch, guestMsg(from, fmt.Sprintf("%s-%d", prefix, j), j))
				}
				if _, err := ib.AcceptAnswered(ctxT(t), batch, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		count := func(since time.Time) int {
			t.Helper()
			n, err := ib.AcceptedSince(ctxT(t), since)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		accept("100", "earlier", 3)
		e.clock.Advance(2 * time.Minute)
		since := e.clock.Now().Truncate(time.Minute)
		accept("200", "today", 1200)
		accept("300", "gone", 5)
		// A redelivery of one of them.
		if res := mustAccept(t, ib, guestMsg("200", "today-7", 7)); res.Duplicate != 1 {
			t.Fatalf("redelivery: %+v, want one duplicate", res)
		}
		if got := count(since); got != 1205 {
			t.Fatalf("accepted since %v: %d, want 1205", since, got)
		}
		if got := count(epoch.Truncate(time.Minute)); got != 1208 {
			t.Fatalf("accepted since the first: %d, want 1208", got)
		}
		if got := count(e.clock.Now().Add(time.Minute).Truncate(time.Minute)); got != 0 {
			t.Fatalf("accepted since the next minute: %d, want 0", got)
		}

		if res, err := ib.EraseGuest(ctxT(t), tenant, chat.WhatsApp, "300"); err != nil || res.Messages != 5 {
			t.Fatalf("erasing a guest: %+v, %v; want their 5 messages", res, err)
		}
		if got := count(since); got != 1200 {
			t.Fatalf("accepted since %v after an erasure: %d, want 1200", since, got)
		}
	})
}
