package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
)

// Principal is who a request acts as: the token's subject, role and, for
// staff, the hotels it reaches.
type Principal struct {
	Subject   string
	Role      string
	Tenants   []string
	ExpiresAt time.Time
	// TokenID is the token's jti (what a revocation names).
	TokenID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (and p.Subject as the actor).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(WithActor(ctx, p.Subject), principalKey{}, p)
}

// PrincipalOf returns the principal of ctx. A context carrying only an
// actor (WithActor: tests, in-process callers) acts as an admin.
func PrincipalOf(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Subject: Actor(ctx), Role: adminauth.RoleAdmin}
}

// Reaches reports whether p may act on tenantID.
func (p Principal) Reaches(tenantID string) bool {
	return p.Role == adminauth.RoleAdmin || (p.Role == adminauth.RoleStaff && slices.Contains(p.Tenants, tenantID))
}

// staffAllowed reports whether a staff principal may call path: whoami,
// and the conversations of its own hotels. Everything else is the
// operator's.
func staffAllowed(p Principal, path string) bool {
	if path == "/admin/whoami" {
		return true
	}
	rest, ok := strings.CutPrefix(path, "/admin/tenants/")
	if !ok {
		return false
	}
	tenant, sub, _ := strings.Cut(rest, "/")
	if sub != "conversations" && !strings.HasPrefix(sub, "conversations/") {
		return false
	}
	return p.Reaches(tenant)
}

// authorize answers 403 to a principal that may not call the request's
// route, before any route sees it (so a staff token learns nothing of what
// exists elsewhere, not even a 404 or 405).
func authorize(w http.ResponseWriter, r *http.Request) bool {
	p := PrincipalOf(r.Context())
	switch p.Role {
	case adminauth.RoleAdmin:
		return true
	case adminauth.RoleStaff:
		if staffAllowed(p, r.URL.Path) {
			return true
		}
		httpjson.Error(w, http.StatusForbidden, "this staff token reaches only the conversations of its hotels")
		return false
	}
	httpjson.Error(w, http.StatusForbidden, "this token's role reaches nothing here")
	return false
}

// whoami: GET /admin/whoami, the token's own claims.
func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) {
	p := PrincipalOf(r.Context())
	tenants := p.Tenants
	if tenants == nil {
		tenants = []string{}
	}
	out := map[string]any{"sub": p.Subject, "role": p.Role, "tenants": tenants}
	if p.TokenID != "" {
		out["jti"] = p.TokenID
	}
	if !p.ExpiresAt.IsZero() {
		out["exp"] = p.ExpiresAt.Unix()
	}
	httpjson.Write(w, http.StatusOK, out)
}
