// Package jsonerror is the `json_error` handler: inside `handle_errors` it
// answers the failed request with agente-caddy's JSON error document
// {"error": "...", "status": N}, whatever module failed it.
package jsonerror

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/logsample"
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
// no response to put it on) gets its Retry-After header. An answer to an
// HTTP/1 request whose large body was left unread (a webhook refused
// before its body) says Connection: close, so it is sent at once instead
// of after net/http reads 256 KiB of that body (agente.CloseAfterAnswer).
//
// Refusals — 400, 401, 403, 413, 415, 429 and 503 — are logged at info
// (logger http.handlers.json_error, message "request refused") with the
// route (the path as received), status, reason (the error's message) and
// client (Caddy's client IP): at most one line per client and status every
// RefusalLogEvery, the line counting the refusals left out since, so a
// flood costs a line per interval and a single refusal is never lost.
//
// Caddyfile (it takes no options):
//
//	handle_errors {
//		json_error
//	}
type Handler struct {
	logger *zap.Logger
}

// RefusalLogEvery is the least time between two log lines about one
// client's refusals of one status.
const RefusalLogEvery = 10 * time.Second

// refusals samples refusal lines for the whole process: a reload neither
// forgets a flood nor logs it again from the start.
var refusals = logsample.New(RefusalLogEvery)

// loggedRefusals are the statuses that get a log line.
var loggedRefusals = map[int]bool{400: true, 401: true, 403: true, 413: true, 415: true, 429: true, 503: true}

// Provision takes the logger.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	return nil
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.json_error", New: func() caddy.Module { return new(Handler) }}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It ends the chain.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	status, msg, reason := http.StatusInternalServerError, "", ""
	var he caddyhttp.HandlerError
	if err, ok := r.Context().Value(caddyhttp.ErrorCtxKey).(error); ok && errors.As(err, &he) {
		if he.StatusCode != 0 {
			status = he.StatusCode
		}
		if he.Err != nil {
			reason = he.Err.Error()
		}
		if status < 500 {
			msg = reason
		}
	}
	if loggedRefusals[status] {
		h.logRefusal(r, status, reason)
	}
	if ra := agente.RetryAfter(r); ra != "" && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", ra)
	}
	if agente.CloseAfterAnswer(r) {
		// A large body nobody read: answer now and close, rather than let
		// net/http read up to 256 KiB of it first (agente.CloseAfterAnswer).
		w.Header().Set("Connection", "close")
		httpjson.Error(w, status, msg)
		closeAfterLinger(w)
		return nil
	}
	httpjson.Error(w, status, msg)
	return nil
}

// closeLinger is how long a connection answered with Connection: close
// stays half-closed before it is closed. Closing with unread data sends a
// reset, and a client still writing its body (Go's http.Client, for one)
// may then report the reset instead of the answer it has not read yet:
// closed at once, TestWebhookChainSurvivesReload's 1 MiB POST got "broken
// pipe" instead of its 413 in 8 runs of 8; with 50 ms it got the 413 in
// every run. The answer and the reset leave in order on the same path, so
// the client has this long between them whatever the distance. net/http
// waits 500 ms, which also leaves time for a lost answer to be sent again;
// but while 2,000 refused connections linger that long, an attacker keeps
// pushing its bodies into them (TestAbuse: its system CPU 0.7-1.1 s
// against 0.3 s, and the signed p99 2.4-6.4x the quiet one instead of
// within 2x). A client whose answer is lost sees a reset, which a webhook
// sender retries like the answer; Meta's bodies are small and are never
// answered this way.
const closeLinger = 50 * time.Millisecond

// closeAfterLinger sends the answer, takes the connection over from
// net/http and does what net/http does for a body it gave up on (its
// closeWriteAndWait), minus the drain: end our side (FIN) at once and
// close after closeLinger, on a timer rather than a sleeping goroutine.
// Where the connection cannot be taken over (HTTP/2, a wrapper without
// Hijack), net/http closes it when the handler returns.
func closeAfterLinger(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	time.AfterFunc(closeLinger, func() { _ = conn.Close() })
}

// logRefusal writes the sampled line about one refused request.
func (h Handler) logRefusal(r *http.Request, status int, reason string) {
	if h.logger == nil {
		return
	}
	client := agente.ClientAddress(r)
	ok, left := refusals.Allow(client + " " + strconv.Itoa(status))
	if !ok {
		return
	}
	route := r.URL.Path
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		route = orig.URL.Path
	}
	h.logger.Info("request refused",
		zap.String("route", route),
		zap.String("method", r.Method),
		zap.Int("status", status),
		zap.String("reason", reason),
		zap.String("client", client),
		zap.Uint64("refusals_not_logged", left))
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
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
