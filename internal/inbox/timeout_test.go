package inbox_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// A handler runs under HandlerTimeout and a sender under SendTimeout; one
// that outlasts its deadline keeps its lease until it returns (the
// heartbeat goes on), so it is not claimed again meanwhile and its
// outcome is recorded.
func TestWorkRunsUnderItsTimeoutAndKeepsItsLeasePastIt(t *testing.T) {
	const lease, handlerTimeout, sendTimeout = 60 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond
	ib := inbox.NewMemory(inbox.Options{Logger: testLogger(), PollInterval: time.Millisecond, LeaseDuration: lease,
		HandlerTimeout: handlerTimeout, SendTimeout: sendTimeout})
	// overrun checks that ctx's deadline is the timeout counted from when
	// the work was handed over: no earlier than `after` (before the loop
	// could have set it) plus the limit, no later than now plus the limit.
	// It then waits for the deadline and three leases more, and returns
	// when it did.
	overrun := func(what string, ctx context.Context, after time.Time, limit time.Duration) time.Time {
		now := time.Now()
		deadline, ok := ctx.Deadline()
		if !ok || deadline.Before(after.Add(limit)) || deadline.After(now.Add(limit)) {
			t.Errorf("%s: deadline %v (set %v), want %v after a moment between %v and %v", what, deadline, ok, limit, after, now)
		}
		<-ctx.Done()
		time.Sleep(3 * lease)
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("%s: ended with %v, want its deadline", what, ctx.Err())
		}
		return time.Now()
	}
	var handled, sent, sendsEnded atomic.Int32
	var accepted, handlerDone time.Time // written before the work they bound is handed over
	runInbox(t, ib, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
		if handled.Add(1) == 1 {
			handlerDone = overrun("handler", ctx, accepted, handlerTimeout)
		}
		return textReply("ok"), nil
	})
	runSender(t, ib, inbox.SenderFunc(func(ctx context.Context, r inbox.OutboundReply) (string, error) {
		if sent.Add(1) == 1 {
			overrun("sender", ctx, handlerDone, sendTimeout)
		}
		sendsEnded.Add(1)
		return "wamid.sent", nil
	}))
	accepted = time.Now()
	if _, err := ib.Accept(ctxT(t), []chat.Message{guestMsg("34600000001", "wamid.in", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reply sent", func() bool { return sendsEnded.Load() > 0 })
	time.Sleep(3 * lease) // time for a claim again, were the lease lost
	if h, s := handled.Load(), sent.Load(); h != 1 || s != 1 {
		t.Fatalf("handled %d times, sent %d times; want once each", h, s)
	}
}
