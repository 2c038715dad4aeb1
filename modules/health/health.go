// Package health is the `health` handler: the process's liveness and its
// readiness (every dependency the agente app and its modules registered:
// database, redis, pms, tenant cache).
package health

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	internalhealth "github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("health", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("health", httpcaddyfile.Before, "respond")
}

// Handler answers one health question:
//
//	live   200 {"status":"alive"} while the process serves
//	ready  200 when every dependency answers within timeout, else 503; the
//	       JSON lists each ({"status","ready","dependencies","checked_at"})
//	       and the check updates dependency_up{name}, readiness_up and
//	       readiness_last_check_timestamp
//
// A failed dependency's error text (addresses, driver messages) is for
// operators: it is shown with `errors show`, and by default only in
// development and test; in staging and production the answer says up or
// down per dependency, and the internal listener sets `errors show`.
//
// Caddyfile:
//
//	health live|ready {
//		timeout <duration>   # per dependency, ready only; default 2s
//		errors  show|hide    # ready only; default show in development and test, hide in staging and production
//	}
type Handler struct {
	// Check is "live" or "ready".
	Check string `json:"check"`
	// Timeout bounds each dependency's check of `ready`. Default 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Errors is "show" or "hide": whether a failed dependency's error text
	// is in the answer. Default: show only in development and test.
	Errors string `json:"errors,omitempty"`

	showErrors bool

	readiness *internalhealth.Checker
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.health", New: func() caddy.Module { return new(Handler) }}
}

// Provision reaches the agente app's readiness checks.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	h.readiness = app.Readiness()
	h.showErrors = h.Errors == "show" || (h.Errors == "" && !app.Settings().Environment.Strict())
	if h.Timeout == 0 {
		h.Timeout = caddy.Duration(2 * time.Second)
	}
	return nil
}

// Validate names the bad field.
func (h *Handler) Validate() error {
	switch h.Check {
	case "live", "ready":
	default:
		return fmt.Errorf("health: check: %q is not live or ready", h.Check)
	}
	switch h.Errors {
	case "", "show", "hide":
	default:
		return fmt.Errorf("health: errors: %q is not show or hide", h.Errors)
	}
	if h.Timeout < 0 {
		return errors.New("health: timeout: must be positive")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. It ends the chain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if h.Check == "live" {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "alive"})
		return nil
	}
	rep := h.readiness.Run(r.Context(), time.Duration(h.Timeout))
	status := http.StatusOK
	if !rep.Ready {
		status = http.StatusServiceUnavailable
	}
	httpjson.Write(w, status, readyBody(rep, h.showErrors))
	return nil
}

func readyBody(rep internalhealth.Report, showErrors bool) any {
	deps := map[string]any{}
	for _, d := range rep.Dependencies {
		entry := map[string]any{"up": d.Up}
		if d.Advisory {
			entry["advisory"] = true
		}
		if d.Error != "" && showErrors {
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

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if !d.AllArgs(&h.Check) {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "timeout":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("timeout: %v", err)
			}
			h.Timeout = caddy.Duration(dur)
		case "errors":
			if !d.AllArgs(&h.Errors) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized health option '%s'", d.Val())
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
