package inbox

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgTidier vacuums one queue's line of conversations and its leases
// (inbox_ready and inbox_leases, or the outbox's) while the queue is busy,
// for two reasons.
//
// Stale plans. The claims and completions run with generic plans
// (genericPlansSQL), which each session makes once and keeps. A worker
// that starts on an empty outbox plans the outbox claim for an empty
// table: a sequential scan and a hash join where an index lookup is right.
// With 10,000 replies queued that plan read 8,000 pages per claim against
// 260 for a fresh plan (900 since migration 0150 dropped the pending-only
// index it walked), and while a worker process drained a 10,000-message
// burst its outbox claims took 20 s of the server's statement time (3-6
// ms each mid-drain) against 3 s for its inbox claims, until autovacuum, which visits a database at most once a minute, changed
// the tables' statistics. A vacuum that changes a table's statistics makes
// every session plan the statements that use it again, for the tables as
// they are then; every claim and completion uses the line and the leases,
// so vacuuming those two small tables refreshes them all.
//
// Dead rows. Every accept, claim and completion rewrites rows of those two
// tables, never in place (the turn and due time are indexed, a lease is
// deleted and inserted again), and a claim walks the line from its front.
//
// They hold a row per conversation with work and one per lease, so a
// vacuum is a few pages; the message and reply tables are left to
// autovacuum. A tidier runs with each loop (Run, RunSender) and vacuums only
// after its queue changed, so an idle instance sends nothing. SKIP_LOCKED
// passes over a table another instance is vacuuming at that moment.
// TRUNCATE false: giving the empty pages at a table's end back to the
// system needs a lock that stops every claim, and a busy queue's vacuum
// waited for it for up to hundreds of milliseconds each time (the pages are
// reused anyway). A database user that does not own the tables gets a
// warning from Postgres, not an error, so the queue works the same without
// the tidier, only slower after a burst.
type pgTidier struct {
	pool    *pgxpool.Pool
	sql     string
	changes atomic.Int64
}

// tidyInterval is how often a busy queue's tables are vacuumed. Each
// vacuum that changes their statistics (nearly every one, on tables this
// busy) makes every session plan its claims and completions again, a few
// milliseconds each for statements this large. In a logged drain of 2 ×
// 10,000 messages (STAIRCASE_LOG_STATEMENTS), binds of those statements
// over 1 ms (the re-plans) were 1,596 taking 5.6 s of the server's time
// every 500 ms, and 541 taking 2.1 s every 2 s, with the statements'
// execution no slower (34.6 s against 31.4 s in all): between vacuums
// the scans mark the dead index entries they meet, so later ones skip
// them.
const tidyInterval = 2 * time.Second

func newPGTidier(pool *pgxpool.Pool, tables string) *pgTidier {
	return &pgTidier{pool: pool, sql: "VACUUM (SKIP_LOCKED, TRUNCATE false) " + tables}
}

// changed records n row changes in the queue's tables.
func (t *pgTidier) changed(n int) {
	if n > 0 {
		t.changes.Add(int64(n))
	}
}

// run vacuums the tables every tidyInterval after they changed, until ctx
// ends. A failure is logged once until a vacuum succeeds again.
func (t *pgTidier) run(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(tidyInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.changes.Swap(0) == 0 {
			continue
		}
		err := t.tidy(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("vacuuming the queue's tables failed; retrying while the queue is busy", "statement", t.sql, "error", err)
			failing = true
		case err == nil:
			failing = false
		}
	}
}

func (t *pgTidier) tidy(ctx context.Context) error {
	_, err := t.pool.Exec(ctx, t.sql)
	return err
}
