package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// providerError is what a channel client's error looks like to the outbox.
type providerError struct {
	msg       string
	retryable bool
	after     time.Duration
}

func (e providerError) Error() string             { return e.msg }
func (e providerError) Retryable() bool           { return e.retryable }
func (e providerError) RetryAfter() time.Duration { return e.after }

// scriptedSender fails each reply (by text) with its scripted errors, in
// turn, then succeeds with "wamid.<text>". It records every call.
type scriptedSender struct {
	mu     sync.Mutex
	script map[string][]error
	calls  []string
	sent   []string
}

func (s *scriptedSender) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := r.Reply.Text
	s.calls = append(s.calls, text)
	if errs := s.script[text]; len(errs) > 0 {
		s.script[text] = errs[1:]
		return "", errs[0]
	}
	s.sent = append(s.sent, text)
	return "wamid." + text, nil
}

func (s *scriptedSender) callsOf(text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c == text {
			n++
		}
	}
	return n
}

func (s *scriptedSender) snapshot() (calls, sent []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls), slices.Clone(s.sent)
}

func outReply(to, text string) inbox.OutboundReply {
	return inbox.OutboundReply{TenantID: tenant, Channel: chat.WhatsApp, To: to, PhoneNumberID: "PNID-1",
		Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}
}

func senderOptions(e *env) inbox.Options {
	o := e.options("s")
	o.SendBackoff = inbox.Backoff{Base: time.Second, Max: time.Minute}
	o.LeaseDuration = 24 * time.Hour // clock jumps below must not expire leases
	return o
}

func replyByText(t *testing.T, ib *inbox.Inbox, text string) inbox.ReplyRecord {
	t.Helper()
	for _, r := range replies(t, ib, inbox.Query{}) {
		if r.Reply.Reply.Text == text {
			return r
		}
	}
	t.Fatalf("no reply %q in the outbox", text)
	return inbox.ReplyRecord{}
}

func TestOutboxRetriesThenSendsOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, senderOptions(e))
		s := &scriptedSender{script: map[string][]error{"r1": {providerError{"131056 pair rate limit", true, 0}}}}
		runSender(t, ib, s)
		if err := ib.Enqueue(ctxT(t), outReply("1", "r1")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first attempt to fail", func() bool { return s.callsOf("r1") == 1 })
		var r inbox.ReplyRecord
		waitFor(t, "the retry to be scheduled", func() bool {
			r = replyByText(t, ib, "r1")
			return r.Attempts == 1 && r.LastError != ""
		})
		// Back-off after attempt 1 is Base/2 with the jitter draw at 0.
		if r.State != inbox.StatePending || !strings.Contains(r.LastError, "131056") || r.NextAttemptAt.Sub(r.LastAttemptAt) != 500*time.Millisecond {
			t.Fatalf("after a retryable error: %+v, want pending, error recorded, next attempt 500ms after the last", r)
		}
		e.clock.Advance(time.Second)
		waitFor(t, "the reply to be sent", func() bool { return replyByText(t, ib, "r1").State == inbox.StateSent })
		r = replyByText(t, ib, "r1")
		if r.ProviderID != "wamid.r1" || r.Attempts != 2 || r.LastError != "" {
			t.Errorf("sent reply record %+v, want provider id wamid.r1 after 2 attempts", r)
		}
		if _, sent := s.snapshot(); !slices.Equal(sent, []string{"r1"}) {
			t.Errorf("sends that succeeded: %v, want exactly one", sent)
		}
	})
}

func TestOutboxGivesUpOnPermanentErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := senderOptions(e)
		opts.SendMaxAttempts = 2
		ib := e.instance(t, opts)
		s := &scriptedSender{script: map[string][]error{
			"outside-window": {providerError{"131047 re-engagement message", false, 0}},
			"marked":         {inbox.Permanent(errors.New("400 invalid parameter"))},
			"always-busy":    {providerError{"503", true, 0}, providerError{"503", true, 0}, providerError{"503", true, 0}},
		}}
		runSender(t, ib, s)
		if err := ib.Enqueue(ctxT(t), outReply("1", "outside-window"), outReply("1", "after"),
			outReply("2", "marked"), outReply("3", "always-busy")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "always-busy's retry to be scheduled", func() bool {
			r := replyByText(t, ib, "always-busy")
			return r.Attempts == 1 && r.LastError != ""
		})
		e.clock.Advance(time.Minute)
		waitFor(t, "every reply finished", func() bool {
			st, _ := ib.Stats(ctxT(t))
			return st.OutboxPending == 0
		})
		check := func(text, state string, attempts int, errPart string) {
			t.Helper()
			r := replyByText(t, ib, text)
			if r.State != state || r.Attempts != attempts || !strings.Contains(r.LastError, errPart) {
				t.Errorf("%s: %s after %d attempts (%q); want %s after %d containing %q", text, r.State, r.Attempts, r.LastError, state, attempts, errPart)
			}
		}
		check("outside-window", inbox.StateFailed, 1, "131047")
		check("marked", inbox.StateFailed, 1, "400 invalid parameter")
		check("always-busy", inbox.StateFailed, 2, "503")
		check("after", inbox.StateSent, 1, "")
		// "after" went to the same guest after the failed reply: the failed
		// one was not tried again before or since.
		for text, want := range map[string]int{"outside-window": 1, "marked": 1, "always-busy": 2, "after": 1} {
			if n := s.callsOf(text); n != want {
				t.Errorf("%s sent %d times, want %d", text, n, want)
			}
		}
	})
}

func TestOutboxHonoursRetryAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, senderOptions(e))
		s := &scriptedSender{script: map[string][]error{"r1": {providerError{"130429 rate limit hit", true, time.Hour}}}}
		runSender(t, ib, s)
		if err := ib.Enqueue(ctxT(t), outReply("1", "r1")); err != nil {
			t.Fatal(err)
		}
		var r inbox.ReplyRecord
		waitFor(t, "the retry to be scheduled", func() bool {
			r = replyByText(t, ib, "r1")
			return r.Attempts == 1 && r.LastError != ""
		})
		if got := r.NextAttemptAt.Sub(r.LastAttemptAt); got != time.Hour {
			t.Fatalf("next attempt %v after the last, want the provider's Retry-After of 1h", got)
		}
		// Half an hour later a reply to someone else goes out; the claim
		// that took it also saw r1 and left it alone.
		e.clock.Advance(30 * time.Minute)
		if err := ib.Enqueue(ctxT(t), outReply("2", "other")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the other reply to be sent", func() bool { return replyByText(t, ib, "other").State == inbox.StateSent })
		if n := s.callsOf("r1"); n != 1 {
			t.Fatalf("r1 tried %d times before its Retry-After, want 1", n)
		}
		e.clock.Advance(31 * time.Minute)
		waitFor(t, "r1 to be sent after Retry-After", func() bool { return replyByText(t, ib, "r1").State == inbox.StateSent })
	})
}

func TestOutboxKeepsOrderPerRecipient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := senderOptions(e)
		opts.SenderWorkers = 4
		ib := e.instance(t, opts)
		s := &scriptedSender{script: map[string][]error{"a1": {providerError{"5xx", true, 0}}}}
		var rs []inbox.OutboundReply
		for i := 1; i <= 3; i++ {
			rs = append(rs, outReply("1", fmt.Sprintf("a%d", i)), outReply("2", fmt.Sprintf("b%d", i)))
		}
		if err := ib.Enqueue(ctxT(t), rs...); err != nil {
			t.Fatal(err)
		}
		runSender(t, ib, s)
		waitFor(t, "b3 sent while a1 waits", func() bool { return replyByText(t, ib, "b3").State == inbox.StateSent })
		if n := s.callsOf("a2"); n != 0 {
			t.Fatalf("a2 tried while a1 waits for its retry")
		}
		e.clock.Advance(time.Minute)
		waitFor(t, "everything sent", func() bool { return replyByText(t, ib, "a3").State == inbox.StateSent })
		calls, _ := s.snapshot()
		var toGuest1 []string
		for _, c := range calls {
			if c[0] == 'a' {
				toGuest1 = append(toGuest1, c)
			}
		}
		if !slices.Equal(toGuest1, []string{"a1", "a1", "a2", "a3"}) {
			t.Errorf("sends to guest 1: %v, want a1 (failed), a1, a2, a3", toGuest1)
		}
	})
}

// The whole path in one process: accept, handle, queue, send.
func TestHandlerRepliesReachTheSender(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("a"))
		logged := &inbox.LogSender{Logger: testLogger()}
		runInbox(t, ib, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			return []inbox.OutboundReply{
				{Reply: chat.Reply{Kind: chat.ReplyText, Text: "1/2 " + m.Text}},
				{Reply: chat.Reply{Kind: chat.ReplyButtons, Text: "2/2", Buttons: []chat.Button{{ID: "yes", Title: "Sí"}}}},
			}, nil
		})
		runSender(t, ib, logged)
		mustAccept(t, ib, guestMsg("34600000009", "wamid.X", 0))
		waitFor(t, "both replies logged", func() bool { return len(logged.Sent()) == 2 })
		got := logged.Sent()
		if got[0].Reply.Text != "1/2 text of wamid.X" || got[1].Reply.Kind != chat.ReplyButtons || got[1].Reply.Buttons[0].Title != "Sí" {
			t.Errorf("sent %+v", got)
		}
		if got[0].To != "34600000009" || got[0].PhoneNumberID != "PNID-1" || got[0].InReplyTo != "wamid.X" {
			t.Errorf("addressing %+v", got[0])
		}
		waitFor(t, "both recorded as sent", func() bool {
			rs := replies(t, ib, inbox.Query{InReplyTo: "wamid.X"})
			return len(rs) == 2 && rs[0].ProviderID == "logged-1" && rs[1].ProviderID == "logged-2"
		})
	})
}

// TestGuestsNextReplyGoesWithoutWaitingForAPoll: the senders claim again
// after a claim that found little only when woken; recording a guest's
// reply must wake them for that guest's next one, so a guest's replies
// follow each other at once, not one per poll (the poll here is an hour).
func TestGuestsNextReplyGoesWithoutWaitingForAPoll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := e.options("sender")
		opts.PollInterval = time.Hour
		ib := e.instance(t, opts)
		var mu sync.Mutex
		var sent []string
		defer runSender(t, ib, inbox.SenderFunc(func(_ context.Context, r inbox.OutboundReply) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, r.Reply.Text)
			return "id-" + r.Reply.Text, nil
		}))()
		if err := ib.Enqueue(ctxT(t), outReply("1", "a1"), outReply("1", "a2"), outReply("1", "a3"), outReply("1", "a4")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the guest's four replies sent", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(sent) == 4
		})
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(sent, ",") != "a1,a2,a3,a4" {
			t.Errorf("sent %v, want a1..a4 in order", sent)
		}
	})
}
