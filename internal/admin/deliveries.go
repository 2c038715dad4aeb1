package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// Deliveries is what the operator reads about traffic: each reply and where
// it stands with the channel, and the events no hotel could be found for.
// *inbox.Inbox is one.
type Deliveries interface {
	Replies(ctx context.Context, q inbox.Query) ([]inbox.ReplyRecord, error)
	Unrouted(ctx context.Context, limit int) ([]inbox.UnroutedRecord, error)
}

// ReplyJSON is a reply on the wire: what was sent to whom, the outbox's
// state (pending, held, sent, failed, suppressed) and the channel's last
// word on it (sent, delivered, read, failed with Meta's errors).
type ReplyJSON struct {
	To             string       `json:"to"`
	Channel        string       `json:"channel"`
	InReplyTo      string       `json:"in_reply_to,omitempty"`
	Kind           string       `json:"kind"`
	Text           string       `json:"text"`
	State          string       `json:"state"`
	Attempts       int          `json:"attempts"`
	LastError      string       `json:"last_error,omitempty"`
	ProviderID     string       `json:"provider_id,omitempty"`
	QueuedAt       time.Time    `json:"queued_at"`
	DoneAt         *time.Time   `json:"done_at,omitempty"`
	DeliveryStatus string       `json:"delivery_status,omitempty"`
	DeliveryAt     *time.Time   `json:"delivery_at,omitempty"`
	DeliveryErrors []chat.Error `json:"delivery_errors,omitempty"`
}

// UnroutedJSON is a kept unrouted event on the wire.
type UnroutedJSON struct {
	Channel       string          `json:"channel"`
	Field         string          `json:"field"`
	Kind          string          `json:"kind"`
	PhoneNumberID string          `json:"phone_number_id,omitempty"`
	WABAID        string          `json:"waba_id,omitempty"`
	Guest         string          `json:"guest,omitempty"`
	ItemID        string          `json:"item_id,omitempty"`
	ReceivedAt    time.Time       `json:"received_at"`
	Payload       json.RawMessage `json:"payload"`
}

// listReplies: GET /admin/tenants/{id}/replies[?to=&in_reply_to=&limit=],
// oldest first.
func (h *Handler) listReplies(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := h.opts.Tenants.Tenant(id); !ok {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", id))
		return
	}
	if h.opts.Deliveries == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "replies are not recorded here")
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	recs, err := h.opts.Deliveries.Replies(r.Context(), inbox.Query{TenantID: id, To: q.Get("to"), InReplyTo: q.Get("in_reply_to"), Limit: limit})
	if err != nil {
		h.opts.OnError(r, fmt.Errorf("listing replies: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "replies unavailable")
		return
	}
	out := make([]ReplyJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, ReplyJSON{
			To: rec.Reply.To, Channel: string(rec.Reply.Channel), InReplyTo: rec.Reply.InReplyTo,
			Kind: string(rec.Reply.Reply.Kind), Text: rec.Reply.Reply.Text,
			State: rec.State, Attempts: rec.Attempts, LastError: rec.LastError, ProviderID: rec.ProviderID,
			QueuedAt: rec.QueuedAt.UTC(), DoneAt: optionalTime(rec.DoneAt),
			DeliveryStatus: rec.DeliveryStatus, DeliveryAt: optionalTime(rec.DeliveryAt), DeliveryErrors: rec.DeliveryErrors,
		})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"tenant_id": id, "replies": out})
}

// listUnrouted: GET /admin/unrouted[?limit=], newest first.
func (h *Handler) listUnrouted(w http.ResponseWriter, r *http.Request) {
	if h.opts.Deliveries == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "unrouted events are not recorded here")
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	recs, err := h.opts.Deliveries.Unrouted(r.Context(), limit)
	if err != nil {
		h.opts.OnError(r, fmt.Errorf("listing unrouted events: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "unrouted events unavailable")
		return
	}
	out := make([]UnroutedJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, UnroutedJSON{
			Channel: string(rec.Channel), Field: rec.Field, Kind: rec.Kind,
			PhoneNumberID: rec.PhoneNumberID, WABAID: rec.WABAID, Guest: rec.Guest, ItemID: rec.ItemID,
			ReceivedAt: rec.ReceivedAt.UTC(), Payload: rec.Payload,
		})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"unrouted": out})
}

// limitParam reads ?limit= (1 to 1000; absent: 100).
func limitParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 100, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to 1000", s))
		return 0, false
	}
	return n, true
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
