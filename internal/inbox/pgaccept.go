package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentehotel/agente-caddy/internal/batching"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// Group commit: concurrent Accepts share one statement, hence one
// transaction, one WAL flush and one NOTIFY. A caller queues its batch on
// the backend's batching.Queue and waits; one flush at a time takes every
// batch queued so far (up to maxGroupMessages), so nothing waits for a
// timer: alone, a caller's batch goes at once; under load the batches that
// arrived during a flush go together in the next. Each caller is answered
// after the statement that holds its rows has committed.
//
// One flush at a time, rather than several: a flush is one statement and
// one commit whatever its size, so the fewer run at once the more each
// carries and the less the server spends per message; while one waits for
// its commit, the next group gathers. Measured on the edge without workers
// (BenchmarkInstanceCPU, CPU_STAGE=postgres-edge), 16 connections, a
// Postgres with fsync and synchronous_commit on: six at once (a quarter of
// the pool, before) acked 3,880-4,140/s at p50 3.7-3.9 ms, with 1.69-1.80 s
// of the instance's CPU per 10,000; two 4,590-5,080/s, 3.1-3.4 ms,
// 1.46-1.66 s; one 5,280-5,440/s, 2.8-2.9 ms, 1.38-1.40 s.

// maxGroupMessages bounds one flush (messages and statuses together).
const maxGroupMessages = 512

// groupFlushTimeout bounds one flush; callers whose context ends sooner
// stop waiting (their rows may still commit: a redelivery is deduplicated).
const groupFlushTimeout = 10 * time.Second

type acceptReq struct {
	now      time.Time
	msgs     []chat.Message
	statuses []chat.Status
	answered bool
	// traceParent is the accepting span's, stored with each message.
	traceParent string
	done        chan acceptResp
}

type acceptResp struct {
	res   AcceptResult
	fresh []chat.Status
	err   error
}

// newAcceptQueue is the backend's group commit.
func (b *pgBackend) newAcceptQueue() *batching.Queue[*acceptReq] {
	return batching.New(takeAccepts, b.flushAccepts)
}

// takeAccepts takes the queued batches that fit maxGroupMessages (the
// first always).
func takeAccepts(queue []*acceptReq) int {
	n, size := 0, 0
	for n < len(queue) && (n == 0 || size+len(queue[n].msgs)+len(queue[n].statuses) <= maxGroupMessages) {
		size += len(queue[n].msgs) + len(queue[n].statuses)
		n++
	}
	return n
}

func (b *pgBackend) accept(ctx context.Context, now time.Time, msgs []chat.Message, statuses []chat.Status, answered bool) (AcceptResult, []chat.Status, error) {
	r := &acceptReq{now: now, msgs: msgs, statuses: statuses, answered: answered, traceParent: tracing.Parent(ctx), done: make(chan acceptResp, 1)}
	b.accepts.Add(r)
	select {
	case resp := <-r.done:
		return resp.res, resp.fresh, resp.err
	case <-ctx.Done():
		return AcceptResult{}, nil, ctx.Err()
	}
}

// flushAccepts records one group and answers each of its callers.
func (b *pgBackend) flushAccepts(group []*acceptReq) {
	ctx, cancel := context.WithTimeout(context.Background(), groupFlushTimeout)
	defer cancel()
	resps, err := b.acceptGroup(ctx, group)
	if err != nil && len(group) > 1 {
		// One batch may be what the statement refused: each alone, so
		// the others still go in.
		for _, r := range group {
			rs, err := b.acceptGroup(ctx, []*acceptReq{r})
			if err != nil {
				r.done <- acceptResp{err: err}
			} else {
				r.done <- rs[0]
			}
		}
		return
	}
	for i, r := range group {
		if err != nil {
			r.done <- acceptResp{err: err}
		} else {
			r.done <- resps[i]
		}
	}
}

// acceptGroupSQL records messages ($1 JSON array of $8 messages; $2
// conversation keys, $3 accepted-at times, $4 answered flags, $7 trace
// contexts (empty: none), one per message) and statuses ($5 JSON array of
// $9 statuses, $6 accepted-at times) in one statement; the conversations
// that got work are queued for claims (inbox_ready, see newPGQueue). The
// workers are woken after the commit (pgNotifier), not by a NOTIFY inside
// it.
//
// The keys of the rows recorded come back only when fewer rows went in
// than were sent (a redelivery, or one message twice in the group): when
// all went in, every message and status of the group is fresh for the
// request that carried it, and nothing need be encoded, sent and decoded
// to say so.
var acceptGroupSQL = `WITH ins AS (
	INSERT INTO inbox_messages (tenant_id, channel, message_id, conversation_key, sent_at, payload, accepted_at, next_attempt_at, state, done_at, trace_parent)
	SELECT e->>'tenant_id', e->>'channel', e->>'id', ($2::text[])[ord],
		NULLIF(e->>'timestamp', '0001-01-01T00:00:00Z')::timestamptz, e, ($3::timestamptz[])[ord], ($3::timestamptz[])[ord],
		CASE WHEN ($4::boolean[])[ord] THEN 'done' ELSE 'pending' END,
		CASE WHEN ($4::boolean[])[ord] THEN ($3::timestamptz[])[ord] END,
		NULLIF(($7::text[])[ord], '')
	FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(e, ord)
	-- Conversation first, so concurrent groups take the same messages'
	-- keys in the same order; arrival order within each conversation.
	ORDER BY ($2::text[])[ord], ord
	ON CONFLICT (tenant_id, channel, message_id) DO NOTHING
	RETURNING seq, tenant_id, channel, message_id, conversation_key, state, accepted_at
), st AS (
	INSERT INTO inbox_statuses (tenant_id, channel, message_id, status, recipient, sent_at, errors, accepted_at)
	SELECT e->>'tenant_id', e->>'channel', e->>'message_id', e->>'status', coalesce(e->>'recipient', ''),
		NULLIF(e->>'timestamp', '0001-01-01T00:00:00Z')::timestamptz, e->'errors', ($6::timestamptz[])[ord]
	FROM jsonb_array_elements($5::jsonb) WITH ORDINALITY AS b(e, ord)
	ON CONFLICT DO NOTHING
	RETURNING tenant_id, channel, message_id, status
), rdy AS (` + readyUpsertSQL("inbox_ready", `SELECT conversation_key, tenant_id, seq, accepted_at FROM ins WHERE state = 'pending'`) + `)
SELECT (SELECT count(*) FROM ins),
	(SELECT count(*) FROM ins WHERE state = 'pending'),
	(SELECT coalesce(jsonb_agg(jsonb_build_array(tenant_id, channel, message_id)), '[]') FROM ins HAVING count(*) < $8::bigint),
	(SELECT count(*) FROM st),
	(SELECT coalesce(jsonb_agg(jsonb_build_array(tenant_id, channel, message_id, status)), '[]') FROM st HAVING count(*) < $9::bigint),
	(SELECT count(*) FROM rdy)`

