package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// Conversations is what the staff's routes need (the hotel service).
type Conversations interface {
	List(ctx context.Context, f conversation.Filter) ([]conversation.Conversation, string, error)
	Detail(ctx context.Context, k conversation.Key) (ConversationDetail, error)
	// Reply queues a staff reply through the outbox and returns its id.
	Reply(ctx context.Context, k conversation.Key, staff, text string) (string, error)
	// SetState moves a conversation (resume: active; close: closed) and
	// returns its former state; the agent answers again after a resume.
	SetState(ctx context.Context, k conversation.Key, st conversation.State) (conversation.State, error)
}

// ConversationDetail is one conversation with its history.
type ConversationDetail struct {
	Conversation conversation.Conversation
	// Booking is the booking being collected (slots), or nil.
	Booking  any
	Messages []MessageJSON
}

// MessageJSON is one line of a conversation's history.
type MessageJSON struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"` // in | out
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
	// Status of a reply: queued, sent, delivered, read, failed; "" for
	// the guest's messages (and suppressed replies).
	Status string `json:"status"`
	Staff  bool   `json:"staff"`
	// StaffName is who wrote a staff reply.
	StaffName string `json:"staff_name,omitempty"`
	Error     string `json:"error"`
}

// ConversationJSON is a conversation in a list.
type ConversationJSON struct {
	Guest         string     `json:"guest"`
	Channel       string     `json:"channel"`
	Name          string     `json:"name"`
	State         string     `json:"state"`
	WaitingSince  *time.Time `json:"waiting_since"`
	LastMessageAt time.Time  `json:"last_message_at"`
	LastText      string     `json:"last_text"`
	BookingRef    string     `json:"booking_ref"`
}

// WireChannel is a channel's name on the wire: the Gmail channel is "email".
func WireChannel(ch string) string {
	if ch == "gmail" {
		return "email"
	}
	return ch
}

// channelParam reads ?channel= (whatsapp, email or gmail; empty: any).
func channelParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch ch := r.URL.Query().Get("channel"); ch {
	case "":
		return "", true
	case "email", "gmail":
		return "gmail", true
	case "whatsapp":
		return ch, true
	default:
		httpjson.Error(w, http.StatusBadRequest, "channel must be whatsapp or email")
		return "", false
	}
}

// ConversationJSONOf is a conversation as the API shows it.
func ConversationJSONOf(c conversation.Conversation) ConversationJSON {
	return ConversationJSON{Guest: c.Guest, Channel: WireChannel(c.Channel), Name: c.Name, State: string(c.State),
		WaitingSince: optionalTime(c.WaitingSince), LastMessageAt: c.LastMessageAt.UTC(), LastText: c.LastText, BookingRef: c.BookingRef}
}

func (h *Handler) conversationRoutes() {
	m := h.mux
	m.HandleFunc("GET /admin/tenants/{id}/conversations", h.listConversations)
	m.HandleFunc("GET /admin/tenants/{id}/conversations/{guest}", h.getConversation)
	m.HandleFunc("POST /admin/tenants/{id}/conversations/{guest}/reply", h.replyConversation)
	m.HandleFunc("POST /admin/tenants/{id}/conversations/{guest}/close", h.closeConversation)
}

// conversations checks the store and the tenant; false: answered.
func (h *Handler) conversations(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.Conversations == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "conversations are not served here")
		return false
	}
	if _, ok := h.opts.Tenants.Tenant(r.PathValue("id")); !ok {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", r.PathValue("id")))
		return false
	}
	return true
}

