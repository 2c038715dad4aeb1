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

func TestAcceptRejectsInvalidInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("a"))
		bad := []chat.Message{
			{Channel: chat.WhatsApp, ID: "x", From: "1"},
			{TenantID: tenant, ID: "x", From: "1"},
			{TenantID: tenant, Channel: chat.WhatsApp, From: "1"},
			{TenantID: tenant, Channel: chat.WhatsApp, ID: "x"},
		}
		for i, m := range bad {
			if _, err := ib.Accept(ctxT(t), []chat.Message{guestMsg("1", "ok", 0), m}, nil); !errors.Is(err, inbox.ErrInvalid) {
				t.Errorf("bad message %d: err = %v, want ErrInvalid", i, err)
			}
		}
		if _, err := ib.Accept(ctxT(t), nil, []chat.Status{{TenantID: tenant, Channel: chat.WhatsApp, Status: "read"}}); !errors.Is(err, inbox.ErrInvalid) {
			t.Errorf("status without message id: err = %v, want ErrInvalid", err)
		}
		if got := messages(t, ib); len(got) != 0 {
			t.Errorf("a rejected batch recorded %d messages, want none", len(got))
		}
		if err := ib.Enqueue(ctxT(t), inbox.OutboundReply{TenantID: tenant, Channel: chat.WhatsApp}); !errors.Is(err, inbox.ErrInvalid) {
			t.Errorf("reply without recipient: err = %v, want ErrInvalid", err)
		}
	})
}

func TestDuplicatesAreHandledOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("a"))
		m := guestMsg("34600000001", "wamid.A", 0)
		if r := mustAccept(t, ib, m); r.New != 1 || r.Duplicate != 0 {
			t.Fatalf("first accept = %+v, want 1 new", r)
		}
		if r := mustAccept(t, ib, m); r.New != 0 || r.Duplicate != 1 {
			t.Fatalf("redelivery = %+v, want 1 duplicate", r)
		}
		// The same id twice in one batch is one message.
		b := guestMsg("34600000001", "wamid.B", 1)
		if r := mustAccept(t, ib, b, b); r.New != 1 || r.Duplicate != 1 {
			t.Fatalf("batch with a repeat = %+v, want 1 new 1 duplicate", r)
		}

		// Eight concurrent deliveries of one message: one is new.
		c := guestMsg("34600000001", "wamid.C", 2)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var total inbox.AcceptResult
		start := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := ib.Accept(context.Background(), []chat.Message{c}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total.New += r.New
				total.Duplicate += r.Duplicate
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if total.New != 1 || total.Duplicate != 7 {
			t.Fatalf("8 concurrent deliveries = %+v, want 1 new 7 duplicates", total)
		}

		rec := newCalls(t)
		runInbox(t, ib, rec.handler("a"))
		// A sentinel accepted last in the same conversation is handled
		// after every earlier message, so once it is done no duplicate
		// can still be on its way.
		mustAccept(t, ib, m, b, c, guestMsg("34600000001", "sentinel", 3))
		waitFor(t, "the sentinel to be handled", func() bool { return messages(t, ib)["sentinel"].State == inbox.StateDone })
		for _, id := range []string{"wamid.A", "wamid.B", "wamid.C", "sentinel"} {
			if n := rec.of(id); n != 1 {
				t.Errorf("%s handled %d times, want 1", id, n)
			}
		}
		if got := replies(t, ib, inbox.Query{}); len(got) != 4 {
			t.Errorf("outbox holds %d replies, want 4", len(got))
		}
	})
}

