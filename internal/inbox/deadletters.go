package inbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Dead-letter kinds.
const (
	// DeadInbox is a guest message given up (StateDead).
	DeadInbox = "inbox"
	// DeadOutbox is a reply given up (StateFailed).
	DeadOutbox = "outbox"
)

// DeadLetter is a message or reply given up, with why.
type DeadLetter struct {
	Kind     string
	ID       string
	TenantID string
	Guest    string
	Reason   string
	Attempts int
	DiedAt   time.Time
	Text     string
}

// DeadLetterQuery selects dead letters: Kind and TenantID empty for any;
// After is the previous page's next cursor.
type DeadLetterQuery struct {
	Kind     string
	TenantID string
	Limit    int
	After    string
}

// DeadLetterRef names one dead letter to replay.
type DeadLetterRef struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// ErrBadCursor is returned for a cursor DeadLetters did not give.
var ErrBadCursor = errors.New("inbox: bad cursor")

func (q DeadLetterQuery) limit() int {
	if q.Limit <= 0 || q.Limit > 1000 {
		return 50
	}
	return q.Limit
}

// The order of the list: inbox before outbox, each newest first; a cursor
// is "kind:position".
func parseDeadCursor(s string) (kind string, pos int64, err error) {
	if s == "" {
		return "", 0, nil
	}
	k, p, ok := strings.Cut(s, ":")
	n, perr := strconv.ParseInt(p, 10, 64)
	if !ok || perr != nil || (k != DeadInbox && k != DeadOutbox) {
		return "", 0, ErrBadCursor
	}
	return k, n, nil
}

// DeadLetters lists dead inbox messages and failed outbox replies.
func (ib *Inbox) DeadLetters(ctx context.Context, q DeadLetterQuery) ([]DeadLetter, string, error) {
	afterKind, afterPos, err := parseDeadCursor(q.After)
	if err != nil {
		return nil, "", err
	}
	var all []DeadLetter
	var positions []int64
	for _, kind := range []string{DeadInbox, DeadOutbox} {
		if (q.Kind != "" && q.Kind != kind) || (afterKind == DeadOutbox && kind == DeadInbox) {
			continue
		}
		before := int64(-1)
		if afterKind == kind {
			before = afterPos
		}
		items, pos, err := ib.deadOf(ctx, kind, q.TenantID, before, q.limit()+1-len(all))
		if err != nil {
			return nil, "", err
		}
		all, positions = append(all, items...), append(positions, pos...)
		if len(all) > q.limit() {
			break
		}
	}
	if len(all) > q.limit() {
		last := q.limit() - 1
		return all[:q.limit()], all[last].Kind + ":" + strconv.FormatInt(positions[last], 10), nil
	}
	return all, "", nil
}

// deadOf lists one kind newest first, from before (exclusive; -1: the
// newest), with each item's position for the cursor.
func (ib *Inbox) deadOf(ctx context.Context, kind, tenant string, before int64, limit int) ([]DeadLetter, []int64, error) {
	if pg, ok := ib.b.(*pgBackend); ok {
		return pgDeadOf(ctx, pg, kind, tenant, before, limit)
	}
	return ib.memDeadOf(ctx, kind, tenant, before, limit)
}

