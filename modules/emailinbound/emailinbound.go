// Package emailinbound is the `email_inbound` handler: the generic signed
// inbound endpoint of the email channel, for bridges that post one email as
// JSON {from, subject, body, timestamp}. It hands the email to the
// application, which stores it before the acknowledgement.
package emailinbound

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("email_inbound", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("email_inbound", httpcaddyfile.Before, "respond")
}

// Handler accepts POSTed emails → inbox → 200 {"status":"ok"}, and answers
// 405 to other methods. It does not check signatures: put the hmac_webhook
// matcher in front. With tenant_resolve in front it uses the email and the
// hotel they found (agente.Webhook); alone it decodes and resolves itself,
// by the sender's address or the default tenant (DEFAULT_TENANT_ID), and a
// sender no hotel is found for is 403. An email that is not one (no sender,
// no text) is 400.
//
// Caddyfile (no options):
//
//	email_inbound
type Handler struct {
	app *agente.App
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.email_inbound", New: func() caddy.Module { return new(Handler) }}
}

// Provision reaches the agente app.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := agente.Load(ctx)
	h.app = app
	return err
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It ends the chain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("use POST"))
	}
	return h.app.AcceptWebhook(w, r, chat.Gmail)
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("email_inbound takes no options, got '%s'", d.Val())
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
