package hotel

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// Errors of a webhook request, by what the sender should be told.
var (
	// ErrNoTenant: no hotel for the request, and the route has no default.
	ErrNoTenant = errors.New("no tenant for this request")
	// ErrUnavailable: the inbox could not take the events now; the sender
	// must deliver again (Meta does, for days).
	ErrUnavailable = errors.New("temporarily unable to accept events")
)

// InputError is a webhook body the sender got wrong (not JSON, another
// channel's payload, an email payload without a sender...): answered 400.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Inbound is one webhook's events, decoded once.
type Inbound struct {
	Channel chat.Channel
	// Batch is a WhatsApp envelope's events.
	Batch whatsapp.Batch
	// Email is the email channel's one message, EmailFrom its `from` as
	// sent (the key of its hotel, even when the message is Invalid).
	Email     chat.Message
	EmailFrom string
	// Invalid is why the email payload cannot be accepted (answered 400
	// once the request's hotel is known and its limits applied).
	Invalid error
	// Unreadable is what a WhatsApp envelope held that could not be read
	// (logged; a redelivery cannot repair it, so the rest is accepted).
	Unreadable error
}

// Decoder reads webhook bodies. The zero value applies the default
// metadata allowlist.
type Decoder struct {
	// Metadata filters each message's client-supplied `metadata`.
	Metadata chat.MetadataFilter
}

// Decode reads a webhook body that arrived on channel's route, in one
// decode. A body the sender got wrong is an *InputError.
func (d Decoder) Decode(channel chat.Channel, body []byte) (*Inbound, error) {
	in := &Inbound{Channel: channel}
	switch channel {
	case chat.WhatsApp:
		b, err := whatsapp.DecodeWebhook(body, whatsapp.NormalizeOptions{Metadata: d.Metadata})
		var nerr *whatsapp.NormalizeError
		switch {
		case errors.Is(err, whatsapp.ErrNotJSON):
			return nil, &InputError{whatsapp.ErrNotJSON}
		case errors.As(err, &nerr):
			in.Unreadable = err
		case err != nil:
			return nil, &InputError{err}
		}
		in.Batch = b
	case chat.Gmail:
		m, from, err := email.DecodeWebhook(body, email.NormalizeOptions{Metadata: d.Metadata})
		var nerr *email.NormalizeError
		switch {
		case errors.Is(err, email.ErrNotJSON):
			return nil, &InputError{email.ErrNotJSON}
		case errors.As(err, &nerr):
			in.Invalid = &InputError{err}
		case err != nil:
			return nil, &InputError{err}
		}
		in.Email, in.EmailFrom = m, from
	default:
		return nil, fmt.Errorf("hotel: no decoder for channel %q", channel)
	}
	return in, nil
}

// Route is how a webhook route decides tenants.
type Route struct {
	// Tenant, when set, is trusted for every event of the route.
	Tenant string
	// Default receives what no identifier resolves; empty: nothing does.
	Default string
	// Strict refuses what no identifier resolves instead of defaulting.
	Strict bool
}

// DefaultRoute is the route of a webhook handler with nothing in front of
// it: the service's default tenant.
func (s *Service) DefaultRoute() Route { return Route{Default: s.cfg.DefaultTenant} }

// Decoder reads webhook bodies with the service's metadata allowlist.
func (s *Service) Decoder() Decoder { return Decoder{Metadata: s.metadata} }

// Resolve is Resolve with the service's tenant directory.
func (s *Service) Resolve(in *Inbound, route Route) Resolution {
	return Resolve(s.deps.Tenants, in, route)
}

// Part is the events of one business number (one hotel) of a webhook.
type Part struct {
	// Tenant is the part's hotel; "" when none was found (the part is dropped).
	Tenant         string
	PhoneNumberIDs []string
	Messages       []chat.Message
	Statuses       []chat.Status
}

// Resolution is a webhook's hotel(s).
type Resolution struct {
	// Tenant is the request's own hotel, from its first identifiers: what
	// rate limits key on. "" when Result is tenancy.ResultMissStrict.
	Tenant string
	Result tenancy.Result
	// Parts are the events by business number, each stamped with its hotel.
	Parts []Part
}

