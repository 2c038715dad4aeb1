package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

type revokeBody struct {
	// JTI is the token's id.
	JTI *string `json:"jti"`
	// ExpiresAt is the token's exp (Unix seconds); absent: the maximum
	// lifetime from now, which outlives any token the server accepts.
	ExpiresAt *int64 `json:"exp"`
}

// revokeToken: POST /admin/tokens/revoke {"jti":"...","exp":1234567890}.
// Every instance refuses the token within about a second.
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	if h.opts.Revocations == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "token revocation is not served here")
		return
	}
	var b revokeBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.JTI == nil || *b.JTI == "" {
		httpjson.Error(w, http.StatusBadRequest, "jti is required")
		return
	}
	var exp time.Time
	if b.ExpiresAt != nil {
		exp = time.Unix(*b.ExpiresAt, 0)
	}
	ctx := r.Context()
	rev, err := h.opts.Revocations.Revoke(ctx, *b.JTI, exp, Actor(ctx))
	if err != nil {
		h.opts.OnError(r, err)
		httpjson.Error(w, http.StatusServiceUnavailable, "revocation store unavailable")
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "token.revoke", Target: rev.ID,
		Detail: map[string]any{"expires_at": rev.ExpiresAt}}); err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing revocation of %s: %w", rev.ID, err))
	}
	httpjson.Write(w, http.StatusOK, rev)
}

// listRevoked: GET /admin/tokens/revoked, the unexpired revocations.
func (h *Handler) listRevoked(w http.ResponseWriter, r *http.Request) {
	if h.opts.Revocations == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "token revocation is not served here")
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"items": h.opts.Revocations.List()})
}
