package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// OutboundReply is one reply waiting in the outbox.
type OutboundReply struct {
	TenantID      string       `json:"tenant_id"`
	Channel       chat.Channel `json:"channel"`
	To            string       `json:"to"`                        // guest: E.164 digits or email address
	PhoneNumberID string       `json:"phone_number_id,omitempty"` // WhatsApp business sender
	InReplyTo     string       `json:"in_reply_to,omitempty"`     // inbound message id it answers
	Subject       string       `json:"subject,omitempty"`         // email subject
	// References is an email's thread (chat.Message.References) the reply
	// carries on, so that the guest's mail client threads it.
	References []string `json:"references,omitempty"`
	// GuestName and GuestSentAt are the guest's profile name and when they
	// sent the message this answers (the channel's timestamp): what a
	// WhatsApp sender needs to judge the 24-hour customer-service window and
	// to fill the hotel's template.
	GuestName   string    `json:"guest_name,omitempty"`
	GuestSentAt time.Time `json:"guest_sent_at,omitzero"`
	// OutsideWindow is set on a reply sent again because WhatsApp reported
	// the first send failed with the guest outside the 24-hour window: it
	// can only go as the hotel's template.
	OutsideWindow bool `json:"outside_window,omitempty"`
	// Staff names the person who wrote the reply (their admin token's
	// subject); empty for the agent's replies.
	Staff string `json:"staff,omitempty"`
	// ID is an id the reply's author gave it (a staff reply's), for the
	// history to name it before the channel has.
	ID    string     `json:"id,omitempty"`
	Reply chat.Reply `json:"reply"`
	// ClaimedConsent is the recipient's consent as the Postgres outbox's
	// claim read it, in the claim's own statement, so that the sender need
	// not read it again for every reply; nil where no claim read it (the
	// memory outbox, a reply not claimed). Never stored.
	ClaimedConsent *RecipientConsent `json:"-"`
}

// RecipientConsent is the recipient's row of guest_consent
// (internal/consent), looked up by the reply's tenant, channel and To
// exactly as To is written: consent keeps guests in a normal form
// (consent.GuestKey), so the row is the guest's only when To is already in
// that form. Found is false when the guest has no row (never changed
// their answer).
type RecipientConsent struct {
	Found     bool
	OptedOut  bool
	ChangedAt time.Time
	MessageID string // the guest's message that changed it
}

// ConversationKey orders the sends: replies with the same key leave one at a
// time, in the order queued. It equals the ConversationKey of the guest's
// messages (tenant|channel|guest).
func (r OutboundReply) ConversationKey() string {
	return r.TenantID + "|" + string(r.Channel) + "|" + r.To
}

// Sender delivers one reply and returns the provider's message id (the
// wamid on WhatsApp).
type Sender interface {
	Send(ctx context.Context, r OutboundReply) (providerID string, err error)
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, r OutboundReply) (string, error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, r OutboundReply) (string, error) { return f(ctx, r) }

// RetryableError is how a Sender (or Handler) error says whether trying
// again can help and how long the provider asked us to wait. Errors that do
// not implement it are retried (up to the attempt limit) unless wrapped with
// Permanent.
type RetryableError interface {
	error
	Retryable() bool
	RetryAfter() time.Duration
}

// Permanent marks err as not worth retrying: the message is marked dead, or
// the reply failed, at once with err recorded.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (p permanentError) Error() string             { return p.err.Error() }
func (p permanentError) Unwrap() error             { return p.err }
func (p permanentError) Retryable() bool           { return false }
func (p permanentError) RetryAfter() time.Duration { return 0 }

// Hold is a Sender's answer when the channel refused our credentials (an
// expired or revoked access token): no attempt on any reply can succeed
// until an operator fixes them, so counting attempts would fail every reply
// for a reason none of them has. The reply is held (StateHeld, err
// recorded, the attempt not counted) and waits, with the guest's later
// replies behind it, until ReleaseHeld.
func Hold(err error) error {
	if err == nil {
		return nil
	}
	return heldError{err}
}

type heldError struct{ err error }

func (h heldError) Error() string { return h.err.Error() }
func (h heldError) Unwrap() error { return h.err }

// Suppress is a Sender's answer for a reply that must not be sent (the
// guest opted out): the reply ends as StateSuppressed with reason recorded,
// no attempt counted and nothing counted as failed, and the guest's next
// reply is taken.
func Suppress(reason string) error { return suppressedError{reason} }

