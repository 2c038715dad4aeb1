package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tracing"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// ErrInvalid is wrapped by errors for input that can never be accepted
// (a message without tenant, channel, id or sender).
var ErrInvalid = errors.New("inbox: invalid input")

// errLeaseLost reports that a claim's lease was taken over (after it
// expired) by another worker, so its outcome must not be committed.
var errLeaseLost = errors.New("inbox: lease lost to another worker")

// AcceptResult counts what one Accept call recorded.
type AcceptResult struct {
	New       int // messages recorded for processing
	Duplicate int // messages already accepted earlier (or twice in this batch)

	NewStatuses       int // statuses recorded
	DuplicateStatuses int // statuses already recorded

	// Fresh are the messages recorded now (not seen before), in queue order.
	// It may share the array of the messages passed in: read it, do not
	// change it.
	Fresh []chat.Message
	// FreshStatuses are the statuses recorded now: a redelivered receipt is
	// not among them, so what a receipt sets off happens once.
	FreshStatuses []chat.Status
}

// Handler processes one guest message and returns the replies to send. The
// inbox marks the message done and queues the replies in one transaction; it
// fills an empty TenantID, Channel, To (the guest), PhoneNumberID (the
// business number the guest wrote to), InReplyTo and Subject from the
// message, in the list returned (which is the inbox's from then on).
// Returning an error retries the message later (Permanent(err): never).
type Handler func(ctx context.Context, m chat.Message) ([]OutboundReply, error)

// Options tune an Inbox. Zero values take the defaults named on each field.
type Options struct {
	// InstanceID names this process in claimed_by columns and logs.
	// Default: hostname-pid-random.
	InstanceID string
	// Workers is how many conversations Run handles at once. Default 64.
	Workers int
	// SenderWorkers is how many recipients RunSender sends to at once.
	// Default 32: a send mostly waits on the provider (the Graph API
	// answers in tens to hundreds of milliseconds), so a handful of senders
	// caps the replies a second far below what the workers produce.
	SenderWorkers int
	// LeaseDuration is how long a claim stays exclusive without renewal;
	// live workers renew every third of it. Default 30s.
	LeaseDuration time.Duration
	// PollInterval bounds how late retries, expired leases and missed
	// notifications are noticed. Default 1s.
	PollInterval time.Duration
	// HandlerTimeout bounds one Handler call. Default 2m.
	HandlerTimeout time.Duration
	// SendTimeout bounds one Sender.Send call. Default 30s.
	SendTimeout time.Duration
	// MaxAttempts is how many times a message is handed to the Handler
	// before it is marked dead. Default 8.
	MaxAttempts int
	// SendMaxAttempts is how many times a reply is tried before it is marked
	// failed. Default 10.
	SendMaxAttempts int
	// RetryBackoff spaces Handler retries. Default {1s, 5m}.
	RetryBackoff Backoff
	// SendBackoff spaces send retries; a RetryAfter from the error wins when
	// longer. Default {2s, 10m}.
	SendBackoff Backoff
	// Now is the clock for leases and retry times. Default time.Now.
	Now func() time.Time
	// Rand returns the jitter fraction in [0,1). Default math/rand/v2.
	Rand func() float64
	// Logger receives operational warnings. Default slog.Default().
	Logger *slog.Logger
	// OnStatus, when set, is called after Accept commits, once for each
	// status newly recorded. Keep it fast: it runs in the webhook's request.
	OnStatus func(chat.Status)
	// MemoryKeepFinished (NewMemory only) is how many finished messages,
	// and as many finished replies, stay listable, and as many dead
	// messages and failed replies besides (the dead letters, kept apart so
	// that answered messages do not push them out); older ones are dropped
	// (in one pass once twice as many have finished) so a long run does
	// not grow without end. Default 1,000, what one listing returns at
	// most (Query.Limit): the collector scans every entry kept in each of
	// its cycles, and under load the former 10,000 (up to 20,000 of each
	// before a trim) were the largest part of the live heap it marked,
	// lengthening every mark phase and the requests that waited through
	// it. Negative: keep all until Prune.
	MemoryKeepFinished int
	// TracerProvider makes the spans of the accepts (children of the
	// caller's span), of each message's processing and of each reply's
	// send (children of the span that accepted or queued it: the trace
	// context is stored with the row). Default: the no-op, which records
	// nothing and stores no trace context.
	TracerProvider trace.TracerProvider
	// MemoryKeepDedup (NewMemory only) is how many accepted message ids are
	// remembered to recognise redeliveries. Default 200,000; negative: all
	// until Prune.
	MemoryKeepDedup int
}

