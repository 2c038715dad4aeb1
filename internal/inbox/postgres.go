package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/batching"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/tracing"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// NOTIFY channels: Accept wakes the inbox workers, a completion that queued
// replies wakes the senders.
const (
	notifyInbox  = "agente_inbox"
	notifyOutbox = "agente_outbox"
)

type pgBackend struct {
	pool    *pgxpool.Pool
	in      *pgQueue[chat.Message]
	out     *pgQueue[OutboundReply]
	accepts *batching.Queue[*acceptReq]
	// sent groups the senders' records of sent replies (pgsent.go).
	sent *batching.Queue[*sentReq]
	// completions groups the inbox workers' completions (pgcomplete.go).
	completions *batching.Queue[*completionReq]
	// wakeIn and wakeOut wake the inbox workers and the senders after a
	// commit that gave them work.
	wakeIn, wakeOut *pgNotifier
}

func newPGBackend(pool *pgxpool.Pool) *pgBackend {
	b := &pgBackend{
		pool:    pool,
		wakeIn:  newPGNotifier(pool, notifyInbox),
		wakeOut: newPGNotifier(pool, notifyOutbox),
		in:      newPGQueue[chat.Message](pool, "inbox_messages", "inbox_ready", "inbox_leases", "inbox_lease_token_seq", StateDead, `state = 'pending'`),
		out:     newPGQueue[OutboundReply](pool, "outbox_replies", "outbox_ready", "outbox_leases", "outbox_lease_token_seq", StateFailed, `state IN ('pending', 'held')`),
	}
	b.accepts = b.newAcceptQueue()
	b.sent = b.newSentQueue()
	b.completions = b.newCompletionQueue()
	return b
}

func (b *pgBackend) inbox() queue[chat.Message]   { return b.in }
func (b *pgBackend) outbox() queue[OutboundReply] { return b.out }

// insertRepliesSQL queues the replies of the JSON array in parameter
// replies, in its order; the other arguments are expressions of each
// reply's place in it (ord): its conversation key, the time it is queued
// at, and its trace context (empty: none). The guard makes it conditional
// (a completion queues only when its message was done).
func insertRepliesSQL(replies, key, at, traceParent, guard string) string {
	return `INSERT INTO outbox_replies (tenant_id, channel, recipient, phone_number_id, in_reply_to, subject, conversation_key, payload, accepted_at, next_attempt_at, trace_parent)
	SELECT e->>'tenant_id', e->>'channel', e->>'to', coalesce(e->>'phone_number_id', ''), coalesce(e->>'in_reply_to', ''),
		coalesce(e->>'subject', ''), ` + key + `, e, ` + at + `, ` + at + `, NULLIF(` + traceParent + `::text, '')
	FROM jsonb_array_elements(` + replies + `::jsonb) WITH ORDINALITY AS b(e, ord)
	` + guard + `
	ORDER BY ord
	RETURNING seq, conversation_key, tenant_id, next_attempt_at`
}

// readyUpsertSQL queues, in ready (inbox_ready or outbox_ready), the
// conversations of the items `source` selects (conversation_key,
// tenant_id, seq, due): a conversation not in line joins at the back of its
// hotel's line, but never behind the front of the whole queue (so a hotel
// that was quiet is served next, whatever another hotel's backlog); one in
// line keeps its place and learns of its newer tail. The upsert takes each
// conversation's row lock, in key order, so it serialises with the
// completion that decides whether that conversation has more to do.
func readyUpsertSQL(ready, source string) string {
	return `INSERT INTO ` + ready + ` AS r (conversation_key, tenant_id, turn, due_at, tail_seq)
	SELECT c.conversation_key, c.tenant_id,
		` + backOfLineSQL(ready, "c.tenant_id") + ` + row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.head) - 1,
		c.due, c.tail
	FROM (SELECT conversation_key, min(tenant_id) AS tenant_id, min(seq) AS head, max(seq) AS tail, min(due) AS due
		FROM (` + source + `) s(conversation_key, tenant_id, seq, due) GROUP BY conversation_key) c
	ORDER BY c.conversation_key
	ON CONFLICT (conversation_key) DO UPDATE SET
		tail_seq = greatest(r.tail_seq, excluded.tail_seq),
		turn = CASE WHEN r.due_at = 'infinity' AND NOT r.held THEN excluded.turn ELSE r.turn END,
		due_at = CASE WHEN r.due_at = 'infinity' AND NOT r.held THEN excluded.due_at ELSE r.due_at END
	RETURNING 1`
}

