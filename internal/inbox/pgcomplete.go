package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentehotel/agente-caddy/internal/batching"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// Completions committed together: the inbox workers' completions that
// arrive while one group is being written share the next transaction (one
// commit, two round trips whatever the group's size), as the accepts do.
//
// A completion's fence must not make another's fail: a completion whose
// lease was lost fails its whole transaction (completeMessageSQL divides by
// zero), so the group checks the fences first. In one explicit
// transaction it locks, for every completion, the message row if it still
// carries the claim's token and the lease row if it does too, and the
// conversation's row of inbox_ready, and reads which fences hold; while
// those locks are held no other worker can take those leases over. Then,
// in one pipelined batch, it locks its replies' guests' rows of
// outbox_ready, completes every completion whose fence held in one
// statement (completeGroupSQL), runs their handlers' deferred writes and
// commits. Every lock is taken in the order of doc.go's "Lock order"
// (messages by seq, leases by key, inbox_ready by key, outbox_ready by
// key), so the group and any other writer wait on each other at most one
// way. A completion whose fence did not hold gets errLeaseLost and none of
// its writes run. Should the group fail for any other reason, each
// completion is committed again on its own (completeAlone), so one bad
// completion cannot fail the others.
//
// One statement for the group rather than one per completion: the rows
// written are the same, but Postgres starts and ends one executor instead
// of one per completion for a statement of five parts (BENCHMARKS.md).

// maxCompletionGroup bounds one group of completions.
const maxCompletionGroup = 32

type completionReq struct {
	now   time.Time
	fence leaseFence
	// replies, encoded (repliesJSON, replyKeys), and the trace context
	// stored with them.
	replies     []OutboundReply
	repliesJSON []byte
	replyKeys   []string
	traceParent string
	writes      []store.Statement
	done        chan error
}

func (b *pgBackend) newCompletionQueue() *batching.Queue[*completionReq] {
	return batching.New(batching.UpTo[*completionReq](maxCompletionGroup), b.flushCompletions)
}

// completeMessage marks c done, queues its replies and runs the handler's
// deferred writes in one transaction, conditional on c's fence, committed
// with the group of completions that is next.
func (b *pgBackend) completeMessage(ctx context.Context, now time.Time, c claimed[chat.Message], replies []OutboundReply, writes []store.Statement) error {
	r := &completionReq{now: now, fence: c.fence(), replies: replies, traceParent: tracing.Parent(ctx), writes: writes, done: make(chan error, 1)}
	if len(replies) > 0 {
		var err error
		if r.repliesJSON, r.replyKeys, err = encodeReplies(replies); err != nil {
			return Permanent(err)
		}
	}
	return awaitGroup(ctx, b.completions, r)
}

// flushCompletions commits one group and answers each of its callers.
func (b *pgBackend) flushCompletions(group []*completionReq) {
	answerGroup(group, b.completeAlone, b.completeTogether)
}

// queueWrites queues a completion's deferred writes in batch, after it.
func queueWrites(batch *pgx.Batch, writes []store.Statement) {
	for _, w := range writes {
		batch.Queue(w.SQL, w.Args...)
	}
}

// completeAlone runs one completion as one pipelined batch: the
// completion, then the handler's deferred writes, with a single Sync, so
// Postgres runs them as one implicit transaction (one round trip, one
// commit); the completion fails the whole batch when the lease was lost.
func (b *pgBackend) completeAlone(ctx context.Context, r *completionReq) error {
	var queued int64
	batch := &pgx.Batch{}
	batch.Queue(genericPlansSQL)
	c := r.fence
	batch.Queue(completeMessageSQL, c.seq, c.token, c.key, r.now, r.repliesJSON, r.replyKeys, r.traceParent).QueryRow(func(row pgx.Row) error {
		return row.Scan(nil, &queued, nil, nil)
	})
	queueWrites(batch, r.writes)
	err := b.pool.SendBatch(ctx, batch).Close()
	b.in.tidier.changed(1)
	b.out.tidier.changed(len(r.replies))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == divisionByZero {
		return errLeaseLost
	}
	if err != nil {
		return fmt.Errorf("completing inbox message: %w", err)
	}
	if queued > 0 {
		b.wakeOut.wakeOwn()
	}
	return nil
}

