// Package adminapi is the `admin_api` handler: the application's admin API
// (hotels and their identifiers, feature flags, conversations handed to a
// person, the dashboard) behind whatever authenticates in front of it.
package adminapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("admin_api", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("admin_api", httpcaddyfile.Before, "respond")
}

// Handler serves the admin API under /admin/ (JSON in and out; every write
// audited under the admin who made it). It trusts the admin named in
// {http.vars.admin_sub}, which admin_auth sets after verifying the token; a
// request without one is answered 401, so a config that forgets admin_auth
// fails closed.
//
// Caddyfile (no options):
//
//	admin_api
type Handler struct {
	api http.Handler
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.admin_api", New: func() caddy.Module { return new(Handler) }}
}

// Provision reaches the application's admin API.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	h.api = app.Hotel().Admin()
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It ends the chain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if sub, _ := caddyhttp.GetVar(r.Context(), agente.VarAdminSubject).(string); sub != "" {
		// The role comes with the subject from admin_auth; a subject
		// without one (another authenticator) reaches nothing.
		p := admin.Principal{Subject: sub}
		p.Role, _ = caddyhttp.GetVar(r.Context(), agente.VarAdminRole).(string)
		if ts, _ := caddyhttp.GetVar(r.Context(), agente.VarAdminTenants).(string); ts != "" {
			p.Tenants = strings.Split(ts, ",")
		}
		if exp, ok := caddyhttp.GetVar(r.Context(), agente.VarAdminExpires).(int64); ok {
			p.ExpiresAt = time.Unix(exp, 0)
		}
		p.TokenID, _ = caddyhttp.GetVar(r.Context(), agente.VarAdminTokenID).(string)
		r = r.WithContext(admin.WithPrincipal(r.Context(), p))
	}
	h.api.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("admin_api takes no options, got '%s'", d.Val())
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
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
