// Package requestmetrics is the `request_metrics` handler: it records the
// HTTP metrics of the original system's dashboards and alerts (http_requests_total{method,endpoint,status_code},
// request_duration_seconds{method,endpoint}, active_connections) for every
// request of the routes it wraps, including those that a matcher or handler
// further down ends with an error status (401, 413, 429, ...).
package requestmetrics

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("request_metrics", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("request_metrics", httpcaddyfile.Before, "tracing")
}

// Handler observes the rest of the chain. Endpoints are reported by route
// template (e.g. /admin/tenants/{id}); paths outside the routes we serve are
// reported as "other", so scanners cannot explode the label set.
//
// Caddyfile (first in the site, or in `route` before what it measures):
//
//	request_metrics
type Handler struct{}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.request_metrics", New: func() caddy.Module { return new(Handler) }}
}

// Provision registers the collectors into this config's registry.
func (h *Handler) Provision(ctx caddy.Context) error {
	return telemetry.Register(ctx.GetMetricsRegistry(), telemetry.HTTPCollectors()...)
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := time.Now()
	telemetry.ActiveConnections.Inc()
	defer telemetry.ActiveConnections.Dec()

	rec := caddyhttp.NewResponseRecorder(w, nil, nil)
	err := next.ServeHTTP(rec, r)

	status := rec.Status()
	if err != nil {
		status = http.StatusInternalServerError
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			status = he.StatusCode
		}
	} else if status == 0 {
		status = http.StatusOK
	}
	telemetry.ObserveRequest(r.Method, telemetry.Endpoint(r.URL.Path), status, time.Since(start).Seconds())
	return err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("request_metrics takes no options, got '%s'", d.Val())
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