// Backoff is exponential back-off with jitter: attempt n waits
// Base·2^(n-1), capped at Max, of which the upper half is jittered.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Delay is the wait after the attempt-th failed attempt (1-based); r in [0,1)
// is the jitter draw: r=0 waits half the step, r→1 the full step.
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	return d/2 + time.Duration(r*float64(d/2))
}

func (o Options) withDefaults() Options {
	if o.InstanceID == "" {
		host, _ := os.Hostname()
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.InstanceID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if o.Workers <= 0 {
		// Completions that finish together commit together, and the reads
		// of messages whose handling starts together share a round trip,
		// so more conversations in flight make bigger groups: on Postgres
		// 64 took a worker process's drain from 0.9-1.0 commits and
		// 0.95-1.39 ms of Postgres CPU per message to 0.3-0.4 and
		// 0.70-1.08 ms, and from 704-1,039 to 920-1,453 messages a second
		// (BENCHMARKS.md, "Inbox workers 64").
		o.Workers = 64
	}
	if o.SenderWorkers <= 0 {
		o.SenderWorkers = 32
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = 2 * time.Minute
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.SendMaxAttempts <= 0 {
		o.SendMaxAttempts = 10
	}
	if o.RetryBackoff.Base <= 0 {
		o.RetryBackoff.Base = time.Second
	}
	if o.RetryBackoff.Max < o.RetryBackoff.Base {
		o.RetryBackoff.Max = max(5*time.Minute, o.RetryBackoff.Base)
	}
	if o.SendBackoff.Base <= 0 {
		o.SendBackoff.Base = 2 * time.Second
	}
	if o.SendBackoff.Max < o.SendBackoff.Base {
		o.SendBackoff.Max = max(10*time.Minute, o.SendBackoff.Base)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = mrand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MemoryKeepFinished == 0 {
		o.MemoryKeepFinished = 1_000
	}
	if o.MemoryKeepDedup == 0 {
		o.MemoryKeepDedup = 200_000
	}
	return o
}

// Inbox is the durable inbox and outbox, backed by Postgres (NewPostgres) or
// process memory (NewMemory). Its methods are safe for concurrent use.
type Inbox struct {
	b        backend
	unrouted unroutedStore
	opts     Options
	tracer   tracing.Tracer
}

// NewPostgres returns an Inbox on pool. The schema comes from store.Migrate
// (migration 0010_inbox). Several instances may share one database.
func NewPostgres(pool *pgxpool.Pool, opts Options) *Inbox {
	opts = opts.withDefaults()
	return &Inbox{b: newPGBackend(pool), unrouted: pgUnrouted{pool}, opts: opts, tracer: tracing.NewTracer(opts.TracerProvider)}
}

// NewMemory returns an Inbox that keeps everything in process memory, for
// development and tests: a restart loses every pending message and reply.
func NewMemory(opts Options) *Inbox {
	opts = opts.withDefaults()
	return &Inbox{b: newMemBackend(opts), unrouted: &memUnrouted{}, opts: opts, tracer: tracing.NewTracer(opts.TracerProvider)}
}

// InstanceID is the name this Inbox claims work under.
func (ib *Inbox) InstanceID() string { return ib.opts.InstanceID }

// Accept records a batch durably (nil error: committed) and deduplicates it:
// messages by (tenant, channel, id), statuses by (tenant, channel, message
// id, status). Messages of the batch are queued in channel-timestamp order.
func (ib *Inbox) Accept(ctx context.Context, msgs []chat.Message, statuses []chat.Status) (AcceptResult, error) {
	return ib.accept(ctx, msgs, statuses, false)
}

// AcceptAnswered is Accept for messages the caller answers itself, at once
// (ENVIRONMENT=test answers in the webhook's request): they are recorded
// done, for no worker to take, and deduplicated exactly as Accept does, so
// only AcceptResult.Fresh may be answered.
func (ib *Inbox) AcceptAnswered(ctx context.Context, msgs []chat.Message, statuses []chat.Status) (AcceptResult, error) {
	return ib.accept(ctx, msgs, statuses, true)
}

func (ib *Inbox) accept(ctx context.Context, msgs []chat.Message, statuses []chat.Status, answered bool) (AcceptResult, error) {
	if len(msgs) == 0 && len(statuses) == 0 {
		return AcceptResult{}, nil
	}
	msgs, statuses = sanitized(msgs, statuses, ib.opts.Logger)
	for i := range msgs {
		if err := validMessage(&msgs[i]); err != nil {
			return AcceptResult{}, err
		}
	}
	for i := range statuses {
		if err := validStatus(&statuses[i]); err != nil {
			return AcceptResult{}, err
		}
	}
	byTime := func(a, b chat.Message) int { return a.Timestamp.Compare(b.Timestamp) }
	if !slices.IsSortedFunc(msgs, byTime) {
		msgs = slices.Clone(msgs)
		slices.SortStableFunc(msgs, byTime)
	}
	// The backend stores this span's context with each message: the span
	// processing it continues the trace from here.
	ctx, span := ib.tracer.Start(ctx, "inbox.accept", trace.SpanKindProducer)
	res, fresh, err := ib.b.accept(ctx, ib.opts.Now(), msgs, statuses, answered)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("messaging.batch.message_count", len(msgs)), attribute.Int("agente.statuses", len(statuses)),
			attribute.Int("agente.messages.new", res.New), attribute.Int("agente.messages.duplicate", res.Duplicate))
		if len(msgs) > 0 {
			span.SetAttributes(attribute.String("agente.tenant_id", msgs[0].TenantID), attribute.String("agente.channel", string(msgs[0].Channel)))
		}
		if len(msgs) == 1 {
			span.SetAttributes(attribute.String("messaging.message.id", msgs[0].ID))
		}
	}
	tracing.End(span, err)
	if err != nil {
		return AcceptResult{}, err
	}
	if res.New > 0 {
		acceptedNewMessages.Add(float64(res.New))
	}
	if res.Duplicate > 0 {
		acceptedDupMessages.Add(float64(res.Duplicate))
	}
	if res.NewStatuses > 0 {
		acceptedNewStatuses.Add(float64(res.NewStatuses))
	}
	if res.DuplicateStatuses > 0 {
		acceptedDupStatuses.Add(float64(res.DuplicateStatuses))
	}
	res.FreshStatuses = fresh
	if ib.opts.OnStatus != nil {
		for _, s := range fresh {
			ib.opts.OnStatus(s)
		}
	}
	return res, nil
}

// sanitized is the batch with NUL characters removed (see sanitize.go);
// the caller's slices are copied before anything in them changes.
func sanitized(msgs []chat.Message, statuses []chat.Status, log *slog.Logger) ([]chat.Message, []chat.Status) {
	copied := false
	for i := range msgs {
		if m, changed := messageWithoutNUL(msgs[i]); changed {
			if !copied {
				msgs, copied = slices.Clone(msgs), true
			}
			// An id or sender of NULs alone would be left empty, and the
			// message refused with its batch: they become U+FFFD instead,
			// which keeps them distinct and a redelivery recognisable.
			if m.ID == "" {
				m.ID = strings.ReplaceAll(msgs[i].ID, "\x00", "\uFFFD")
			}
			if m.From == "" {
				m.From = strings.ReplaceAll(msgs[i].From, "\x00", "\uFFFD")
			}
			msgs[i] = m
			log.Warn("NUL characters removed from a message", "message_id", m.ID, "tenant_id", m.TenantID)
		}
	}
	copied = false
	for i := range statuses {
		if s, changed := withoutNULValue(statuses[i]); changed {
			if !copied {
				statuses, copied = slices.Clone(statuses), true
			}
			statuses[i] = s
		}
	}
	return msgs, statuses
}

func validMessage(m *chat.Message) error {
	switch {
	case m.TenantID == "":
		return fmt.Errorf("%w: message %q has no tenant", ErrInvalid, m.ID)
	case m.Channel == "":
		return fmt.Errorf("%w: message %q has no channel", ErrInvalid, m.ID)
	case m.ID == "":
		return fmt.Errorf("%w: message from %q has no id", ErrInvalid, m.From)
	case m.From == "":
		return fmt.Errorf("%w: message %q has no sender", ErrInvalid, m.ID)
	}
	return nil
}

func validStatus(s *chat.Status) error {
	switch {
	case s.TenantID == "":
		return fmt.Errorf("%w: status for %q has no tenant", ErrInvalid, s.MessageID)
	case s.Channel == "":
		return fmt.Errorf("%w: status for %q has no channel", ErrInvalid, s.MessageID)
	case s.MessageID == "":
		return fmt.Errorf("%w: status has no message id", ErrInvalid)
	case s.Status == "":
		return fmt.Errorf("%w: status for %q is empty", ErrInvalid, s.MessageID)
	}
	return nil
}

func validReply(r *OutboundReply) error {
	switch {
	case r.TenantID == "":
		return fmt.Errorf("%w: reply to %q has no tenant", ErrInvalid, r.To)
	case r.Channel == "":
		return fmt.Errorf("%w: reply to %q has no channel", ErrInvalid, r.To)
	case r.To == "":
		return fmt.Errorf("%w: reply has no recipient", ErrInvalid)
	}
	return nil
}

// Enqueue queues replies that answer no inbox message (for example a
// proactive notice). Replies to one recipient are sent in the order queued.
func (ib *Inbox) Enqueue(ctx context.Context, replies ...OutboundReply) error {
	if len(replies) == 0 {
		return nil
	}
	for i := range replies {
		if err := validReply(&replies[i]); err != nil {
			return err
		}
	}
	return ib.b.enqueue(ctx, ib.opts.Now(), replies)
}

// Run hands accepted messages to h until ctx ends, then waits for the
// handlers in flight (their ctx is cancelled; a message interrupted that way
// is released without counting the attempt). It returns nil on shutdown.
func (ib *Inbox) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("inbox: Run needs a handler")
	}
	o := ib.opts
	l := &loop[chat.Message]{
		name:        "inbox",
		q:           ib.b.inbox(),
		workers:     o.Workers,
		owner:       o.InstanceID,
		lease:       o.LeaseDuration,
		poll:        o.PollInterval,
		now:         o.Now,
		rand:        o.Rand,
		log:         o.Logger,
		maxAttempts: o.MaxAttempts,
		backoff:     o.RetryBackoff,
		timeout:     o.HandlerTimeout,
		work: func(ctx context.Context, c claimed[chat.Message]) outcome {
			var deferred *store.Deferred
			if ib.b.defersWrites() {
				ctx, deferred = store.WithDeferred(ctx)
			}
			replies, err := callHandler(ctx, h, c.item)
			if err != nil {
				// A failed attempt writes nothing it deferred.
				return outcome{err: err}
			}
			return outcome{replies: replies, writes: deferred.Take(), deferred: deferred}
		},
		complete: func(ctx context.Context, now time.Time, c claimed[chat.Message], out outcome) error {
			replies := AddressReplies(c.item, out.replies)
			for i := range replies {
				if err := validReply(&replies[i]); err != nil {
					return Permanent(err)
				}
			}
			if err := ib.b.completeMessage(ctx, now, c, replies, out.writes); err != nil {
				return err
			}
			out.deferred.Committed()
			processingLatency.Observe(now.Sub(c.acceptedAt).Seconds())
			return nil
		},
		observe: func(_ claimed[chat.Message], r result) {
			switch r {
			case resultDone:
				processedOK.Inc()
			case resultRetry:
				processedRetry.Inc()
			case resultGaveUp:
				processedDead.Inc()
			case resultLeaseLost:
				leaseLostInbox.Inc()
			}
		},
		pendingGauge: inboxPending,
		tracer:       ib.tracer,
		spanName:     "inbox.process",
		attrs: func(m chat.Message) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("agente.tenant_id", m.TenantID), attribute.String("agente.channel", string(m.Channel)),
				attribute.String("messaging.message.id", m.ID)}
		},
	}
	ib.runLoop(ctx, queueInbox, l.run)
	return nil
}

