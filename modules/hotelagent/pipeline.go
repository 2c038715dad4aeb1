package hotelagent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// inboxRetention is how long finished inbox rows are kept: Meta redelivers
// for up to 7 days, and a redelivery is only recognised while its row exists.
const inboxRetention = 8 * 24 * time.Hour

// handle is the inbox's handler: one guest message in, the replies to queue out.
func (h *HotelAgent) handle(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
	hc := h.hotelContext(ctx, m.TenantID)
	replies, err := h.orchestrator.Handle(ctx, m, hc)
	if err != nil {
		if errors.Is(err, agent.ErrBadMessage) {
			return nil, inbox.Permanent(err)
		}
		return nil, err
	}
	out := make([]inbox.OutboundReply, len(replies))
	for i, r := range replies {
		out[i] = inbox.OutboundReply{Reply: r}
	}
	return out, nil
}

// hotelContext is what the orchestrator needs to know of the hotel: its
// name, time zone, language and PMS id from the tenant directory (the
// directory's defaults for a tenant it does not know), and the flags that
// shape replies.
func (h *HotelAgent) hotelContext(ctx context.Context, tenantID string) agent.HotelContext {
	hc := agent.HotelContext{
		TenantID: tenantID,
		Name:     tenantID,
		Language: tenancy.DefaultLanguage,
		Hotel:    pms.Hotel{TenantID: tenantID, PMSID: tenancy.DefaultPMSHotelID},
		Location: h.location(tenancy.DefaultTimezone),
	}
	if t, ok := h.app.Tenants().Tenant(tenantID); ok {
		hc.Name = t.Name
		if t.Language != "" {
			hc.Language = t.Language
		}
		if t.PMSHotelID > 0 {
			hc.Hotel.PMSID = t.PMSHotelID
		}
		if t.Timezone != "" {
			hc.Location = h.location(t.Timezone)
		}
	}
	hc.Flags.InteractiveMessages = h.app.Flags().Enabled(ctx, flags.InteractiveMessages)
	return hc
}

// location caches time zones; an unknown zone falls back to UTC (the tenant
// directory validates zones on write, so this is only a safety net).
func (h *HotelAgent) location(name string) *time.Location {
	if v, ok := h.zones.Load(name); ok {
		return v.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		h.logger.Warn("unknown time zone; using UTC", zap.String("zone", name), zap.Error(err))
		loc = time.UTC
	}
	h.zones.Store(name, loc)
	return loc
}

// openInbox returns the durable inbox: Postgres when configured, else the
// process's memory inbox.
func (h *HotelAgent) openInbox(logger *slog.Logger) (*inbox.Inbox, error) {
	opts := inbox.Options{Logger: logger, LeaseDuration: time.Duration(h.InboxLease)}
	if pool := h.app.Postgres(); pool != nil {
		return inbox.NewPostgres(pool, opts), nil
	}
	// Kept across reloads, so a reload loses no accepted message.
	return keep(h, "inbox:memory", func() *inbox.Inbox { return inbox.NewMemory(opts) })
}

// startWorkers runs the inbox's workers and the outbox's sender until the
// config is unloaded. In ENVIRONMENT=test messages are answered inline by
// the webhook, so no inbox worker runs; the sender still delivers.
//
// The workers stop when the config's context ends or when Cleanup runs,
// whichever comes first: Caddy also calls Cleanup when Validate fails, with
// the context still live, and Cleanup waits for the workers.
func (h *HotelAgent) startWorkers(cctx caddy.Context, runInbox bool) {
	ctx, cancel := context.WithCancel(cctx)
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				h.logger.Error(name+" stopped", zap.Error(err))
			}
		})
	}
	if runInbox {
		run("inbox workers", func(ctx context.Context) error { return h.inbox.Run(ctx, h.handle) })
	}
	run("outbox sender", func(ctx context.Context) error { return h.inbox.RunSender(ctx, h.sender) })
	run("inbox pruning", func(ctx context.Context) error {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := h.inbox.Prune(ctx, time.Now().Add(-inboxRetention)); err != nil && ctx.Err() == nil {
				h.logger.Warn("pruning the inbox", zap.Error(err))
			} else if n > 0 {
				h.logger.Info("pruned finished inbox rows", zap.Int64("rows", n))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	h.stopWorkers = func() { cancel(); wg.Wait() }
}

// channelSender delivers queued replies on the channel they belong to, or
// logs and keeps them when that channel has no credentials (development).
type channelSender struct {
	whatsapp             *whatsapp.Client
	defaultPhoneNumberID string
	email                *email.Sender
	logged               *inbox.LogSender
}

func (s *channelSender) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	switch r.Channel {
	case chat.WhatsApp:
		if s.whatsapp == nil {
			return s.logged.Send(ctx, r)
		}
		from := r.PhoneNumberID
		if from == "" {
			from = s.defaultPhoneNumberID
		}
		id, err := s.whatsapp.Send(ctx, from, r.To, r.Reply)
		return id, sendError(err)
	case chat.Gmail:
		if s.email == nil {
			return s.logged.Send(ctx, r)
		}
		in := chat.Message{Channel: chat.Gmail, ID: r.InReplyTo, From: r.To, Subject: r.Subject}
		if err := s.email.SendReply(ctx, in, r.Reply); err != nil {
			return "", err
		}
		return "smtp:" + r.InReplyTo, nil
	}
	return "", inbox.Permanent(errors.New("no sender for channel " + string(r.Channel)))
}

func newChannelSender(s config.Settings, logger *slog.Logger) *channelSender {
	cs := &channelSender{defaultPhoneNumberID: s.WhatsAppPhoneNumberID, logged: &inbox.LogSender{Logger: logger}}
	if s.WhatsAppAccessToken != "" {
		cs.whatsapp = &whatsapp.Client{BaseURL: s.WhatsAppAPIBase, Token: s.WhatsAppAccessToken}
	}
	if s.SMTPAddr != "" {
		cs.email = &email.Sender{Addr: s.SMTPAddr, Username: s.GmailUsername, Password: s.GmailAppPassword, From: s.GmailUsername}
	}
	return cs
}

// retryAfter gives the outbox the WhatsApp client's verdict on an error.
type retryAfter struct {
	*whatsapp.SendError
}

func (e retryAfter) Retryable() bool           { return e.SendError.Retryable }
func (e retryAfter) RetryAfter() time.Duration { return e.SendError.RetryAfter }

func sendError(err error) error {
	var se *whatsapp.SendError
	if errors.As(err, &se) {
		return retryAfter{se}
	}
	return err
}

var _ inbox.RetryableError = retryAfter{}

// slogFrom bridges Caddy's zap logger to the slog logger the inbox takes.
func slogFrom(l *zap.Logger) *slog.Logger { return slog.New(zapslog.NewHandler(l.Core())) }
