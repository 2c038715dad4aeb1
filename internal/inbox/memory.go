package inbox

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tracing"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// backend is the storage behind an Inbox: Postgres or memory. accept,
// enqueue and completeMessage store the trace context of ctx's span
// (tracing.Parent) with the rows they write, and claims hand it back.
type backend interface {
	// accept records msgs (already in queue order) and statuses; it
	// returns the statuses newly recorded.
	// answered records the messages done: the caller answered them itself.
	accept(ctx context.Context, now time.Time, msgs []chat.Message, statuses []chat.Status, answered bool) (AcceptResult, []chat.Status, error)
	enqueue(ctx context.Context, now time.Time, replies []OutboundReply) error
	inbox() queue[chat.Message]
	outbox() queue[OutboundReply]
	// completeMessage marks c done, queues replies and runs the handler's
	// deferred writes atomically, only if c's lease is still current (else
	// errLeaseLost, nothing written).
	completeMessage(ctx context.Context, now time.Time, c claimed[chat.Message], replies []OutboundReply, writes []store.Statement) error
	// defersWrites says whether handlers get a store.Deferred for the
	// writes completeMessage is to run (Postgres); without one their
	// stores write at once.
	defersWrites() bool
	// completeReply records a sent reply, fenced like completeMessage.
	completeReply(ctx context.Context, now time.Time, c claimed[OutboundReply], providerID string) error
	// releaseHeld makes up to limit (0: all) held replies of channel
	// pending and due at now, oldest first.
	releaseHeld(ctx context.Context, now time.Time, channel chat.Channel, limit int) (int, error)
	// listen signals wake (non-blocking) whenever work may be due, until ctx ends.
	listen(ctx context.Context, q queueKind, wake wakeup.Signal, log *slog.Logger)
	// tidy does the upkeep q's storage needs while the queue is busy, until
	// ctx ends (memory: none).
	tidy(ctx context.Context, q queueKind, log *slog.Logger)
	messages(ctx context.Context, q Query) ([]MessageRecord, error)
	replies(ctx context.Context, q Query) ([]ReplyRecord, error)
	statuses(ctx context.Context, tenantID string, channel chat.Channel, messageID string) ([]chat.Status, error)
	prune(ctx context.Context, before time.Time) (int64, error)
	// eraseConversation deletes a guest's finished messages, replies and
	// their statuses, or nothing and ErrGuestBusy while any is open.
	eraseConversation(ctx context.Context, g guestRef) (GuestErasure, error)
}

// memBackend keeps everything under one mutex, which is what makes
// "message done + replies queued" atomic in memory.
type memBackend struct {
	mu       sync.Mutex
	tokens   int64
	in       *memQueue[chat.Message]
	out      *memQueue[OutboundReply]
	dedup    memDedup
	statusIx map[memStatusKey]struct{}
	statusBy map[memMsgKey][]memStatus // by the business message they are about
	subs     map[queueKind]map[wakeup.Signal]struct{}
	// acceptedByMinute counts the messages accepted in each minute (Unix
	// minutes) for AcceptedSince: the entries themselves are dropped past
	// MemoryKeepFinished, and the dashboard's messages of the day counts
	// every one, as Postgres's rows do for the whole retention. Pruned with
	// the retention, lowered by an erasure.
	acceptedByMinute map[int64]int
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
	conv          *memConv[T] // nil once finished
	item          T
	state         string
	attempts      int
	acceptedAt    time.Time
	nextAt        time.Time
	lastAttemptAt time.Time
	doneAt        time.Time
	token         int64
	lastErr       string
	providerID    string
	// traceParent is handed to each claim; a finished entry is never
	// claimed again, so finish drops it (entries stay listable long after,
	// and nothing lists it).
	traceParent string
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
	all       []*memEntry[T] // seq order
	convs     map[string]*memConv[T]
	tenants   map[string]*memTenant[T]
	rr        ring[*memTenant[T]] // tenants with a ready conversation
	retries   timerHeap[T]
	leases    leaseHeap[T]
	counts    map[string]int // entries in `all` by state
	finished  int            // entries in `all` that are finished
	lastNow   time.Time      // the latest claim's clock
	retention memRetention
}

