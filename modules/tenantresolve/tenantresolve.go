// Package tenantresolve is the `tenant_resolve` HTTP middleware: it decides
// which hotel (tenant) a webhook belongs to and tells every later handler,
// overwriting whatever the client claimed.
package tenantresolve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/apierror"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	wa "github.com/agentehotel/agente-caddy/internal/whatsapp"
)

func init() {
	caddy.RegisterModule(TenantResolve{})
	httpcaddyfile.RegisterHandlerDirective("tenant_resolve", parseCaddyfile)
}

// Names of what the middleware sets for later handlers.
const (
	// VarTenantID is the placeholder {http.vars.tenant_id}.
	VarTenantID = "tenant_id"
	// VarResult is {http.vars.tenant_resolution}: provided, hit or default.
	VarResult = "tenant_resolution"
	// Header is the request header later handlers (and upstreams) read.
	Header = "X-Tenant-ID"
)

// DefaultMaxBody bounds the body read for identifiers when max_body is unset.
const DefaultMaxBody = 1 << 20

// TenantSource is what the `agente` app offers this module: the tenant
// directory every route of the config shares. (An interface rather than an
// import of modules/agente, whose init sets development defaults such as
// DEFAULT_TENANT_ID in the environment.)
type TenantSource interface {
	Tenants() tenancy.Store
}

// TenantResolve resolves the tenant of each request (DESIGN.md "Tenant
// resolution order"): the route's trusted tenant (provided); else the
// hotel's WhatsApp business number value.metadata.phone_number_id, then
// entry[].id, then the guest's phone (messages[].from, statuses[].recipient_id)
// or, on the gmail channel, the email "from", registered to an active tenant
// (hit); else the default tenant (default); else the request is answered 403
// JSON (miss_strict). With strict, the default is never used.
//
// The tenant is published as {http.vars.tenant_id} and in the X-Tenant-ID
// request header, which is overwritten: a client-supplied X-Tenant-ID never
// decides anything, and one that disagrees with the resolved tenant counts in
// tenant_isolation_errors_total. Each resolution counts in
// tenant_resolution_total{result}.
//
// The body is read (at most max_body bytes; more is 413) and restored for the
// next handler; a non-empty body that is not JSON is 400, and so is a payload
// of the other channel (a gmail payload on a whatsapp route or the reverse,
// counted in channel_spoofing_detected_total), before any resolution. Errors are written
// as the JSON error document, not passed to error routes.
//
// Caddyfile (inside a `route` block, or ordered with the global `order`):
//
//	tenant_resolve [whatsapp|gmail] {
//		channel  whatsapp|gmail   # payload format; default whatsapp
//		tenant   <tenant id>      # trusted tenant for every request of this route
//		default  <tenant id>      # fallback; default {env.DEFAULT_TENANT_ID}
//		strict                    # reject (403) instead of using the default
//		max_body <size>           # default 1MiB
//	}
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
	// MaxBody bounds the body read for identifiers, in bytes; default 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	tenant, fallback string
	resolver         tenancy.Resolver
	logger           *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (TenantResolve) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tenant_resolve",
		New: func() caddy.Module { return new(TenantResolve) },
	}
}

