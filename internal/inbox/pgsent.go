package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentehotel/agente-caddy/internal/batching"
)

// Sent replies recorded together: the senders' "sent" records that arrive
// while one is being written share the next statement (one transaction,
// one commit, one round trip), the inbox's group commit applied to the
// outbox's outcomes. Each reply keeps its own fence: the statement checks
// every reply's token, records those whose lease still holds and reports
// which; a reply whose lease was lost gets errLeaseLost alone and takes
// nothing of the others with it. Should the statement fail as a whole,
// each reply is recorded again on its own (completeReplySQL), so one bad
// reply cannot cost the others their record.

// maxSentGroup bounds one group of sent records.
const maxSentGroup = 64

type sentReq struct {
	now        time.Time
	fence      leaseFence
	providerID string
	done       chan error
}

func (b *pgBackend) newSentQueue() *batching.Queue[*sentReq] {
	return batching.New(batching.UpTo[*sentReq](maxSentGroup), b.flushSent)
}

// completeReply records a sent reply, fenced by its claim's token, in the
// next group.
func (b *pgBackend) completeReply(ctx context.Context, now time.Time, c claimed[OutboundReply], providerID string) error {
	r := &sentReq{now: now, fence: c.fence(), providerID: providerID, done: make(chan error, 1)}
	return awaitGroup(ctx, b.sent, r)
}

// flushSent records one group and answers each of its callers.
func (b *pgBackend) flushSent(group []*sentReq) {
	b.out.tidier.changed(len(group))
	answerGroup(group, b.completeReplyAlone, b.completeReplies)
}

var completeReplySQL = `WITH ` + fenceCTE("outbox_replies", "outbox_leases") + `, upd AS (
	UPDATE outbox_replies SET state = 'sent', done_at = $4, provider_id = $5, last_error = NULL
	WHERE seq = $1 AND EXISTS (SELECT 1 FROM lease) RETURNING 1
), rq AS (` + requeueSQL("outbox_ready", "$4") + `)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM rq WHERE stays)`

// completeReplyAlone records one sent reply in a statement of its own.
func (b *pgBackend) completeReplyAlone(ctx context.Context, r *sentReq) error {
	var done, more int64
	batch := &pgx.Batch{}
	batch.Queue(genericPlansSQL)
	batch.Queue(completeReplySQL, r.fence.seq, r.fence.token, r.fence.key, r.now, r.providerID).QueryRow(func(row pgx.Row) error { return row.Scan(&done, &more) })
	if err := b.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("recording sent reply: %w", err)
	}
	if more > 0 {
		b.wakeOut.wakeLocal() // the guest's next reply
	}
	if done == 0 {
		return errLeaseLost
	}
	return nil
}

// completeRepliesSQL is completeReplySQL for a group: $1 seqs, $2 tokens,
// $3 conversation keys, $4 times, $5 provider ids, one per reply. It
// returns the seqs it recorded, each with the number of the group's
// guests who have another reply to send.
//
// The fence is each reply's, as in fenceCTE: the reply's row locked while
// it carries the claim's token, then the lease locked and deleted only if
// it carries it too, then the row updated only if that lease held. The
// locks are taken in the order of doc.go's "Lock order" (groupLocksCTE):
// the replies' rows by seq, then their leases by key, then their guests'
// rows of the line by key. The writes that follow touch only rows those
// steps locked. Left to the plan, UPDATE ... FROM and DELETE ... USING lock
// rows in whatever order the join produces them (the replies' seq order,
// or the table's): a completion queuing replies to two of the group's
// guests, which takes their rows of the line in key order, then waited
// for the group while the group waited for it, until Postgres's
// deadlock_timeout failed one of them.
var completeRepliesSQL = `WITH req AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[]) AS q(seq, token, key, at, provider_id)
), ` + groupLocksCTE("outbox_replies", "outbox_leases", "outbox_ready") + `, lease AS (
	DELETE FROM outbox_leases l USING fence f
	WHERE l.conversation_key = f.key AND l.token = f.token
	RETURNING f.seq
), upd AS (
	UPDATE outbox_replies t SET state = 'sent', done_at = q.at, provider_id = q.provider_id, last_error = NULL
	FROM req q WHERE t.seq = q.seq AND q.seq IN (SELECT seq FROM lease)
	RETURNING t.seq
), rq AS (` + requeueGroupSQL("outbox_ready", `SELECT q.key, q.seq, q.at FROM req q
	WHERE q.seq IN (SELECT seq FROM upd) AND q.key IN (SELECT conversation_key FROM line)`) + `
)
SELECT u.seq, (SELECT count(*) FROM rq WHERE stays) FROM upd u`

// completeReplies runs completeRepliesSQL for group and returns the seqs
// it recorded.
func (b *pgBackend) completeReplies(ctx context.Context, group []*sentReq) (map[int64]bool, error) {
	seqs := make([]int64, len(group))
	tokens := make([]int64, len(group))
	keys := make([]string, len(group))
	times := make([]time.Time, len(group))
	ids := make([]string, len(group))
	for i, r := range group {
		seqs[i], tokens[i], keys[i], times[i], ids[i] = r.fence.seq, r.fence.token, r.fence.key, r.now, r.providerID
	}
	recorded := make(map[int64]bool, len(group))
	var more int64
	batch := &pgx.Batch{}
	batch.Queue(genericPlansSQL)
	batch.Queue(completeRepliesSQL, seqs, tokens, keys, times, ids)
	br := b.pool.SendBatch(ctx, batch)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq, &more); err != nil {
				return err
			}
			recorded[seq] = true
		}
		return rows.Err()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("recording sent replies: %w", err)
	}
	if more > 0 {
		b.wakeOut.wakeLocal() // those guests' next replies
	}
	return recorded, nil
}
