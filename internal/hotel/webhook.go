package hotel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

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
	// EmailAuthservID is the receiving server whose Authentication-Results
	// an email bridge may relay (Config.EmailAuthservID).
	EmailAuthservID string
}

// Decode reads a webhook body that arrived on channel's route, in one
// decode. A body the sender got wrong is an *InputError.
func (d Decoder) Decode(channel chat.Channel, body []byte) (*Inbound, error) {
	in := new(Inbound)
	if err := d.DecodeInto(in, channel, body); err != nil {
		return nil, err
	}
	return in, nil
}

// DecodeInto is Decode into *in (overwritten), for a caller that keeps the
// result in a record of its own rather than in one more allocation. On
// error *in is unspecified.
func (d Decoder) DecodeInto(in *Inbound, channel chat.Channel, body []byte) error {
	*in = Inbound{Channel: channel}
	switch channel {
	case chat.WhatsApp:
		b, err := whatsapp.DecodeWebhook(body, whatsapp.NormalizeOptions{Metadata: d.Metadata})
		if err != nil {
			var nerr *whatsapp.NormalizeError // its address escapes: declared only when needed
			switch {
			case errors.Is(err, whatsapp.ErrNotJSON):
				return &InputError{whatsapp.ErrNotJSON}
			case errors.As(err, &nerr):
				in.Unreadable = err
			default:
				return &InputError{err}
			}
		}
		in.Batch = b
	case chat.Gmail:
		m, from, err := email.DecodeWebhook(body, email.NormalizeOptions{Metadata: d.Metadata, AuthservID: d.EmailAuthservID})
		var nerr *email.NormalizeError
		switch {
		case errors.Is(err, email.ErrNotJSON):
			return &InputError{email.ErrNotJSON}
		case errors.As(err, &nerr):
			in.Invalid = &InputError{err}
		case err != nil:
			return &InputError{err}
		}
		in.Email, in.EmailFrom = m, from
	default:
		return fmt.Errorf("hotel: no decoder for channel %q", channel)
	}
	return nil
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
func (s *Service) Decoder() Decoder {
	return Decoder{Metadata: s.metadata, EmailAuthservID: s.cfg.EmailAuthservID}
}

// Resolve is Resolve with the service's tenant directory.
func (s *Service) Resolve(in *Inbound, route Route) Resolution {
	return Resolve(s.deps.Tenants, in, route)
}

// Part is the events of one hotel in a webhook, stamped with it.
type Part struct {
	Tenant string
	// PhoneNumberIDs are the business numbers the events arrived for.
	PhoneNumberIDs []string
	Messages       []chat.Message
	Statuses       []chat.Status
	// Fields are changes of other subscribed fields (account_update, ...):
	// acknowledged and logged, nothing answers them.
	Fields []whatsapp.FieldEvent
}

// Resolution is a webhook's hotel(s).
type Resolution struct {
	// Tenant is the request's own hotel, from its first identifiers: what
	// rate limits key on. "" when Result is tenancy.ResultMissStrict.
	Tenant string
	Result tenancy.Result
	// HasMessages is whether a guest wrote anything (not only receipts or
	// other fields): guests' limits count only these.
	HasMessages bool
	// Parts are the events by hotel.
	Parts []Part
	// Unrouted are the events no hotel was found for: kept and
	// acknowledged, never refused.
	Unrouted []inbox.UnroutedEvent
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
	// One webhook asks about the same identifiers again and again (every
	// message of a change has its business number); each is resolved once,
	// so tenant_resolution_total counts questions, not repetitions.
	memo := map[tenancy.ResolveInput]string{}
	resolve := func(q tenancy.ResolveInput) (string, tenancy.Result) {
		if trusted {
			q.PhoneNumberID, q.WABAID, q.GuestPhone, q.GuestEmail = "", "", "", ""
		}
		if id, ok := memo[q]; ok {
			return id, tenancy.ResultHit
		}
		id, result := dir.Resolve(q)
		if result == tenancy.ResultMissStrict {
			id = ""
		}
		memo[q] = id
		return id, result
	}
	if in.Channel == chat.Gmail {
		q := ri
		q.GuestEmail = in.EmailFrom
		id, result := resolve(q)
		m := in.Email
		m.TenantID = id
		return Resolution{Tenant: id, Result: result, HasMessages: true, Parts: []Part{{Tenant: id, Messages: []chat.Message{m}}}}
	}
	b := in.Batch
	req := ri
	req.PhoneNumberID, req.WABAID, req.GuestPhone = b.First.PhoneNumberID, b.First.WABAID, b.First.Guest
	res := Resolution{HasMessages: len(b.Messages) > 0}
	res.Tenant, res.Result = resolve(req)

	// Every message, status and field event is attributed on its own: by
	// its change's business number, then account, then its own guest, then
	// the default; never by another item of the batch.
	// The parts in order of first appearance; a webhook has one or a few,
	// so a list searched in order, filled in place.
	part := func(tenant, pnid string) *Part {
		i := 0
		for i < len(res.Parts) && res.Parts[i].Tenant != tenant {
			i++
		}
		if i == len(res.Parts) {
			res.Parts = append(res.Parts, Part{Tenant: tenant})
		}
		// Valid until the next call adds a part: each caller uses it at once.
		p := &res.Parts[i]
		if pnid != "" && !slices.Contains(p.PhoneNumberIDs, pnid) {
			p.PhoneNumberIDs = append(p.PhoneNumberIDs, pnid)
		}
		return p
	}
	// attribute finds the part of one item's hotel (its number, its
	// account, its guest, the default), or nil.
	attribute := func(biz whatsapp.Business, guest string) *Part {
		q := ri
		q.PhoneNumberID, q.WABAID, q.GuestPhone = biz.PhoneNumberID, biz.WABAID, guest
		if tenant, _ := resolve(q); tenant != "" {
			return part(tenant, biz.PhoneNumberID)
		}
		return nil
	}
	// unrouted keeps an item no hotel was found for. The event is built
	// only then: a payload boxed for every item was a copy of each message.
	unrouted := func(biz whatsapp.Business, guest string, e inbox.UnroutedEvent) {
		e.Channel, e.PhoneNumberID, e.WABAID, e.Guest = chat.WhatsApp, biz.PhoneNumberID, biz.WABAID, guest
		res.Unrouted = append(res.Unrouted, e)
	}
	for i, m := range b.Messages {
		biz := b.MessageBusiness(i)
		if p := attribute(biz, m.From); p != nil {
			m.TenantID = p.Tenant
			p.Messages = append(p.Messages, m)
		} else {
			unrouted(biz, m.From, inbox.UnroutedEvent{Field: "messages", Kind: inbox.UnroutedMessage, ItemID: m.ID, Payload: m})
		}
	}
	for i, st := range b.Statuses {
		biz := b.StatusBusiness(i)
		if p := attribute(biz, st.Recipient); p != nil {
			st.TenantID = p.Tenant
			p.Statuses = append(p.Statuses, st)
		} else {
			unrouted(biz, st.Recipient, inbox.UnroutedEvent{Field: "messages", Kind: inbox.UnroutedStatus, ItemID: st.MessageID + ":" + st.Status, Payload: st})
		}
	}
	for _, f := range b.Fields {
		biz := whatsapp.Business{PhoneNumberID: f.PhoneNumberID, WABAID: f.WABAID}
		if p := attribute(biz, ""); p != nil {
			p.Fields = append(p.Fields, f)
		} else {
			unrouted(biz, "", inbox.UnroutedEvent{Field: f.Field, Kind: inbox.UnroutedField, Payload: f})
		}
	}
	return res
}

// Answer is what the webhook answers once the events are accepted: always
// {"status":"ok"}; with AnswerInline, also the first reply
// ("response_type", "content"). An answer Accept returns may be shared
// with other requests: read it, never change it.
type Answer map[string]any

// answerOK is Accept's usual answer, one map for every request (a map per
// webhook was two allocations to say the same thing).
var answerOK = Answer{"status": "ok"}

// Accept makes a resolved webhook's events durable in the inbox and
// answers. Nothing is acknowledged before it is stored: an error means the
// sender must deliver again (ErrUnavailable). Events no hotel was found for
// are kept as unrouted and acknowledged too (Meta retries anything else for
// days, then disables the subscription); an email no hotel was found for
// is refused (ErrNoTenant).
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
			// Only the email channel refuses a sender of no hotel: its
			// sender is our own bridge, and a refusal tells it so.
			return nil, ErrNoTenant
		}
		chat.RecordNormalized(in.Channel, p.Tenant, len(p.Messages))
		if len(res.Parts) == 1 {
			// One hotel (nearly every webhook): its lists are the batch's,
			// not copied again.
			msgs, statuses = p.Messages, p.Statuses
		} else {
			msgs = append(msgs, p.Messages...)
			statuses = append(statuses, p.Statuses...)
		}
		for _, f := range p.Fields {
			s.log.Debug("webhook field event acknowledged", "field", f.Field, "tenant_id", p.Tenant)
		}
	}
	if len(res.Unrouted) > 0 {
		if err := s.keepUnrouted(ctx, res.Unrouted); err != nil {
			return nil, err
		}
	}
	if s.cfg.AnswerInline {
		return s.answerInline(ctx, msgs, statuses)
	}
	r, err := s.inbox.Accept(ctx, msgs, statuses)
	if err != nil {
		s.log.Error("inbox unavailable; the webhook will be redelivered", "error", err)
		return nil, ErrUnavailable
	}
	if r.Duplicate > 0 {
		s.log.Debug("redelivered events acknowledged again", "new", r.New, "duplicates", r.Duplicate)
	}
	s.reengage(ctx, r.FreshStatuses)
	return answerOK, nil
}