func newMemQueue[T any](b *memBackend, failState string, r memRetention) *memQueue[T] {
	return &memQueue[T]{
		b:         b,
		failState: failState,
		bySeq:     make(map[int64]*memEntry[T]),
		convs:     make(map[string]*memConv[T]),
		tenants:   make(map[string]*memTenant[T]),
		counts:    make(map[string]int),
		retention: r,
	}
}

func newMemBackend(o Options) *memBackend {
	b := &memBackend{
		dedup:    newMemDedup(o.MemoryKeepDedup),
		statusIx: make(map[memStatusKey]struct{}),
		statusBy: make(map[memMsgKey][]memStatus),
		subs:     map[queueKind]map[wakeup.Signal]struct{}{queueInbox: {}, queueOutbox: {}},

		acceptedByMinute: make(map[int64]int),
	}
	r := memRetention{keepFinished: o.MemoryKeepFinished}
	b.in = newMemQueue[chat.Message](b, StateDead, r)
	b.out = newMemQueue[OutboundReply](b, StateFailed, r)
	return b
}

func (b *memBackend) inbox() queue[chat.Message]   { return b.in }
func (b *memBackend) outbox() queue[OutboundReply] { return b.out }

// notify wakes the listeners of q; the caller holds b.mu.
func (b *memBackend) notify(q queueKind) {
	for w := range b.subs[q] {
		w.Wake()
	}
}

func (b *memBackend) tidy(context.Context, queueKind, *slog.Logger) {}

func (b *memBackend) listen(ctx context.Context, q queueKind, wake wakeup.Signal, _ *slog.Logger) {
	b.mu.Lock()
	b.subs[q][wake] = struct{}{}
	b.mu.Unlock()
	<-ctx.Done()
	b.mu.Lock()
	delete(b.subs[q], wake)
	b.mu.Unlock()
}

// push appends an entry: pending at the tail of its conversation, or (done)
// already answered. The caller holds b.mu.
func (q *memQueue[T]) push(now time.Time, key, tenant string, item T, done bool, traceParent string) *memEntry[T] {
	q.seq++
	e := &memEntry[T]{seq: q.seq, key: key, item: item, state: StatePending, acceptedAt: now, nextAt: now}
	q.bySeq[e.seq] = e
	q.all = append(q.all, e)
	if done {
		e.state, e.doneAt = StateDone, now
		q.counts[StateDone]++
		q.finished++
		q.retain()
		return e
	}
	q.counts[StatePending]++
	e.traceParent = traceParent
	c := q.conv(key, tenant)
	e.conv = c
	c.fifo = append(c.fifo, e)
	if len(c.fifo) == 1 {
		q.schedule(c, now)
	}
	return e
}

