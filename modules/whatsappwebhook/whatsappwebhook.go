// Package whatsappwebhook is the `whatsapp_webhook` handler: the endpoint
// Meta's WhatsApp Cloud API calls. It answers Meta's verification handshake
// and hands signed events to the application, which stores them before the
// acknowledgement.
package whatsappwebhook

import (
	"crypto/subtle"
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
	httpcaddyfile.RegisterHandlerDirective("whatsapp_webhook", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("whatsapp_webhook", httpcaddyfile.Before, "respond")
}

// maxChallenge bounds the hub.challenge echoed back: Meta sends an integer.
const maxChallenge = 128

// Handler answers the WhatsApp webhook's two methods:
//
//	GET   Meta's verification handshake: with hub.mode=subscribe and the
//	      verify token, 200 text/plain with hub.challenge; else 403
//	POST  events (messages, statuses) → stored in the inbox → 200 {"status":"ok"}
//
// and 405 to anything else. It does not check signatures: put the
// hmac_webhook matcher in front of POST. When hmac_webhook and
// tenant_resolve ran before it, it uses the body they read, the events they
// decoded and the hotels they resolved (agente.Webhook); alone it reads,
// decodes and resolves itself (with the default tenant, DEFAULT_TENANT_ID).
// In ENVIRONMENT=test messages are answered in the request and the answer
// carries the reply ({"status":"ok","response_type":...,"content":...}).
//
// Caddyfile:
//
//	whatsapp_webhook {
//		verify_token <token>   # default: WHATSAPP_VERIFY_TOKEN as the agente app reads it
//	}
type Handler struct {
	// VerifyToken is the token Meta echoes in hub.verify_token during the
	// handshake; placeholders are resolved. Default the agente app's
	// WHATSAPP_VERIFY_TOKEN.
	VerifyToken string `json:"verify_token,omitempty"`

	verifyToken []byte
	app         *agente.App
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.whatsapp_webhook", New: func() caddy.Module { return new(Handler) }}
}

// Provision reaches the agente app and resolves the verify token.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	h.app = app
	token := app.Settings().WhatsAppVerifyToken
	if h.VerifyToken != "" {
		token = app.Replacer().ReplaceAll(h.VerifyToken, "")
	}
	h.verifyToken = []byte(token)
	return nil
}

// Validate refuses a handshake any token would pass.
func (h *Handler) Validate() error {
	if len(h.verifyToken) == 0 {
		return errors.New("whatsapp_webhook: verify_token: empty (set WHATSAPP_VERIFY_TOKEN)")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It ends the chain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	switch r.Method {
	case http.MethodGet:
		return h.handshake(w, r)
	case http.MethodPost:
		return h.app.AcceptWebhook(w, r, chat.WhatsApp)
	}
	w.Header().Set("Allow", "GET, POST")
	return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("use GET for the handshake or POST for events"))
}

// handshake answers Meta's subscription check: the challenge is echoed only
// when the verify token matches.
func (h *Handler) handshake(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	token := []byte(q.Get("hub.verify_token"))
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare(token, h.verifyToken) != 1 {
		return caddyhttp.Error(http.StatusForbidden, errors.New("verification failed"))
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" || len(challenge) > maxChallenge {
		return caddyhttp.Error(http.StatusBadRequest, errors.New("hub.challenge missing or too long"))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(challenge))
	return err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "verify_token":
			if !d.AllArgs(&h.VerifyToken) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized whatsapp_webhook option '%s'", d.Val())
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