// keepUnrouted keeps, before the acknowledgement, what no hotel was found
// for, and says so once per webhook.
func (s *Service) keepUnrouted(ctx context.Context, events []inbox.UnroutedEvent) error {
	added, err := s.inbox.AcceptUnrouted(ctx, events)
	if err != nil {
		s.log.Error("inbox unavailable; the webhook will be redelivered", "error", err)
		return ErrUnavailable
	}
	if added > 0 {
		fields, ids := []string{}, []string{}
		for _, e := range events {
			if !slices.Contains(fields, e.Field) {
				fields = append(fields, e.Field)
			}
			if id := cmp.Or(e.PhoneNumberID, e.WABAID); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		s.log.Warn("webhook events without a hotel kept as unrouted (register the business number or account to route them)",
			"events", added, "fields", fields, "business_ids", ids)
	}
	return nil
}

// answerInline runs the orchestrator in the request (ENVIRONMENT=test) and
// queues the replies for sending like the workers would. The events are
// recorded first, as answered, so a redelivery is recognised exactly as
// the workers' inbox recognises it: only fresh messages are answered.
func (s *Service) answerInline(ctx context.Context, msgs []chat.Message, statuses []chat.Status) (Answer, error) {
	r, err := s.inbox.AcceptAnswered(ctx, msgs, statuses)
	if err != nil {
		s.log.Error("inbox unavailable; the webhook will be redelivered", "error", err)
		return nil, ErrUnavailable
	}
	s.reengage(ctx, r.FreshStatuses)
	out := Answer{"status": "ok"}
	for _, m := range r.Fresh {
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