func TestConversationsInOrderAndInParallel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const convs, perConv = 5, 10
		opts := e.options("a")
		opts.Workers = convs
		ib := e.instance(t, opts)

		// Interleaved: m0 of every guest, then m1 of every guest, ...
		// some accepted one by one, some in batches.
		var want = map[string][]string{}
		var batch []chat.Message
		for j := range perConv {
			for i := range convs {
				from := fmt.Sprintf("3460000010%d", i)
				m := guestMsg(from, fmt.Sprintf("g%d-m%d", i, j), j)
				want[convKey(from)] = append(want[convKey(from)], m.ID)
				if j%2 == 0 {
					mustAccept(t, ib, m)
				} else {
					batch = append(batch, m)
				}
			}
			if j%2 == 1 {
				mustAccept(t, ib, batch...)
				batch = nil
			}
		}

		rec := newCalls(t)
		// Each guest's first message waits until all five are in the
		// handler at once: this only completes if conversations overlap.
		var mu sync.Mutex
		arrived := 0
		barrier := make(chan struct{})
		h := func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			rec.enter("a", m)
			defer rec.leave(m)
			if strings.HasSuffix(m.ID, "-m0") {
				mu.Lock()
				arrived++
				if arrived == convs {
					close(barrier)
				}
				mu.Unlock()
				select {
				case <-barrier:
				case <-time.After(waitLimit):
					t.Errorf("%s: the %d conversations never were in the handler together", m.ID, convs)
				}
			}
			return textReply("re: " + m.ID), nil
		}
		runInbox(t, ib, h)
		waitFor(t, "all messages handled", func() bool { return rec.total() == convs*perConv && pendingInbox(t, ib) == 0 })

		rec.mu.Lock()
		for k, ids := range want {
			if !slices.Equal(rec.order[k], ids) {
				t.Errorf("conversation %s handled in order %v, want %v", k, rec.order[k], ids)
			}
		}
		rec.mu.Unlock()

		got := replies(t, ib, inbox.Query{TenantID: tenant})
		if len(got) != convs*perConv {
			t.Fatalf("outbox holds %d replies, want %d", len(got), convs*perConv)
		}
		seen := map[string]bool{}
		for _, r := range got {
			if seen[r.Reply.InReplyTo] {
				t.Errorf("two replies to %s", r.Reply.InReplyTo)
			}
			seen[r.Reply.InReplyTo] = true
			// The handler left addressing to the inbox.
			wantTo := "3460000010" + r.Reply.InReplyTo[1:2]
			if r.Reply.TenantID != tenant || r.Reply.Channel != chat.WhatsApp || r.Reply.To != wantTo || r.Reply.PhoneNumberID != "PNID-1" {
				t.Errorf("reply addressing = %+v, want tenant %s, whatsapp, to %s, from PNID-1", r.Reply, tenant, wantTo)
			}
			if r.State != inbox.StatePending {
				t.Errorf("reply state %s with no sender running, want pending", r.State)
			}
		}
	})
}

