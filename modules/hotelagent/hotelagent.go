// Package hotelagent is the `hotel_agent` handler: the application layer the
// original system ran in FastAPI. It answers Meta's verification handshake,
// makes signed webhook events durable in the inbox before acknowledging
// them, runs the workers that answer guests (orchestrator, PMS, replies
// through the outbox), and serves the health routes.
package hotelagent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms/resilient"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(HotelAgent{})
	httpcaddyfile.RegisterHandlerDirective("hotel_agent", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("hotel_agent", httpcaddyfile.Before, "respond")
}

// minInboxLease is the shortest inbox_lease accepted.
const minInboxLease = time.Second

// maxChallenge bounds the hub.challenge echoed back: Meta sends an integer.
const maxChallenge = 128

// HotelAgent serves DESIGN.md's HTTP surface behind the matchers and
// middleware the Caddyfile puts in front of it (hmac_webhook,
// tenant_resolve, ratelimit):
//
//	GET  /webhooks/whatsapp, /api/webhooks/whatsapp   Meta's verification handshake
//	POST /webhooks/whatsapp, /api/webhooks/whatsapp   signed events → inbox → 200 {"status":"ok",...}
//	POST /webhooks/gmail                              signed email JSON → inbox → 200
//	GET  /health/live                                 200 while the process serves
//	GET  /health/ready                                200 when every dependency answers, else 503
//
// Other requests go to the next handler. In ENVIRONMENT=test, webhook
// messages are answered inline and the answer carries the reply
// ({"status":"ok","response_type":...,"content":...}); otherwise workers
// answer them after the acknowledgement, in order per conversation.
//
// Caddyfile:
//
//	hotel_agent {
//		verify_token   <token>       # default {env.WHATSAPP_VERIFY_TOKEN}
//		default_tenant <tenant id>   # default {env.DEFAULT_TENANT_ID}
//		metadata_allow <key...>      # message metadata keys that reach the agent; default the original system's
//		ready_timeout  <duration>    # per-dependency deadline of /health/ready, default 2s
//		inbox_lease    <duration>    # takeover delay of a crashed process's work, default 30s (min 1s)
//		pms demo|qloapps {           # default {env.PMS_TYPE}
//			base_url     <url>       # default {env.PMS_BASE_URL}
//			api_key      <key>       # default {env.PMS_API_KEY}
//			time_zone    <IANA zone> # default Europe/Madrid
//			timeout      <duration>  # whole operation, retries included; default 5s
//			breaker_open <duration>  # open breaker's wait before a probe; default 30s
//			availability_ttl <duration> # default 60s
//		}
//	}
type HotelAgent struct {
	// VerifyToken is the token Meta echoes in hub.verify_token during the
	// webhook handshake. Default {env.WHATSAPP_VERIFY_TOKEN}.
	VerifyToken string `json:"verify_token,omitempty"`

	// ReadyTimeout bounds each dependency check of /health/ready. Default 2s.
	ReadyTimeout caddy.Duration `json:"ready_timeout,omitempty"`

	// DefaultTenant receives messages no identifier resolves, when no
	// tenant_resolve in front decided. Default {env.DEFAULT_TENANT_ID}.
	DefaultTenant string `json:"default_tenant,omitempty"`

	// MetadataAllow lists the keys of a message's `metadata` that reach the
	// agent; every other key is dropped and counted in
	// metadata_filtered_keys_total. Default: user_context, custom_fields,
	// source, external_request_id, language_hint, subject, from_full.
	MetadataAllow []string `json:"metadata_allow,omitempty"`

	// InboxLease is how long a worker's claim on a conversation (inbox) or
	// on a guest's queued replies (outbox) stays exclusive without renewal;
	// live workers renew it every third of it. After a crash, what the dead
	// process held waits this long before another process, or the restarted
	// one, takes it over. Default 30s; at least 1s.
	InboxLease caddy.Duration `json:"inbox_lease,omitempty"`

	// PMS is the property-management system behind the agent.
	PMS PMSConfig `json:"pms,omitempty"`

	verifyToken   []byte
	defaultTenant string
	metadata      chat.MetadataFilter
	inline        bool
	app           *agente.App
	logger        *zap.Logger
	orchestrator  *agent.Orchestrator
	admin         http.Handler
	breaker       *resilient.Breaker
	inbox         *inbox.Inbox
	sender        *channelSender
	zones         *sync.Map // time zone name → *time.Location
	release       []func()
	stopWorkers   func()
}

// CaddyModule returns the Caddy module information.
func (HotelAgent) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.hotel_agent", New: func() caddy.Module { return new(HotelAgent) }}
}