// runLoop runs a loop with its wake-up listener and its storage's upkeep
// (tidy), and returns when all have stopped.
func (ib *Inbox) runLoop(ctx context.Context, q queueKind, run func(ctx context.Context, wake wakeup.Signal)) {
	wake := wakeup.New()
	lctx, stop := context.WithCancel(ctx)
	var helpers sync.WaitGroup
	helpers.Go(func() { ib.b.listen(lctx, q, wake, ib.opts.Logger) })
	helpers.Go(func() { ib.b.tidy(lctx, q, ib.opts.Logger) })
	run(ctx, wake)
	stop()
	helpers.Wait()
}

func callHandler(ctx context.Context, h Handler, m chat.Message) (replies []OutboundReply, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, m)
}

// AddressReplies completes the addressing a Handler left out from the message
// it answers, in the replies given (the caller's to change: a handler's
// replies are the inbox's once returned), and returns them.
func AddressReplies(m chat.Message, replies []OutboundReply) []OutboundReply {
	if len(replies) == 0 {
		return nil
	}
	for i := range replies {
		r := &replies[i]
		if r.TenantID == "" {
			r.TenantID = m.TenantID
		}
		if r.Channel == "" {
			r.Channel = m.Channel
		}
		if r.To == "" {
			r.To = m.From
		}
		if r.PhoneNumberID == "" && m.Channel == chat.WhatsApp {
			r.PhoneNumberID = m.To
		}
		if r.InReplyTo == "" {
			r.InReplyTo = m.ID
		}
		if r.Subject == "" {
			r.Subject = m.Subject
		}
	}
	return replies
}

