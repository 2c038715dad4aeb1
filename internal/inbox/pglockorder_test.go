package inbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// lockedInKeyOrder checks that write takes the rows it needs of the line
// `ready` in key order (doc.go, "Lock order"). Another transaction holds
// the row of first, the lower key, as a writer that takes them in key
// order would at that point; write must then wait for first while holding
// no later row, so that transaction can still lock second. A write that
// took second before first holds it, and the two deadlock: Postgres
// breaks that after deadlock_timeout (1 s by default) by failing one of
// them, which is what this reports.
func lockedInKeyOrder(t *testing.T, pool *pgxpool.Pool, ready, first, second string, write func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	lock := func(key string) error {
		var one int
		return tx.QueryRow(ctx, `SELECT 1 FROM `+ready+` WHERE conversation_key = $1 FOR UPDATE`, key).Scan(&one)
	}
	if err := lock(first); err != nil {
		t.Fatalf("locking %s's row: %v", first, err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- write(ctx) }()
	testservices.Eventually(t, 5*time.Second, "the write waiting for "+first, func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return err == nil && n > 0
	})
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
		t.Fatal(err)
	}
	if err := lock(second); err != nil {
		t.Errorf("locking %s while the write waits for %s: %v", second, first, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Errorf("committing the other transaction: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the write, after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
}

// outboxWriteInKeyOrder is lockedInKeyOrder on outbox_ready for the
// write that prepare returns, given one claimed reply to each of g1 and
// g2; the write reports how many replies it changed, which must be both.
// The guests are queued in either order (each reply in its own
// enqueue), so that a write taking rows in a plan's order (the replies'
// seq order, the table's, a hash's) rather than by key meets the lock held
// on g1 after taking g2's in one of them.
func outboxWriteInKeyOrder(t *testing.T, prepare func(t *testing.T, b *pgBackend, now time.Time, cs []claimed[OutboundReply]) func(context.Context) (int, error)) {
	for _, guests := range [][]string{{"g1", "g2"}, {"g2", "g1"}} {
		t.Run(guests[0]+"-first", func(t *testing.T) {
			pool := backlogPool(t)
			ctx := context.Background()
			b := newPGBackend(pool)
			now := time.Now().UTC()
			for _, to := range guests {
				if err := b.enqueue(ctx, now, []OutboundReply{{TenantID: "h", Channel: chat.WhatsApp, To: to, Reply: chat.Reply{Kind: chat.ReplyText, Text: "to " + to}}}); err != nil {
					t.Fatal(err)
				}
			}
			cs, err := b.out.claim(ctx, nil, now, "w", 10, now.Add(time.Minute))
			if err != nil || len(cs) != len(guests) {
				t.Fatalf("claim: %d, %v; want every guest's reply", len(cs), err)
			}
			write := prepare(t, b, now, cs)
			lockedInKeyOrder(t, pool, "outbox_ready", "h|whatsapp|g1", "h|whatsapp|g2", func(ctx context.Context) error {
				n, err := write(ctx)
				if err == nil && n != 2 {
					t.Errorf("the write changed %d replies, want both", n)
				}
				return err
			})
		})
	}
}

// TestSentGroupTakesTheLineInKeyOrder: a group of sent records takes its
// guests' rows of outbox_ready in key order, whatever their replies' seqs,
// as a completion queuing replies to both guests does; taken in seq order
// (g2's reply queued before g1's), the two deadlocked.
func TestSentGroupTakesTheLineInKeyOrder(t *testing.T) {
	outboxWriteInKeyOrder(t, func(t *testing.T, b *pgBackend, now time.Time, cs []claimed[OutboundReply]) func(context.Context) (int, error) {
		var group []*sentReq
		for _, c := range cs {
			group = append(group, &sentReq{now: now, fence: c.fence(), providerID: "wamid-" + c.key, done: make(chan error, 1)})
		}
		return func(ctx context.Context) (int, error) {
			recorded, err := b.completeReplies(ctx, group)
			return len(recorded), err
		}
	})
}

// TestCompletionGroupTakesTheLineInKeyOrder: a group of completions whose
// replies go to guests in another order than the messages' conversations
// (a's message answered to g2, b's to g1) takes those guests' rows of
// outbox_ready in key order all the same.
func TestCompletionGroupTakesTheLineInKeyOrder(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	b := newPGBackend(pool)
	now := time.Now().UTC()
	reply := func(to string) OutboundReply {
		return OutboundReply{TenantID: "h", Channel: chat.WhatsApp, To: to, Reply: chat.Reply{Kind: chat.ReplyText, Text: "to " + to}}
	}
	// Both guests are already in outbox_ready.
	if err := b.enqueue(ctx, now, []OutboundReply{reply("g1"), reply("g2")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("h", "a", 1), memMsg("h", "b", 2)}, nil, false); err != nil {
		t.Fatal(err)
	}
	cs, err := b.in.claim(ctx, nil, now, "w", 2, now.Add(time.Minute))
	if err != nil || len(cs) != 2 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	to := map[string]string{"a": "g2", "b": "g1"}
	var group []*completionReq
	for _, c := range cs {
		r := &completionReq{now: now, fence: c.fence(), replies: AddressReplies(c.item, []OutboundReply{reply(to[c.item.From])}), done: make(chan error, 1)}
		if r.repliesJSON, r.replyKeys, err = encodeReplies(r.replies); err != nil {
			t.Fatal(err)
		}
		group = append(group, r)
	}
	lockedInKeyOrder(t, pool, "outbox_ready", "h|whatsapp|g1", "h|whatsapp|g2", func(ctx context.Context) error {
		held, err := b.completeTogether(ctx, group)
		if err == nil && len(held) != 2 {
			t.Errorf("fences held %v, want both", held)
		}
		return err
	})
}

// TestReleaseHeldTakesTheLineInKeyOrder: releasing every held reply takes
// the guests' rows of outbox_ready in key order, whichever reply or row
// came first.
func TestReleaseHeldTakesTheLineInKeyOrder(t *testing.T) {
	outboxWriteInKeyOrder(t, func(t *testing.T, b *pgBackend, now time.Time, cs []claimed[OutboundReply]) func(context.Context) (int, error) {
		for _, c := range cs {
			if err := b.out.hold(context.Background(), c, now, "token refused"); err != nil {
				t.Fatal(err)
			}
		}
		return func(ctx context.Context) (int, error) {
			return b.releaseHeld(ctx, now, chat.WhatsApp, 0)
		}
	})
}

// TestPruneSkipsABusyLine: pruning waits for no row of a line another
// transaction holds (it takes them in its own order, so waiting could
// close a cycle); it leaves that conversation's row for its next round
// and removes the others'.
func TestPruneSkipsABusyLine(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	b := newPGBackend(pool)
	now := time.Now().UTC()
	if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("h", "a", 1), memMsg("h", "b", 2)}, nil, false); err != nil {
		t.Fatal(err)
	}
	cs, err := b.in.claim(ctx, nil, now, "w", 2, now.Add(time.Minute))
	if err != nil || len(cs) != 2 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	for _, c := range cs {
		if err := b.completeAlone(ctx, &completionReq{now: now, fence: c.fence()}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM inbox_ready WHERE conversation_key = 'h|whatsapp|a' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := b.prune(pctx, now.Add(-time.Hour)); err != nil {
		t.Fatalf("prune while a's row is held: %v", err)
	}
	var left []string
	if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(conversation_key ORDER BY conversation_key), '{}') FROM inbox_ready`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != "h|whatsapp|a" {
		t.Errorf("inbox_ready after the prune: %v, want a's row alone", left)
	}
}

// TestGroupsRaceWithoutDeadlock: completion groups and sent groups of two
// workers each, and accepts, race for 4 s over six guests, each guest's
// replies queued by one group while another group records the guest's
// earlier ones; no group may end in a deadlock. Before the groups took
// the line's rows in key order they deadlocked several times in as long
// (each one a second's wait for Postgres's deadlock_timeout).
func TestGroupsRaceWithoutDeadlock(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	b := newPGBackend(pool)
	var deadlocks, groups atomic.Int64
	check := func(err error) {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			deadlocks.Add(1)
		} else if err != nil {
			t.Error(err)
		}
	}
	end := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	race := func(f func(now time.Time)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				f(time.Now().UTC())
			}
		}()
	}
	n := 0
	race(func(now time.Time) {
		var msgs []chat.Message
		for range 4 {
			n++
			msgs = append(msgs, memMsg("h", fmt.Sprintf("g%d", rand.IntN(6)), n))
		}
		_, _, err := b.accept(ctx, now, msgs, nil, false)
		check(err)
		time.Sleep(2 * time.Millisecond)
	})
	for w := range 2 {
		race(func(now time.Time) {
			groups.Add(groupRound(now, check, func(now time.Time) ([]claimed[chat.Message], error) {
				return b.in.claim(ctx, nil, now, fmt.Sprintf("worker%d", w), 4, now.Add(time.Minute))
			}, func(c claimed[chat.Message]) *completionReq {
				r := &completionReq{now: now, fence: c.fence(), replies: AddressReplies(c.item, []OutboundReply{{Reply: chat.Reply{Kind: chat.ReplyText, Text: "ok"}}}), done: make(chan error, 1)}
				var err error
				r.repliesJSON, r.replyKeys, err = encodeReplies(r.replies)
				check(err)
				return r
			}, b.completeAlone, b.completeTogether))
		})
		race(func(now time.Time) {
			groups.Add(groupRound(now, check, func(now time.Time) ([]claimed[OutboundReply], error) {
				return b.out.claim(ctx, nil, now, fmt.Sprintf("sender%d", w), 4, now.Add(time.Minute))
			}, func(c claimed[OutboundReply]) *sentReq {
				return &sentReq{now: now, fence: c.fence(), providerID: "wamid", done: make(chan error, 1)}
			}, b.completeReplyAlone, b.completeReplies))
		})
	}
	wg.Wait()
	t.Logf("%d groups, %d deadlocks", groups.Load(), deadlocks.Load())
	if deadlocks.Load() > 0 || groups.Load() < 100 {
		t.Errorf("%d deadlocks in %d groups, want none in at least 100", deadlocks.Load(), groups.Load())
	}
}

// groupRound claims up to four items and writes them as the backend's
// queues do (answerGroup: several together, one alone), passing check the
// error of the group's statement and each member's answer. It returns 1
// when it wrote a group of several.
func groupRound[T any, R groupedOutcome](now time.Time, check func(error), claim func(time.Time) ([]claimed[T], error), req func(claimed[T]) R,
	alone func(context.Context, R) error, together func(context.Context, []R) (map[int64]bool, error)) int64 {
	cs, err := claim(now)
	check(err)
	if len(cs) < 2 {
		time.Sleep(time.Millisecond) // let more come due, to group
	}
	if len(cs) == 0 {
		return 0
	}
	group := make([]R, len(cs))
	for i, c := range cs {
		group[i] = req(c)
	}
	answerGroup(group, alone, func(ctx context.Context, group []R) (map[int64]bool, error) {
		held, err := together(ctx, group)
		check(err)
		return held, err
	})
	for _, r := range group {
		check(<-r.answer())
	}
	if len(group) > 1 {
		return 1
	}
	return 0
}