func pgDeadOf(ctx context.Context, b *pgBackend, kind, tenant string, before int64, limit int) ([]DeadLetter, []int64, error) {
	sql := `SELECT seq, tenant_id, payload->>'from', coalesce(last_error, ''), attempts, coalesce(done_at, accepted_at), coalesce(payload->>'text', '')
		FROM inbox_messages WHERE state = 'dead'`
	if kind == DeadOutbox {
		sql = `SELECT seq, tenant_id, recipient, coalesce(last_error, ''), attempts, coalesce(done_at, accepted_at), coalesce(payload->'reply'->>'text', '')
		FROM outbox_replies WHERE state = 'failed'`
	}
	rows, err := b.pool.Query(ctx, sql+` AND ($1 = '' OR tenant_id = $1) AND ($2 < 0 OR seq < $2) ORDER BY seq DESC LIMIT $3`, tenant, before, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []DeadLetter
	var pos []int64
	for rows.Next() {
		var seq int64
		d := DeadLetter{Kind: kind}
		if err := rows.Scan(&seq, &d.TenantID, &d.Guest, &d.Reason, &d.Attempts, &d.DiedAt, &d.Text); err != nil {
			return nil, nil, err
		}
		d.ID = strconv.FormatInt(seq, 10)
		out, pos = append(out, d), append(pos, seq)
	}
	return out, pos, rows.Err()
}

// Replay makes the named dead letters pending again, due now, and returns
// how many it took: each once — one already replayed (or never dead) is not
// taken again. A replayed item that fails again is dead again and may be
// replayed after the next fix.
func (ib *Inbox) Replay(ctx context.Context, refs []DeadLetterRef) (int, error) {
	var in, out []string
	for _, r := range refs {
		switch r.Kind {
		case DeadInbox:
			in = append(in, r.ID)
		case DeadOutbox:
			out = append(out, r.ID)
		default:
			return 0, fmt.Errorf("%w: dead letter kind %q: want inbox or outbox", ErrInvalid, r.Kind)
		}
	}
	n := 0
	for _, k := range []struct {
		kind string
		ids  []string
	}{{DeadInbox, in}, {DeadOutbox, out}} {
		if len(k.ids) == 0 {
			continue
		}
		m, err := ib.replay(ctx, k.kind, "", k.ids, false)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReplayMatching replays every dead letter of kind (empty: both) and tenant
// (empty: every hotel), each once.
func (ib *Inbox) ReplayMatching(ctx context.Context, kind, tenant string) (int, error) {
	n := 0
	for _, k := range []string{DeadInbox, DeadOutbox} {
		if kind != "" && kind != k {
			continue
		}
		m, err := ib.replay(ctx, k, tenant, nil, true)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (ib *Inbox) replay(ctx context.Context, kind, tenant string, ids []string, all bool) (int, error) {
	if pg, ok := ib.b.(*pgBackend); ok {
		seqs := make([]int64, 0, len(ids))
		for _, id := range ids {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: dead letter id %q", ErrInvalid, id)
			}
			seqs = append(seqs, n)
		}
		table, ready, dead, wake := "inbox_messages", "inbox_ready", StateDead, pg.wakeIn
		if kind == DeadOutbox {
			table, ready, dead, wake = "outbox_replies", "outbox_ready", StateFailed, pg.wakeOut
		}
		// One statement: a row leaves the dead state once, so two
		// concurrent replays take it once between them; its conversation
		// joins the claims' line in the same commit (a data-modifying WITH
		// runs whether or not the final SELECT reads it). The rows are
		// locked by seq, then the line's by key (doc.go, "Lock order").
		var n int
		err := pg.pool.QueryRow(ctx, `WITH dead AS (
				SELECT seq FROM `+table+`
				WHERE state = $2 AND ($3 OR seq = ANY($4)) AND ($5 = '' OR tenant_id = $5)
				ORDER BY seq
				FOR UPDATE
			), upd AS (
				UPDATE `+table+` SET state = 'pending', attempts = 0, next_attempt_at = $1, done_at = NULL,
					last_error = 'replayed; before: ' || coalesce(last_error, '')
				WHERE seq IN (SELECT seq FROM dead)
				RETURNING conversation_key, tenant_id, seq, next_attempt_at
			), rdy AS (`+readyUpsertSQL(ready, "SELECT conversation_key, tenant_id, seq, next_attempt_at FROM upd")+`)
			SELECT count(*) FROM upd`,
			ib.opts.Now(), dead, all, seqs, tenant).Scan(&n)
		if err != nil {
			return 0, err
		}
		if n > 0 {
			wake.wake()
		}
		return n, nil
	}
	return ib.memReplay(ctx, kind, tenant, ids, all)
}

// The memory inbox replays by queueing a copy (a message under a new id,
// so deduplication lets it in) and remembers what it replayed, per inbox.
var memReplayed sync.Map // backend → *memReplays

type memReplays struct {
	mu   sync.Mutex
	done map[string]bool // kind:id
	n    int
}

func (ib *Inbox) memReplays() *memReplays {
	v, _ := memReplayed.LoadOrStore(ib.b, &memReplays{done: map[string]bool{}})
	return v.(*memReplays)
}

// memDeadMessage and memFailedReply select a tenant's (every tenant's: "")
// dead letters among all the memory inbox keeps: the listings stop at 1,000
// among the oldest entries, before a recent dead letter.
func memDeadMessage(tenant string) func(*memEntry[chat.Message]) bool {
	return func(e *memEntry[chat.Message]) bool {
		return e.state == StateDead && (tenant == "" || e.item.TenantID == tenant)
	}
}

func memFailedReply(tenant string) func(*memEntry[OutboundReply]) bool {
	return func(e *memEntry[OutboundReply]) bool {
		return e.state == StateFailed && (tenant == "" || e.item.TenantID == tenant)
	}
}

func memInboxID(m chat.Message) string {
	return m.TenantID + "|" + string(m.Channel) + "|" + m.ID
}

func memOutboxID(r ReplyRecord) string {
	return r.Reply.TenantID + "|" + string(r.Reply.Channel) + "|" + r.Reply.To + "|" + strconv.FormatInt(r.QueuedAt.UnixNano(), 10)
}

func (ib *Inbox) memDeadOf(ctx context.Context, kind, tenant string, before int64, limit int) ([]DeadLetter, []int64, error) {
	rp := ib.memReplays()
	var out []DeadLetter
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	b := ib.b.(*memBackend)
	if kind == DeadInbox {
		for _, m := range b.messagesWhere(math.MaxInt, memDeadMessage(tenant)) {
			out = append(out, DeadLetter{Kind: kind, ID: memInboxID(m.Message), TenantID: m.Message.TenantID, Guest: m.Message.From,
				Reason: m.LastError, Attempts: m.Attempts, DiedAt: m.DoneAt, Text: m.Message.Text})
		}
	} else {
		for _, r := range b.repliesWhere(math.MaxInt, memFailedReply(tenant)) {
			out = append(out, DeadLetter{Kind: kind, ID: memOutboxID(r), TenantID: r.Reply.TenantID, Guest: r.Reply.To,
				Reason: r.LastError, Attempts: r.Attempts, DiedAt: r.DoneAt, Text: r.Reply.Reply.Text})
		}
	}
	rp.mu.Lock()
	out = slices.DeleteFunc(out, func(d DeadLetter) bool { return rp.done[d.Kind+":"+d.ID] })
	rp.mu.Unlock()
	slices.Reverse(out) // newest first; positions count from the newest
	var res []DeadLetter
	var pos []int64
	for i, d := range out {
		p := int64(len(out) - i)
		if before >= 0 && p >= before {
			continue
		}
		if len(res) == limit {
			break
		}
		res, pos = append(res, d), append(pos, p)
	}
	return res, pos, nil
}

func (ib *Inbox) memReplay(ctx context.Context, kind, tenant string, ids []string, all bool) (int, error) {
	rp := ib.memReplays()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b := ib.b.(*memBackend)
	n := 0
	if kind == DeadInbox {
		for _, m := range b.messagesWhere(math.MaxInt, memDeadMessage(tenant)) {
			id := memInboxID(m.Message)
			if rp.done[kind+":"+id] || !(all || want[id]) {
				continue
			}
			rp.n++
			again := m.Message
			again.ID = fmt.Sprintf("%s#replay%d", again.ID, rp.n)
			if _, err := ib.Accept(ctx, []chat.Message{again}, nil); err != nil {
				return n, err
			}
			rp.done[kind+":"+id] = true
			n++
		}
		return n, nil
	}
	for _, r := range b.repliesWhere(math.MaxInt, memFailedReply(tenant)) {
		id := memOutboxID(r)
		if rp.done[kind+":"+id] || !(all || want[id]) {
			continue
		}
		if err := ib.Enqueue(ctx, r.Reply); err != nil {
			return n, err
		}
		rp.done[kind+":"+id] = true
		n++
	}
	return n, nil
}

// IsHold reports whether err is a Sender's Hold: no failure, the reply waits.
func IsHold(err error) bool {
	var h heldError
	return errors.As(err, &h)
}

// IsSuppressed reports whether err is a Sender's Suppress: no failure.
func IsSuppressed(err error) bool {
	var s suppressedError
	return errors.As(err, &s)
}