// Query selects records for Messages and Replies, oldest first.
type Query struct {
	TenantID  string // empty: every tenant
	InReplyTo string // Replies only: the inbound message id they answer
	To        string // Replies only: the guest they were sent to
	// ProviderID, Replies only: the reply the channel knows by this id.
	ProviderID string
	Limit      int // default and maximum 1000
}

func (q Query) limit() int {
	if q.Limit <= 0 || q.Limit > 1000 {
		return 1000
	}
	return q.Limit
}

// Record states.
const (
	StatePending = "pending" // waiting for (another) attempt
	StateDone    = "done"    // message handled, its replies queued
	StateDead    = "dead"    // message given up after MaxAttempts or a permanent error
	StateSent    = "sent"    // reply accepted by the provider
	StateFailed  = "failed"  // reply given up
	// StateHeld is a reply waiting for its channel to take our credentials
	// again (Hold): not an attempt, not given up, and it keeps its guest's
	// later replies behind it until ReleaseHeld makes it pending.
	StateHeld = "held"
	// StateSuppressed is a reply deliberately not sent (Suppress: the guest
	// opted out); final, like sent, and no failure.
	StateSuppressed = "suppressed"
)

// MessageRecord is an accepted message and where it stands.
type MessageRecord struct {
	Message    chat.Message
	State      string // pending | done | dead
	Attempts   int
	LastError  string
	AcceptedAt time.Time
	DoneAt     time.Time // zero while pending
}

