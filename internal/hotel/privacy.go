package hotel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// guestData serves the admin API's privacy routes: what is kept about one
// guest of one hotel, and its erasure. Kept about a guest: their messages,
// the replies and those replies' delivery statuses (the inbox), the agent's
// session, the staff's view of the conversation, their consent answers and
// the tenant directory's phone or email entries naming them. Not kept: the
// PMS's booking (the hotel's own system of record, outside this service)
// and the PMS cache, which holds availability, hotel facts and room types,
// never a booking or a guest. Mail stays in the hotel's mailbox.
type guestData struct{ s *Service }

var _ admin.Privacy = guestData{}

// ExportGuest implements admin.Privacy.
func (d guestData) ExportGuest(ctx context.Context, g admin.GuestRef) (admin.GuestExport, bool, error) {
	s := d.s
	ch := chat.Channel(g.Channel)
	out := admin.GuestExport{TenantID: g.TenantID, Channel: admin.WireChannel(g.Channel), Guest: g.Guest, ExportedAt: time.Now().UTC(),
		Messages: []admin.MessageJSON{}, Consent: []admin.ConsentJSON{}, Identifiers: []admin.IdentifierJSON{}}
	c, err := s.conversations.Get(ctx, conversation.Key{TenantID: g.TenantID, Channel: g.Channel, Guest: g.Guest})
	switch {
	case err == nil:
		j := admin.ConversationJSONOf(c)
		out.Conversation = &j
	case !errors.Is(err, conversation.ErrNotFound):
		return out, false, fmt.Errorf("reading the conversation: %w", err)
	}
	msgs, replies, err := s.inbox.History(ctx, g.TenantID, ch, g.Guest, -1)
	if err != nil {
		return out, false, fmt.Errorf("reading the history: %w", err)
	}
	out.Messages = historyJSON(msgs, replies)
	if st, found, err := s.orchestrator.GuestState(ctx, g.TenantID, ch, g.Guest); err != nil {
		return out, false, fmt.Errorf("reading the session: %w", err)
	} else if found {
		out.Session = st
	}
	changes, err := s.consent.History(ctx, g.TenantID, ch, g.Guest)
	if err != nil {
		return out, false, fmt.Errorf("reading consent: %w", err)
	}
	for _, r := range changes {
		out.Consent = append(out.Consent, admin.ConsentJSON{OptedOut: r.OptedOut, ChangedAt: r.ChangedAt.UTC(), MessageID: r.MessageID, Text: r.Text})
	}
	for _, id := range d.identifiers(g) {
		out.Identifiers = append(out.Identifiers, admin.IdentifierJSONOf(id))
	}
	found := out.Conversation != nil || len(out.Messages) > 0 || out.Session != nil || len(out.Consent) > 0 || len(out.Identifiers) > 0
	return out, found, nil
}

// EraseGuest implements admin.Privacy. The inbox goes first: it is the one
// part that can refuse (work in flight), and refusing must leave
// everything in place.
func (d guestData) EraseGuest(ctx context.Context, actor string, g admin.GuestRef) (admin.GuestErasure, error) {
	s := d.s
	ch := chat.Channel(g.Channel)
	var out admin.GuestErasure
	var err error
	if out.GuestErasure, err = s.inbox.EraseGuest(ctx, g.TenantID, ch, g.Guest); err != nil {
		return out, err
	}
	if _, found, err := s.orchestrator.GuestState(ctx, g.TenantID, ch, g.Guest); err != nil {
		return out, fmt.Errorf("reading the session: %w", err)
	} else if found {
		if err := s.orchestrator.ForgetGuest(ctx, g.TenantID, ch, g.Guest); err != nil {
			return out, fmt.Errorf("deleting the session: %w", err)
		}
		out.Sessions = 1
	}
	if out.Conversations, err = s.conversations.Erase(ctx, g.TenantID, g.Guest); err != nil {
		return out, fmt.Errorf("deleting the conversation: %w", err)
	}
	if out.Consent, err = s.consent.Erase(ctx, g.TenantID, ch, g.Guest); err != nil {
		return out, err
	}
	for _, id := range d.identifiers(g) {
		removed, err := s.deps.Tenants.EraseIdentifier(ctx, actor, g.TenantID, id)
		if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
			return out, fmt.Errorf("deleting an identifier: %w", err)
		}
		out.Identifiers += len(removed)
	}
	s.log.Info("guest erased", "tenant_id", g.TenantID, "channel", g.Channel, "actor", actor,
		"messages", out.Messages, "replies", out.Replies, "statuses", out.Statuses, "sessions", out.Sessions,
		"conversations", out.Conversations, "consent", out.Consent, "identifiers", out.Identifiers)
	return out, nil
}

// identifiers are the hotel's directory entries that name the guest: a
// phone (WhatsApp) or an email address routing them to this hotel.
func (d guestData) identifiers(g admin.GuestRef) []tenancy.Identifier {
	t, ok := d.s.deps.Tenants.Tenant(g.TenantID)
	if !ok {
		return nil
	}
	want := tenancy.Identifier{Type: tenancy.Phone, Value: g.Guest}
	if chat.Channel(g.Channel) == chat.Gmail {
		want.Type = tenancy.Email
	}
	var out []tenancy.Identifier
	for _, id := range t.Identifiers {
		if id.Type == want.Type && id.Key() == want.Key() {
			out = append(out, id)
		}
	}
	return out
}