// backOfLineSQL is the turn after the last of tenantExpr's conversations
// in line, or after the front of the queue when that is later: two index
// look-ups.
func backOfLineSQL(ready, tenantExpr string) string {
	return `greatest(
		coalesce((SELECT max(x.turn) FROM ` + ready + ` x WHERE x.tenant_id = ` + tenantExpr + ` AND x.due_at < 'infinity'), 0),
		coalesce((SELECT min(x.turn) FROM ` + ready + ` x WHERE x.due_at < 'infinity'), 0)) + 1`
}

// requeueSQL puts conversation $3 of ready back in line after an outcome on
// item $1: at the back of its hotel's line, due at dueExpr, when more has
// been queued behind $1 (tail_seq, read on the row's latest version under
// its lock, so an accept that committed meanwhile is seen), else out of line.
// It returns whether the conversation stays in line (stays).
//
// A conversation taken out of line keeps its turn, which nothing reads
// until an accept puts it back in line with a new one, so the back of the
// line is looked up only for a conversation that stays.
func requeueSQL(ready, dueExpr string) string {
	return `UPDATE ` + ready + ` r SET
		due_at = CASE WHEN r.tail_seq > $1 THEN ` + dueExpr + ` ELSE 'infinity' END,
		turn = CASE WHEN r.tail_seq > $1 THEN ` + backOfLineSQL(ready, "r.tenant_id") + ` ELSE r.turn END
	WHERE r.conversation_key = $3 AND EXISTS (SELECT 1 FROM upd)
	RETURNING r.due_at < 'infinity' AS stays`
}

// requeueGroupSQL is requeueSQL for a group of outcomes recorded together:
// source selects (key, seq, at) for each item finished, of a conversation
// whose row of ready the statement has locked. A conversation that stays
// in line goes to the back of its hotel's line due at its at; the group's
// items were finished together, so each gets its rank in the group on top
// of the back of the line all of them read.
func requeueGroupSQL(ready, source string) string {
	return `UPDATE ` + ready + ` r SET
		due_at = CASE WHEN r.tail_seq > n.seq THEN n.at ELSE 'infinity' END,
		turn = CASE WHEN r.tail_seq > n.seq THEN ` + backOfLineSQL(ready, "r.tenant_id") + ` + n.rank ELSE r.turn END
	FROM (SELECT s.key, s.seq, s.at, row_number() OVER (ORDER BY s.seq) - 1 AS rank
		FROM (` + source + `) s(key, seq, at)) n
	WHERE r.conversation_key = n.key
	RETURNING r.due_at < 'infinity' AS stays`
}

var enqueueSQL = `WITH out AS (` + insertRepliesSQL("$1", "($2::text[])[ord]", "$3", "$4", "") + `), rdy AS (` + readyUpsertSQL("outbox_ready", "SELECT conversation_key, tenant_id, seq, next_attempt_at FROM out") + `)
SELECT (SELECT count(*) FROM out), (SELECT count(*) FROM rdy)`

func encodeReplies(replies []OutboundReply) ([]byte, []string, error) {
	js, err := json.Marshal(replies)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding replies: %w", err)
	}
	keys := make([]string, len(replies))
	for i := range replies {
		keys[i] = replies[i].ConversationKey()
	}
	return js, keys, nil
}

func (b *pgBackend) enqueue(ctx context.Context, now time.Time, replies []OutboundReply) error {
	js, keys, err := encodeReplies(replies)
	if err != nil {
		return err
	}
	var n, readied int64
	if err := b.pool.QueryRow(ctx, enqueueSQL, js, keys, now, tracing.Parent(ctx)).Scan(&n, &readied); err != nil {
		return fmt.Errorf("queueing replies: %w", err)
	}
	b.out.tidier.changed(int(readied))
	if n > 0 {
		b.wakeOut.wake()
	}
	return nil
}

