package inbox

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// backend is the storage behind an Inbox: Postgres or memory.
type backend interface {
	// accept records msgs (already in queue order) and statuses; it
	// returns the statuses newly recorded.
	// answered records the messages done: the caller answered them itself.
	accept(ctx context.Context, now time.Time, msgs []chat.Message, statuses []chat.Status, answered bool) (AcceptResult, []chat.Status, error)
	enqueue(ctx context.Context, now time.Time, replies []OutboundReply) error
	inbox() queue[chat.Message]
	outbox() queue[OutboundReply]
	// completeMessage marks c done and queues replies atomically, only if
	// c's lease is still current (else errLeaseLost, nothing written).
	completeMessage(ctx context.Context, now time.Time, c claimed[chat.Message], replies []OutboundReply) error
	// completeReply records a sent reply, fenced like completeMessage.
	completeReply(ctx context.Context, now time.Time, c claimed[OutboundReply], providerID string) error
	// releaseHeld makes up to limit (0: all) held replies of channel
	// pending and due at now, oldest first.
	releaseHeld(ctx context.Context, now time.Time, channel chat.Channel, limit int) (int, error)
	// listen signals wake (non-blocking) whenever work may be due, until ctx ends.
	listen(ctx context.Context, q queueKind, wake chan<- struct{}, log *slog.Logger)
	messages(ctx context.Context, q Query) ([]MessageRecord, error)
	replies(ctx context.Context, q Query) ([]ReplyRecord, error)
	statuses(ctx context.Context, tenantID string, channel chat.Channel, messageID string) ([]chat.Status, error)
	prune(ctx context.Context, before time.Time) (int64, error)
}

func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// memBackend keeps everything under one mutex, which is what makes
// "message done + replies queued" atomic in memory.
type memBackend struct {
	mu        sync.Mutex
	tokens    int64
	in        *memQueue[chat.Message]
	out       *memQueue[OutboundReply]
	dedup     map[memMsgKey]struct{}
	statusIx  map[memStatusKey]struct{}
	statusLog []memStatus
	subs      map[queueKind]map[chan<- struct{}]struct{}
}

type memMsgKey struct {
	tenant  string
	channel chat.Channel
	id      string
}

type memStatusKey struct {
	tenant  string
	channel chat.Channel
	id      string
	status  string
}

type memStatus struct {
	s          chat.Status
	acceptedAt time.Time
}

type memEntry[T any] struct {
	seq           int64
	key           string
	item          T
	state         string
	attempts      int
	acceptedAt    time.Time
	nextAt        time.Time
	lastAttemptAt time.Time
	doneAt        time.Time
	owner         string
	token         int64
	lastErr       string
	providerID    string
}

type memLease struct {
	token int64
	until time.Time
}

type memQueue[T any] struct {
	b         *memBackend
	failState string
	seq       int64
	bySeq     map[int64]*memEntry[T]
	all       []*memEntry[T]            // seq order
	open      map[string][]*memEntry[T] // pending and held entries per conversation, seq order
	leases    map[string]memLease
}

func newMemQueue[T any](b *memBackend, failState string) *memQueue[T] {
	return &memQueue[T]{
		b:         b,
		failState: failState,
		bySeq:     make(map[int64]*memEntry[T]),
		open:      make(map[string][]*memEntry[T]),
		leases:    make(map[string]memLease),
	}
}

func newMemBackend() *memBackend {
	b := &memBackend{
		dedup:    make(map[memMsgKey]struct{}),
		statusIx: make(map[memStatusKey]struct{}),
		subs:     map[queueKind]map[chan<- struct{}]struct{}{queueInbox: {}, queueOutbox: {}},
	}
	b.in = newMemQueue[chat.Message](b, StateDead)
	b.out = newMemQueue[OutboundReply](b, StateFailed)
	return b
}

func (b *memBackend) inbox() queue[chat.Message]   { return b.in }
func (b *memBackend) outbox() queue[OutboundReply] { return b.out }

// notify wakes the listeners of q; the caller holds b.mu.
func (b *memBackend) notify(q queueKind) {
	for w := range b.subs[q] {
		signal(w)
	}
}

func (b *memBackend) listen(ctx context.Context, q queueKind, wake chan<- struct{}, _ *slog.Logger) {
	b.mu.Lock()
	b.subs[q][wake] = struct{}{}
	b.mu.Unlock()
	<-ctx.Done()
	b.mu.Lock()
	delete(b.subs[q], wake)
	b.mu.Unlock()
}

func (q *memQueue[T]) push(now time.Time, key string, item T) *memEntry[T] {
	q.seq++
	e := &memEntry[T]{seq: q.seq, key: key, item: item, state: StatePending, acceptedAt: now, nextAt: now}
	q.bySeq[e.seq] = e
	q.all = append(q.all, e)
	q.open[key] = append(q.open[key], e)
	return e
}

