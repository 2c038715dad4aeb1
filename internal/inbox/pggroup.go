package inbox

import (
	"context"

	"github.com/agentehotel/agente-caddy/internal/batching"
)

// A fenced outcome written in a group (a completion, pgcomplete.go; a sent
// record, pgsent.go): its caller waits for its own answer, the group's
// statement reports which fences held, a lost lease is refused alone, and
// a group that fails for any other reason is written again one by one, so
// one bad outcome cannot cost the others theirs.

// groupedOutcome is one caller's request in such a group.
type groupedOutcome interface {
	// fenceSeq is the item's seq, as the group's statement reports it.
	fenceSeq() int64
	// answer receives the caller's outcome, once.
	answer() chan error
}

func (r *completionReq) fenceSeq() int64    { return r.fence.seq }
func (r *completionReq) answer() chan error { return r.done }
func (r *sentReq) fenceSeq() int64          { return r.fence.seq }
func (r *sentReq) answer() chan error       { return r.done }

// awaitGroup queues r in q and waits for its answer. A caller that stops
// waiting may still have its outcome written; if not, its lease expires
// and the item is taken again (a reply is sent at least once).
func awaitGroup[R groupedOutcome](ctx context.Context, q *batching.Queue[R], r R) error {
	q.Add(r)
	select {
	case err := <-r.answer():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// answerGroup writes one group and answers each of its callers: a lone
// request with alone; several with together, which returns the seqs whose
// fence held, the others getting errLeaseLost; every request alone again
// when together fails.
func answerGroup[R groupedOutcome](group []R, alone func(context.Context, R) error, together func(context.Context, []R) (map[int64]bool, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), groupFlushTimeout)
	defer cancel()
	if len(group) == 1 {
		group[0].answer() <- alone(ctx, group[0])
		return
	}
	held, err := together(ctx, group)
	for _, r := range group {
		switch {
		case err != nil:
			r.answer() <- alone(ctx, r)
		case held[r.fenceSeq()]:
			r.answer() <- nil
		default:
			r.answer() <- errLeaseLost
		}
	}
}

// groupLocksCTE is how a group's statement locks its members' fences and
// their conversations' rows of the line, in doc.go's "Lock order": given
// req (one row per member: seq, token, key), msg locks the items that
// still carry their claim's token, by seq; fence the leases that carry it
// too, by key (seq, key, token: the members whose fence holds); line
// those conversations' rows of ready, by key. Each step's array is built
// before the next step's first lock, so the steps do not interleave.
// The items are read by seq (pendingOpaque).
func groupLocksCTE(table, leases, ready string) string {
	return `msg AS (
	SELECT t.seq FROM ` + table + ` t JOIN req q ON q.seq = t.seq
	WHERE t.lease_token = q.token AND t.state = ` + pendingOpaque + `
	ORDER BY t.seq
	FOR UPDATE OF t
), fence AS (
	SELECT q.seq, q.key, q.token FROM ` + leases + ` l JOIN req q ON l.conversation_key = q.key AND l.token = q.token
	WHERE q.seq = ANY (ARRAY(SELECT seq FROM msg))
	ORDER BY l.conversation_key
	FOR UPDATE OF l
), line AS (
	SELECT r.conversation_key FROM ` + ready + ` r
	WHERE r.conversation_key = ANY (ARRAY(SELECT key FROM fence))
	ORDER BY r.conversation_key
	FOR UPDATE OF r
)`
}