// listConversations: GET /admin/tenants/{id}/conversations?state=&q=&limit=&cursor=
func (h *Handler) listConversations(w http.ResponseWriter, r *http.Request) {
	if !h.conversations(w, r) {
		return
	}
	q := r.URL.Query()
	st := q.Get("state")
	if st != "" && !conversation.ValidState(st) {
		httpjson.Error(w, http.StatusBadRequest, "state must be waiting, active or closed")
		return
	}
	limit := DefaultPageLimit
	if s := q.Get("limit"); s != "" {
		pg, ok := pageParams(w, r)
		if !ok {
			return
		}
		limit = pg.Limit
	}
	items, next, err := h.opts.Conversations.List(r.Context(), conversation.Filter{
		TenantID: r.PathValue("id"), State: conversation.State(st), Query: q.Get("q"), Limit: limit, After: q.Get("cursor")})
	switch {
	case errors.Is(err, conversation.ErrBadCursor):
		httpjson.Error(w, http.StatusBadRequest, "cursor: not one this API gave")
		return
	case err != nil:
		h.opts.OnError(r, fmt.Errorf("listing conversations: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "conversations unavailable")
		return
	}
	out := make([]ConversationJSON, 0, len(items))
	for _, c := range items {
		out = append(out, ConversationJSONOf(c))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"items": out, "next_cursor": next})
}

func (h *Handler) conversationKey(w http.ResponseWriter, r *http.Request) (conversation.Key, bool) {
	ch, ok := channelParam(w, r)
	if !ok {
		return conversation.Key{}, false
	}
	guest := strings.TrimSpace(r.PathValue("guest"))
	if guest == "" {
		httpjson.Error(w, http.StatusBadRequest, "guest is required")
		return conversation.Key{}, false
	}
	return conversation.Key{TenantID: r.PathValue("id"), Channel: ch, Guest: guest}, true
}

func (h *Handler) conversationFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, conversation.ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "no conversation with this guest at this hotel")
		return
	}
	h.opts.OnError(r, err)
	httpjson.Error(w, http.StatusServiceUnavailable, "conversations unavailable")
}

// getConversation: GET /admin/tenants/{id}/conversations/{guest}[?channel=]
func (h *Handler) getConversation(w http.ResponseWriter, r *http.Request) {
	if !h.conversations(w, r) {
		return
	}
	k, ok := h.conversationKey(w, r)
	if !ok {
		return
	}
	d, err := h.opts.Conversations.Detail(r.Context(), k)
	if err != nil {
		h.conversationFailed(w, r, err)
		return
	}
	c := d.Conversation
	msgs := d.Messages
	if msgs == nil {
		msgs = []MessageJSON{}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{
		"guest": c.Guest, "channel": WireChannel(c.Channel), "name": c.Name, "state": string(c.State),
		"waiting_since": optionalTime(c.WaitingSince), "last_message_at": c.LastMessageAt.UTC(), "booking_ref": c.BookingRef,
		"booking": d.Booking, "messages": msgs,
	})
}

type staffReplyBody struct {
	Text *string `json:"text"`
}

// maxStaffReply bounds a staff reply (WhatsApp's text limit is 4096).
const maxStaffReply = 4096

// replyConversation: POST /admin/tenants/{id}/conversations/{guest}/reply
// {"text": "..."} → 202 {"id": ...}.
func (h *Handler) replyConversation(w http.ResponseWriter, r *http.Request) {
	if !h.conversations(w, r) {
		return
	}
	k, ok := h.conversationKey(w, r)
	if !ok {
		return
	}
	var b staffReplyBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.Text == nil || strings.TrimSpace(*b.Text) == "" {
		httpjson.Error(w, http.StatusBadRequest, "text is required")
		return
	}
	if len(*b.Text) > maxStaffReply {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("text is longer than %d bytes", maxStaffReply))
		return
	}
	ctx := r.Context()
	id, err := h.opts.Conversations.Reply(ctx, k, Actor(ctx), *b.Text)
	if err != nil {
		h.conversationFailed(w, r, err)
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "conversation.reply", Target: k.TenantID,
		Detail: map[string]any{"guest": k.Guest, "reply_id": id}}); err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing a staff reply: %w", err))
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"id": id})
}

// closeConversation: POST /admin/tenants/{id}/conversations/{guest}/close
func (h *Handler) closeConversation(w http.ResponseWriter, r *http.Request) {
	if !h.conversations(w, r) {
		return
	}
	k, ok := h.conversationKey(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	was, err := h.opts.Conversations.SetState(ctx, k, conversation.Closed)
	if err != nil {
		h.conversationFailed(w, r, err)
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "conversation.close", Target: k.TenantID,
		Detail: map[string]any{"guest": k.Guest, "was": string(was)}}); err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing a close: %w", err))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"tenant_id": k.TenantID, "guest": k.Guest, "state": "closed", "was": string(was)})
}

func conversationKeyOf(tenantID, channel, guest string) conversation.Key {
	return conversation.Key{TenantID: tenantID, Channel: channel, Guest: guest}
}