// pendingOpaque is StatePending as the statements that look items up by
// seq compare it: a value the planner does not see when it plans (an
// uncorrelated subquery, run once), so it cannot prove the partial indexes
// of open items (inbox_messages_pending_idx, outbox_replies_open_idx)
// usable and reads the items by their primary key. With the literal it
// could, and with statistics taken while few items were open (a quiet
// day, then replies piling up while the channel is down) it walked such an
// index whole for each item: a claim of 32 read 3,108,553 pages with
// 20,000 replies open, against 924 now
// (TestClaimReadsHeadsBySeqWhateverTheStatistics); a fenced outcome 163
// pages instead of 3.
const pendingOpaque = `(SELECT '` + StatePending + `'::text)`

// The finishing statements lock the item row first (FOR UPDATE), then
// delete the lease only if both still carry this claim's token, then update
// the row only if that delete happened: one statement, so atomic, and with
// the lock order of claim (item, then lease), so the two cannot deadlock.
//
// Parameters: $1 seq, $2 token, $3 conversation key, then per statement.
func fenceCTE(table, leases string) string {
	return `msg AS (
	SELECT seq FROM ` + table + ` WHERE seq = $1 AND lease_token = $2 AND state = ` + pendingOpaque + ` FOR UPDATE
), lease AS (
	DELETE FROM ` + leases + ` WHERE conversation_key = $3 AND token = $2 AND EXISTS (SELECT 1 FROM msg) RETURNING 1
)`
}

// The completions divide by the count of rows their fence updated, so one
// whose lease was lost fails (division by zero, divisionByZero) and the
// handler's writes sent after it in the same implicit transaction are
// rolled back with it.
//
// completeMessageSQL, a lone completion (a group's are completeGroupSQL):
// $4 now, $5 replies JSON (NULL: none), $6 reply conversation keys, $7 the
// replies' trace context. It returns how many replies it queued.
var completeMessageSQL = `WITH ` + fenceCTE("inbox_messages", "inbox_leases") + `, upd AS (
	UPDATE inbox_messages SET state = 'done', done_at = $4, last_error = NULL
	WHERE seq = $1 AND EXISTS (SELECT 1 FROM lease) RETURNING 1
), rq AS (` + requeueSQL("inbox_ready", "$4") + `), out AS (` + insertRepliesSQL("$5", "($6::text[])[ord]", "$4", "$7", "WHERE EXISTS (SELECT 1 FROM upd)") + `), rdy AS (` + readyUpsertSQL("outbox_ready", "SELECT conversation_key, tenant_id, seq, next_attempt_at FROM out") + `)
SELECT 1 / (SELECT count(*) FROM upd), (SELECT count(*) FROM out),
	(SELECT count(*) FROM rq), (SELECT count(*) FROM rdy)`

func (b *pgBackend) defersWrites() bool { return true }

// divisionByZero is the SQLSTATE of a fenced completion whose lease was lost.
const divisionByZero = "22012"

// genericPlansSQL, sent first in a batch, makes Postgres plan the batch's
// prepared statements generically until the batch's implicit transaction
// ends (set_config's is_local). The claims and completions are large
// statements that Postgres otherwise re-plans at every execution (it keeps
// choosing custom plans for them): binding a claim took 1.0 ms of server
// time against 0.14 ms with the generic plan, which executes no slower
// (BENCHMARKS.md). Per transaction, because the pool is shared with
// queries a generic plan would hurt (the admin API's optional filters).
const genericPlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// pgQueue is the claim/lease protocol on one item table and its lease table.
type pgQueue[T any] struct {
	pool                                               *pgxpool.Pool
	table                                              string
	tidier                                             *pgTidier
	claimSQL, extendSQL, retrySQL, failSQL, releaseSQL string
	holdSQL, suppressSQL, pendingSQL, heldSQL          string
	// readsConsent: the claim also returns each item's recipient's consent,
	// set on the item as ClaimedConsent; the queue of replies
	// (OutboundReply) does.
	readsConsent bool
}