func (b *memBackend) accept(ctx context.Context, now time.Time, msgs []chat.Message, statuses []chat.Status, answered bool) (AcceptResult, []chat.Status, error) {
	if err := ctx.Err(); err != nil {
		return AcceptResult{}, nil, err
	}
	var res AcceptResult
	var fresh []chat.Status
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		k := memMsgKey{m.TenantID, m.Channel, m.ID}
		if _, dup := b.dedup[k]; dup {
			res.Duplicate++
			continue
		}
		b.dedup[k] = struct{}{}
		e := b.in.push(now, m.ConversationKey(), m)
		if answered {
			b.in.finish(e, StateDone, now)
		}
		res.New++
		res.Fresh = append(res.Fresh, m)
	}
	for _, s := range statuses {
		k := memStatusKey{s.TenantID, s.Channel, s.MessageID, s.Status}
		if _, dup := b.statusIx[k]; dup {
			res.DuplicateStatuses++
			continue
		}
		b.statusIx[k] = struct{}{}
		b.statusLog = append(b.statusLog, memStatus{s: s, acceptedAt: now})
		fresh = append(fresh, s)
		res.NewStatuses++
	}
	if res.New > 0 && !answered {
		b.notify(queueInbox)
	}
	return res, fresh, nil
}

func (b *memBackend) enqueue(ctx context.Context, now time.Time, replies []OutboundReply) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range replies {
		b.out.push(now, r.ConversationKey(), r)
	}
	b.notify(queueOutbox)
	return nil
}

func (q *memQueue[T]) claim(ctx context.Context, now time.Time, owner string, n int, leaseUntil time.Time) ([]claimed[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	var heads []*memEntry[T]
	for key, list := range q.open {
		h := list[0]
		if h.state != StatePending || h.nextAt.After(now) {
			continue
		}
		if l, ok := q.leases[key]; ok && l.until.After(now) {
			continue
		}
		heads = append(heads, h)
	}
	slices.SortFunc(heads, func(a, b *memEntry[T]) int { return cmp.Compare(a.seq, b.seq) })
	if len(heads) > n {
		heads = heads[:n]
	}
	out := make([]claimed[T], 0, len(heads))
	for _, h := range heads {
		q.b.tokens++
		q.leases[h.key] = memLease{token: q.b.tokens, until: leaseUntil}
		h.token = q.b.tokens
		h.owner = owner
		h.attempts++
		h.lastAttemptAt = now
		out = append(out, claimed[T]{seq: h.seq, key: h.key, token: h.token, attempts: h.attempts, acceptedAt: h.acceptedAt, item: h.item})
	}
	return out, nil
}

// holds reports whether c's claim is still current; the caller holds b.mu.
func (q *memQueue[T]) holds(c claimed[T]) (*memEntry[T], bool) {
	e := q.bySeq[c.seq]
	if e == nil || e.state != StatePending || e.token != c.token {
		return nil, false
	}
	if l, ok := q.leases[c.key]; !ok || l.token != c.token {
		return nil, false
	}
	return e, true
}

// finish closes e (done or given up) and frees its conversation; the caller
// holds b.mu.
func (q *memQueue[T]) finish(e *memEntry[T], state string, now time.Time) {
	e.state = state
	e.doneAt = now
	delete(q.leases, e.key)
	list := q.open[e.key]
	if i := slices.Index(list, e); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(q.open, e.key)
	} else {
		q.open[e.key] = list
	}
}

// fenced runs f on c's entry under b.mu if c's claim is still current, else
// reports errLeaseLost; the memory twin of pgQueue.fenced.
func (q *memQueue[T]) fenced(c claimed[T], f func(e *memEntry[T])) error {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	e, ok := q.holds(c)
	if !ok {
		return errLeaseLost
	}
	f(e)
	return nil
}

func (q *memQueue[T]) extend(ctx context.Context, c claimed[T], leaseUntil time.Time) error {
	return q.fenced(c, func(*memEntry[T]) { q.leases[c.key] = memLease{token: c.token, until: leaseUntil} })
}

func (q *memQueue[T]) retry(ctx context.Context, c claimed[T], now, at time.Time, msg string) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.nextAt = at
		e.lastErr = msg
		delete(q.leases, c.key)
	})
}

func (q *memQueue[T]) fail(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.lastErr = msg
		q.finish(e, q.failState, now)
	})
}

func (q *memQueue[T]) release(ctx context.Context, c claimed[T]) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.attempts--
		delete(q.leases, c.key)
	})
}

// hold keeps e in its conversation's open list, so what follows it waits.
func (q *memQueue[T]) hold(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.attempts--
		e.lastErr = msg
		e.state = StateHeld
		delete(q.leases, c.key)
	})
}

func (q *memQueue[T]) suppress(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.attempts--
		e.lastErr = msg
		q.finish(e, StateSuppressed, now)
	})
}

