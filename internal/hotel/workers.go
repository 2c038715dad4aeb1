package hotel

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// DefaultRetention is how long finished rows are kept without
// Config.Retention: Meta redelivers for up to 7 days, and a redelivery is
// only recognised while its row exists.
const DefaultRetention = 8 * 24 * time.Hour

// openInbox returns the durable inbox: Postgres when configured, else the
// process's memory inbox, kept across reloads so a reload loses no accepted
// message.
func (s *Service) openInbox() (*inbox.Inbox, error) {
	opts := inbox.Options{Logger: s.log, LeaseDuration: s.cfg.InboxLease, TracerProvider: s.deps.TracerProvider,
		Workers: s.cfg.InboxWorkers, SenderWorkers: s.cfg.Senders}
	if s.deps.Postgres != nil {
		return inbox.NewPostgres(s.deps.Postgres, opts), nil
	}
	return keep(s.deps.Keeper, "inbox:memory", func() *inbox.Inbox { return inbox.NewMemory(opts) })
}

// Start runs the inbox's workers, the outbox's sender and the pruning of
// finished rows until Stop. With AnswerInline messages are answered by the
// webhook itself, so no inbox worker runs; the sender still delivers.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(name+" stopped", "error", err)
			}
		})
	}
	if !s.cfg.AnswerInline {
		run("inbox workers", func(ctx context.Context) error { return s.inbox.Run(ctx, s.handle) })
	}
	run("outbox sender", func(ctx context.Context) error { return s.inbox.RunSender(ctx, s.outbound) })
	if s.token != nil {
		run("WhatsApp token probe", s.token.watch)
	}
	run("inbox pruning", s.prune)
	for _, w := range s.mailboxes {
		run("mailbox reader", w.Run)
	}
	run("waiting guests", s.watchWaiting)
	if s.notifier != nil {
		run("handoff notices", s.runNotices)
	}
	run("revoked admin tokens", func(ctx context.Context) error {
		return s.revocations.Run(ctx, func(err error) { s.log.Warn("reloading revoked admin tokens", "error", err) })
	})
	if s.hotelBoxes != nil {
		run("hotels' mailboxes", s.runHotelMailboxes)
	}
	run("131047 receipts", s.runReengage)
	s.stopWorkers = func() { cancel(); wg.Wait() }
}

// Stop ends the workers and waits for them: what they hold is finished or
// handed back for the next configuration or instance to take.
func (s *Service) Stop() {
	if s.stopWorkers != nil {
		s.stopWorkers()
		s.stopWorkers = nil
	}
}

