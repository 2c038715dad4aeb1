// Package adminauth is the `admin_auth` handler: it lets through only
// requests carrying a valid admin JWT (HS256, `exp` required) and hands the
// token's subject to what follows, so the admin API can audit who did what
// and rate limits can be keyed by admin.
package adminauth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("admin_auth", parseCaddyfile)
	// Authenticate first, then limit: admin rate limits key on the subject.
	httpcaddyfile.RegisterDirectiveOrder("admin_auth", httpcaddyfile.Before, "basic_auth")
}

// The request variables admin_auth sets: the token's subject
// ({http.vars.admin_sub}), role ({http.vars.admin_role}: admin or staff)
// and, for staff, its hotels comma-joined ({http.vars.admin_tenants}).
const (
	SubjectVar = agente.VarAdminSubject
	RoleVar    = agente.VarAdminRole
	TenantsVar = agente.VarAdminTenants
)

// Handler verifies `Authorization: Bearer <jwt>`: HS256 with the secret,
// numeric `exp` no further than max_lifetime, `sub`, `jti` and `role`
// required (staff tokens with their `tenants`), a revoked `jti` refused,
// `alg: none` and every other algorithm refused. A request without a valid
// token fails with 401 and WWW-Authenticate and goes no further.
//
// Caddyfile (ordered before basic_auth, so before ratelimit and the
// handlers it protects):
//
//	admin_auth {
//		secret <key>            # default: JWT_SECRET_KEY as the agente app reads it
//		max_lifetime <duration> # longest token accepted; default 30d
//	}
type Handler struct {
	// Secret is the HS256 key; placeholders are resolved. Default the
	// agente app's JWT_SECRET_KEY.
	Secret string `json:"secret,omitempty"`
	// MaxLifetime is the longest lifetime (exp minus iat, and exp minus
	// now) a token may have. Default 30 days.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	verifier adminauth.Verifier
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.admin_auth", New: func() caddy.Module { return new(Handler) }}
}

// Provision resolves the secret through the agente app, which has read and
// checked the environment.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	h.verifier.MaxLifetime = time.Duration(h.MaxLifetime)
	if app.Hotel() != nil {
		h.verifier.Revoked = app.Hotel().TokenRevocations().Revoked
	}
	if h.Secret == "" {
		h.verifier.Secret = []byte(app.Settings().JWTSecretKey)
		return nil
	}
	h.verifier.Secret = []byte(app.Replacer().ReplaceAll(h.Secret, ""))
	return nil
}

// Validate refuses to protect anything with an empty key.
func (h *Handler) Validate() error {
	if len(h.verifier.Secret) == 0 {
		return errors.New("admin_auth: secret: empty (set JWT_SECRET_KEY)")
	}
	if h.MaxLifetime < 0 {
		return errors.New("admin_auth: max_lifetime: must be positive")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	claims, err := admin.Authorize(r, h.verifier, time.Now())
	if err != nil {
		w.Header().Set("WWW-Authenticate", admin.Challenge)
		return caddyhttp.Error(http.StatusUnauthorized, err)
	}
	caddyhttp.SetVar(r.Context(), SubjectVar, claims.Subject)
	caddyhttp.SetVar(r.Context(), RoleVar, claims.Role)
	caddyhttp.SetVar(r.Context(), TenantsVar, strings.Join(claims.Tenants, ","))
	caddyhttp.SetVar(r.Context(), agente.VarAdminExpires, claims.ExpiresAt.Unix())
	caddyhttp.SetVar(r.Context(), agente.VarAdminTokenID, claims.ID)
	return next.ServeHTTP(w, r)
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "secret":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Secret = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "max_lifetime":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("max_lifetime: %v", err)
			}
			h.MaxLifetime = caddy.Duration(dur)
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized admin_auth option '%s'", d.Val())
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m Handler
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return &m, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
