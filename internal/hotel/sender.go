package hotel

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// channelSender delivers queued replies on the channel they belong to, or
// logs and keeps them when that channel has no credentials (development).
type channelSender struct {
	whatsapp             *whatsapp.Client
	defaultPhoneNumberID string
	email                *email.Sender
	// perTenant is a hotel's own SMTP sender, nil when it has none.
	perTenant func(tenant string) *email.Sender
	logged    *inbox.LogSender
}

func newChannelSender(wa WhatsAppConfig, smtp SMTPConfig, log *slog.Logger) *channelSender {
	cs := &channelSender{defaultPhoneNumberID: wa.PhoneNumberID, logged: &inbox.LogSender{Logger: log}}
	if wa.AccessToken != "" {
		cs.whatsapp = &whatsapp.Client{BaseURL: wa.APIBase, Token: wa.AccessToken}
	}
	if smtp.Addr != "" {
		from := smtp.From
		if from == "" {
			from = smtp.Username
		}
		cs.email = &email.Sender{Addr: smtp.Addr, Username: smtp.Username, Password: smtp.Password, From: from}
	}
	return cs
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
		snd := s.email
		if s.perTenant != nil {
			if own := s.perTenant(r.TenantID); own != nil {
				snd = own
			}
		}
		if snd == nil {
			return s.logged.Send(ctx, r)
		}
		in := chat.Message{Channel: chat.Gmail, ID: r.InReplyTo, From: r.To, Subject: r.Subject, References: r.References}
		if err := snd.SendReply(ctx, in, r.Reply); err != nil {
			return "", err
		}
		return "smtp:" + r.InReplyTo, nil
	}
	return "", inbox.Permanent(errors.New("no sender for channel " + string(r.Channel)))
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

// loggedSender logs every failed send, one line with the hotel and ids:
// warn when the reply is given up (it is now a dead letter), info when it
// will be tried again.
type loggedSender struct {
	next inbox.Sender
	log  *slog.Logger
}

func (l loggedSender) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	id, err := l.next.Send(ctx, r)
	if err == nil || inbox.IsSuppressed(err) || inbox.IsHold(err) {
		return id, err // the consent and token steps log their own
	}
	var re inbox.RetryableError
	attrs := []any{"tenant_id", r.TenantID, "channel", r.Channel, "to", r.To, "in_reply_to", r.InReplyTo, "staff", r.Staff, "error", err}
	if errors.As(err, &re) && !re.Retryable() {
		l.log.Warn("reply refused for good; it is a dead letter until replayed", attrs...)
	} else {
		l.log.Info("reply send failed; it will be retried", attrs...)
	}
	return id, err
}