// Provision resolves the configuration and reaches the shared app.
func (h *HotelAgent) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.zones = new(sync.Map)
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	h.app = app
	if err := h.holdConnections(ctx); err != nil {
		return err
	}
	if h.VerifyToken == "" {
		h.VerifyToken = "{env.WHATSAPP_VERIFY_TOKEN}"
	}
	h.verifyToken = []byte(caddy.NewReplacer().ReplaceAll(h.VerifyToken, ""))
	if h.ReadyTimeout == 0 {
		h.ReadyTimeout = caddy.Duration(2 * time.Second)
	}
	if h.DefaultTenant == "" {
		h.DefaultTenant = "{env.DEFAULT_TENANT_ID}"
	}
	h.defaultTenant = caddy.NewReplacer().ReplaceAll(h.DefaultTenant, "")
	if h.MetadataAllow != nil {
		h.metadata = chat.NewMetadataFilter(h.MetadataAllow)
	}
	if err := telemetry.Register(ctx.GetMetricsRegistry(), collectors()...); err != nil {
		return err
	}

	property, err := h.buildPMS(ctx)
	if err != nil {
		return err
	}
	var sessions agent.SessionStore
	if pool := app.Postgres(); pool != nil {
		sessions = agent.NewPostgresSessions(pool)
	} else if sessions, err = keep(h, "sessions:memory", func() agent.SessionStore { return agent.NewMemorySessions() }); err != nil {
		return err
	}
	if h.orchestrator, err = agent.New(nlp.Analyze, property, sessions); err != nil {
		return err
	}
	logger := slogFrom(h.logger)
	if h.inbox, err = h.openInbox(logger); err != nil {
		return err
	}
	h.sender = newChannelSender(app.Settings(), logger)
	if h.admin, err = admin.New(admin.Options{
		Tenants:   app.Tenants(),
		Flags:     app.Flags(),
		Dashboard: h.dashboard,
		ResumeConversation: func(ctx context.Context, tenantID, channel, guest string) (bool, error) {
			return h.orchestrator.ResetHandoff(ctx, tenantID, chat.Channel(channel), guest)
		},
		OnError: func(r *http.Request, err error) {
			h.logger.Error("admin API", zap.String("path", r.URL.Path), zap.Error(err))
		},
	}); err != nil {
		return err
	}
	h.inline = app.Settings().Environment == config.Test
	h.startWorkers(ctx, !h.inline)
	return nil
}

// holdConnections takes this handler's own reference to the shared Postgres
// pool and Redis client. Caddy cleans a config's modules up in no fixed
// order, so at shutdown the agente app may release its reference first; the
// workers still record what they finished (or hand their claims back) while
// Cleanup waits for them, and need the connections until then.
func (h *HotelAgent) holdConnections(ctx caddy.Context) error {
	s := h.app.Settings()
	if h.app.Postgres() != nil {
		_, release, err := agente.AcquirePostgres(ctx, s.PostgresURL)
		if err != nil {
			return err
		}
		h.release = append(h.release, release)
	}
	if h.app.Redis() != nil {
		_, release, err := agente.AcquireRedis(s.RedisURL)
		if err != nil {
			return err
		}
		h.release = append(h.release, release)
	}
	return nil
}

// Cleanup stops this config's workers (their claims are released for the
// next config or instance) and releases the shared state it held.
func (h *HotelAgent) Cleanup() error {
	if h.stopWorkers != nil {
		h.stopWorkers()
	}
	for _, release := range h.release {
		release()
	}
	h.release = nil
	return nil
}

func collectors() []prometheus.Collector {
	var cs []prometheus.Collector
	for _, group := range [][]prometheus.Collector{agent.Collectors(), whatsapp.Collectors(), email.Collectors(), inbox.Collectors()} {
		cs = append(cs, group...)
	}
	return cs
}

// Validate rejects a configuration that would accept any handshake.
func (h *HotelAgent) Validate() error {
	if len(h.verifyToken) == 0 {
		return errors.New("hotel_agent: verify_token: empty (set WHATSAPP_VERIFY_TOKEN)")
	}
	if h.ReadyTimeout < 0 {
		return errors.New("hotel_agent: ready_timeout: must be positive")
	}
	if h.InboxLease != 0 && time.Duration(h.InboxLease) < minInboxLease {
		return fmt.Errorf("hotel_agent: inbox_lease: %s is shorter than %s: renewals every third of it must outlast a slow database round trip", time.Duration(h.InboxLease), minInboxLease)
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
	case "/webhooks/gmail":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("use POST"))
		}
		return h.acceptGmail(w, r)
	case "/health/live":
		return writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	case "/health/ready":
		return h.ready(w, r)
	}
	if strings.HasPrefix(r.URL.Path, "/admin/") {
		// admin_auth in front has authenticated the request (the admin
		// handler refuses any request without an actor).
		h.admin.ServeHTTP(w, r)
		return nil
	}
	return next.ServeHTTP(w, r)
}

// dashboard adds the live figures of this process to /admin/dashboard.
func (h *HotelAgent) dashboard(ctx context.Context) map[string]any {
	out := map[string]any{"environment": string(h.app.Settings().Environment)}
	if st, err := h.inbox.Stats(ctx); err == nil {
		out["inbox_pending"], out["outbox_pending"] = st.InboxPending, st.OutboxPending
	}
	if h.breaker != nil {
		out["pms_breaker_state"] = h.breaker.State()
	}
	return out
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
		case "default_tenant":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.DefaultTenant = d.Val()
		case "metadata_allow":
			h.MetadataAllow = append(h.MetadataAllow, d.RemainingArgs()...)
			if len(h.MetadataAllow) == 0 {
				return d.ArgErr()
			}
			continue
		case "pms":
			if err := h.PMS.unmarshalCaddyfile(d); err != nil {
				return err
			}
			continue
		case "inbox_lease":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("inbox_lease: %v", err)
			}
			h.InboxLease = caddy.Duration(dur)
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
	_ caddy.CleanerUpper          = (*HotelAgent)(nil)
	_ caddyhttp.MiddlewareHandler = (*HotelAgent)(nil)
	_ caddyfile.Unmarshaler       = (*HotelAgent)(nil)
)
