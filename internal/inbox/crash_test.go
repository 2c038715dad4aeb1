package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// An instance dies (its database connections vanish) while handling
// messages it claimed. A new instance picks up the unclaimed messages at
// once, the dead instance's only after their lease expires, and every
// message ends with exactly one reply queued.
func TestCrashLosesNothingAndRepliesOnce(t *testing.T) {
	t.Parallel()
	e := openPostgres(t)
	const n = 6
	optsA := e.options("A")
	optsA.Workers = 3
	optsA.LeaseDuration = 30 * time.Second
	a, poolA := e.instanceWithPool(t, optsA)
	var msgs []chat.Message
	for i := range n {
		msgs = append(msgs, guestMsg(fmt.Sprintf("3462000000%d", i), fmt.Sprintf("m%d", i), i))
	}
	mustAccept(t, a, msgs...)

	var mu sync.Mutex
	startedByA := map[string]bool{}
	allStarted := make(chan struct{})
	release := make(chan struct{})
	ctxA, killA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		_ = a.Run(ctxA, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			mu.Lock()
			startedByA[m.ID] = true
			if len(startedByA) == optsA.Workers {
				close(allStarted)
			}
			mu.Unlock()
			<-release // a stuck process: ignores ctx
			return textReply("from A: " + m.ID), nil
		})
	}()
	<-allStarted
	poolA.Close() // the crash: A can no longer write anything
	close(release)
	killA()
	<-doneA

	optsB := e.options("B")
	optsB.LeaseDuration = 30 * time.Second
	b := e.instance(t, optsB)
	rec := newCalls(t)
	runInbox(t, b, rec.handler("B"))
	// B takes the messages A never claimed at once. A sentinel in a new
	// conversation proves B's claims have run since (its claim saw A's
	// leases and skipped them).
	mustAccept(t, b, guestMsg("34629999999", "sentinel", 0))
	waitFor(t, "the sentinel and A's unclaimed messages", func() bool {
		return rec.total() == n-optsA.Workers+1 && pendingInbox(t, b) == optsA.Workers
	})
	mu.Lock()
	for id := range startedByA {
		if rec.of(id) != 0 {
			t.Errorf("%s taken from A before its lease expired", id)
		}
	}
	mu.Unlock()

	e.clock.Advance(31 * time.Second)
	waitFor(t, "A's messages after their lease expired", func() bool { return pendingInbox(t, b) == 0 })

	for _, m := range msgs {
		if c := rec.of(m.ID); c != 1 {
			t.Errorf("B handled %s %d times, want 1", m.ID, c)
		}
		rs := replies(t, b, inbox.Query{InReplyTo: m.ID})
		if len(rs) != 1 || rs[0].Reply.Reply.Text != "re: "+m.ID {
			t.Errorf("replies to %s: %+v, want exactly B's one", m.ID, rs)
		}
	}
	ms := messages(t, b)
	for id := range startedByA {
		if ms[id].Attempts != 2 {
			t.Errorf("%s: %d attempts recorded, want 2 (A's and B's)", id, ms[id].Attempts)
		}
	}
}