// acceptGroup runs one statement for the group and splits its outcome: a
// message or status is fresh for the first request (in queue order) that
// carried it.
func (b *pgBackend) acceptGroup(ctx context.Context, group []*acceptReq) ([]acceptResp, error) {
	var (
		msgs     []chat.Message
		keys     []string
		times    []time.Time
		answered []bool
		traces   []string
		statuses []chat.Status
		stTimes  []time.Time
	)
	for _, r := range group {
		for i := range r.msgs {
			msgs = append(msgs, r.msgs[i])
			keys = append(keys, r.msgs[i].ConversationKey())
			times = append(times, r.now)
			answered = append(answered, r.answered)
			traces = append(traces, r.traceParent)
		}
		for range r.statuses {
			stTimes = append(stTimes, r.now)
		}
		statuses = append(statuses, r.statuses...)
	}
	if msgs == nil {
		msgs = []chat.Message{}
	}
	if statuses == nil {
		statuses = []chat.Status{}
	}
	msgJSON, err := json.Marshal(msgs)
	if err != nil {
		return nil, fmt.Errorf("encoding messages: %w", err)
	}
	stJSON, err := json.Marshal(statuses)
	if err != nil {
		return nil, fmt.Errorf("encoding statuses: %w", err)
	}
	var newMsgs, pending, newSts, readied int64
	var msgKeys, stKeys []byte
	for attempt := 1; ; attempt++ {
		err = b.pool.QueryRow(ctx, acceptGroupSQL, msgJSON, keys, times, answered, stJSON, stTimes, traces, len(msgs), len(statuses)).
			Scan(&newMsgs, &pending, &msgKeys, &newSts, &stKeys, &readied)
		// Two groups carrying the same messages (a redelivery racing its
		// original) wait on each other's unique keys; Postgres aborts one
		// of them, which loses nothing: its statement is simply run again.
		var pgErr *pgconn.PgError
		if err != nil && attempt < 3 && errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("accepting into the inbox: %w", err)
	}
	b.in.tidier.changed(int(readied))
	if pending > 0 {
		b.wakeIn.wake()
	}
	// NULL keys: every row sent went in (newMsgs == len(msgs)), so each
	// request's messages are all fresh; likewise for the statuses.
	var recMsgs map[[3]string]bool
	if msgKeys != nil {
		var rows [][3]string
		if err := json.Unmarshal(msgKeys, &rows); err != nil {
			return nil, fmt.Errorf("decoding recorded messages: %w", err)
		}
		recMsgs = make(map[[3]string]bool, len(rows))
		for _, r := range rows {
			recMsgs[r] = true
		}
	}
	var recSts map[[4]string]bool
	if stKeys != nil {
		var rows [][4]string
		if err := json.Unmarshal(stKeys, &rows); err != nil {
			return nil, fmt.Errorf("decoding recorded statuses: %w", err)
		}
		recSts = make(map[[4]string]bool, len(rows))
		for _, r := range rows {
			recSts[r] = true
		}
	}
	out := make([]acceptResp, len(group))
	for i, r := range group {
		var res AcceptResult
		if recMsgs == nil {
			res.Fresh = r.msgs[:len(r.msgs):len(r.msgs)]
		} else {
			for _, m := range r.msgs {
				k := [3]string{m.TenantID, string(m.Channel), m.ID}
				if recMsgs[k] {
					res.Fresh = append(res.Fresh, m)
					delete(recMsgs, k) // a message repeated in the group is new once
				}
			}
		}
		res.New = len(res.Fresh)
		res.Duplicate = len(r.msgs) - res.New
		fresh := r.statuses[:len(r.statuses):len(r.statuses)]
		if recSts != nil {
			fresh = nil
			for _, s := range r.statuses {
				k := [4]string{s.TenantID, string(s.Channel), s.MessageID, s.Status}
				if recSts[k] {
					fresh = append(fresh, s)
					delete(recSts, k)
				}
			}
		}
		res.NewStatuses = len(fresh)
		res.DuplicateStatuses = len(r.statuses) - res.NewStatuses
		out[i] = acceptResp{res: res, fresh: fresh}
	}
	return out, nil
}
