package inbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

var memEpoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func memMsg(tenant, from string, n int) chat.Message {
	return chat.Message{TenantID: tenant, Channel: chat.WhatsApp, ID: fmt.Sprintf("%s-%s-%d", tenant, from, n),
		From: from, To: "PNID", Timestamp: memEpoch.Add(time.Duration(n) * time.Second), Kind: chat.KindText, Text: "hi"}
}

// claimOne claims one head and records it done at once.
func claimOne(t testing.TB, b *memBackend, now time.Time) (chat.Message, bool) {
	t.Helper()
	cs, err := b.in.claim(context.Background(), nil, now, "w", 1, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		return chat.Message{}, false
	}
	if err := b.completeMessage(context.Background(), now, cs[0], nil, nil); err != nil {
		t.Fatal(err)
	}
	return cs[0].item, true
}

// TestMemoryClaimIsFairAcrossTenantsAndOrderedWithinConversations: a burst
// of one hotel does not hold back another hotel's message (the tenants take
// turns), and each conversation's messages come out in acceptance order.
func TestMemoryClaimIsFairAcrossTenantsAndOrderedWithinConversations(t *testing.T) {
	b := newMemBackend(Options{}.withDefaults())
	ctx := context.Background()
	now := memEpoch
	var burst []chat.Message
	for i := range 1000 {
		burst = append(burst, memMsg("busy", strconv.Itoa(i%10), i))
	}
	if _, _, err := b.accept(ctx, now, burst, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("quiet", "1", 0), memMsg("quiet", "2", 1)}, nil, false); err != nil {
		t.Fatal(err)
	}
	var order []chat.Message
	for {
		m, ok := claimOne(t, b, now)
		if !ok {
			break
		}
		order = append(order, m)
	}
	if len(order) != 1002 {
		t.Fatalf("claimed %d messages, want 1002", len(order))
	}
	// Round-robin: busy, quiet, busy, quiet, then the rest of busy.
	for i, want := range []string{"busy", "quiet", "busy", "quiet", "busy"} {
		if order[i].TenantID != want {
			t.Fatalf("claim %d went to %s, want %s (order: %v…)", i, order[i].TenantID, want, ids(order[:6]))
		}
	}
	last := map[string]int{}
	for _, m := range order {
		k := m.ConversationKey()
		n := seqOf(t, m.ID)
		if prev, ok := last[k]; ok && n <= prev {
			t.Fatalf("conversation %s: message %d after %d", k, n, prev)
		}
		last[k] = n
	}
}

// TestMemoryClaimSkipsRetriesAndLeases: a conversation whose head waits for
// a retry, or whose lease is live, is not claimed; it comes back when due.
func TestMemoryClaimSkipsRetriesAndLeases(t *testing.T) {
	b := newMemBackend(Options{}.withDefaults())
	ctx := context.Background()
	now := memEpoch
	if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("h", "1", 0), memMsg("h", "1", 1), memMsg("h", "2", 2)}, nil, false); err != nil {
		t.Fatal(err)
	}
	cs, err := b.in.claim(ctx, nil, now, "w", 10, now.Add(time.Minute))
	if err != nil || len(cs) != 2 {
		t.Fatalf("claimed %d (%v), want the two heads", len(cs), err)
	}
	if err := b.in.retry(ctx, cs[0], now, now.Add(10*time.Second), "later"); err != nil {
		t.Fatal(err)
	}
	if cs2, _ := b.in.claim(ctx, nil, now.Add(5*time.Second), "w", 10, now.Add(time.Minute)); len(cs2) != 0 {
		t.Fatalf("claimed %d before the retry was due or the lease expired", len(cs2))
	}
	cs3, _ := b.in.claim(ctx, nil, now.Add(11*time.Second), "w", 10, now.Add(5*time.Minute))
	if len(cs3) != 1 || cs3[0].seq != cs[0].seq {
		t.Fatalf("after the retry time: %+v, want the retried head", cs3)
	}
	// The other conversation's lease expires after a minute: another claim
	// takes its head over, and the first worker is fenced out.
	cs4, _ := b.in.claim(ctx, nil, now.Add(61*time.Second), "w2", 10, now.Add(2*time.Minute))
	if len(cs4) != 1 || cs4[0].seq != cs[1].seq {
		t.Fatalf("after the lease expired: %+v, want the other head again", cs4)
	}
	if err := b.completeMessage(ctx, now, cs[1], nil, nil); err != errLeaseLost {
		t.Fatalf("stale worker completed: %v", err)
	}
	if n, _ := b.in.pending(ctx); n != 3 {
		t.Fatalf("pending %d, want 3", n)
	}
}