// newPGQueue builds the statements of one queue. open selects the rows that
// hold their conversation's place (pending, and held in the outbox): a
// conversation whose head is not pending waits. ready is the queue's line
// of conversations (migration 0090). A queue of replies (OutboundReply)
// has its claim return each reply's recipient's consent (claimedSQL).
func newPGQueue[T any](pool *pgxpool.Pool, table, ready, leases, tokenSeq, failState, open string) *pgQueue[T] {
	_, readsConsent := any((*T)(nil)).(*OutboundReply)
	q := &pgQueue[T]{pool: pool, table: table, tidier: newPGTidier(pool, ready+", "+leases), readsConsent: readsConsent}
	// Claim: walk the line (ready, by turn) from its front, taking
	// conversations that are due and have no live lease, and look up each
	// one's head by index; a claim reads what it takes (plus the
	// conversations in flight), never the whole backlog. Lock up to n of
	// those heads, skipping rows another claim holds (candidates are
	// over-fetched so two instances claiming at once do not both come back
	// empty); take each conversation's lease, which only succeeds where the
	// latest committed lease has expired (the upsert re-checks under the row
	// lock, whatever this snapshot saw); stamp the claimed rows with the
	// lease's token.
	// The heads are locked by seq (pendingOpaque).
	// $1 now, $2 limit, $3 owner, $4 lease until.
	q.claimSQL = `WITH cand AS (
	SELECT r.conversation_key, r.turn FROM ` + ready + ` r
	WHERE r.due_at <= $1 AND r.due_at < 'infinity'
	  AND NOT EXISTS (SELECT 1 FROM ` + leases + ` l WHERE l.conversation_key = r.conversation_key AND l.lease_until > $1)
	ORDER BY r.turn
	LIMIT 4 * $2::int
), heads AS (
	SELECT h.seq, c.turn FROM cand c
	CROSS JOIN LATERAL (
		SELECT t.seq, t.state, t.next_attempt_at FROM ` + table + ` t
		WHERE t.conversation_key = c.conversation_key AND ` + open + `
		ORDER BY t.seq LIMIT 1
	) h
	WHERE h.state = 'pending' AND h.next_attempt_at <= $1
), locked AS (
	SELECT t.seq, t.conversation_key FROM ` + table + ` t JOIN heads h ON h.seq = t.seq
	WHERE t.state = ` + pendingOpaque + ` AND t.next_attempt_at <= $1
	ORDER BY h.turn
	LIMIT $2::int
	FOR UPDATE OF t SKIP LOCKED
), leased AS (
	INSERT INTO ` + leases + ` AS l (conversation_key, seq, claimed_by, lease_until, token)
	SELECT conversation_key, seq, $3, $4, nextval('` + tokenSeq + `') FROM locked ORDER BY conversation_key
	ON CONFLICT (conversation_key) DO UPDATE
		SET seq = excluded.seq, claimed_by = excluded.claimed_by, lease_until = excluded.lease_until, token = excluded.token
		WHERE l.lease_until <= $1
	RETURNING l.seq, l.token
)
` + claimedSQL(`UPDATE `+table+` t SET claimed_by = $3, lease_token = leased.token, attempts = t.attempts + 1, last_attempt_at = $1
FROM leased WHERE t.seq = leased.seq
RETURNING t.seq, t.conversation_key, t.lease_token, t.attempts, t.accepted_at, t.payload, coalesce(t.trace_parent, '') AS trace_parent`, readsConsent)
	// $1 conversation key, $2 token, $3 lease until.
	q.extendSQL = `UPDATE ` + leases + ` SET lease_until = $3 WHERE conversation_key = $1 AND token = $2`
	// %s: the item's change; %s: the line's change (a CTE named rq).
	fence := `WITH ` + fenceCTE(table, leases) + `, upd AS (
	UPDATE ` + table + ` SET %s WHERE seq = $1 AND EXISTS (SELECT 1 FROM lease) RETURNING 1
)%s
SELECT count(*) FROM upd`
	requeue := func(due string) string { return `, rq AS (` + requeueSQL(ready, due) + `)` }
	// $4 next attempt at, $5 error.
	q.retrySQL = fmt.Sprintf(fence, `next_attempt_at = $4, last_error = $5`,
		// The retried item is still queued, so the conversation stays in line.
		`, rq AS (UPDATE `+ready+` r SET due_at = $4, turn = `+backOfLineSQL(ready, "r.tenant_id")+`
	WHERE r.conversation_key = $3 AND EXISTS (SELECT 1 FROM upd) RETURNING 1)`)
	// $4 now, $5 error.
	q.failSQL = fmt.Sprintf(fence, `state = '`+failState+`', done_at = $4, last_error = $5`, requeue("$4"))
	q.releaseSQL = fmt.Sprintf(fence, `attempts = attempts - 1`, "")
	// $4 error.
	q.holdSQL = fmt.Sprintf(fence, `state = '`+StateHeld+`', attempts = attempts - 1, last_error = $4`,
		`, rq AS (UPDATE `+ready+` SET due_at = 'infinity', held = true
	WHERE conversation_key = $3 AND EXISTS (SELECT 1 FROM upd) RETURNING 1)`)
	// $4 now, $5 reason.
	q.suppressSQL = fmt.Sprintf(fence, `state = '`+StateSuppressed+`', attempts = attempts - 1, done_at = $4, last_error = $5`, requeue("$4"))
	q.pendingSQL = `SELECT count(*) FROM ` + table + ` WHERE state = 'pending'`
	q.heldSQL = `SELECT count(*) FROM ` + table + ` WHERE state = '` + StateHeld + `'`
	return q
}

