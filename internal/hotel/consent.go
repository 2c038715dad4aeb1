package hotel

import (
	"context"
	"fmt"
	"time"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/consent"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// A guest's opt-out is checked twice, so that nothing reaches a guest who
// opted out whoever produced it:
//
//   - consentTurn, in handle before the orchestrator: it records STOP/BAJA
//     and START/ALTA, answers them with their confirmation, and gives a
//     guest who opted out no answer at all;
//   - consentSender, around the sender RunSender uses, which every reply
//     leaves through (the workers', those answered inline, those queued
//     with Enqueue by staff or notices, those held or queued before the
//     guest opted out): a reply to a guest who opted out is suppressed
//     (inbox.StateSuppressed), not sent and not failed. The one exception is
//     the confirmation itself, the reply to the very message that opted the
//     guest out. On Postgres the answer is the one the outbox's claim read
//     with the reply (recipientConsent).

// openConsent returns where guests' consent is kept: Postgres when
// configured, else the process's memory store, kept across reloads like the
// memory inbox so a reload forgets no opt-out.
func (s *Service) openConsent() (consent.Store, error) {
	if s.deps.Postgres != nil {
		return consent.NewPostgres(s.deps.Postgres), nil
	}
	return keep(s.deps.Keeper, "consent:memory", func() consent.Store { return consent.NewMemory() })
}

// consentTurn answers what m says about consent, given the guest's current
// answer (cur; found false when they never changed it). handled means m
// needs no other answer: it changed the guest's consent (replies holds the
// confirmation) or the guest has opted out (no reply at all). The inbox
// hands one guest's messages over one at a time, so reading the answer and
// changing it cannot interleave with another message of the same guest.
func (s *Service) consentTurn(ctx context.Context, m chat.Message, hc agent.HotelContext, cur consent.Record, found bool) (replies []inbox.OutboundReply, handled bool, err error) {
	cmd, lang := consent.Parse(m.Text)
	if lang == "" {
		lang = hc.Language
	}
	confirm := func(optedOut bool) []inbox.OutboundReply {
		return []inbox.OutboundReply{{Reply: agent.ConsentReply(optedOut, lang, hc.Name)}}
	}
	switch {
	case cmd != consent.None && (cmd == consent.OptOut) != cur.OptedOut:
		optOut := cmd == consent.OptOut
		if _, err := s.consent.Set(ctx, consent.Record{TenantID: m.TenantID, Channel: m.Channel, Guest: m.From,
			OptedOut: optOut, ChangedAt: time.Now(), MessageID: m.ID, Text: m.Text}); err != nil {
			return nil, false, err
		}
		change := "opted in"
		if optOut {
			change = "opted out"
		}
		s.log.Info("guest "+change, "tenant_id", m.TenantID, "channel", string(m.Channel), "message_id", m.ID)
		return confirm(optOut), true, nil
	case found && m.ID != "" && cur.MessageID == m.ID:
		// This message changed the answer on an earlier attempt whose
		// replies were never queued: confirm it now.
		return confirm(cur.OptedOut), true, nil
	case cur.OptedOut:
		return nil, true, nil
	}
	return nil, false, nil
}

// consentSender suppresses every reply to a guest who opted out, except
// the confirmation of the opt-out, and hands the others to next.
type consentSender struct {
	store consent.Store
	next  inbox.Sender
}

func (c consentSender) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	rec, found, err := c.recipientConsent(ctx, r)
	if err != nil {
		// Retried: a reply may be late, never sent to a guest who said stop.
		return "", fmt.Errorf("reading the guest's consent: %w", err)
	}
	if found && rec.OptedOut && (r.InReplyTo == "" || r.InReplyTo != rec.MessageID) {
		return "", inbox.Suppress("suppressed: opted out at " + rec.ChangedAt.UTC().Format(time.RFC3339))
	}
	return c.next.Send(ctx, r)
}

// recipientConsent is the consent of r's guest: as the outbox's claim read
// it (Postgres: the same guest_consent the store keeps, read in the
// claim's statement) when it looked the guest up by their stored form,
// else read from the store now (the memory outbox; a reply addressed in
// another form, such as a staff reply to "+34 600…").
func (c consentSender) recipientConsent(ctx context.Context, r inbox.OutboundReply) (consent.Record, bool, error) {
	if rc := r.ClaimedConsent; rc != nil && consent.GuestKey(r.Channel, r.To) == r.To {
		return consent.Record{TenantID: r.TenantID, Channel: r.Channel, Guest: r.To,
			OptedOut: rc.OptedOut, ChangedAt: rc.ChangedAt, MessageID: rc.MessageID}, rc.Found, nil
	}
	return c.store.Get(ctx, r.TenantID, r.Channel, r.To)
}