func TestRetriesThenDeadDoesNotBlockTheConversation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := e.options("a")
		opts.MaxAttempts = 3
		opts.LeaseDuration = 10000 * time.Hour // the ticking clock below must not expire leases
		opts.RetryBackoff = inbox.Backoff{Base: time.Second, Max: time.Minute}
		ib := e.instance(t, opts)
		rec := newCalls(t)
		h := func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			rec.enter("a", m)
			defer rec.leave(m)
			switch m.ID {
			case "flaky":
				if rec.of("flaky") < 2 {
					return nil, errors.New("pms timeout")
				}
			case "poison":
				return nil, errors.New("cannot parse")
			case "refused":
				return nil, inbox.Permanent(errors.New("guest blocked"))
			}
			return textReply("re: " + m.ID), nil
		}
		mustAccept(t, ib,
			guestMsg("1", "flaky", 0), guestMsg("1", "after-flaky", 1),
			guestMsg("2", "poison", 0), guestMsg("2", "after-poison", 1),
			guestMsg("3", "refused", 0), guestMsg("3", "after-refused", 1))
		runInbox(t, ib, h)
		// Time passes, so retries come due; how fast does not change
		// what happens, only how soon.
		tick := start(t, func(ctx context.Context) error {
			for ctx.Err() == nil {
				e.clock.Advance(time.Second)
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		waitFor(t, "every message finished", func() bool { return pendingInbox(t, ib) == 0 })
		tick()

		ms := messages(t, ib)
		check := func(id, state string, attempts int, errPart string) {
			t.Helper()
			r := ms[id]
			if r.State != state || r.Attempts != attempts || !strings.Contains(r.LastError, errPart) {
				t.Errorf("%s: state %s, attempts %d, last error %q; want %s, %d, containing %q", id, r.State, r.Attempts, r.LastError, state, attempts, errPart)
			}
		}
		check("flaky", inbox.StateDone, 2, "")
		check("poison", inbox.StateDead, 3, "cannot parse")
		check("refused", inbox.StateDead, 1, "guest blocked")
		for _, id := range []string{"after-flaky", "after-poison", "after-refused"} {
			check(id, inbox.StateDone, 1, "")
		}
		rec.mu.Lock()
		if o := rec.order[convKey("2")]; !slices.Equal(o, []string{"poison", "poison", "poison", "after-poison"}) {
			t.Errorf("conversation 2 order %v: retries must precede the next message", o)
		}
		rec.mu.Unlock()
		if ms["poison"].LastError != "cannot parse" {
			t.Errorf("dead message keeps last error %q", ms["poison"].LastError)
		}
	})
}

// A worker that stalls past its lease loses the message to another
// instance and cannot commit its own outcome afterwards.
func TestStalledWorkerIsFencedOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		optsA := e.options("A")
		optsA.Workers = 1 // A must not claim the message again itself
		optsA.LeaseDuration = time.Hour
		a := e.instance(t, optsA)
		started := make(chan struct{})
		release := make(chan struct{})
		stopA := runInbox(t, a, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			close(started)
			<-release // ignores ctx: a stalled process
			return textReply("from A"), nil
		})
		mustAccept(t, a, guestMsg("1", "m", 0))
		<-started

		e.clock.Advance(2 * time.Hour) // A's lease has expired
		optsB := e.options("B")
		optsB.LeaseDuration = time.Hour
		b := e.instance(t, optsB)
		rec := newCalls(t)
		runInbox(t, b, rec.handler("B"))
		waitFor(t, "B to handle the message", func() bool { return messages(t, b)["m"].State == inbox.StateDone })

		close(release)
		stopA() // waits for A's handler and its (refused) commit
		got := replies(t, b, inbox.Query{InReplyTo: "m"})
		if len(got) != 1 || got[0].Reply.Reply.Text != "re: m" {
			t.Fatalf("replies to m = %+v, want exactly B's", got)
		}
		if r := messages(t, b)["m"]; r.Attempts != 2 {
			t.Errorf("attempts = %d, want 2 (A's and B's)", r.Attempts)
		}
	})
}

func TestShutdownReleasesWithoutCountingTheAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.instance(t, e.options("A"))
		started := make(chan struct{})
		stop := runInbox(t, a, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		mustAccept(t, a, guestMsg("1", "m", 0))
		<-started
		stop()
		if r := messages(t, a)["m"]; r.State != inbox.StatePending || r.Attempts != 0 {
			t.Fatalf("after shutdown: state %s attempts %d, want pending 0", r.State, r.Attempts)
		}
		// The conversation is free at once, no lease to wait out.
		b := e.instance(t, e.options("B"))
		rec := newCalls(t)
		runInbox(t, b, rec.handler("B"))
		waitFor(t, "B to handle the released message", func() bool { return rec.of("m") == 1 && pendingInbox(t, b) == 0 })
	})
}

func TestTwoInstancesShareTheStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const convs, perConv, batch = 8, 25, 10
		a := e.instance(t, e.options("A"))
		b := e.instance(t, e.options("B"))
		rec := newCalls(t)
		runInbox(t, a, rec.handler("A"))
		runInbox(t, b, rec.handler("B"))

		var all []chat.Message
		want := map[string][]string{}
		for j := range perConv {
			for i := range convs {
				from := fmt.Sprintf("3461000000%d", i)
				m := guestMsg(from, fmt.Sprintf("g%d-m%02d", i, j), j)
				all = append(all, m)
				want[convKey(from)] = append(want[convKey(from)], m.ID)
			}
		}
		// Accepted while both run, alternating instances, in order.
		for i := 0; i < len(all); i += batch {
			ib := a
			if (i/batch)%2 == 1 {
				ib = b
			}
			if r := mustAccept(t, ib, all[i:i+batch]...); r.New != batch {
				t.Fatalf("batch %d: %+v", i/batch, r)
			}
		}
		waitFor(t, "every message handled", func() bool { return rec.total() >= len(all) && pendingInbox(t, a) == 0 })

		rec.mu.Lock()
		byInstance := map[string]int{}
		for _, m := range all {
			if n := rec.count[m.ID]; n != 1 {
				t.Errorf("%s handled %d times, want 1", m.ID, n)
			}
			byInstance[rec.by[m.ID]]++
		}
		for k, ids := range want {
			if !slices.Equal(rec.order[k], ids) {
				t.Errorf("conversation %s order %v, want %v", k, rec.order[k], ids)
			}
		}
		rec.mu.Unlock()
		t.Logf("messages handled per instance: %v", byInstance)

		got := replies(t, a, inbox.Query{})
		if len(got) != len(all) {
			t.Fatalf("outbox holds %d replies, want %d", len(got), len(all))
		}
		// Replies are queued in each conversation's order.
		last := map[string]string{}
		for _, r := range got {
			k := r.Reply.ConversationKey()
			if r.Reply.InReplyTo <= last[k] {
				t.Errorf("reply to %s queued after reply to %s", r.Reply.InReplyTo, last[k])
			}
			last[k] = r.Reply.InReplyTo
		}
	})
}

func TestStatusesAreRecordedAndJoinedToReplies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		var seen []string
		opts := e.options("a")
		opts.OnStatus = func(s chat.Status) {
			mu.Lock()
			seen = append(seen, s.MessageID+":"+s.Status)
			mu.Unlock()
		}
		ib := e.instance(t, opts)
		logged := &inbox.LogSender{Logger: opts.Logger}
		runSender(t, ib, logged)
		if err := ib.Enqueue(ctxT(t), inbox.OutboundReply{TenantID: tenant, Channel: chat.WhatsApp, To: "1", Reply: chat.Reply{Kind: chat.ReplyText, Text: "hola"}}); err != nil {
			t.Fatal(err)
		}
		var wamid string
		waitFor(t, "the reply to be logged", func() bool {
			r := replies(t, ib, inbox.Query{})
			if len(r) == 1 && r[0].State == inbox.StateSent {
				wamid = r[0].ProviderID
				return true
			}
			return false
		})
		if len(logged.Sent()) != 1 || logged.Sent()[0].Reply.Text != "hola" || wamid != "logged-1" {
			t.Fatalf("LogSender kept %+v, provider id %q", logged.Sent(), wamid)
		}
		st := func(status string, sec int) chat.Status {
			return chat.Status{TenantID: tenant, Channel: chat.WhatsApp, MessageID: wamid, Status: status, Recipient: "1", Timestamp: epoch.Add(time.Duration(sec) * time.Second)}
		}
		res, err := ib.Accept(ctxT(t), nil, []chat.Status{st("sent", 1), st("delivered", 2), st("delivered", 2)})
		if err != nil {
			t.Fatal(err)
		}
		if res.NewStatuses != 2 || res.DuplicateStatuses != 1 || res.New != 0 {
			t.Fatalf("accept statuses = %+v, want 2 new 1 duplicate", res)
		}
		if r := replies(t, ib, inbox.Query{}); r[0].DeliveryStatus != "delivered" {
			t.Errorf("delivery status %q, want delivered", r[0].DeliveryStatus)
		}
		// Read arrives together with a guest message; a late "sent" again
		// is a duplicate and does not move the status back.
		res, err = ib.Accept(ctxT(t), []chat.Message{guestMsg("1", "m", 3)}, []chat.Status{st("read", 3), st("sent", 1)})
		if err != nil {
			t.Fatal(err)
		}
		if res.New != 1 || res.NewStatuses != 1 || res.DuplicateStatuses != 1 {
			t.Fatalf("mixed batch = %+v", res)
		}
		if r := replies(t, ib, inbox.Query{}); r[0].DeliveryStatus != "read" {
			t.Errorf("delivery status %q, want read", r[0].DeliveryStatus)
		}
		all, err := ib.Statuses(ctxT(t), tenant, chat.WhatsApp, wamid)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || !all[0].Timestamp.Equal(epoch.Add(time.Second)) {
			t.Errorf("statuses = %+v, want sent, delivered, read", all)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := []string{wamid + ":sent", wamid + ":delivered", wamid + ":read"}; !slices.Equal(seen, want) {
			t.Errorf("OnStatus saw %v, want %v", seen, want)
		}
	})
}