// TestMemoryKeepsABoundedNumberOfFinishedEntries: finished entries beyond
// the retention are dropped; pending ones never are.
func TestMemoryKeepsABoundedNumberOfFinishedEntries(t *testing.T) {
	b := newMemBackend(Options{MemoryKeepFinished: 100, MemoryKeepDedup: 1000}.withDefaults())
	ctx := context.Background()
	for i := range 1000 {
		if _, _, err := b.accept(ctx, memEpoch, []chat.Message{memMsg("h", strconv.Itoa(i), i)}, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	for range 900 {
		if _, ok := claimOne(t, b, memEpoch); !ok {
			t.Fatal("nothing to claim")
		}
	}
	if len(b.in.all) > 100+2*100 || len(b.in.all) < 100+100 {
		t.Fatalf("%d entries kept, want the 100 pending and 100 to 200 finished", len(b.in.all))
	}
	if n, _ := b.in.pending(ctx); n != 100 {
		t.Fatalf("pending %d, want 100", n)
	}
	if len(b.dedup.seen) > 1000 {
		t.Fatalf("%d dedup keys, want at most 1000", len(b.dedup.seen))
	}
}

func ids(ms []chat.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func seqOf(t *testing.T, id string) int {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '-' {
			n, err := strconv.Atoi(id[i+1:])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("bad id %q", id)
	return 0
}

// BenchmarkMemoryClaim is one claim, its completion and one new accept (so
// the backlog stays the same size) with 100 and with 100,000 messages
// pending in as many conversations across 100 hotels: the cost per op must
// not depend on the backlog (the claim takes ready heads, it never scans).
func BenchmarkMemoryClaim(b *testing.B) {
	for _, pending := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			mb := newMemBackend(Options{}.withDefaults())
			ctx := context.Background()
			msg := func(i int) chat.Message {
				return memMsg("hotel-"+strconv.Itoa(i%100), strconv.Itoa(i%pending), i)
			}
			batch := make([]chat.Message, 0, 1000)
			for i := range pending {
				batch = append(batch, msg(i))
				if len(batch) == cap(batch) || i == pending-1 {
					if _, _, err := mb.accept(ctx, memEpoch, batch, nil, false); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			one := make([]chat.Message, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, ok := claimOne(b, mb, memEpoch); !ok {
					b.Fatal("nothing to claim")
				}
				one[0] = msg(pending + i)
				if _, _, err := mb.accept(ctx, memEpoch, one, nil, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMemoryFinishedEntriesDropTheirTraceContext: the trace context is
// kept while an entry may be claimed and dropped when it finishes, or never
// kept for a message recorded answered: finished entries are what the
// memory inbox keeps longest, and nothing reads it from them.
func TestMemoryFinishedEntriesDropTheirTraceContext(t *testing.T) {
	b := newMemBackend(Options{}.withDefaults())
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	b.mu.Lock()
	open := b.in.push(memEpoch, "k", "h", memMsg("h", "111", 1), false, tp)
	answered := b.in.push(memEpoch, "k2", "h", memMsg("h", "222", 2), true, tp)
	b.mu.Unlock()
	if open.traceParent != tp {
		t.Fatalf("an open entry's trace context is %q, want %q", open.traceParent, tp)
	}
	if answered.traceParent != "" {
		t.Errorf("a message recorded answered keeps its trace context %q", answered.traceParent)
	}
	cs, err := b.in.claim(context.Background(), nil, memEpoch, "w", 1, memEpoch.Add(time.Minute))
	if err != nil || len(cs) != 1 || cs[0].traceParent != tp {
		t.Fatalf("claim: %+v, %v; want the entry with its trace context", cs, err)
	}
	if err := b.completeMessage(context.Background(), memEpoch, cs[0], nil, nil); err != nil {
		t.Fatal(err)
	}
	if open.traceParent != "" {
		t.Errorf("a finished entry keeps its trace context %q", open.traceParent)
	}
}

// A guest's history in memory mode finds their messages however many of
// the hotel's other guests' are retained before them: a listing stops at
// its limit (1,000) among the oldest, the history does not.
func TestMemoryHistoryFindsARecentGuestBehindAFullListing(t *testing.T) {
	ib := NewMemory(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	for i := range 1100 {
		if _, err := ib.Accept(ctx, []chat.Message{memMsg("h", "other"+strconv.Itoa(i), i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ib.Accept(ctx, []chat.Message{memMsg("h", "recent", 2000)}, nil); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := ib.History(ctx, "h", chat.WhatsApp, "recent", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Message.ID != "h-recent-2000" {
		t.Fatalf("the recent guest's history: %+v, want their one message", msgs)
	}
}

// TestMemoryKeepsDeadLettersPastTheFinishedRetention: a dead message stays
// listed (and replayable) however many answered messages come after it, and
// behind more than a listing's 1,000 older entries still open; the dead
// themselves are bounded likewise.
func TestMemoryKeepsDeadLettersPastTheFinishedRetention(t *testing.T) {
	ib := NewMemory(Options{MemoryKeepFinished: 10, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b := ib.b.(*memBackend)
	ctx := context.Background()
	// Another hotel's backlog, older than every dead letter below.
	for i := range 1100 {
		if _, _, err := b.accept(ctx, memEpoch, []chat.Message{memMsg("other", strconv.Itoa(i), i)}, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	die := func(n int) {
		t.Helper()
		if _, _, err := b.accept(ctx, memEpoch, []chat.Message{memMsg("h", "dying", n)}, nil, false); err != nil {
			t.Fatal(err)
		}
		// The hotels take turns: two heads are one of each.
		cs, err := b.in.claim(ctx, nil, memEpoch, "w", 2, memEpoch.Add(time.Minute))
		if err != nil || len(cs) != 2 {
			t.Fatalf("claim: %v, %d items", err, len(cs))
		}
		for _, c := range cs {
			if c.item.TenantID == "h" {
				err = b.in.fail(ctx, c, memEpoch, "the handler gave up")
			} else {
				err = b.in.release(ctx, c)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	dead := func() []DeadLetter {
		t.Helper()
		d, _, err := ib.DeadLetters(ctx, DeadLetterQuery{Kind: DeadInbox, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	die(0)
	for i := range 100 {
		if _, err := ib.AcceptAnswered(ctx, []chat.Message{memMsg("h", "busy"+strconv.Itoa(i), i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if d := dead(); len(d) != 1 || d[0].ID != memInboxID(memMsg("h", "dying", 0)) {
		t.Fatalf("dead letters after 100 answered messages: %+v, want the one that died", d)
	}
	for i := 1; i <= 30; i++ {
		die(i)
	}
	if d := dead(); len(d) < 10 || len(d) > 20 || d[0].ID != memInboxID(memMsg("h", "dying", 30)) {
		t.Fatalf("%d dead letters kept (newest %+v), want the newest 10 to 20", len(d), d[0])
	}
}
