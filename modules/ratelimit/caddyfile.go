package ratelimit

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile reads the syntax documented on Handler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "zone":
			z, err := unmarshalZone(d)
			if err != nil {
				return err
			}
			h.Zones = append(h.Zones, z)
		case "backend":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Backend = d.Val()
			switch h.Backend {
			case "memory":
			case "redis":
				if d.NextArg() {
					h.RedisURL = d.Val()
				}
			default:
				return d.Errf("backend: must be memory or redis, got %q", h.Backend)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "key_prefix":
			if !d.AllArgs(&h.KeyPrefix) {
				return d.ArgErr()
			}
		case "on_backend_error":
			if !d.AllArgs(&h.OnBackendError) {
				return d.ArgErr()
			}
			if h.OnBackendError != "allow" && h.OnBackendError != "deny" {
				return d.Errf("on_backend_error: must be allow or deny, got %q", h.OnBackendError)
			}
		case "timeout":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil {
				return d.Errf("timeout: %v", err)
			}
			h.Timeout = caddy.Duration(dur)
		case "enabled":
			if !d.AllArgs(&h.Enabled) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized ratelimit subdirective %q", d.Val())
		}
	}
	return nil
}

func unmarshalZone(d *caddyfile.Dispenser) (*Zone, error) {
	z := new(Zone)
	if !d.NextArg() {
		return nil, d.Err("zone: a name is required")
	}
	z.Name = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "key":
			if !d.AllArgs(&z.Key) {
				return nil, d.ArgErr()
			}
		case "events":
			var s string
			if !d.AllArgs(&s) {
				return nil, d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, d.Errf("zone %s: events: %q is not an integer (environment values: {$VAR:default})", z.Name, s)
			}
			z.Events = n
		case "window":
			var s string
			if !d.AllArgs(&s) {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil {
				return nil, d.Errf("zone %s: window: %v", z.Name, err)
			}
			z.Window = caddy.Duration(dur)
		case "match":
			set, err := caddyhttp.ParseCaddyfileNestedMatcherSet(d)
			if err != nil {
				return nil, err
			}
			z.MatcherSetsRaw = append(z.MatcherSetsRaw, set)
		default:
			return nil, d.Errf("zone %s: unrecognized subdirective %q", z.Name, d.Val())
		}
	}
	return z, nil
}