// claimedSQL is the claim's last statement, update. With readsConsent
// (the outbox) it returns with each reply its recipient's guest_consent
// row, looked up by the reply's tenant, channel and recipient as written,
// in the claim's own statement: the senders read every reply's consent in
// a round trip and a transaction of its own (BENCHMARKS.md). The row is
// the one committed when the claim's statement began, so an opt-out
// committed before the claim stops the reply, as one committed before the
// sender's own read did; a claim takes only what its senders start at once.
func claimedSQL(update string, readsConsent bool) string {
	if !readsConsent {
		return update
	}
	return `, claimed AS (` + update + `, t.tenant_id, t.channel, t.recipient)
SELECT c.seq, c.conversation_key, c.lease_token, c.attempts, c.accepted_at, c.payload, c.trace_parent,
	g.opted_out, g.changed_at, g.message_id
FROM claimed c LEFT JOIN guest_consent g ON g.tenant_id = c.tenant_id AND g.channel = c.channel AND g.guest = c.recipient`
}

func (q *pgQueue[T]) claim(ctx context.Context, into []claimed[T], now time.Time, owner string, n int, leaseUntil time.Time) ([]claimed[T], error) {
	batch := &pgx.Batch{}
	batch.Queue(genericPlansSQL)
	batch.Queue(q.claimSQL, now, n, owner, leaseUntil)
	br := q.pool.SendBatch(ctx, batch)
	out, bad, badErr, err := q.readClaim(br, into)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	q.tidier.changed(len(out) - len(into) + len(bad))
	if err != nil {
		return out, err
	}
	for i, c := range bad {
		if err := q.fail(ctx, c, now, badErr[i]); err != nil {
			return out, fmt.Errorf("giving up undecodable %s row %d: %w", q.table, c.seq, err)
		}
	}
	return out, nil
}

