// Package hotelagent is the `hotel_agent` handler: the application layer the
// original system ran in FastAPI. It answers Meta's verification handshake,
// accepts signed webhook events, and serves the health routes.
package hotelagent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(HotelAgent{})
	httpcaddyfile.RegisterHandlerDirective("hotel_agent", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("hotel_agent", httpcaddyfile.Before, "respond")
}

// maxChallenge bounds the hub.challenge echoed back: Meta sends an integer.
const maxChallenge = 128

// HotelAgent serves DESIGN.md's HTTP surface behind the matchers and
// middleware the Caddyfile puts in front of it (hmac_webhook,
// tenant_resolve, ratelimit):
//
//	GET  /webhooks/whatsapp, /api/webhooks/whatsapp   Meta's verification handshake
//	POST /webhooks/whatsapp, /api/webhooks/whatsapp   signed events → 200 {"status":"ok"}
//	GET  /health/live                                 200 while the process serves
//	GET  /health/ready                                200 when every dependency answers, else 503
//
// Other requests go to the next handler.
//
// Caddyfile:
//
//	hotel_agent {
//		verify_token  <token>      # default {env.WHATSAPP_VERIFY_TOKEN}
//		ready_timeout <duration>   # per-dependency deadline of /health/ready, default 2s
//	}
type HotelAgent struct {
	// VerifyToken is the token Meta echoes in hub.verify_token during the
	// webhook handshake. Default {env.WHATSAPP_VERIFY_TOKEN}.
	VerifyToken string `json:"verify_token,omitempty"`

	// ReadyTimeout bounds each dependency check of /health/ready. Default 2s.
	ReadyTimeout caddy.Duration `json:"ready_timeout,omitempty"`

	verifyToken []byte
	app         *agente.App
	logger      *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (HotelAgent) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hotel_agent", New: func() caddy.Module { return new(HotelAgent) }}
}

// Provision resolves the configuration and reaches the shared app.
func (h *HotelAgent) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	h.app = app
	if h.VerifyToken == "" {
		h.VerifyToken = "{env.WHATSAPP_VERIFY_TOKEN}"
	}
	h.verifyToken = []byte(caddy.NewReplacer().ReplaceAll(h.VerifyToken, ""))
	if h.ReadyTimeout == 0 {
		h.ReadyTimeout = caddy.Duration(2 * time.Second)
	}
	return nil
}

// Validate rejects a configuration that would accept any handshake.
func (h *HotelAgent) Validate() error {
	if len(h.verifyToken) == 0 {
		return errors.New("hotel_agent: verify_token: empty (set WHATSAPP_VERIFY_TOKEN)")
	}
	if h.ReadyTimeout < 0 {
		return errors.New("hotel_agent: ready_timeout: must be positive")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *HotelAgent) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch r.URL.Path {
	case "/webhooks/whatsapp", "/api/webhooks/whatsapp":
		switch r.Method {
		case http.MethodGet:
			return h.handshake(w, r)
		case http.MethodPost:
			return h.acceptWhatsApp(w, r)
		}
		w.Header().Set("Allow", "GET, POST")
		return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("use GET for the handshake or POST for events"))
	case "/health/live":
		return writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	case "/health/ready":
		return h.ready(w, r)
	}
	return next.ServeHTTP(w, r)
}

// handshake answers Meta's subscription check: the challenge is echoed only
// when the verify token matches.
func (h *HotelAgent) handshake(w http.ResponseWriter, r *http.Request) error {
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

// acceptWhatsApp acknowledges a signed event; the hmac_webhook matcher in
// front of this handler has verified signature, type, size and JSON.
func (h *HotelAgent) acceptWhatsApp(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *HotelAgent) ready(w http.ResponseWriter, r *http.Request) error {
	rep := h.app.Readiness().Run(r.Context(), time.Duration(h.ReadyTimeout))
	status := http.StatusOK
	if !rep.Ready {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, readyBody(rep))
}

func readyBody(rep health.Report) any {
	deps := map[string]any{}
	for _, d := range rep.Dependencies {
		entry := map[string]any{"up": d.Up}
		if d.Error != "" {
			entry["error"] = d.Error
		}
		deps[d.Name] = entry
	}
	status := "ready"
	if !rep.Ready {
		status = "not_ready"
	}
	return map[string]any{"status": status, "ready": rep.Ready, "dependencies": deps, "checked_at": rep.CheckedAt.UTC().Format(time.RFC3339)}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *HotelAgent) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "verify_token":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.VerifyToken = d.Val()
		case "ready_timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("ready_timeout: %v", err)
			}
			h.ReadyTimeout = caddy.Duration(dur)
		default:
			return d.Errf("unrecognized hotel_agent option '%s'", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m HotelAgent
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return &m, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*HotelAgent)(nil)
	_ caddy.Validator             = (*HotelAgent)(nil)
	_ caddyhttp.MiddlewareHandler = (*HotelAgent)(nil)
	_ caddyfile.Unmarshaler       = (*HotelAgent)(nil)
)