// lockFencesSQL locks the fences of a group of completions ($1 seqs, $2
// tokens, $3 conversation keys) and returns the seqs whose fence holds:
// the message row still pending with the claim's token and the lease row
// with it too. It also locks those conversations' rows of inbox_ready,
// which the completions put back in line or take out of it: every message
// row by seq, then the leases by key, then the rows of the line by key
// (groupLocksCTE). The final WHERE is there to have line run: Postgres
// does not run a SELECT's CTE that nothing reads.
var lockFencesSQL = `WITH req AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS q(seq, token, key)
), ` + groupLocksCTE("inbox_messages", "inbox_leases", "inbox_ready") + `
SELECT f.seq FROM fence f WHERE (SELECT count(*) FROM line) >= 0`

// lockReplyLinesSQL takes, in key order and in one statement, the rows of
// outbox_ready of the guests a group's replies go to ($1 their
// conversation keys, $2 their tenants): an existing row is locked and left
// as it is (DO UPDATE ... WHERE false locks without writing), a missing
// one is inserted out of line (due_at 'infinity', no tail), which the
// completion's upsert then treats as it would no row. The completions run
// in the order of their messages' conversations, not of their replies'
// guests, and each takes its guests' rows as it runs; locked here first,
// those rows are taken in key order whoever the replies go to, so the
// group waits on no writer of the line that waits on it (a sent group, an
// enqueue, another group).
const lockReplyLinesSQL = `INSERT INTO outbox_ready AS r (conversation_key, tenant_id, turn, due_at, tail_seq)
SELECT g.key, min(g.tenant_id), 0, 'infinity', 0 FROM unnest($1::text[], $2::text[]) AS g(key, tenant_id)
GROUP BY g.key
ORDER BY g.key
ON CONFLICT (conversation_key) DO UPDATE SET tail_seq = r.tail_seq WHERE false`

// completeTogether commits group's completions whose fence holds in one
// transaction and returns their seqs.
func (b *pgBackend) completeTogether(ctx context.Context, group []*completionReq) (map[int64]bool, error) {
	// In conversation-key order: the handlers' deferred writes (sessions,
	// the staff's view) then take their rows in that order, as any other
	// group's do.
	group = slices.Clone(group)
	slices.SortFunc(group, func(x, y *completionReq) int { return strings.Compare(x.fence.key, y.fence.key) })
	seqs := make([]int64, len(group))
	tokens := make([]int64, len(group))
	keys := make([]string, len(group))
	for i, r := range group {
		seqs[i], tokens[i], keys[i] = r.fence.seq, r.fence.token, r.fence.key
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("completing inbox messages: %w", err)
	}
	// A connection left inside the transaction by a failure is closed,
	// not pooled (pgxpool checks its transaction status on release).
	defer conn.Release()
	rollback := func() { _, _ = conn.Exec(ctx, "ROLLBACK") }

	held := make(map[int64]bool, len(group))
	lock := &pgx.Batch{}
	lock.Queue("BEGIN")
	lock.Queue(genericPlansSQL)
	lock.Queue(lockFencesSQL, seqs, tokens, keys).Query(func(rows pgx.Rows) error {
		var seq int64
		_, err := pgx.ForEachRow(rows, []any{&seq}, func() error {
			held[seq] = true
			return nil
		})
		return err
	})
	if err := conn.SendBatch(ctx, lock).Close(); err != nil {
		rollback()
		return nil, fmt.Errorf("locking completions' fences: %w", err)
	}
	if len(held) == 0 {
		rollback()
		return held, nil
	}

	g := newCompletionGroup(group, held)
	commit := &pgx.Batch{}
	if len(g.replyKeys) > 0 {
		commit.Queue(lockReplyLinesSQL, g.replyKeys, g.replyTenants)
	}
	var queued int64
	commit.Queue(completeGroupSQL, g.seqs, g.tokens, g.keys, g.times, g.replies, g.replyKeys, g.replyTimes, g.replyTraces, g.replyOwners).QueryRow(func(row pgx.Row) error {
		return row.Scan(nil, &queued, nil, nil)
	})
	for _, r := range group {
		if held[r.fence.seq] {
			queueWrites(commit, r.writes)
		}
	}
	commit.Queue("COMMIT")
	err = conn.SendBatch(ctx, commit).Close()
	b.in.tidier.changed(len(held))
	b.out.tidier.changed(len(g.replyKeys))
	if err != nil {
		rollback()
		return nil, fmt.Errorf("completing inbox messages: %w", err)
	}
	if queued > 0 {
		b.wakeOut.wakeOwn()
	}
	return held, nil
}