func (b *memBackend) accept(ctx context.Context, now time.Time, msgs []chat.Message, statuses []chat.Status, answered bool) (AcceptResult, []chat.Status, error) {
	if err := ctx.Err(); err != nil {
		return AcceptResult{}, nil, err
	}
	var res AcceptResult
	var fresh []chat.Status
	tp := tracing.Parent(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range msgs {
		if !b.dedup.add(m) {
			if res.Duplicate == 0 {
				// The first duplicate: the fresh ones so far are all before it.
				res.Fresh = append([]chat.Message(nil), msgs[:i]...)
			}
			res.Duplicate++
			continue
		}
		b.in.push(now, m.ConversationKey(), m.TenantID, m, answered, tp)
		b.acceptedByMinute[unixMinute(now)]++
		res.New++
		if res.Duplicate > 0 {
			res.Fresh = append(res.Fresh, m)
		}
	}
	if res.Duplicate == 0 && len(msgs) > 0 {
		// Every message is fresh (nearly every webhook): the list is the
		// caller's, not a copy of it.
		res.Fresh = msgs[:len(msgs):len(msgs)]
	}
	for _, s := range statuses {
		k := memStatusKey{s.TenantID, s.Channel, s.MessageID, s.Status}
		if _, dup := b.statusIx[k]; dup {
			res.DuplicateStatuses++
			continue
		}
		b.statusIx[k] = struct{}{}
		mk := memMsgKey{s.TenantID, s.Channel, s.MessageID}
		b.statusBy[mk] = append(b.statusBy[mk], memStatus{s: s, acceptedAt: now})
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
	tp := tracing.Parent(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range replies {
		b.out.push(now, r.ConversationKey(), r.TenantID, r, false, tp)
	}
	b.notify(queueOutbox)
	return nil
}

// claim takes up to n heads from the ready lists (see memqueue.go): its
// cost is the number taken, not the number waiting.
func (q *memQueue[T]) claim(ctx context.Context, into []claimed[T], now time.Time, owner string, n int, leaseUntil time.Time) ([]claimed[T], error) {
	if err := ctx.Err(); err != nil {
		return into, err
	}
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	q.lastNow = now
	q.promote(now)
	out := into
	for len(out)-len(into) < n {
		c := q.next(now)
		if c == nil {
			break
		}
		h := c.fifo[0]
		q.b.tokens++
		q.take(c, q.b.tokens, leaseUntil)
		h.token = q.b.tokens
		h.attempts++
		h.lastAttemptAt = now
		out = append(out, claimed[T]{seq: h.seq, key: h.key, token: h.token, attempts: h.attempts, acceptedAt: h.acceptedAt, item: h.item,
			traceParent: h.traceParent})
	}
	return out, nil
}

// holds reports whether c's claim is still current; the caller holds b.mu.
func (q *memQueue[T]) holds(c claimed[T]) (*memEntry[T], bool) {
	e := q.bySeq[c.seq]
	if e == nil || e.state != StatePending || e.token != c.token || e.conv == nil {
		return nil, false
	}
	if e.conv.lease.token != c.token {
		return nil, false
	}
	return e, true
}

// finish closes e (done or given up) and frees its conversation for its
// next entry; the caller holds b.mu.
func (q *memQueue[T]) finish(e *memEntry[T], state string, now time.Time) {
	q.setState(e, state)
	e.doneAt = now
	e.traceParent = ""
	q.finished++
	c := e.conv
	e.conv = nil
	q.free(c)
	if len(c.fifo) > 0 && c.fifo[0] == e {
		c.fifo[0] = nil
		c.fifo = c.fifo[1:]
	} else if i := slices.Index(c.fifo, e); i >= 0 {
		c.fifo = slices.Delete(c.fifo, i, i+1)
	}
	if len(c.fifo) == 0 {
		c.fifo = nil
	}
	q.schedule(c, now)
	q.retain()
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
	return q.fenced(c, func(e *memEntry[T]) { q.take(e.conv, c.token, leaseUntil) })
}

// reopen frees e's conversation after an outcome that leaves e open; the
// caller holds b.mu.
func (q *memQueue[T]) reopen(e *memEntry[T], now time.Time) {
	q.free(e.conv)
	q.schedule(e.conv, now)
}

func (q *memQueue[T]) retry(ctx context.Context, c claimed[T], now, at time.Time, msg string) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.nextAt = at
		e.lastErr = msg
		q.reopen(e, now)
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
		q.reopen(e, q.lastNow)
	})
}