// TestFailedDeliveryIsReadWithItsReply: a failed receipt, even one that
// arrives before the send it is about has been recorded, is read with its
// reply: the status, the channel's time and Meta's reason.
func TestFailedDeliveryIsReadWithItsReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := e.options("a")
		ib := e.instance(t, opts)
		// The receipt first: Meta's webhook can beat the send's own answer.
		failed := chat.Status{TenantID: tenant, Channel: chat.WhatsApp, MessageID: "logged-1", Status: "failed", Recipient: "1",
			Timestamp: epoch.Add(5 * time.Second), Errors: []chat.Error{{Code: 131026, Title: "Message undeliverable"}}}
		if _, err := ib.Accept(ctxT(t), nil, []chat.Status{failed}); err != nil {
			t.Fatal(err)
		}
		runSender(t, ib, &inbox.LogSender{Logger: opts.Logger})
		for i, to := range []string{"1", "2"} {
			if err := ib.Enqueue(ctxT(t), inbox.OutboundReply{TenantID: tenant, Channel: chat.WhatsApp, To: to, Reply: chat.Reply{Kind: chat.ReplyText, Text: "hola " + to}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the reply to "+to+" to be sent", func() bool {
				r := replies(t, ib, inbox.Query{To: to})
				return len(r) == 1 && r[0].State == inbox.StateSent && r[0].ProviderID == fmt.Sprintf("logged-%d", i+1)
			})
		}
		r := replies(t, ib, inbox.Query{To: "1"})[0]
		if r.DeliveryStatus != "failed" || !r.DeliveryAt.Equal(failed.Timestamp) ||
			len(r.DeliveryErrors) != 1 || r.DeliveryErrors[0].Code != 131026 || r.DeliveryErrors[0].Title != "Message undeliverable" {
			t.Fatalf("reply with a failed receipt: %+v", r)
		}
		if r := replies(t, ib, inbox.Query{To: "2"})[0]; r.DeliveryStatus != "" || !r.DeliveryAt.IsZero() || r.DeliveryErrors != nil {
			t.Fatalf("reply without receipts: %+v", r)
		}
	})
}

func TestPruneKeepsPendingWork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("a"))
		rec := newCalls(t)
		stop := runInbox(t, ib, rec.handler("a"))
		mustAccept(t, ib, guestMsg("1", "old", 0))
		waitFor(t, "old handled", func() bool { return pendingInbox(t, ib) == 0 })
		stop()
		e.clock.Advance(48 * time.Hour)
		mustAccept(t, ib, guestMsg("1", "new", 1))
		n, err := ib.Prune(ctxT(t), e.clock.Now().Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("pruned %d rows, want 1 (the old message; its reply is still pending)", n)
		}
		ms := messages(t, ib)
		if _, ok := ms["old"]; ok || ms["new"].State != inbox.StatePending {
			t.Errorf("after prune: %+v", ms)
		}
		// Pruned ids are forgotten by dedup.
		if r := mustAccept(t, ib, guestMsg("1", "old", 0)); r.New != 1 {
			t.Errorf("re-accept after prune = %+v", r)
		}
	})
}

