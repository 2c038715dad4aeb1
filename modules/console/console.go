// Package console is the `console` handler: the web console for reception
// and operations (internal/console), a page that calls the admin API with
// the token the user pastes.
package console

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/console"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("console", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("console", httpcaddyfile.Before, "respond")
}

// Handler serves the console's page and assets under Prefix; it ends the
// chain. The page is public (it holds no data); what it shows comes from the
// admin API, behind admin_auth.
//
// Caddyfile:
//
//	console {
//		prefix <path>   # default /console
//	}
type Handler struct {
	// Prefix is the path the console is served under. Default /console.
	Prefix string `json:"prefix,omitempty"`

	console http.Handler
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.console", New: func() caddy.Module { return new(Handler) }}
}

// Provision joins the agente app (whose admin API the console calls) and
// builds the console.
func (h *Handler) Provision(ctx caddy.Context) error {
	if _, err := agente.Load(ctx); err != nil {
		return err
	}
	if h.Prefix == "" {
		h.Prefix = "/console"
	}
	c, err := console.New(h.Prefix)
	if err != nil {
		return err
	}
	h.console = c
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.console.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "prefix":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Prefix = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized console option '%s'", d.Val())
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
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