type suppressedError struct{ reason string }

func (s suppressedError) Error() string { return s.reason }

// classify says whether err is worth another attempt, and the least wait.
func classify(err error) (retry bool, after time.Duration) {
	var re RetryableError
	if errors.As(err, &re) {
		return re.Retryable(), re.RetryAfter()
	}
	return true, 0
}

// RunSender delivers queued replies through s until ctx ends, then waits for
// the sends in flight. Replies to one recipient go one at a time in queue
// order; a retryable error backs off (exponentially with jitter, at least the
// error's RetryAfter), a permanent one or SendMaxAttempts marks it failed;
// Hold holds it and Suppress suppresses it, neither counting an attempt.
// It returns nil on shutdown.
func (ib *Inbox) RunSender(ctx context.Context, s Sender) error {
	if s == nil {
		return errors.New("inbox: RunSender needs a sender")
	}
	o := ib.opts
	l := &loop[OutboundReply]{
		name:        "outbox",
		q:           ib.b.outbox(),
		workers:     o.SenderWorkers,
		owner:       o.InstanceID,
		lease:       o.LeaseDuration,
		poll:        o.PollInterval,
		now:         o.Now,
		rand:        o.Rand,
		log:         o.Logger,
		maxAttempts: o.SendMaxAttempts,
		backoff:     o.SendBackoff,
		holds:       true,
		// The backends wake the senders when a recorded reply leaves its
		// guest more to send (completeReply).
		wakeClaims: true,
		timeout:    o.SendTimeout,
		work: func(ctx context.Context, c claimed[OutboundReply]) outcome {
			id, err := callSender(ctx, s, c.item)
			if span := trace.SpanFromContext(ctx); id != "" && span.IsRecording() {
				span.SetAttributes(attribute.String("messaging.message.id", id))
			}
			return outcome{providerID: id, err: err}
		},
		complete: func(ctx context.Context, now time.Time, c claimed[OutboundReply], out outcome) error {
			return ib.b.completeReply(ctx, now, c, out.providerID)
		},
		observe: func(c claimed[OutboundReply], r result) {
			ch := string(c.item.Channel)
			switch r {
			case resultDone:
				outboxSent.WithLabelValues(ch, "sent").Inc()
			case resultRetry:
				outboxSent.WithLabelValues(ch, "retry").Inc()
			case resultGaveUp:
				outboxSent.WithLabelValues(ch, "failed").Inc()
			case resultHeld:
				outboxSent.WithLabelValues(ch, "held").Inc()
			case resultSuppressed:
				outboxSent.WithLabelValues(ch, "suppressed").Inc()
			case resultLeaseLost:
				leaseLostOutbox.Inc()
			}
		},
		pendingGauge: outboxPending,
		heldGauge:    outboxHeld,
		tracer:       ib.tracer,
		spanName:     "outbox.send",
		attrs: func(r OutboundReply) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("agente.tenant_id", r.TenantID), attribute.String("agente.channel", string(r.Channel)),
				attribute.String("agente.in_reply_to", r.InReplyTo), attribute.Bool("agente.staff", r.Staff != "")}
		},
	}
	ib.runLoop(ctx, queueOutbox, l.run)
	return nil
}

func callSender(ctx context.Context, s Sender, r OutboundReply) (id string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sender panicked: %v", p)
		}
	}()
	return s.Send(ctx, r)
}

// LogSender stands in for a channel when there are no credentials (development
// without WHATSAPP_ACCESS_TOKEN): replies are logged and kept, not sent.
type LogSender struct {
	Logger *slog.Logger // default slog.Default()

	mu   sync.Mutex
	sent []OutboundReply
}

// Send logs r, keeps it and returns a made-up provider id ("logged-N").
func (l *LogSender) Send(_ context.Context, r OutboundReply) (string, error) {
	l.mu.Lock()
	l.sent = append(l.sent, r)
	id := fmt.Sprintf("logged-%d", len(l.sent))
	l.mu.Unlock()
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Info("reply logged, not sent (no channel credentials)",
		"tenant_id", r.TenantID, "channel", string(r.Channel), "to", r.To,
		"in_reply_to", r.InReplyTo, "kind", string(r.Reply.Kind), "text", r.Reply.Text, "provider_id", id)
	return id, nil
}

// Sent returns the replies logged so far, in order.
func (l *LogSender) Sent() []OutboundReply {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]OutboundReply(nil), l.sent...)
}
