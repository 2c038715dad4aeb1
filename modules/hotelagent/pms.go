package hotelagent

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
	"github.com/agentehotel/agente-caddy/internal/pms/qloapps"
	"github.com/agentehotel/agente-caddy/internal/pms/resilient"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

// PMSConfig chooses and tunes the property-management system. Every field
// defaults from the environment variable named in its comment.
type PMSConfig struct {
	// Type is demo or qloapps. Default {env.PMS_TYPE}, else demo.
	Type string `json:"type,omitempty"`
	// BaseURL is the QloApps shop URL. Default {env.PMS_BASE_URL}.
	BaseURL string `json:"base_url,omitempty"`
	// APIKey is the QloApps webservice key. Default {env.PMS_API_KEY}.
	APIKey string `json:"api_key,omitempty"`
	// TimeZone of the hotels (QloApps keeps none). Default Europe/Madrid.
	TimeZone string `json:"time_zone,omitempty"`
	// Timeout bounds one PMS operation, retries included: no guest waits
	// longer. Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// BreakerOpenTimeout is how long the circuit breaker stays open before a
	// half-open probe. Default 30s.
	BreakerOpenTimeout caddy.Duration `json:"breaker_open_timeout,omitempty"`
	// AvailabilityTTL is how long a cached availability answer is fresh. Default 60s.
	AvailabilityTTL caddy.Duration `json:"availability_ttl,omitempty"`
}

// buildPMS assembles the configured PMS behind the resilience layer. The
// breaker is kept across reloads (a reload must not close an open breaker),
// as are the demo PMS's bookings.
func (h *HotelAgent) buildPMS(ctx caddy.Context) (pms.PMS, error) {
	repl := caddy.NewReplacer()
	c := h.PMS
	get := func(v, env string) string {
		if v == "" {
			v = "{env." + env + "}"
		}
		return strings.TrimSpace(repl.ReplaceAll(v, ""))
	}
	typ := strings.ToLower(get(c.Type, "PMS_TYPE"))
	if typ == "" {
		typ = "demo"
	}
	tz := c.TimeZone
	if tz == "" {
		tz = "Europe/Madrid"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("pms: time_zone: %v", err)
	}
	var inner pms.PMS
	identity := "pms:" + typ
	switch typ {
	case "demo":
		d, err := keep(h, "pms:demo", func() *demo.PMS { return demo.New() })
		if err != nil {
			return nil, err
		}
		inner = d
	case "qloapps":
		base, key := get(c.BaseURL, "PMS_BASE_URL"), get(c.APIKey, "PMS_API_KEY")
		if base == "" || key == "" {
			return nil, errors.New("pms: qloapps needs base_url and api_key (PMS_BASE_URL, PMS_API_KEY)")
		}
		client, err := qloapps.New(qloapps.Config{BaseURL: base, APIKey: key, TimeZone: tz})
		if err != nil {
			return nil, fmt.Errorf("pms: %w", err)
		}
		inner = client
		identity += ":" + base
	default:
		return nil, fmt.Errorf("pms: type: %q is not demo or qloapps", typ)
	}

	breaker, err := keep(h, "breaker:"+identity, func() *resilient.Breaker {
		return resilient.NewBreaker(resilient.BreakerSettings{Name: identity, OpenTimeout: time.Duration(c.BreakerOpenTimeout)})
	})
	if err != nil {
		return nil, err
	}
	h.breaker = breaker
	var cache resilient.Cache
	if client := h.app.Redis(); client != nil {
		cache = resilient.NewRedisCache(client, h.app.RedisKeyPrefix()) // its keys start with pms:
	} else {
		mem, err := keep(h, "pms:cache", func() *resilient.MemoryCache {
			return resilient.NewMemoryCache(resilient.MemoryCacheOptions{})
		})
		if err != nil {
			return nil, err
		}
		cache = mem
	}
	if err := telemetry.Register(ctx.GetMetricsRegistry(), resilient.Collectors()...); err != nil {
		return nil, err
	}
	logger := h.logger
	wrapped := resilient.Wrap(inner, breaker, cache, resilient.Options{
		Timeout:         time.Duration(c.Timeout),
		AvailabilityTTL: time.Duration(c.AvailabilityTTL),
		OnCacheError: func(op string, err error) {
			logger.Warn("PMS cache unavailable; asking the PMS", zap.String("operation", op), zap.Error(err))
		},
	})
	h.app.Readiness().Add("pms", wrapped.Ping)
	return wrapped, nil
}

func (c *PMSConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		c.Type = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		dur := func(dst *caddy.Duration) error {
			v, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("pms %s: %v", key, err)
			}
			*dst = caddy.Duration(v)
			return nil
		}
		var err error
		switch key {
		case "base_url":
			c.BaseURL = val
		case "api_key":
			c.APIKey = val
		case "time_zone":
			c.TimeZone = val
		case "timeout":
			err = dur(&c.Timeout)
		case "breaker_open":
			err = dur(&c.BreakerOpenTimeout)
		case "availability_ttl":
			err = dur(&c.AvailabilityTTL)
		default:
			return d.Errf("unrecognized pms option '%s'", key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