// hold keeps e in its conversation's FIFO, so what follows it waits.
func (q *memQueue[T]) hold(ctx context.Context, c claimed[T], now time.Time, msg string) error {
	return q.fenced(c, func(e *memEntry[T]) {
		e.attempts--
		e.lastErr = msg
		q.setState(e, StateHeld)
		q.reopen(e, now)
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
		if limit > 0 && n >= limit || b.out.counts[StateHeld] == 0 {
			break
		}
		if e.state == StateHeld && e.item.Channel == channel {
			b.out.setState(e, StatePending)
			e.nextAt = now
			b.out.schedule(e.conv, now)
			n++
		}
	}
	if n > 0 {
		b.notify(queueOutbox)
	}
	return n, nil
}

func (b *memBackend) defersWrites() bool { return false }

// completeMessage is never given writes: handlers on the memory backend
// get no store.Deferred.
func (b *memBackend) completeMessage(ctx context.Context, now time.Time, c claimed[chat.Message], replies []OutboundReply, _ []store.Statement) error {
	tp := tracing.Parent(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.in.holds(c)
	if !ok {
		return errLeaseLost
	}
	conv := e.conv
	e.lastErr = ""
	b.in.finish(e, StateDone, now)
	for _, r := range replies {
		b.out.push(now, r.ConversationKey(), r.TenantID, r, false, tp)
	}
	if len(replies) > 0 {
		b.notify(queueOutbox)
	}
	// The conversation's next message is claimable now.
	if conv.ready {
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
	return b.messagesWhere(q.limit(), func(e *memEntry[chat.Message]) bool {
		return q.TenantID == "" || e.item.TenantID == q.TenantID
	}), nil
}

// messageRecord is what the listings show of a message entry.
func messageRecord(e *memEntry[chat.Message]) MessageRecord {
	return MessageRecord{Message: e.item, State: e.state, Attempts: e.attempts, LastError: e.lastErr, AcceptedAt: e.acceptedAt, DoneAt: e.doneAt}
}

// guestMessages is every retained message of one guest, oldest first. The
// history walks for them all rather than through messages, whose listing
// stops at its limit (1,000) among the tenant's oldest entries, before a
// recent guest's.
func (b *memBackend) guestMessages(tenantID string, channel chat.Channel, guest string) []MessageRecord {
	return b.messagesWhere(math.MaxInt, func(e *memEntry[chat.Message]) bool {
		return e.item.TenantID == tenantID && e.item.Channel == channel && e.item.From == guest
	})
}

// messagesWhere is the first limit retained messages keep selects, oldest
// first.
func (b *memBackend) messagesWhere(limit int, keep func(*memEntry[chat.Message]) bool) []MessageRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []MessageRecord
	for _, e := range b.in.all {
		if len(out) >= limit {
			break
		}
		if keep(e) {
			out = append(out, messageRecord(e))
		}
	}
	return out
}

// repliesWhere is the first limit retained replies keep selects, oldest
// first.
func (b *memBackend) repliesWhere(limit int, keep func(*memEntry[OutboundReply]) bool) []ReplyRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []ReplyRecord
	for _, e := range b.out.all {
		if len(out) >= limit {
			break
		}
		if keep(e) {
			out = append(out, b.replyRecord(e))
		}
	}
	return out
}

func (b *memBackend) replies(ctx context.Context, q Query) ([]ReplyRecord, error) {
	return b.repliesWhere(q.limit(), func(e *memEntry[OutboundReply]) bool {
		return (q.TenantID == "" || e.item.TenantID == q.TenantID) && (q.InReplyTo == "" || e.item.InReplyTo == q.InReplyTo) &&
			(q.To == "" || e.item.To == q.To) && (q.ProviderID == "" || e.providerID == q.ProviderID)
	}), nil
}

// replyRecord is what the listings show of a reply entry, with its best
// delivery status; the caller holds b.mu.
func (b *memBackend) replyRecord(e *memEntry[OutboundReply]) ReplyRecord {
	rec := ReplyRecord{Reply: e.item, State: e.state, Attempts: e.attempts, LastError: e.lastErr, ProviderID: e.providerID,
		QueuedAt: e.acceptedAt, NextAttemptAt: e.nextAt, LastAttemptAt: e.lastAttemptAt, DoneAt: e.doneAt}
	if e.providerID != "" {
		for _, s := range b.statusBy[memMsgKey{e.item.TenantID, e.item.Channel, e.providerID}] {
			if rankStatus(s.s.Status) > rankStatus(rec.DeliveryStatus) {
				rec.DeliveryStatus, rec.DeliveryAt, rec.DeliveryErrors = s.s.Status, s.s.Timestamp, slices.Clone(s.s.Errors)
			}
		}
	}
	return rec
}

func (b *memBackend) statuses(ctx context.Context, tenantID string, channel chat.Channel, messageID string) ([]chat.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []chat.Status
	for _, s := range b.statusBy[memMsgKey{tenantID, channel, messageID}] {
		out = append(out, s.s)
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

// instant: every call returns at once (instantQueue).
func (q *memQueue[T]) instant() {}

func (q *memQueue[T]) held(ctx context.Context) (int, error) { return q.count(StateHeld), nil }

// count is how many open entries are in state (kept as they change).
func (q *memQueue[T]) count(state string) int {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	return q.counts[state]
}

// prunable reports whether e finished before `before`, and forgets it if so;
// the caller holds b.mu.
func (q *memQueue[T]) prunable(e *memEntry[T], before time.Time) bool {
	if e.state == StatePending || e.state == StateHeld || !e.doneAt.Before(before) {
		return false
	}
	q.forget(e)
	return true
}

// forget drops a finished entry from the queue's index and counts; the
// caller holds b.mu and removes e from `all`.
func (q *memQueue[T]) forget(e *memEntry[T]) {
	delete(q.bySeq, e.seq)
	q.counts[e.state]--
	q.finished--
}

func (b *memBackend) prune(ctx context.Context, before time.Time) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	b.in.all = slices.DeleteFunc(b.in.all, func(e *memEntry[chat.Message]) bool {
		if !b.in.prunable(e, before) {
			return false
		}
		b.dedup.forget(e.item)
		n++
		return true
	})
	b.out.all = slices.DeleteFunc(b.out.all, func(e *memEntry[OutboundReply]) bool {
		if !b.out.prunable(e, before) {
			return false
		}
		n++
		return true
	})
	n += b.dropStatuses(func(s memStatus) bool { return s.acceptedAt.Before(before) })
	for m := range b.acceptedByMinute {
		if m < unixMinute(before) {
			delete(b.acceptedByMinute, m)
		}
	}
	return n, nil
}

// unixMinute is the minute t falls in, counted from the Unix epoch.
func unixMinute(t time.Time) int64 { return t.Unix() / 60 }

// acceptedSince counts the messages accepted from the minute since falls in
// onwards: exact for a since on a minute (the dashboard asks from
// midnight), the whole of since's minute otherwise.
func (b *memBackend) acceptedSince(since time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	first, n := unixMinute(since), 0
	for m, c := range b.acceptedByMinute {
		if m >= first {
			n += c
		}
	}
	return n
}

// uncount takes an erased message out of acceptedByMinute; the caller
// holds b.mu.
func (b *memBackend) uncount(e *memEntry[chat.Message]) {
	m := unixMinute(e.acceptedAt)
	if b.acceptedByMinute[m] <= 1 {
		delete(b.acceptedByMinute, m)
		return
	}
	b.acceptedByMinute[m]--
}

// dropStatuses deletes the delivery statuses drop selects and returns how
// many; the caller holds b.mu.
func (b *memBackend) dropStatuses(drop func(memStatus) bool) int64 {
	var n int64
	for mk, list := range b.statusBy {
		kept := slices.DeleteFunc(list, func(s memStatus) bool {
			if !drop(s) {
				return false
			}
			delete(b.statusIx, memStatusKey{s.s.TenantID, s.s.Channel, s.s.MessageID, s.s.Status})
			n++
			return true
		})
		if len(kept) == 0 {
			delete(b.statusBy, mk)
		} else {
			b.statusBy[mk] = kept
		}
	}
	return n
}
