package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func backlogPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := store.Connect(ctx, testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

// fill accepts n pending messages from `guests` guests of `hotels` hotels,
// in batches of 1,000.
func fill(t testing.TB, b backend, now time.Time, prefix string, n, guests, hotels int) {
	t.Helper()
	ctx := context.Background()
	batch := make([]chat.Message, 0, 1000)
	for i := range n {
		batch = append(batch, memMsg(fmt.Sprintf("%s-hotel-%d", prefix, i%hotels), strconv.Itoa(i%guests), i))
		if len(batch) == cap(batch) || i == n-1 {
			if _, _, err := b.accept(ctx, now, batch, nil, false); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// claimBuffers is how many rows one claim of n takes and how many shared
// buffers (8 kB pages) it touches, from EXPLAIN (ANALYZE, BUFFERS) in a
// transaction rolled back: a count of pages read, which the machine's load
// cannot change. The claim is planned afresh, generically, as
// genericPlansSQL makes the claims run.
func claimBuffers[T any](t testing.TB, pool *pgxpool.Pool, q *pgQueue[T], now time.Time, n int) (int, int) {
	t.Helper()
	return explainClaim(t, pool, now, n, func(tx pgx.Tx) string {
		if _, err := tx.Exec(context.Background(), "PREPARE claim_probe AS "+q.claimSQL); err != nil {
			t.Fatal(err)
		}
		return "claim_probe"
	})
}

// explainClaim runs a prepared claim of n, the statement that prepare
// names, under EXPLAIN (ANALYZE, BUFFERS) in a transaction rolled back, and
// returns the rows it took and the pages it read.
func explainClaim(t testing.TB, pool *pgxpool.Pool, now time.Time, n int, prepare func(pgx.Tx) string) (int, int) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the claim is only measured
	if _, err := tx.Exec(ctx, genericPlansSQL); err != nil {
		t.Fatal(err)
	}
	name := prepare(tx)
	var plan []byte
	explain := fmt.Sprintf("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE %s('%s', %d, 'probe', '%s')",
		name, now.Format(time.RFC3339Nano), n, now.Add(time.Minute).Format(time.RFC3339Nano))
	if err := tx.QueryRow(ctx, explain).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if name == "claim_probe" {
		// A prepared statement outlives the transaction: gone, so the
		// connection can measure again.
		if _, err := tx.Exec(ctx, "DEALLOCATE claim_probe"); err != nil {
			t.Fatal(err)
		}
	}
	var out []struct {
		Plan struct {
			Rows int `json:"Actual Rows"`
			Hit  int `json:"Shared Hit Blocks"`
			Read int `json:"Shared Read Blocks"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) == 0 {
		t.Fatalf("EXPLAIN output %s: %v", plan, err)
	}
	return out[0].Plan.Rows, out[0].Plan.Hit + out[0].Plan.Read
}

// TestBacklogClaimCostDoesNotGrow: with 100,000 messages pending (in 20,000
// conversations of 100 hotels) a Postgres claim reads about the pages it
// reads with 100 pending, and the mean time of claim+complete is printed
// for both. The pages are the assertion (a count, not a time).
func TestBacklogClaimCostDoesNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100,000 rows")
	}
	now := memEpoch
	measure := func(pending, guests int) (pages int, perClaim time.Duration) {
		pool := backlogPool(t)
		b := newPGBackend(pool)
		fill(t, b, now, "b", pending, guests, 100)
		if _, err := pool.Exec(context.Background(), "ANALYZE inbox_messages; ANALYZE inbox_ready"); err != nil {
			t.Fatal(err)
		}
		rows, pages := claimBuffers(t, pool, b.in, now, 8)
		if rows != 8 {
			t.Fatalf("claim of 8 with %d pending took %d", pending, rows)
		}
		ctx := context.Background()
		const rounds = 200
		start := time.Now()
		for i := range rounds {
			// A new message for each one taken keeps the backlog's size.
			if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("b-hotel-0", "new", pending+i)}, nil, false); err != nil {
				t.Fatal(err)
			}
			cs, err := b.in.claim(ctx, nil, now, "w", 1, now.Add(time.Minute))
			if err != nil || len(cs) != 1 {
				t.Fatalf("claim: %d, %v", len(cs), err)
			}
			if err := b.completeMessage(ctx, now, cs[0], nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		return pages, time.Since(start) / rounds
	}
	smallPages, small := measure(100, 100)
	largePages, large := measure(100_000, 20_000)
	t.Logf("claim of 8: %d pages with 100 pending, %d with 100,000", smallPages, largePages)
	t.Logf("accept+claim+complete of 1, mean of 200: %v with 100 pending, %v with 100,000 (ratio %.2f)",
		small, large, float64(large)/float64(small))
	if largePages > 3*smallPages+30 {
		t.Errorf("a claim reads %d pages with 100,000 pending against %d with 100: it scans the backlog", largePages, smallPages)
	}
}

// TestBurstDoesNotDelayAnotherHotel: 10,000 messages of one hotel (1,000
// guests) are pending when another hotel's guest writes; that message is
// handled among the first claims (the hotels take turns) and its delay is
// printed. Each message's handling takes 1 ms, so the burst alone keeps 8
// workers busy for over a second.
func TestBurstDoesNotDelayAnotherHotel(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 10,000 rows")
	}
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var ib *Inbox
			opts := Options{Workers: 8, PollInterval: 50 * time.Millisecond, Logger: discardLogger()}
			if kind == "memory" {
				ib = NewMemory(opts)
			} else {
				ib = NewPostgres(backlogPool(t), opts)
			}
			fill(t, ib.b, time.Now(), "burst", 10_000, 1_000, 1)
			var handled, busyBefore atomic.Int64
			var quietAt atomic.Int64
			var once sync.Once
			accepted := make(chan time.Time, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = ib.Run(ctx, func(ctx context.Context, m chat.Message) ([]OutboundReply, error) {
					time.Sleep(time.Millisecond)
					handled.Add(1)
					if m.TenantID == "quiet" {
						once.Do(func() { quietAt.Store(time.Since(<-accepted).Nanoseconds()) })
					} else if quietAt.Load() == 0 {
						busyBefore.Add(1)
					}
					return nil, nil
				})
			}()
			// Let the burst start, then the other hotel's guest writes.
			testservices.Eventually(t, 30*time.Second, "the burst under way", func() bool { return handled.Load() >= 100 })
			base := busyBefore.Load()
			q := memMsg("quiet", "1", 0)
			if _, err := ib.Accept(context.Background(), []chat.Message{q}, nil); err != nil {
				t.Fatal(err)
			}
			acceptedAt := time.Now()
			accepted <- acceptedAt
			testservices.Eventually(t, 60*time.Second, "the other hotel's message handled", func() bool { return quietAt.Load() != 0 })
			delay := time.Duration(quietAt.Load())
			t.Logf("%s: 10,000-message burst of one hotel; another hotel's message handled %v after its accept, %d of the burst's handled in between, %d pending",
				kind, delay.Round(time.Millisecond), busyBefore.Load()-base, 10_000-handled.Load())
			if between := busyBefore.Load() - base; between > 100 {
				t.Errorf("%d of the burst's messages were handled before the other hotel's", between)
			}
			cancel()
			<-done
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestTidyRefreshesStalePlans: a session plans its claim while the outbox
// is empty (as a worker does when it starts before the first burst); then
// 10,000 replies are queued. The plan it keeps, made for an empty table,
// reads thousands of pages per claim; once the tidier has vacuumed the
// line and the leases, the session plans the claim again for the table as
// it is. Pages read by the session's own prepared claim are the assertion
// (counts, not times). Autovacuum is off for the tables involved, so that
// only the tidier acts.
func TestTidyRefreshesStalePlans(t *testing.T) {
	if testing.Short() {
		t.Skip("queues 10,000 replies")
	}
	ctx := context.Background()
	pool := outboxPlanningSession(t)
	b := newPGBackend(pool)
	now := memEpoch
	if _, err := b.out.claim(ctx, nil, now, "s", 8, now.Add(time.Minute)); err != nil { // planned on an empty outbox
		t.Fatal(err)
	}
	fillReplies(t, b, now, 10_000, 256, 4)
	stale := cachedClaimBuffers(t, pool, b.out, now, 8)
	if err := b.out.tidier.tidy(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := cachedClaimBuffers(t, pool, b.out, now, 8)
	t.Logf("outbox claim of 8 with 10,000 replies pending, planned on the empty table: %d pages; after the tidier's vacuum: %d", stale, fresh)
	// Since migration 0150 dropped the pending-only index the stale plan
	// walked, it reads about 900 pages rather than 8,000, still several
	// times the fresh plan's 250.
	if stale < 2*fresh {
		t.Errorf("the stale plan read %d pages, the refreshed one %d: the test shows nothing, or the vacuum refreshed nothing", stale, fresh)
	}
}

// cachedClaimBuffers is how many shared buffers q's claim reads with the
// plan the pool's one session has cached for it (its prepared statement).
func cachedClaimBuffers[T any](t testing.TB, pool *pgxpool.Pool, q *pgQueue[T], now time.Time, n int) int {
	t.Helper()
	_, pages := explainClaim(t, pool, now, n, func(tx pgx.Tx) string {
		var name string
		if err := tx.QueryRow(context.Background(), `SELECT name FROM pg_prepared_statements WHERE statement = $1`, q.claimSQL).Scan(&name); err != nil {
			t.Fatalf("the session has no prepared claim: %v", err)
		}
		return name
	})
	return pages
}

// TestTidierVacuumsOnlyAfterChanges: the tidier's loop vacuums a queue's
// tables after they changed, and leaves an idle queue alone.
func TestTidierVacuumsOnlyAfterChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := backlogPool(t)
	b := newPGBackend(pool)
	vacuums := func() int64 {
		var n int64
		if err := pool.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'inbox_ready'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	done := make(chan struct{})
	go func() { defer close(done); b.tidy(ctx, queueInbox, discardLogger()) }()
	before := vacuums()
	time.Sleep(tidyInterval + tidyInterval/2) // a tick at least
	if n := vacuums(); n != before {
		t.Errorf("an idle queue was vacuumed %d times", n-before)
	}
	fill(t, b, memEpoch, "v", 10, 10, 1)
	testservices.Eventually(t, 10*time.Second, "the tidier vacuums inbox_ready after an accept", func() bool { return vacuums() > before })
	cancel()
	<-done
}

// TestClaimReadsHeadsBySeqWhateverTheStatistics: statistics taken while
// none of 20,000 replies sent was open (a quiet day), then 20,000 more pile
// up (the channel was down): the claim's plan, made from those statistics,
// still locks the heads it found by seq instead of reading every open
// reply for each claim: 924 pages a claim of 32 here, against 3,108,553
// with the state a literal.
func TestClaimReadsHeadsBySeqWhateverTheStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("queues 40,000 replies")
	}
	ctx := context.Background()
	pool := outboxPlanningSession(t)
	b := newPGBackend(pool)
	now := memEpoch
	// The quiet day: every reply sent (written as the senders' records
	// leave them), the line empty.
	fillReplies(t, b, now, 20_000, 2_000, 1)
	if _, err := pool.Exec(ctx, `UPDATE outbox_replies SET state = 'sent', done_at = $1, provider_id = 'wamid-' || seq`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE outbox_ready SET due_at = 'infinity'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE outbox_replies, outbox_ready, outbox_leases"); err != nil {
		t.Fatal(err)
	}
	if cs, err := b.out.claim(ctx, nil, now, "s", 32, now.Add(time.Minute)); err != nil || len(cs) != 0 { // planned now
		t.Fatalf("claim on the quiet day: %d, %v", len(cs), err)
	}
	fillReplies(t, b, now, 20_000, 2_000, 1)
	// The tidier's round, as a running process does every 2 s: the line's
	// and the leases' dead rows go and their statistics are new; those of
	// the replies are still the quiet day's.
	if err := b.out.tidier.tidy(ctx); err != nil {
		t.Fatal(err)
	}
	pages := cachedClaimBuffers(t, pool, b.out, now, 32)
	t.Logf("outbox claim of 32 with 20,000 replies open, planned when none was: %d pages", pages)
	if pages > 2_000 {
		t.Errorf("the claim read %d pages: it reads the open replies, not the heads it found", pages)
	}
}

// fillReplies queues n replies to `guests` guests of `hotels` hotels, in
// batches of 100.
func fillReplies(t testing.TB, b *pgBackend, now time.Time, n, guests, hotels int) {
	t.Helper()
	batch := make([]OutboundReply, 0, 100)
	for i := range n {
		batch = append(batch, OutboundReply{TenantID: "t-hotel-" + strconv.Itoa(i%hotels), Channel: chat.WhatsApp,
			To: strconv.Itoa(34600000000 + i%guests), PhoneNumberID: "PNID-1", Reply: chat.Reply{Kind: chat.ReplyText, Text: "hola"}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := b.enqueue(context.Background(), now, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// outboxPlanningSession is a migrated database reached through a pool of
// one session, the one whose cached plans a test measures, with autovacuum
// off for the outbox's tables, so that only the test changes their
// statistics.
func outboxPlanningSession(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"outbox_replies", "outbox_ready", "outbox_leases"} {
		if _, err := pool.Exec(ctx, "ALTER TABLE "+table+" SET (autovacuum_enabled = false)"); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}
