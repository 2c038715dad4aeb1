package hotelagent

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
	"github.com/agentehotel/agente-caddy/modules/tenantresolve"
)

// maxEventBody bounds what the handler reads when nothing in front of it did
// (Meta's payloads stay under 3 MB). The hmac_webhook matcher normally has
// already read and restored a body of at most its own limit.
const maxEventBody = 3 << 20

func readEvent(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, caddyhttp.Error(http.StatusRequestEntityTooLarge, errors.New("body too large"))
		}
		return nil, caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
	}
	return body, nil
}

// acceptWhatsApp normalises a signed WhatsApp event, decides each part's
// hotel, and makes it durable before answering 200: Meta retries anything
// else, and nothing acknowledged may be lost.
func (h *HotelAgent) acceptWhatsApp(w http.ResponseWriter, r *http.Request) error {
	body, err := readEvent(w, r)
	if err != nil {
		return err
	}
	if err := whatsapp.CheckChannel(chat.WhatsApp, body); err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	batch, nerr := whatsapp.Normalize(body, whatsapp.NormalizeOptions{Metadata: h.metadata})
	if nerr != nil {
		// What could be read is still accepted; a redelivery cannot repair the rest.
		h.logger.Warn("webhook partly unreadable", zap.Error(nerr), zap.Int("events_read", batch.Len()))
	}
	var msgs []chat.Message
	var statuses []chat.Status
	parts := batch.ByBusiness()
	for _, part := range parts {
		in := tenancy.ResolveInput{Channel: string(chat.WhatsApp), Default: h.defaultTenant}
		if len(part.PhoneNumberIDs) > 0 {
			in.PhoneNumberID = part.PhoneNumberIDs[0]
		}
		if len(part.WABAIDs) > 0 {
			in.WABAID = part.WABAIDs[0]
		}
		if len(part.Messages) > 0 {
			in.GuestPhone = part.Messages[0].From
		} else if len(part.Statuses) > 0 {
			in.GuestPhone = part.Statuses[0].Recipient
		}
		tenant, ok := h.tenantOf(r, in, len(parts) == 1)
		if !ok {
			h.logger.Warn("no tenant for a webhook part; dropped", zap.Strings("phone_number_ids", part.PhoneNumberIDs))
			continue
		}
		part = part.ForTenant(tenant)
		chat.RecordNormalized(chat.WhatsApp, tenant, len(part.Messages))
		msgs = append(msgs, part.Messages...)
		statuses = append(statuses, part.Statuses...)
	}
	return h.accept(w, r, msgs, statuses)
}

// acceptGmail is acceptWhatsApp for the email channel's JSON payload.
func (h *HotelAgent) acceptGmail(w http.ResponseWriter, r *http.Request) error {
	body, err := readEvent(w, r)
	if err != nil {
		return err
	}
	if err := whatsapp.CheckChannel(chat.Gmail, body); err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	m, err := email.Normalize(body, email.NormalizeOptions{Metadata: h.metadata})
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	tenant, ok := h.tenantOf(r, tenancy.ResolveInput{Channel: string(chat.Gmail), GuestEmail: m.From, Default: h.defaultTenant}, true)
	if !ok {
		return caddyhttp.Error(http.StatusForbidden, errors.New("no hotel for this sender"))
	}
	m.TenantID = tenant
	chat.RecordNormalized(chat.Gmail, tenant, 1)
	return h.accept(w, r, []chat.Message{m}, nil)
}

// tenantOf is the tenant that tenant_resolve decided for the request when
// the request is about one hotel, or the directory's answer for this part.
func (h *HotelAgent) tenantOf(r *http.Request, in tenancy.ResolveInput, single bool) (string, bool) {
	if single {
		if v, _ := caddyhttp.GetVar(r.Context(), tenantresolve.VarTenantID).(string); v != "" {
			return v, true
		}
	}
	id, res := h.app.Tenants().Resolve(in)
	return id, res != tenancy.ResultMissStrict && id != ""
}

// accept stores the events and answers. In ENVIRONMENT=test the messages
// are answered inline and the answer echoes the reply (seed 000).
func (h *HotelAgent) accept(w http.ResponseWriter, r *http.Request, msgs []chat.Message, statuses []chat.Status) error {
	if h.inline {
		return h.answerInline(w, r, msgs)
	}
	res, err := h.inbox.Accept(r.Context(), msgs, statuses)
	if err != nil {
		h.logger.Error("inbox unavailable; the webhook will be redelivered", zap.Error(err))
		return caddyhttp.Error(http.StatusServiceUnavailable, errors.New("temporarily unable to accept events"))
	}
	if res.Duplicate > 0 {
		h.logger.Debug("redelivered events acknowledged again", zap.Int("new", res.New), zap.Int("duplicates", res.Duplicate))
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// answerInline runs the orchestrator in the request (test mode) and queues
// the replies for sending like the workers would.
func (h *HotelAgent) answerInline(w http.ResponseWriter, r *http.Request, msgs []chat.Message) error {
	body := map[string]any{"status": "ok"}
	for _, m := range msgs {
		replies, err := h.handle(r.Context(), m)
		if err != nil {
			h.logger.Error("answering inline (ENVIRONMENT=test)", zap.String("tenant_id", m.TenantID), zap.String("message_id", m.ID), zap.Error(err))
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		replies = inbox.AddressReplies(m, replies)
		if err := h.inbox.Enqueue(r.Context(), replies...); err != nil {
			return caddyhttp.Error(http.StatusServiceUnavailable, err)
		}
		if len(replies) > 0 && body["response_type"] == nil {
			body["response_type"] = replies[0].Reply.ResponseType()
			body["content"] = replyContent(replies[0].Reply)
		}
	}
	return writeJSON(w, http.StatusOK, body)
}

// replyContent is the echo of a reply in test mode: the text for a text
// reply, the whole reply otherwise.
func replyContent(r chat.Reply) any {
	if r.Kind == chat.ReplyText || r.Kind == "" {
		return r.Text
	}
	return r
}
