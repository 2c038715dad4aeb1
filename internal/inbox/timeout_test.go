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
	// overrun waits for ctx's deadline, then three leases more; it reports
	// how far off the deadline was from the limit, and the error it ended
	// with.
	overrun := func(ctx context.Context, limit time.Duration) (off time.Duration, err error) {
		start := time.Now()
		deadline, ok := ctx.Deadline()
		if !ok {
			return 0, errors.New("no deadline")
		}
		<-ctx.Done()
		time.Sleep(3 * lease)
		return deadline.Sub(start) - limit, ctx.Err()
	}
	check := func(what string, off time.Duration, err error) {
		if !errors.Is(err, context.DeadlineExceeded) || off > 0 || off < -20*time.Millisecond {
			t.Errorf("%s: deadline %v off its timeout, ended with %v", what, off, err)
		}
	}
	var handled, sent, sendsEnded atomic.Int32
	runInbox(t, ib, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
		if handled.Add(1) == 1 {
			off, err := overrun(ctx, handlerTimeout)
			check("handler", off, err)
		}
		return textReply("ok"), nil
	})
	runSender(t, ib, inbox.SenderFunc(func(ctx context.Context, r inbox.OutboundReply) (string, error) {
		if sent.Add(1) == 1 {
			off, err := overrun(ctx, sendTimeout)
			check("sender", off, err)
		}
		sendsEnded.Add(1)
		return "wamid.sent", nil
	}))
	if _, err := ib.Accept(ctxT(t), []chat.Message{guestMsg("34600000001", "wamid.in", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reply sent", func() bool { return sendsEnded.Load() > 0 })
	time.Sleep(3 * lease) // time for a claim again, were the lease lost
	if h, s := handled.Load(), sent.Load(); h != 1 || s != 1 {
		t.Fatalf("handled %d times, sent %d times; want once each", h, s)
	}
}
