// Package tenantresolve is the `tenant_resolve` HTTP middleware: it decides
// which hotel (tenant) a webhook belongs to and tells every later handler,
// overwriting whatever the client claimed.
package tenantresolve

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/hotel"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(TenantResolve{})
	httpcaddyfile.RegisterHandlerDirective("tenant_resolve", parseCaddyfile)
	// Before authentication and limits: rate limits key on the tenant.
	httpcaddyfile.RegisterDirectiveOrder("tenant_resolve", httpcaddyfile.Before, "basic_auth")
}

// Names of what the middleware sets for later handlers.
const (
	// VarTenantID is the placeholder {http.vars.tenant_id}.
	VarTenantID = agente.VarTenantID
	// VarResult is {http.vars.tenant_resolution}: provided, hit or default.
	VarResult = agente.VarTenantResolution
	// Header is the request header later handlers (and upstreams) read.
	Header = "X-Tenant-ID"
)

// DefaultMaxBody bounds the body read when max_body is unset: the one
// webhook body limit.
const DefaultMaxBody = agente.MaxWebhookBody

// TenantResolve resolves the tenant of each request: the route's trusted
// tenant (provided); else the hotel's WhatsApp business number
// value.metadata.phone_number_id, then entry[].id, then the guest's phone
// (messages[].from, statuses[].recipient_id) or, on the gmail channel, the
// email "from", registered to an active tenant (hit); else the default
// tenant (default); else (miss_strict) an email request fails with 403,
// while a WhatsApp one goes on without a tenant: Meta must get a 2xx for
// every signed event, and the webhook handler keeps what no hotel is found
// for as unrouted. With strict, the default is never used. Each message,
// status and field event of a webhook gets its own hotel as well, for the
// webhook handler. {http.vars.guest_messages} says whether a guest wrote
// (yes) or the webhook carries only receipts and other fields (no), and
// {http.vars.rate_key} is what its limits key on: the tenant, or
// "unrouted:<business id>" when there is none.
//
// The tenant is published as {http.vars.tenant_id} and in the X-Tenant-ID
// request header, which is overwritten: a client-supplied X-Tenant-ID never
// decides anything, and one that disagrees with the resolved tenant counts in
// tenant_isolation_errors_total. Each resolution counts in
// tenant_resolution_total{result}.
//
// The body is decoded once, for the whole chain, into the request's webhook
// record (agente.Webhook): read here only if hmac_webhook in front did not
// (at most max_body bytes; more is 413), and kept with the tenants for the
// webhook handler. A non-empty body that is not JSON is 400, and so is a
// payload of the other channel (a gmail payload on a whatsapp route or the
// reverse, counted in channel_spoofing_detected_total), before any
// resolution. Errors are returned as caddyhttp errors, for handle_errors.
//
// Caddyfile:
//
//	tenant_resolve [whatsapp|gmail] {
//		channel  whatsapp|gmail   # payload format; default whatsapp
//		tenant   <tenant id>      # trusted tenant for every request of this route
//		default  <tenant id>      # fallback; default {env.DEFAULT_TENANT_ID}
//		strict                    # reject (403) instead of using the default
//		max_body <size>           # when it reads the body itself; default 1MiB
//	}
//
// It is ordered before basic_auth (and so before ratelimit), so it needs no
// `route` block.
type TenantResolve struct {
	// Channel is the payload format of the route: "whatsapp" (Cloud API
	// webhook, default) or "gmail" ({from, subject, body, timestamp}).
	Channel string `json:"channel,omitempty"`
	// Tenant, when set, is trusted for every request of the route (result
	// "provided") and the body is not read. If the directory lists it as
	// inactive, requests get the default tenant or 403. Placeholders
	// ({env.*}) are resolved at provision time.
	Tenant string `json:"tenant,omitempty"`
	// Default is the tenant of requests no identifier resolves; default
	// "{env.DEFAULT_TENANT_ID}". Empty after resolution: such requests are
	// rejected as with strict.
	Default string `json:"default,omitempty"`
	// Strict rejects requests no identifier resolves with 403 (result
	// "miss_strict") instead of using the default.
	Strict bool `json:"strict,omitempty"`
	// MaxBody bounds the body when this handler is the first to read it, in
	// bytes; default 1 MiB (agente.MaxWebhookBody).
	MaxBody int64 `json:"max_body,omitempty"`

	tenant, fallback string
	resolver         tenancy.Resolver
	decoder          hotel.Decoder
	replacer         *caddy.Replacer
	logger           *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (TenantResolve) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tenant_resolve",
		New: func() caddy.Module { return new(TenantResolve) },
	}
}