// Resolve decides the hotel of the request and of each part of it, in the
// resolution order: the route's trusted tenant, the business number
// (phone_number_id), the business account (entry id), the guest's phone or
// email, the route's default. A route with a trusted tenant decides by it
// alone (its default when the tenant is inactive): the payload's
// identifiers are not consulted. A request about one business is resolved
// once; one that mixes businesses, once for the request and once per part.
func Resolve(dir tenancy.Resolver, in *Inbound, route Route) Resolution {
	ri := tenancy.ResolveInput{Channel: string(in.Channel), Tenant: route.Tenant, Default: route.Default, Strict: route.Strict}
	if route.Strict {
		ri.Default = ""
	}
	trusted := route.Tenant != ""
	if in.Channel == chat.Gmail {
		if !trusted {
			ri.GuestEmail = in.EmailFrom
		}
		id, result := dir.Resolve(ri)
		res := Resolution{Tenant: id, Result: result}
		if result == tenancy.ResultMissStrict {
			res.Tenant = ""
		}
		m := in.Email
		m.TenantID = res.Tenant
		res.Parts = []Part{{Tenant: res.Tenant, Messages: []chat.Message{m}}}
		return res
	}
	if first := in.Batch.First; !trusted {
		ri.PhoneNumberID, ri.WABAID, ri.GuestPhone = first.PhoneNumberID, first.WABAID, first.Guest
	}
	id, result := dir.Resolve(ri)
	res := Resolution{Tenant: id, Result: result}
	if result == tenancy.ResultMissStrict {
		res.Tenant = ""
	}
	parts := in.Batch.ByBusiness()
	for _, p := range parts {
		tenant := res.Tenant
		if len(parts) > 1 && !trusted {
			pi := ri
			pi.PhoneNumberID, pi.WABAID, pi.GuestPhone = "", "", ""
			if len(p.PhoneNumberIDs) > 0 {
				pi.PhoneNumberID = p.PhoneNumberIDs[0]
			}
			if len(p.WABAIDs) > 0 {
				pi.WABAID = p.WABAIDs[0]
			}
			if len(p.Messages) > 0 {
				pi.GuestPhone = p.Messages[0].From
			} else if len(p.Statuses) > 0 {
				pi.GuestPhone = p.Statuses[0].Recipient
			}
			var r tenancy.Result
			if tenant, r = dir.Resolve(pi); r == tenancy.ResultMissStrict {
				tenant = ""
			}
		}
		stamped := p
		if tenant != "" {
			stamped = p.ForTenant(tenant)
		}
		res.Parts = append(res.Parts, Part{Tenant: tenant, PhoneNumberIDs: p.PhoneNumberIDs, Messages: stamped.Messages, Statuses: stamped.Statuses})
	}
	return res
}

// Answer is what the webhook answers once the events are accepted: always
// {"status":"ok"}; with AnswerInline, also the first reply
// ("response_type", "content").
type Answer map[string]any

// Accept makes a resolved webhook's events durable in the inbox and
// answers. Nothing is acknowledged before it is stored: an error means the
// sender must deliver again (ErrUnavailable). Parts without a hotel are
// dropped and logged.
func (s *Service) Accept(ctx context.Context, in *Inbound, res Resolution) (Answer, error) {
	if in.Invalid != nil {
		return nil, in.Invalid
	}
	if in.Unreadable != nil {
		// What could be read is still accepted; a redelivery cannot repair the rest.
		s.log.Warn("webhook partly unreadable", "error", in.Unreadable, "events_read", in.Batch.Len())
	}
	var msgs []chat.Message
	var statuses []chat.Status
	for _, p := range res.Parts {
		if p.Tenant == "" {
			if in.Channel == chat.Gmail {
				return nil, ErrNoTenant
			}
			s.log.Warn("no tenant for a webhook part; dropped", "phone_number_ids", p.PhoneNumberIDs)
			continue
		}
		chat.RecordNormalized(in.Channel, p.Tenant, len(p.Messages))
		msgs = append(msgs, p.Messages...)
		statuses = append(statuses, p.Statuses...)
	}
	if s.cfg.AnswerInline {
		return s.answerInline(ctx, msgs)
	}
	r, err := s.inbox.Accept(ctx, msgs, statuses)
	if err != nil {
		s.log.Error("inbox unavailable; the webhook will be redelivered", "error", err)
		return nil, ErrUnavailable
	}
	if r.Duplicate > 0 {
		s.log.Debug("redelivered events acknowledged again", "new", r.New, "duplicates", r.Duplicate)
	}
	return Answer{"status": "ok"}, nil
}

// answerInline runs the orchestrator in the request (ENVIRONMENT=test) and
// queues the replies for sending like the workers would.
func (s *Service) answerInline(ctx context.Context, msgs []chat.Message) (Answer, error) {
	out := Answer{"status": "ok"}
	for _, m := range msgs {
		replies, err := s.handle(ctx, m)
		if err != nil {
			s.log.Error("answering inline (ENVIRONMENT=test)", "tenant_id", m.TenantID, "message_id", m.ID, "error", err)
			return nil, err
		}
		replies = inbox.AddressReplies(m, replies)
		if err := s.inbox.Enqueue(ctx, replies...); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if len(replies) > 0 && out["response_type"] == nil {
			out["response_type"] = replies[0].Reply.ResponseType()
			out["content"] = replyContent(replies[0].Reply)
		}
	}
	return out, nil
}

// replyContent is the echo of a reply in test mode: the text for a text
// reply, the whole reply otherwise.
func replyContent(r chat.Reply) any {
	if r.Kind == chat.ReplyText || r.Kind == "" {
		return r.Text
	}
	return r
}