// completeGroupSQL completes, in one statement, the completions of a group
// whose fences lockFencesSQL found holding and locked earlier in the same
// transaction: $1 seqs, $2 tokens, $3 conversation keys, $4 times, one per
// completion; $5 their replies, one JSON array in the completions' order,
// each one's replies in theirs, with per reply $6 its conversation key, $7
// the time it is queued at, $8 its trace context and $9 the seq of the
// message it answers. Every row it writes but the new replies' is locked
// already (the messages, leases and rows of inbox_ready by lockFencesSQL,
// the guests' rows of outbox_ready by lockReplyLinesSQL), so the order in
// which its joins reach them cannot deadlock. The fences are checked again
// all the same, the state apart (lockFencesSQL checked it under the lock;
// compared here, it could lead the planner to the partial index of pending
// messages, as pendingOpaque says), and the statement divides by zero,
// failing the transaction, unless every completion it was given was done.
// It returns how many replies it queued.
var completeGroupSQL = `WITH req AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[]) AS q(seq, token, key, at)
), lease AS (
	DELETE FROM inbox_leases l USING req q
	WHERE l.conversation_key = q.key AND l.token = q.token
	RETURNING q.seq
), upd AS (
	UPDATE inbox_messages t SET state = 'done', done_at = q.at, last_error = NULL
	FROM req q WHERE t.seq = q.seq AND t.lease_token = q.token AND q.seq IN (SELECT seq FROM lease)
	RETURNING t.seq
), rq AS (` + requeueGroupSQL("inbox_ready", "SELECT q.key, q.seq, q.at FROM req q WHERE q.seq IN (SELECT seq FROM upd)") + `
), out AS (` + insertRepliesSQL("$5", "($6::text[])[ord]", "($7::timestamptz[])[ord]", "($8::text[])[ord]", "WHERE ($9::bigint[])[ord] IN (SELECT seq FROM upd)") + `
), rdy AS (` + readyUpsertSQL("outbox_ready", "SELECT conversation_key, tenant_id, seq, next_attempt_at FROM out") + `)
SELECT 1 / (SELECT CASE WHEN count(*) = cardinality($1::bigint[]) THEN 1 ELSE 0 END FROM upd), (SELECT count(*) FROM out),
	(SELECT count(*) FROM rq), (SELECT count(*) FROM rdy)`

// completionGroup is completeGroupSQL's arguments for the completions of a
// group whose fence held, in the group's order, and the tenants of their
// replies' guests (the reply keys), for lockReplyLinesSQL.
type completionGroup struct {
	seqs, tokens           []int64
	keys                   []string
	times                  []time.Time
	replies                []byte
	replyKeys, replyTraces []string
	replyTimes             []time.Time
	replyOwners            []int64
	replyTenants           []string
}

func newCompletionGroup(group []*completionReq, held map[int64]bool) completionGroup {
	g := completionGroup{replies: []byte{'['}}
	for _, r := range group {
		if !held[r.fence.seq] {
			continue
		}
		g.seqs, g.tokens, g.keys, g.times = append(g.seqs, r.fence.seq), append(g.tokens, r.fence.token), append(g.keys, r.fence.key), append(g.times, r.now)
		if len(r.replies) == 0 {
			continue
		}
		// r.repliesJSON is one JSON array: its elements join the group's.
		if len(g.replies) > 1 {
			g.replies = append(g.replies, ',')
		}
		g.replies = append(g.replies, r.repliesJSON[1:len(r.repliesJSON)-1]...)
		for i := range r.replies {
			g.replyKeys, g.replyTraces = append(g.replyKeys, r.replyKeys[i]), append(g.replyTraces, r.traceParent)
			g.replyTimes, g.replyOwners = append(g.replyTimes, r.now), append(g.replyOwners, r.fence.seq)
			g.replyTenants = append(g.replyTenants, r.replies[i].TenantID)
		}
	}
	g.replies = append(g.replies, ']')
	return g
}