// Provision resolves placeholders (through the agente app, which reads the
// environment), finds the tenant directory and the webhook decoder in the
// app and registers the metrics.
func (m *TenantResolve) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	if err := telemetry.Register(ctx.GetMetricsRegistry(), append(tenancy.Collectors(), chat.ChannelSpoofingDetected)...); err != nil {
		return err
	}
	if m.Channel == "" {
		m.Channel = "whatsapp"
	}
	if m.MaxBody == 0 {
		m.MaxBody = DefaultMaxBody
	}
	if m.resolver == nil {
		app, err := agente.Load(ctx)
		if err != nil {
			return fmt.Errorf("tenant_resolve: the agente app provides the tenant directory: %v", err)
		}
		m.resolver, m.decoder, m.replacer = app.Tenants(), app.Decoder(), app.Replacer()
		if m.resolver == nil {
			return errors.New("tenant_resolve: the agente app has no tenant directory")
		}
	}
	repl := m.replacer
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	m.tenant = repl.ReplaceAll(m.Tenant, "")
	if !m.Strict {
		def := m.Default
		if def == "" {
			def = "{env.DEFAULT_TENANT_ID}"
		}
		m.fallback = repl.ReplaceAll(def, "")
	}
	if m.tenant == "" && m.fallback == "" && !m.Strict {
		m.logger.Warn("no default tenant (DEFAULT_TENANT_ID unset): requests no identifier resolves are rejected with 403",
			zap.String("channel", m.Channel))
	}
	return nil
}

// Validate checks the configuration, naming the field at fault.
func (m *TenantResolve) Validate() error {
	switch m.Channel {
	case "", "whatsapp", "gmail":
	default:
		return fmt.Errorf("tenant_resolve: channel: %q is not whatsapp or gmail", m.Channel)
	}
	if m.Strict && m.Default != "" {
		return errors.New("tenant_resolve: default and strict exclude each other: strict rejects what default would catch")
	}
	if m.MaxBody < 0 {
		return fmt.Errorf("tenant_resolve: max_body: %d is negative", m.MaxBody)
	}
	if m.tenant != "" {
		if err := tenancy.ValidateTenantID(m.tenant); err != nil {
			return fmt.Errorf("tenant_resolve: tenant: %v", err)
		}
	}
	if m.fallback != "" {
		if err := tenancy.ValidateTenantID(m.fallback); err != nil {
			return fmt.Errorf("tenant_resolve: default: %v", err)
		}
	}
	return nil
}

// ServeHTTP resolves the tenant and calls next, or fails the request.
func (m *TenantResolve) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	wh := agente.WebhookOf(r)
	in, err := wh.Inbound(r, m.decoder, chat.Channel(m.Channel), m.MaxBody)
	if err != nil {
		return agente.WebhookError(err)
	}
	res := hotel.Resolve(m.resolver, in, hotel.Route{Tenant: m.tenant, Default: m.fallback, Strict: m.Strict})
	wh.SetResolution(res)

	for _, claimed := range r.Header.Values(Header) {
		if claimed != res.Tenant {
			tenancy.IsolationErrors.Inc()
			m.logger.Debug("client-supplied X-Tenant-ID ignored",
				zap.String("claimed", claimed), zap.String("resolved", res.Tenant), zap.String("remote", r.RemoteAddr))
			break
		}
	}
	guests := guestsNo
	if res.HasMessages {
		guests = guestsYes
	}
	caddyhttp.SetVar(r.Context(), agente.VarGuestMessages, guests)
	if res.Result == tenancy.ResultMissStrict {
		r.Header.Del(Header)
		if in.Channel != chat.WhatsApp {
			return caddyhttp.Error(http.StatusForbidden, hotel.ErrNoTenant)
		}
		// Meta gets a 2xx for every signed event: what no hotel is found
		// for is kept as unrouted by the webhook handler.
		caddyhttp.SetVar(r.Context(), VarResult, string(res.Result))
		first := in.Batch.First
		caddyhttp.SetVar(r.Context(), agente.VarRateKey, "unrouted:"+cmp.Or(first.PhoneNumberID, first.WABAID))
		return next.ServeHTTP(w, r)
	}
	r.Header.Set(Header, res.Tenant)
	tenant := any(res.Tenant) // boxed once for both variables
	caddyhttp.SetVar(r.Context(), VarTenantID, tenant)
	caddyhttp.SetVar(r.Context(), agente.VarRateKey, tenant)
	caddyhttp.SetVar(r.Context(), VarResult, string(res.Result))
	return next.ServeHTTP(w, r)
}

// The two values of agente.VarGuestMessages, boxed once: a string put in a
// variable is otherwise an allocation per request.
var guestsYes, guestsNo any = "yes", "no"

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(TenantResolve)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (m *TenantResolve) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		m.Channel = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "channel", "tenant", "default", "max_body":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch opt {
			case "channel":
				m.Channel = d.Val()
			case "tenant":
				m.Tenant = d.Val()
			case "default":
				m.Default = d.Val()
			case "max_body":
				n, err := config.ParseSize(d.Val())
				if err != nil {
					return d.Errf("max_body: %v", err)
				}
				m.MaxBody = n
			}
		case "strict":
			m.Strict = true
		default:
			return d.Errf("unrecognized tenant_resolve option '%s'", opt)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*TenantResolve)(nil)
	_ caddy.Validator             = (*TenantResolve)(nil)
	_ caddyhttp.MiddlewareHandler = (*TenantResolve)(nil)
	_ caddyfile.Unmarshaler       = (*TenantResolve)(nil)
)