// ReplyRecord is a queued reply and where it stands.
type ReplyRecord struct {
	Reply         OutboundReply
	State         string // pending | held | sent | failed | suppressed
	Attempts      int
	LastError     string
	ProviderID    string // wamid once sent
	QueuedAt      time.Time
	NextAttemptAt time.Time
	LastAttemptAt time.Time // zero before the first attempt
	DoneAt        time.Time // sent, failed or suppressed at; zero while pending or held
	// DeliveryStatus is the most advanced status the channel reported for
	// ProviderID (sent < delivered < read < failed), or "". Statuses are
	// kept apart from the reply (a receipt may arrive before the send that
	// caused it has been recorded) and joined to it by ProviderID.
	DeliveryStatus string
	// DeliveryAt is the channel's time of DeliveryStatus; zero if none.
	DeliveryAt time.Time
	// DeliveryErrors are the channel's reasons when DeliveryStatus is
	// failed (on WhatsApp: Meta's code, title and details).
	DeliveryErrors []chat.Error
}

// Messages lists accepted messages, oldest first.
func (ib *Inbox) Messages(ctx context.Context, q Query) ([]MessageRecord, error) {
	return ib.b.messages(ctx, q)
}

// Replies lists queued, sent and failed replies, oldest first.
func (ib *Inbox) Replies(ctx context.Context, q Query) ([]ReplyRecord, error) {
	return ib.b.replies(ctx, q)
}

