// Package jsonerror is the `json_error` handler: inside `handle_errors` it
// answers the failed request with agente-caddy's JSON error document
// {"error": "...", "status": N}, whatever module failed it.
package jsonerror

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("json_error", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("json_error", httpcaddyfile.Before, "respond")
}

// Handler writes the error of the request being handled as JSON. Client
// errors (4xx) carry their message, which our modules write for the client;
// server errors carry only the status text, so internals never leak. A
// refusal that said when to come back (agente.SetRetryAfter: a matcher has
// no response to put it on) gets its Retry-After header.
//
// Caddyfile (it takes no options):
//
//	handle_errors {
//		json_error
//	}
type Handler struct{}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.json_error", New: func() caddy.Module { return new(Handler) }}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It ends the chain.
func (Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	status, msg := http.StatusInternalServerError, ""
	var he caddyhttp.HandlerError
	if err, ok := r.Context().Value(caddyhttp.ErrorCtxKey).(error); ok && errors.As(err, &he) {
		if he.StatusCode != 0 {
			status = he.StatusCode
		}
		if status < 500 && he.Err != nil {
			msg = he.Err.Error()
		}
	}
	if ra := agente.RetryAfter(r); ra != "" && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", ra)
	}
	httpjson.Error(w, status, msg)
	return nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("json_error takes no options, got '%s'", d.Val())
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m Handler
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