// readClaim reads a claim batch's rows: the items decoded, appended to
// into, and those whose payload would not decode with the reason.
func (q *pgQueue[T]) readClaim(br pgx.BatchResults, into []claimed[T]) (out, bad []claimed[T], badErr []string, err error) {
	out = into
	if _, err := br.Exec(); err != nil {
		return out, nil, nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return out, nil, nil, err
	}
	defer rows.Close()
	var (
		optedOut  *bool
		changedAt *time.Time
		messageID *string
	)
	for rows.Next() {
		var c claimed[T]
		var payload []byte
		dest := []any{&c.seq, &c.key, &c.token, &c.attempts, &c.acceptedAt, &payload, &c.traceParent}
		if q.readsConsent {
			dest = append(dest, &optedOut, &changedAt, &messageID)
		}
		if err := rows.Scan(dest...); err != nil {
			return out, bad, badErr, err
		}
		if err := json.Unmarshal(payload, &c.item); err != nil {
			// A row we wrote ourselves, so only schema drift gets here;
			// no attempt can fix it, so give it up with the reason.
			bad = append(bad, c)
			badErr = append(badErr, fmt.Sprintf("decoding stored payload: %v", err))
			continue
		}
		if r, ok := any(&c.item).(*OutboundReply); ok {
			rc := &RecipientConsent{Found: optedOut != nil}
			if rc.Found {
				rc.OptedOut, rc.ChangedAt, rc.MessageID = *optedOut, *changedAt, *messageID
			}
			r.ClaimedConsent = rc
		}
		out = append(out, c)
	}
	rows.Close()
	return out, bad, badErr, rows.Err()
}

func (q *pgQueue[T]) extend(ctx context.Context, c claimed[T], leaseUntil time.Time) error {
	tag, err := q.pool.Exec(ctx, q.extendSQL, c.key, c.token, leaseUntil)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errLeaseLost
	}
	return nil
}

func (q *pgQueue[T]) fenced(ctx context.Context, sql string, args ...any) error {
	q.tidier.changed(1)
	var n int64
	if err := q.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errLeaseLost
	}
	return nil
}

func (q *pgQueue[T]) retry(ctx context.Context, c claimed[T], now, at time.Time, msg string) error {
	return q.fenced(ctx, q.retrySQL, c.seq, c.token, c.key, at, msg)
}

func (q *pgQueue[T]) fail(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(ctx, q.failSQL, c.seq, c.token, c.key, now, msg)
}

func (q *pgQueue[T]) release(ctx context.Context, c claimed[T]) error {
	return q.fenced(ctx, q.releaseSQL, c.seq, c.token, c.key)
}

func (q *pgQueue[T]) hold(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(ctx, q.holdSQL, c.seq, c.token, c.key, msg)
}

func (q *pgQueue[T]) suppress(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(ctx, q.suppressSQL, c.seq, c.token, c.key, now, msg)
}

func (q *pgQueue[T]) pending(ctx context.Context) (int, error) { return q.count(ctx, q.pendingSQL) }

func (q *pgQueue[T]) held(ctx context.Context) (int, error) { return q.count(ctx, q.heldSQL) }