// Statuses lists the recorded delivery statuses of one business message.
func (ib *Inbox) Statuses(ctx context.Context, tenantID string, channel chat.Channel, messageID string) ([]chat.Status, error) {
	return ib.b.statuses(ctx, tenantID, channel, messageID)
}

// Stats are the current queue depths.
type Stats struct {
	InboxPending  int // messages accepted and not yet done or dead
	OutboxPending int // replies waiting for an attempt (not held, sent, failed or suppressed)
	OutboxHeld    int // replies held until their channel takes our credentials again
}

// Stats counts what is waiting.
func (ib *Inbox) Stats(ctx context.Context) (Stats, error) {
	in, err := ib.b.inbox().pending(ctx)
	if err != nil {
		return Stats{}, err
	}
	out, err := ib.b.outbox().pending(ctx)
	if err != nil {
		return Stats{}, err
	}
	held, err := ib.b.outbox().held(ctx)
	if err != nil {
		return Stats{}, err
	}
	return Stats{InboxPending: in, OutboxPending: out, OutboxHeld: held}, nil
}

// ReleaseHeld makes up to limit held replies of channel pending again, due
// now, oldest first (limit 0: all of them), and returns how many. Each keeps
// its place in its guest's queue, so the guest's replies still leave in the
// order they were queued, and each is sent once. A sender releases one to
// probe whether the channel works again, and all once it does.
func (ib *Inbox) ReleaseHeld(ctx context.Context, channel chat.Channel, limit int) (int, error) {
	if limit < 0 {
		limit = 0
	}
	return ib.b.releaseHeld(ctx, ib.opts.Now(), channel, limit)
}

// Prune deletes finished messages and replies (done, dead, sent, failed,
// suppressed) finished before the cutoff, and statuses and unrouted events
// received before it.
// Pending and held work is never pruned. Dedup forgets pruned message ids, so keep more than the
// channel's redelivery horizon (Meta: days; a week or more is safe).
func (ib *Inbox) Prune(ctx context.Context, before time.Time) (int64, error) {
	n, err := ib.b.prune(ctx, before)
	if err != nil {
		return n, err
	}
	u, err := ib.unrouted.prune(ctx, before)
	return n + u, err
}

// rankStatus orders delivery statuses by how far the message got.
func rankStatus(s string) int {
	switch s {
	case "sent":
		return 1
	case "delivered":
		return 2
	case "read":
		return 3
	case "failed":
		return 4
	}
	return 0
}
