package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// Privacy serves a guest's data rights at one hotel (the hotel service):
// a copy of everything kept about them, and its erasure.
type Privacy interface {
	// ExportGuest gathers what is kept about the guest; found is false
	// when nothing is.
	ExportGuest(ctx context.Context, g GuestRef) (export GuestExport, found bool, err error)
	// EraseGuest deletes it, or nothing and inbox.ErrGuestBusy while the
	// guest has work in flight. actor is who asked, for the audit of the
	// identifiers it removes from the tenant directory.
	EraseGuest(ctx context.Context, actor string, g GuestRef) (GuestErasure, error)
}

// GuestRef is one guest of one hotel on one channel.
type GuestRef struct {
	TenantID string
	// Channel is whatsapp or gmail.
	Channel string
	// Guest is how the channel names them: the WhatsApp number's digits
	// (or Meta's user id), the email address in lower case.
	Guest string
}

// GuestExport is the document GET .../guests/{guest}/export answers.
type GuestExport struct {
	TenantID   string    `json:"tenant_id"`
	Channel    string    `json:"channel"`
	Guest      string    `json:"guest"`
	ExportedAt time.Time `json:"exported_at"`
	// Conversation is the staff's view of the guest (nil: none).
	Conversation *ConversationJSON `json:"conversation"`
	// Messages are the guest's messages and the replies, oldest first.
	Messages []MessageJSON `json:"messages"`
	// Session is what the agent remembers (booking being collected,
	// name, email, language); nil: nothing.
	Session any `json:"session"`
	// Consent is the guest's opt-out answer and its history.
	Consent []ConsentJSON `json:"consent"`
	// Identifiers are the tenant directory's entries naming the guest.
	Identifiers []IdentifierJSON `json:"identifiers"`
}

// ConsentJSON is one change of a guest's consent.
type ConsentJSON struct {
	OptedOut  bool      `json:"opted_out"`
	ChangedAt time.Time `json:"changed_at"`
	MessageID string    `json:"message_id"`
	Text      string    `json:"text"`
}

// GuestErasure counts what an erasure deleted, by kind.
type GuestErasure struct {
	inbox.GuestErasure
	Sessions      int `json:"sessions"`
	Conversations int `json:"conversations"`
	Consent       int `json:"consent"`
	Identifiers   int `json:"identifiers"`
}

func (h *Handler) privacyRoutes() {
	h.mux.HandleFunc("GET /admin/tenants/{id}/guests/{guest}/export", h.exportGuest)
	h.mux.HandleFunc("DELETE /admin/tenants/{id}/guests/{guest}", h.eraseGuest)
}

// guestRef reads the tenant, the guest and ?channel= (inferred from the
// guest when absent: an address with @ is email, anything else WhatsApp);
// false: answered.
func (h *Handler) guestRef(w http.ResponseWriter, r *http.Request) (GuestRef, bool) {
	if h.opts.Privacy == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "guest data is not served here")
		return GuestRef{}, false
	}
	if _, ok := h.opts.Tenants.Tenant(r.PathValue("id")); !ok {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", r.PathValue("id")))
		return GuestRef{}, false
	}
	ch, ok := channelParam(w, r)
	if !ok {
		return GuestRef{}, false
	}
	g, err := parseGuest(ch, r.PathValue("guest"))
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return GuestRef{}, false
	}
	g.TenantID = r.PathValue("id")
	return g, true
}

// parseGuest spells a guest the way the channel's messages name them: a
// phone (any spelling the directory accepts) as WhatsApp's digits, an email
// address in lower case, Meta's business-scoped user id ("US.1349…") as
// given. channel, when set, must agree.
func parseGuest(channel, guest string) (GuestRef, error) {
	guest = strings.TrimSpace(guest)
	if guest == "" {
		return GuestRef{}, errors.New("guest is required")
	}
	g := GuestRef{Channel: "whatsapp", Guest: guest}
	if !strings.Contains(guest, "@") && strings.ContainsFunc(guest, isLetter) {
		// The shape the webhook's decoder takes for a user id, so a guest
		// it stored is found and a mistyped id is refused rather than
		// matching no one.
		if !whatsapp.IsUserID(guest) {
			return GuestRef{}, errors.New("guest: a WhatsApp user id is a country code, a dot and letters or digits, such as US.1349…")
		}
	} else {
		id, err := tenancy.ParseIdentifier(guest, "")
		switch {
		case err != nil:
			return GuestRef{}, fmt.Errorf("guest: %w", err)
		case id.Type == tenancy.Email:
			g.Channel, g.Guest = "gmail", id.Value
		case id.Type == tenancy.Phone:
			g.Guest = tenancy.NormalizePhone(id.Value)
		default:
			return GuestRef{}, errors.New("guest: a phone number, an email address or a WhatsApp user id is required")
		}
	}
	if channel != "" && channel != g.Channel {
		return GuestRef{}, fmt.Errorf("guest: %q is not a guest of the %s channel", guest, WireChannel(channel))
	}
	return g, nil
}

func isLetter(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }

// guestDigest names an erased guest in the audit without keeping who they
// were: the same guest always gives the same digest, so a later request
// about them can be matched, but the digest gives back no number or address.
func guestDigest(g GuestRef) string {
	sum := sha256.Sum256([]byte(g.TenantID + "\x00" + g.Channel + "\x00" + g.Guest))
	return hex.EncodeToString(sum[:])
}

// exportGuest: GET /admin/tenants/{id}/guests/{guest}/export[?channel=]
func (h *Handler) exportGuest(w http.ResponseWriter, r *http.Request) {
	g, ok := h.guestRef(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	doc, found, err := h.opts.Privacy.ExportGuest(ctx, g)
	if err != nil {
		h.opts.OnError(r, fmt.Errorf("exporting a guest's data: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "guest data unavailable")
		return
	}
	if !found {
		httpjson.Error(w, http.StatusNotFound, "nothing is kept about this guest at this hotel")
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "guest.export", Target: g.TenantID,
		Detail: map[string]any{"channel": g.Channel, "guest_sha256": guestDigest(g)}}); err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing a guest export: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "the export could not be audited, so it was not given")
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="guest-%s.json"`, guestDigest(g)[:16]))
	httpjson.Write(w, http.StatusOK, doc)
}

// eraseGuest: DELETE /admin/tenants/{id}/guests/{guest}[?channel=]
func (h *Handler) eraseGuest(w http.ResponseWriter, r *http.Request) {
	g, ok := h.guestRef(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	erased, err := h.opts.Privacy.EraseGuest(ctx, Actor(ctx), g)
	switch {
	case errors.Is(err, inbox.ErrGuestBusy):
		w.Header().Set("Retry-After", "60")
		httpjson.Error(w, http.StatusConflict, "the guest has messages or replies in flight; nothing was erased, try again in a minute")
		return
	case err != nil:
		h.opts.OnError(r, fmt.Errorf("erasing a guest: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "guest data unavailable; the erasure may be partial, run it again")
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "guest.erase", Target: g.TenantID,
		Detail: map[string]any{"channel": g.Channel, "guest_sha256": guestDigest(g), "erased": erased}}); err != nil {
		// The data is gone; the operator must know the audit row is not.
		h.opts.OnError(r, fmt.Errorf("auditing a guest erasure: %w", err))
		httpjson.Write(w, http.StatusOK, map[string]any{"erased": erased, "guest_sha256": guestDigest(g), "audit": "failed"})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"erased": erased, "guest_sha256": guestDigest(g)})
}