func TestBackoffDelay(t *testing.T) {
	b := inbox.Backoff{Base: time.Second, Max: 10 * time.Second}
	cases := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.999999, 999999500 * time.Nanosecond},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second},
		{5, 0, 5 * time.Second}, // 16s capped at 10s
		{50, 0, 5 * time.Second},
		{0, 0, 500 * time.Millisecond},
	}
	for _, c := range cases {
		if got := b.Delay(c.attempt, c.r); got != c.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", c.attempt, c.r, got, c.want)
		}
	}
}

// TestHotelsTakeTurns: a burst of one hotel does not hold back another
// hotel's message; each conversation still goes in acceptance order.
func TestHotelsTakeTurns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		opts := e.options("fair")
		opts.Workers = 1
		ib := e.instance(t, opts)
		var burst []chat.Message
		for i := range 200 {
			m := guestMsg(fmt.Sprintf("3460000%02d", i%20), fmt.Sprintf("busy-%03d", i), i)
			m.TenantID = "busy"
			burst = append(burst, m)
		}
		mustAccept(t, ib, burst...)
		quiet := guestMsg("34611111111", "quiet-1", 500)
		quiet.TenantID = "quiet"
		mustAccept(t, ib, quiet)

		var mu sync.Mutex
		var order []chat.Message
		runInbox(t, ib, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			mu.Lock()
			order = append(order, m)
			mu.Unlock()
			return nil, nil
		})
		waitFor(t, "every message handled", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) == 201
		})
		at := slices.IndexFunc(order, func(m chat.Message) bool { return m.TenantID == "quiet" })
		if at > 2 {
			t.Errorf("the quiet hotel's message was handled %dth, behind %d of the busy hotel's", at+1, at)
		}
		last := map[string]string{}
		for _, m := range order {
			k := m.ConversationKey()
			if prev, ok := last[k]; ok && m.ID <= prev {
				t.Errorf("conversation %s: %s handled after %s", k, m.ID, prev)
			}
			last[k] = m.ID
		}
	})
}

// TestConcurrentAcceptsShareCommitsAndCountOnce: accepts running at once
// (on Postgres, grouped into shared statements) each learn exactly which of
// their messages were new: a message sent by two of them is fresh for one.
func TestConcurrentAcceptsShareCommitsAndCountOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("concurrent"))
		const callers = 32
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := map[string]int{}
		news := 0
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var batch []chat.Message
				for i := range 10 {
					// Callers c and c+1 share five ids.
					id := fmt.Sprintf("m-%d-%d", (c+i/5)%callers, i%5+5*((c+i/5)%2))
					batch = append(batch, guestMsg(fmt.Sprintf("34600%03d", c), id, i))
				}
				res, err := ib.Accept(ctxT(t), batch, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				news += res.New
				if res.New+res.Duplicate != len(batch) || len(res.Fresh) != res.New {
					t.Errorf("caller %d: %+v", c, res)
				}
				for _, m := range res.Fresh {
					fresh[m.ID]++
				}
			}()
		}
		wg.Wait()
		if len(fresh) != news {
			t.Errorf("%d new in all, %d distinct ids fresh", news, len(fresh))
		}
		for id, n := range fresh {
			if n != 1 {
				t.Errorf("%s fresh for %d callers", id, n)
			}
		}
		if got := len(messages(t, ib)); got != len(fresh) {
			t.Errorf("%d messages stored, %d fresh", got, len(fresh))
		}
	})
}