// prune deletes, every hour, what the data retention no longer keeps.
func (s *Service) prune(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		s.pruneOnce(ctx, time.Now().Add(-cmp.Or(s.cfg.Retention, DefaultRetention)))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pruneOnce deletes what finished, expired or went idle before cutoff.
func (s *Service) pruneOnce(ctx context.Context, cutoff time.Time) {
	for _, p := range []struct {
		what  string
		prune func(context.Context, time.Time) (int, error)
	}{
		{"finished inbox rows", func(ctx context.Context, t time.Time) (int, error) {
			n, err := s.inbox.Prune(ctx, t)
			return int(n), err
		}},
		{"expired sessions", s.orchestrator.PruneSessions},
		{"idle conversations", s.conversations.Prune},
	} {
		if n, err := p.prune(ctx, cutoff); err != nil && ctx.Err() == nil {
			s.log.Warn("pruning "+p.what, "error", err)
		} else if n > 0 {
			s.log.Info("pruned "+p.what, "rows", n, "before", cutoff.UTC())
		}
	}
}

// handle is the inbox's handler: one guest message in, the replies to queue out.
// A message about consent, or from a guest who opted out, never reaches the
// orchestrator.
//
// With tracing, the steps around the orchestrator are spans of their own
// (they read and write Postgres and Redis), so the time between the claim
// and the reply is accounted for in the message's trace.
func (s *Service) handle(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
	sctx, span := tracing.Start(ctx, "hotel.context", trace.SpanKindInternal)
	hc := s.hotelContext(sctx, m.TenantID)
	span.End()
	sctx, span = tracing.Start(ctx, "conversation.record_inbound", trace.SpanKindInternal)
	s.recordInbound(sctx, m)
	span.End()
	// The session is read with the consent, before the read receipt's
	// round trip to Meta: how long the turn holds it does not decide
	// whether a change staff make meanwhile survives, since the turn's save
	// keeps a reset (ResetHandoff) or an erasure made since its read
	// (agent.SessionStore).
	sctx, span = tracing.Start(ctx, "consent.check", trace.SpanKindInternal)
	guest, err := s.readGuest(sctx, m, hc)
	var replies []inbox.OutboundReply
	handled := false
	if err == nil {
		replies, handled, err = s.consentTurn(sctx, m, hc, guest.consent, guest.found)
	}
	tracing.End(span, err)
	if handled || err != nil {
		return replies, err
	}
	s.markRead(ctx, m)
	turn, err := s.orchestrator.HandleTurnFrom(ctx, m, hc, guest.session)
	if err != nil {
		if errors.Is(err, agent.ErrBadMessage) {
			s.log.Warn("guest message given up; it is a dead letter until replayed", "tenant_id", m.TenantID, "channel", m.Channel,
				"guest", m.From, "message_id", m.ID, "error", err)
			return nil, inbox.Permanent(err)
		}
		s.log.Info("guest message failed; it will be retried", "tenant_id", m.TenantID, "message_id", m.ID, "error", err)
		return nil, err
	}
	sctx, span = tracing.Start(ctx, "conversation.record_turn", trace.SpanKindInternal)
	s.recordTurn(sctx, m, turn)
	span.End()
	answers := turn.Replies
	if m.Channel == chat.Gmail {
		answers = oneMail(answers)
	}
	out := make([]inbox.OutboundReply, len(answers))
	for i, r := range answers {
		out[i] = inbox.OutboundReply{Reply: r, GuestName: m.Name, GuestSentAt: m.Timestamp, References: m.References}
	}
	return out, nil
}

// hotelContext is what the orchestrator needs to know of the hotel: its
// name, time zone, language and PMS id from the tenant directory (the
// directory's defaults for a tenant it does not know), and the flags that
// shape replies. A tenant without pms_hotel_id, or unknown, has no PMS id:
// the PMS decides what that means (the demo's default property; with
// QloApps, ErrNotConfigured).
func (s *Service) hotelContext(ctx context.Context, tenantID string) agent.HotelContext {
	// The hotel's name is its display name: a tenant id ("default") is no
	// name to greet a guest with, so without one the PMS's name is used.
	hc := agent.HotelContext{
		TenantID: tenantID,
		Language: tenancy.DefaultLanguage,
		Hotel:    pms.Hotel{TenantID: tenantID},
		Location: s.location(tenancy.DefaultTimezone),
	}
	if t, ok := s.deps.Tenants.TenantProfile(tenantID); ok {
		if t.Name != tenantID {
			hc.Name = t.Name
		}
		if t.Language != "" {
			hc.Language = t.Language
		}
		if t.PMSHotelIDSet {
			hc.Hotel.PMSID = t.PMSHotelID
		}
		if t.Timezone != "" {
			hc.Location = s.location(t.Timezone)
		}
	}
	hc.Flags.InteractiveMessages = s.deps.Flags.Enabled(ctx, flags.InteractiveMessages)
	hc.Flags.AskEmail = s.deps.Flags.Enabled(ctx, flags.AskEmail)
	return hc
}

// location caches time zones; an unknown zone falls back to UTC (the tenant
// directory validates zones on write, so this is only a safety net).
func (s *Service) location(name string) *time.Location {
	if v, ok := s.zones.Load(name); ok {
		return v.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		s.log.Warn("unknown time zone; using UTC", "zone", name, "error", err)
		loc = time.UTC
	}
	s.zones.Store(name, loc)
	return loc
}