// Provision resolves placeholders, finds the tenant directory in the
// `agente` app and registers the metrics.
func (m *TenantResolve) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	if err := telemetry.Register(ctx.GetMetricsRegistry(), append(tenancy.Collectors(), wa.ChannelSpoofingDetected)...); err != nil {
		return err
	}
	if m.Channel == "" {
		m.Channel = "whatsapp"
	}
	if m.MaxBody == 0 {
		m.MaxBody = DefaultMaxBody
	}
	repl := caddy.NewReplacer()
	m.tenant = repl.ReplaceAll(m.Tenant, "")
	if !m.Strict {
		def := m.Default
		if def == "" {
			def = "{env.DEFAULT_TENANT_ID}"
		}
		m.fallback = repl.ReplaceAll(def, "")
	}
	if m.resolver == nil {
		app, err := ctx.App("agente")
		if err != nil {
			return fmt.Errorf("tenant_resolve: the agente app provides the tenant directory: %v", err)
		}
		src, ok := app.(TenantSource)
		if !ok {
			return fmt.Errorf("tenant_resolve: the agente app (%T) does not provide a tenant directory", app)
		}
		m.resolver = src.Tenants()
		if m.resolver == nil {
			return errors.New("tenant_resolve: the agente app has no tenant directory")
		}
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

// ServeHTTP resolves the tenant and calls next, or answers the error.
func (m *TenantResolve) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	in := tenancy.ResolveInput{Tenant: m.tenant, Default: m.fallback, Strict: m.Strict, Channel: m.Channel}
	if m.tenant == "" {
		status, err := m.identifiers(r, &in)
		if err != nil {
			apierror.Write(w, status, err.Error())
			return nil
		}
	}
	id, result := m.resolver.Resolve(in)

	for _, claimed := range r.Header.Values(Header) {
		if claimed != id {
			tenancy.IsolationErrors.Inc()
			m.logger.Debug("client-supplied X-Tenant-ID ignored",
				zap.String("claimed", claimed), zap.String("resolved", id), zap.String("remote", r.RemoteAddr))
			break
		}
	}
	if result == tenancy.ResultMissStrict {
		r.Header.Del(Header)
		apierror.Write(w, http.StatusForbidden, "no tenant for this request")
		return nil
	}
	r.Header.Set(Header, id)
	caddyhttp.SetVar(r.Context(), VarTenantID, id)
	caddyhttp.SetVar(r.Context(), VarResult, string(result))
	return next.ServeHTTP(w, r)
}

// identifiers reads the body (bounded, then restored) and fills in the
// business and guest identifiers of the route's channel.
func (m *TenantResolve) identifiers(r *http.Request, in *tenancy.ResolveInput) (int, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return 0, nil
	}
	if r.ContentLength > m.MaxBody {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", m.MaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.MaxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", mbe.Limit)
		}
		return http.StatusBadRequest, errors.New("reading body failed")
	}
	if int64(len(body)) > m.MaxBody {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", m.MaxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if len(bytes.TrimSpace(body)) == 0 {
		return 0, nil
	}
	// A payload of the other channel is refused before it is resolved (and
	// rate-limited) as this route's: without a default tenant or on a strict
	// route it would otherwise be a 403 no-tenant, never counted as spoofing.
	if err := wa.CheckChannel(chat.Channel(m.Channel), body); err != nil {
		return http.StatusBadRequest, err
	}
	var decodeErr error
	if m.Channel == "gmail" {
		decodeErr = gmailIdentifiers(body, in)
	} else {
		decodeErr = whatsappIdentifiers(body, in)
	}
	var syntax *json.SyntaxError
	if errors.As(decodeErr, &syntax) || errors.Is(decodeErr, io.ErrUnexpectedEOF) {
		return http.StatusBadRequest, errors.New("body is not valid JSON")
	}
	// A type mismatch (e.g. "entry": "x") leaves what did decode; the
	// normaliser downstream answers for the malformed event.
	return 0, nil
}

// whatsappEvent is the part of a Cloud API webhook that names the hotel
// and the guest.
type whatsappEvent struct {
	Entry []struct {
		ID      string `json:"id"`
		Changes []struct {
			Value struct {
				Metadata struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				Messages []struct {
					From string `json:"from"`
				} `json:"messages"`
				Statuses []struct {
					RecipientID string `json:"recipient_id"`
				} `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

func whatsappIdentifiers(body []byte, in *tenancy.ResolveInput) error {
	var ev whatsappEvent
	err := json.Unmarshal(body, &ev)
	for _, e := range ev.Entry {
		if in.WABAID == "" {
			in.WABAID = e.ID
		}
		for _, c := range e.Changes {
			v := c.Value
			if in.PhoneNumberID == "" {
				in.PhoneNumberID = v.Metadata.PhoneNumberID
			}
			for _, msg := range v.Messages {
				if in.GuestPhone == "" {
					in.GuestPhone = msg.From
				}
			}
			for _, st := range v.Statuses {
				if in.GuestPhone == "" {
					in.GuestPhone = st.RecipientID
				}
			}
		}
	}
	return err
}

func gmailIdentifiers(body []byte, in *tenancy.ResolveInput) error {
	var ev struct {
		From string `json:"from"`
	}
	err := json.Unmarshal(body, &ev)
	in.GuestEmail = ev.From
	return err
}

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
