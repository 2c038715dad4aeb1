package inbox_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// gatedSender holds every reply while refused is set, as a sender does
// while the channel refuses its access token; otherwise it sends through
// the scripted sender.
type gatedSender struct {
	scriptedSender
	gate    sync.Mutex
	refused bool
}

var errTokenRefused = errors.New("HTTP 401 code 190 access token expired")

func (g *gatedSender) refuse(on bool) {
	g.gate.Lock()
	defer g.gate.Unlock()
	g.refused = on
}

func (g *gatedSender) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	g.gate.Lock()
	refused := g.refused
	g.gate.Unlock()
	if refused {
		g.mu.Lock()
		g.calls = append(g.calls, r.Reply.Text)
		g.mu.Unlock()
		return "", inbox.Hold(errTokenRefused)
	}
	if r.Reply.Text == "a1" {
		// a1's sends take a while, as a real one does, so a test that
		// moved the clock between a1's claim and its recorded failure
		// fails every time rather than under load only.
		time.Sleep(100 * time.Millisecond)
	}
	return g.scriptedSender.Send(ctx, r)
}

func stats(t *testing.T, ib *inbox.Inbox) inbox.Stats {
	t.Helper()
	st, err := ib.Stats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A held reply is not an attempt and not a failure: it keeps its guest's
// later replies behind it, is never tried again on its own (however much
// time passes), survives pruning, and goes out once, in its place, when
// released. Releasing one is a probe: it is tried once and held again.
func TestOutboxHeldRepliesWaitInOrderAndGoOutOnceReleased(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := senderOptions(e)
		opts.SendMaxAttempts = 2
		ib := e.instance(t, opts)
		s := &gatedSender{scriptedSender: scriptedSender{script: map[string][]error{"a1": {providerError{"5xx", true, 0}}}}}
		s.refuse(true)
		runSender(t, ib, s)
		if err := ib.Enqueue(ctxT(t), outReply("1", "a1"), outReply("1", "a2"), outReply("2", "b1")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a1 and b1 held", func() bool {
			return replyByText(t, ib, "a1").State == inbox.StateHeld && replyByText(t, ib, "b1").State == inbox.StateHeld
		})
		for _, text := range []string{"a1", "b1"} {
			r := replyByText(t, ib, text)
			if r.Attempts != 0 || !strings.Contains(r.LastError, "code 190") || !r.DoneAt.IsZero() {
				t.Errorf("%s held: %+v, want no attempt counted, the reason recorded, not done", text, r)
			}
		}
		if st := stats(t, ib); st.OutboxHeld != 2 || st.OutboxPending != 1 {
			t.Errorf("stats %+v, want 2 held and a2 pending", st)
		}
		// Time passes, nothing is tried again, nothing is pruned.
		e.clock.Advance(24 * time.Hour)
		if n, err := ib.Prune(ctxT(t), e.clock.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("prune: %d, %v", n, err)
		}
		if err := ib.Enqueue(ctxT(t), outReply("3", "c1")); err != nil {
			t.Fatal(err)
		}
		// Tried, and held: the hold is recorded after the refused send
		// returns, so releasing as soon as it was tried could find it
		// not yet held.
		waitFor(t, "a later reply to another guest tried and held", func() bool {
			return s.callsOf("c1") == 1 && replyByText(t, ib, "c1").State == inbox.StateHeld
		})
		for text, want := range map[string]int{"a1": 1, "a2": 0, "b1": 1} {
			if n := s.callsOf(text); n != want {
				t.Errorf("%s tried %d times while held, want %d", text, n, want)
			}
		}
		if n, err := ib.ReleaseHeld(ctxT(t), chat.Gmail, 0); err != nil || n != 0 {
			t.Fatalf("releasing another channel's: %d, %v", n, err)
		}

		// A probe: the oldest held reply is released and tried once.
		if n, err := ib.ReleaseHeld(ctxT(t), chat.WhatsApp, 1); err != nil || n != 1 {
			t.Fatalf("releasing one: %d, %v", n, err)
		}
		waitFor(t, "the probe tried and held again", func() bool {
			return s.callsOf("a1") == 2 && replyByText(t, ib, "a1").State == inbox.StateHeld
		})
		if s.callsOf("b1") != 1 || s.callsOf("a2") != 0 {
			t.Fatalf("a probe released more than the oldest reply")
		}

		// The channel works again: everything held goes out, in order per
		// guest. a1 meets an ordinary retryable error on its first real
		// attempt and still has its second: the holds counted none.
		s.refuse(false)
		if n, err := ib.ReleaseHeld(ctxT(t), chat.WhatsApp, 0); err != nil || n != 3 {
			t.Fatalf("releasing all: %d, %v (held: a1, b1, c1)", n, err)
		}
		// A claim counts the attempt, so Attempts is 1 while a1 is still
		// being sent; the recorded error is what says its retry is due.
		// Moving the clock before that would put the retry a minute later.
		waitFor(t, "a1's retry scheduled", func() bool {
			r := replyByText(t, ib, "a1")
			return r.Attempts == 1 && r.LastError == "5xx"
		})
		e.clock.Advance(time.Minute)
		waitFor(t, "everything sent", func() bool {
			st := stats(t, ib)
			return st.OutboxPending == 0 && st.OutboxHeld == 0
		})
		for _, text := range []string{"a1", "a2", "b1", "c1"} {
			if r := replyByText(t, ib, text); r.State != inbox.StateSent {
				t.Errorf("%s: %+v, want sent", text, r)
			}
		}
		if r := replyByText(t, ib, "a1"); r.Attempts != 2 {
			t.Errorf("a1 sent after %d attempts, want 2 (the holds are none)", r.Attempts)
		}
		_, sent := s.snapshot()
		slices.Sort(sent)
		if !slices.Equal(sent, []string{"a1", "a2", "b1", "c1"}) {
			t.Errorf("sent %v, want each reply once", sent)
		}
		calls, _ := s.snapshot()
		var toGuest1 []string
		for _, c := range calls {
			if c[0] == 'a' {
				toGuest1 = append(toGuest1, c)
			}
		}
		if !slices.Equal(toGuest1, []string{"a1", "a1", "a1", "a1", "a2"}) {
			t.Errorf("calls for guest 1: %v, want a1 held, probed, failed, sent, then a2", toGuest1)
		}
		if n, err := ib.ReleaseHeld(ctxT(t), chat.WhatsApp, 0); err != nil || n != 0 {
			t.Fatalf("nothing left to release: %d, %v", n, err)
		}
	})
}

// A suppressed reply is final, counts no attempt and is no failure; the
// guest's next reply is taken after it.
func TestOutboxSuppressedRepliesEndWithoutFailing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, senderOptions(e))
		s := &scriptedSender{script: map[string][]error{"quiet": {inbox.Suppress("suppressed: the guest opted out")}}}
		runSender(t, ib, s)
		if err := ib.Enqueue(ctxT(t), outReply("1", "quiet"), outReply("1", "next")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the next reply sent", func() bool { return replyByText(t, ib, "next").State == inbox.StateSent })
		r := replyByText(t, ib, "quiet")
		if r.State != inbox.StateSuppressed || r.Attempts != 0 || r.LastError != "suppressed: the guest opted out" || r.DoneAt.IsZero() || r.ProviderID != "" {
			t.Errorf("suppressed reply: %+v", r)
		}
		if st := stats(t, ib); st.OutboxPending != 0 || st.OutboxHeld != 0 {
			t.Errorf("stats %+v, want nothing waiting", st)
		}
		if n, err := ib.Prune(ctxT(t), e.clock.Now().Add(time.Hour)); err != nil || n != 2 {
			t.Errorf("prune: %d, %v, want the suppressed and the sent reply", n, err)
		}
	})
}