func (b *memBackend) releaseHeld(ctx context.Context, now time.Time, channel chat.Channel, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.out.all {
		if limit > 0 && n >= limit {
			break
		}
		if e.state == StateHeld && e.item.Channel == channel {
			e.state = StatePending
			e.nextAt = now
			n++
		}
	}
	if n > 0 {
		b.notify(queueOutbox)
	}
	return n, nil
}

func (b *memBackend) completeMessage(ctx context.Context, now time.Time, c claimed[chat.Message], replies []OutboundReply) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.in.holds(c)
	if !ok {
		return errLeaseLost
	}
	e.lastErr = ""
	b.in.finish(e, StateDone, now)
	for _, r := range replies {
		b.out.push(now, r.ConversationKey(), r)
	}
	if len(replies) > 0 {
		b.notify(queueOutbox)
	}
	// The conversation's next message is claimable now.
	if len(b.in.open[c.key]) > 0 {
		b.notify(queueInbox)
	}
	return nil
}

func (b *memBackend) completeReply(ctx context.Context, now time.Time, c claimed[OutboundReply], providerID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.out.holds(c)
	if !ok {
		return errLeaseLost
	}
	e.lastErr = ""
	e.providerID = providerID
	b.out.finish(e, StateSent, now)
	return nil
}

func (b *memBackend) messages(ctx context.Context, q Query) ([]MessageRecord, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []MessageRecord
	for _, e := range b.in.all {
		if len(out) >= q.limit() {
			break
		}
		if q.TenantID != "" && e.item.TenantID != q.TenantID {
			continue
		}
		out = append(out, MessageRecord{Message: e.item, State: e.state, Attempts: e.attempts, LastError: e.lastErr, AcceptedAt: e.acceptedAt, DoneAt: e.doneAt})
	}
	return out, nil
}

func (b *memBackend) replies(ctx context.Context, q Query) ([]ReplyRecord, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []ReplyRecord
	for _, e := range b.out.all {
		if len(out) >= q.limit() {
			break
		}
		if q.TenantID != "" && e.item.TenantID != q.TenantID || q.InReplyTo != "" && e.item.InReplyTo != q.InReplyTo ||
			q.To != "" && e.item.To != q.To || q.ProviderID != "" && e.providerID != q.ProviderID {
			continue
		}
		rec := ReplyRecord{Reply: e.item, State: e.state, Attempts: e.attempts, LastError: e.lastErr, ProviderID: e.providerID,
			QueuedAt: e.acceptedAt, NextAttemptAt: e.nextAt, LastAttemptAt: e.lastAttemptAt, DoneAt: e.doneAt}
		if e.providerID != "" {
			for _, s := range b.statusLog {
				if s.s.TenantID == e.item.TenantID && s.s.Channel == e.item.Channel && s.s.MessageID == e.providerID &&
					rankStatus(s.s.Status) > rankStatus(rec.DeliveryStatus) {
					rec.DeliveryStatus, rec.DeliveryAt, rec.DeliveryErrors = s.s.Status, s.s.Timestamp, slices.Clone(s.s.Errors)
				}
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

func (b *memBackend) statuses(ctx context.Context, tenantID string, channel chat.Channel, messageID string) ([]chat.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []chat.Status
	for _, s := range b.statusLog {
		if s.s.TenantID == tenantID && s.s.Channel == channel && s.s.MessageID == messageID {
			out = append(out, s.s)
		}
	}
	slices.SortStableFunc(out, func(a, b chat.Status) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(rankStatus(a.Status), rankStatus(b.Status))
	})
	return out, nil
}

func (q *memQueue[T]) pending(ctx context.Context) (int, error) { return q.count(StatePending), nil }

func (q *memQueue[T]) held(ctx context.Context) (int, error) { return q.count(StateHeld), nil }

// count counts the open entries in state.
func (q *memQueue[T]) count(state string) int {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	n := 0
	for _, l := range q.open {
		for _, e := range l {
			if e.state == state {
				n++
			}
		}
	}
	return n
}

func (b *memBackend) prune(ctx context.Context, before time.Time) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	b.in.all = slices.DeleteFunc(b.in.all, func(e *memEntry[chat.Message]) bool {
		if e.state == StatePending || !e.doneAt.Before(before) {
			return false
		}
		delete(b.in.bySeq, e.seq)
		delete(b.dedup, memMsgKey{e.item.TenantID, e.item.Channel, e.item.ID})
		n++
		return true
	})
	b.out.all = slices.DeleteFunc(b.out.all, func(e *memEntry[OutboundReply]) bool {
		if e.state == StatePending || e.state == StateHeld || !e.doneAt.Before(before) {
			return false
		}
		delete(b.out.bySeq, e.seq)
		n++
		return true
	})
	b.statusLog = slices.DeleteFunc(b.statusLog, func(s memStatus) bool {
		if !s.acceptedAt.Before(before) {
			return false
		}
		delete(b.statusIx, memStatusKey{s.s.TenantID, s.s.Channel, s.s.MessageID, s.s.Status})
		n++
		return true
	})
	return n, nil
}