func (q *pgQueue[T]) count(ctx context.Context, sql string) (int, error) {
	var n int
	err := q.pool.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

// releaseHeldSQL: $1 channel, $2 limit (0: no limit), $3 now. A held row
// has no lease and no claim can take it, so the update races only with
// another release, which makes the same change (a row it released is no
// longer held when this one locks it, and is left out). The rows are
// locked in the order of doc.go's "Lock order", the replies by seq, then
// their guests' rows of outbox_ready by key: released together, several
// guests' rows would otherwise be locked in the plan's order, against a
// completion queuing replies to two of them.
var releaseHeldSQL = `WITH pick AS (
	SELECT seq FROM outbox_replies WHERE state = '` + StateHeld + `' AND channel = $1
	ORDER BY seq LIMIT NULLIF($2::int, 0)
), item AS (
	SELECT t.seq, t.conversation_key FROM outbox_replies t
	WHERE t.seq = ANY (ARRAY(SELECT seq FROM pick)) AND t.state = '` + StateHeld + `'
	ORDER BY t.seq
	FOR UPDATE OF t
), line AS (
	SELECT r.conversation_key FROM outbox_ready r
	WHERE r.conversation_key = ANY (ARRAY(SELECT conversation_key FROM item))
	ORDER BY r.conversation_key
	FOR UPDATE OF r
), rel AS (
	UPDATE outbox_replies SET state = 'pending', next_attempt_at = $3
	WHERE seq IN (SELECT seq FROM item)
	RETURNING conversation_key
), rq AS (
	UPDATE outbox_ready SET held = false, due_at = $3
	WHERE conversation_key IN (SELECT conversation_key FROM line) AND conversation_key IN (SELECT conversation_key FROM rel)
	RETURNING 1
)
SELECT (SELECT count(*) FROM rel), (SELECT count(*) FROM rq)`

func (b *pgBackend) releaseHeld(ctx context.Context, now time.Time, channel chat.Channel, limit int) (int, error) {
	var n, requeued int64
	if err := b.pool.QueryRow(ctx, releaseHeldSQL, string(channel), limit, now).Scan(&n, &requeued); err != nil {
		return 0, fmt.Errorf("releasing held replies: %w", err)
	}
	b.out.tidier.changed(int(requeued))
	if n > 0 {
		b.wakeOut.wake()
	}
	return int(n), nil
}

// listen holds its own connection (outside the pool, so it never starves
// Accept) and LISTENs until ctx ends, reconnecting after failures; polling
// covers the gaps.
// tidy vacuums q's line and leases while the queue is busy (pgTidier),
// until ctx ends.
func (b *pgBackend) tidy(ctx context.Context, q queueKind, log *slog.Logger) {
	if q == queueOutbox {
		b.out.tidier.run(ctx, log)
		return
	}
	b.in.tidier.run(ctx, log)
}

func (b *pgBackend) listen(ctx context.Context, q queueKind, wake wakeup.Signal, log *slog.Logger) {
	channel, local := notifyInbox, b.wakeIn
	if q == queueOutbox {
		channel, local = notifyOutbox, b.wakeOut
	}
	defer local.subscribe(wake)()
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := b.listenOnce(ctx, channel, wake)
		if ctx.Err() != nil {
			return
		}
		log.Warn("LISTEN connection lost; polling until it is back", "channel", channel, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

func (b *pgBackend) listenOnce(ctx context.Context, channel string, wake wakeup.Signal) error {
	conn, err := pgx.ConnectConfig(ctx, b.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	wake.Wake() // anything accepted while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake.Wake()
	}
}

// rankSQL is rankStatus in SQL.
func rankSQL(col string) string {
	return `CASE ` + col + ` WHEN 'failed' THEN 4 WHEN 'read' THEN 3 WHEN 'delivered' THEN 2 WHEN 'sent' THEN 1 ELSE 0 END`
}

func nullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (b *pgBackend) messages(ctx context.Context, q Query) ([]MessageRecord, error) {
	return b.queryMessages(ctx, `SELECT payload, state, attempts, coalesce(last_error, ''), accepted_at, done_at
		FROM inbox_messages WHERE ($1 = '' OR tenant_id = $1) ORDER BY seq LIMIT $2`, q.TenantID, q.limit())
}

// queryMessages runs a query selecting payload, state, attempts, last
// error, accepted_at and done_at of inbox rows, and reads them.
func (b *pgBackend) queryMessages(ctx context.Context, sql string, args ...any) ([]MessageRecord, error) {
	rows, err := b.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MessageRecord
	for rows.Next() {
		var r MessageRecord
		var payload []byte
		var done *time.Time
		if err := rows.Scan(&payload, &r.State, &r.Attempts, &r.LastError, &r.AcceptedAt, &done); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(payload, &r.Message); err != nil {
			return nil, err
		}
		r.DoneAt = nullTime(done)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (b *pgBackend) replies(ctx context.Context, q Query) ([]ReplyRecord, error) {
	rows, err := b.pool.Query(ctx, `SELECT r.payload, r.state, r.attempts, coalesce(r.last_error, ''), coalesce(r.provider_id, ''),
			r.accepted_at, r.next_attempt_at, r.last_attempt_at, r.done_at, coalesce(s.status, ''), s.sent_at, s.errors
		FROM outbox_replies r
		LEFT JOIN LATERAL (
			SELECT status, sent_at, errors FROM inbox_statuses s
			WHERE r.provider_id IS NOT NULL AND s.tenant_id = r.tenant_id AND s.channel = r.channel AND s.message_id = r.provider_id
			ORDER BY `+rankSQL("s.status")+` DESC
			LIMIT 1
		) s ON true
		WHERE ($1 = '' OR r.tenant_id = $1) AND ($2 = '' OR r.in_reply_to = $2) AND ($3 = '' OR r.recipient = $3)
			AND ($4 = '' OR r.provider_id = $4)
		ORDER BY r.seq LIMIT $5`, q.TenantID, q.InReplyTo, q.To, q.ProviderID, q.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReplyRecord
	for rows.Next() {
		var r ReplyRecord
		var payload []byte
		var last, done, delivered *time.Time
		var errs []byte
		if err := rows.Scan(&payload, &r.State, &r.Attempts, &r.LastError, &r.ProviderID,
			&r.QueuedAt, &r.NextAttemptAt, &last, &done, &r.DeliveryStatus, &delivered, &errs); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(payload, &r.Reply); err != nil {
			return nil, err
		}
		if r.DeliveryErrors, err = statusErrors(errs); err != nil {
			return nil, err
		}
		r.LastAttemptAt, r.DoneAt, r.DeliveryAt = nullTime(last), nullTime(done), nullTime(delivered)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (b *pgBackend) statuses(ctx context.Context, tenantID string, channel chat.Channel, messageID string) ([]chat.Status, error) {
	rows, err := b.pool.Query(ctx, `SELECT status, recipient, sent_at, errors FROM inbox_statuses
		WHERE tenant_id = $1 AND channel = $2 AND message_id = $3
		ORDER BY sent_at NULLS LAST, `+rankSQL("status"), tenantID, string(channel), messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chat.Status
	for rows.Next() {
		s := chat.Status{TenantID: tenantID, Channel: channel, MessageID: messageID}
		var sent *time.Time
		var errs []byte
		if err := rows.Scan(&s.Status, &s.Recipient, &sent, &errs); err != nil {
			return nil, err
		}
		s.Timestamp = nullTime(sent)
		if s.Errors, err = statusErrors(errs); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// statusErrors reads inbox_statuses.errors (NULL or JSON null: none).
func statusErrors(column []byte) ([]chat.Error, error) {
	if len(column) == 0 || string(column) == "null" {
		return nil, nil
	}
	var out []chat.Error
	if err := json.Unmarshal(column, &out); err != nil {
		return nil, fmt.Errorf("inbox_statuses.errors: %w", err)
	}
	return out, nil
}

func (b *pgBackend) prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := b.pool.QueryRow(ctx, `WITH
		m AS (DELETE FROM inbox_messages WHERE state <> 'pending' AND done_at < $1 RETURNING 1),
		r AS (DELETE FROM outbox_replies WHERE state NOT IN ('pending', 'held') AND done_at < $1 RETURNING 1),
		s AS (DELETE FROM inbox_statuses WHERE accepted_at < $1 RETURNING 1),
		-- Conversations out of line with nothing open: an accept that
		-- queues one meanwhile either waits for this delete (and inserts
		-- it again) or has already put it back in line (and the lock's
		-- re-check of the row skips it). A row another transaction holds
		-- is skipped, not waited for, and pruned at the next round: the
		-- rows are taken in the table's order, not by key (doc.go, "Lock
		-- order").
		pi AS (SELECT r.conversation_key FROM inbox_ready r WHERE r.due_at = 'infinity' AND NOT r.held
			AND NOT EXISTS (SELECT 1 FROM inbox_messages t WHERE t.conversation_key = r.conversation_key AND t.state = 'pending')
			FOR UPDATE OF r SKIP LOCKED),
		ri AS (DELETE FROM inbox_ready WHERE conversation_key IN (SELECT conversation_key FROM pi)),
		po AS (SELECT r.conversation_key FROM outbox_ready r WHERE r.due_at = 'infinity' AND NOT r.held
			AND NOT EXISTS (SELECT 1 FROM outbox_replies t WHERE t.conversation_key = r.conversation_key AND t.state IN ('pending', 'held'))
			FOR UPDATE OF r SKIP LOCKED),
		ro AS (DELETE FROM outbox_ready WHERE conversation_key IN (SELECT conversation_key FROM po))
		SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM r) + (SELECT count(*) FROM s)`, before).Scan(&n)
	if err != nil {
		return 0, err
	}
	return n, nil
}
