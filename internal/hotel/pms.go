package hotel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
	"github.com/agentehotel/agente-caddy/internal/pms/qloapps"
	"github.com/agentehotel/agente-caddy/internal/pms/resilient"
)

// PMSConfig chooses and tunes the property-management system.
type PMSConfig struct {
	// Type is demo or qloapps. Default demo.
	Type string
	// BaseURL is the QloApps shop URL (qloapps).
	BaseURL string
	// APIKey is the QloApps webservice key (qloapps).
	APIKey string
	// TimeZone of the hotels (QloApps keeps none). Default Europe/Madrid.
	TimeZone string
	// Timeout bounds one PMS operation, retries included: no guest waits
	// longer. Default 5s.
	Timeout time.Duration
	// BreakerOpenTimeout is how long the circuit breaker stays open before a
	// half-open probe. Default 30s.
	BreakerOpenTimeout time.Duration
	// AvailabilityTTL is how long a cached availability answer is fresh.
	// Default 60s.
	AvailabilityTTL time.Duration
	// MaxConcurrent is how many calls this process has at the PMS at once;
	// the others wait within their Timeout. Default 16.
	MaxConcurrent int
}

const defaultPMSTimeZone = "Europe/Madrid"

func (c PMSConfig) kind() string {
	if t := strings.ToLower(strings.TrimSpace(c.Type)); t != "" {
		return t
	}
	return "demo"
}

// needsHotelIDs reports whether the PMS hosts several hotels and tells them
// apart only by the tenants' pms_hotel_id (QloApps). The demo gives a
// tenant without one its default property.
func (c PMSConfig) needsHotelIDs() bool { return c.kind() == "qloapps" }

func (c PMSConfig) timeZone() string {
	if c.TimeZone != "" {
		return c.TimeZone
	}
	return defaultPMSTimeZone
}

func (c PMSConfig) validate() error {
	switch c.kind() {
	case "demo":
	case "qloapps":
		if c.BaseURL == "" || c.APIKey == "" {
			return errors.New("pms: qloapps needs base_url and api_key (PMS_BASE_URL, PMS_API_KEY)")
		}
	default:
		return fmt.Errorf("pms: type: %q is not demo or qloapps", c.Type)
	}
	if _, err := time.LoadLocation(c.timeZone()); err != nil {
		return fmt.Errorf("pms: time_zone: %v", err)
	}
	if c.MaxConcurrent < 0 {
		return fmt.Errorf("pms: max_concurrent: %d is negative", c.MaxConcurrent)
	}
	for name, d := range map[string]time.Duration{"timeout": c.Timeout, "breaker_open": c.BreakerOpenTimeout, "availability_ttl": c.AvailabilityTTL} {
		if d < 0 {
			return fmt.Errorf("pms: %s: %s is negative", name, d)
		}
	}
	return nil
}

// buildPMS assembles the configured PMS behind the resilience layer. The
// breaker is kept across reloads (a reload must not close an open breaker),
// as are the in-memory cache and the demo PMS's bookings (which are in
// Postgres when there is one, shared by the instances).
func (s *Service) buildPMS() (pms.PMS, error) {
	c := s.cfg.PMS
	var inner pms.PMS
	identity := "pms:" + c.kind()
	switch c.kind() {
	case "demo":
		if s.deps.Postgres != nil {
			inner = demo.New(demo.WithPostgres(s.deps.Postgres))
			break
		}
		d, err := keep(s.deps.Keeper, "pms:demo", func() *demo.PMS { return demo.New() })
		if err != nil {
			return nil, err
		}
		inner = d
	case "qloapps":
		client, err := qloapps.New(qloapps.Config{BaseURL: c.BaseURL, APIKey: c.APIKey, TimeZone: c.timeZone()})
		if err != nil {
			return nil, fmt.Errorf("pms: %w", err)
		}
		inner = client
		identity += ":" + c.BaseURL
	}
	breaker, err := keep(s.deps.Keeper, "breaker:"+identity, func() *resilient.Breaker {
		return resilient.NewBreaker(resilient.BreakerSettings{Name: identity, OpenTimeout: c.BreakerOpenTimeout})
	})
	if err != nil {
		return nil, err
	}
	s.breaker = breaker
	var cache resilient.Cache
	if client := s.deps.Redis; client != nil {
		cache = resilient.NewRedisCache(client, s.deps.RedisKeyPrefix) // its keys start with pms:
	} else {
		mem, err := keep(s.deps.Keeper, "pms:cache", func() *resilient.MemoryCache {
			return resilient.NewMemoryCache(resilient.MemoryCacheOptions{})
		})
		if err != nil {
			return nil, err
		}
		cache = mem
	}
	log := s.log
	wrapped := resilient.Wrap(inner, breaker, cache, resilient.Options{
		Timeout:         c.Timeout,
		AvailabilityTTL: c.AvailabilityTTL,
		MaxConcurrent:   c.MaxConcurrent,
		OnCacheError: func(op string, err error) {
			log.Warn("PMS cache unavailable; asking the PMS", "operation", op, "error", err)
		},
	})
	if s.deps.Readiness != nil {
		s.deps.Readiness.Add("pms", wrapped.Ping)
	}
	if !c.needsHotelIDs() {
		return wrapped, nil
	}
	if s.deps.Readiness != nil {
		s.deps.Readiness.AddAdvisory("pms_hotel_ids", s.checkPMSHotelIDs)
	}
	// Outside the resilience layer: a hotel without an id is no PMS
	// failure, to count against the breaker or to answer from the cache.
	return pms.RequirePropertyID(wrapped), nil
}

// maxNamedTenants bounds how many tenants a readiness error names.
const maxNamedTenants = 20

// checkPMSHotelIDs fails naming the active tenants without pms_hotel_id:
// the PMS cannot tell which of its hotels is theirs, so their guests are
// told the booking system cannot be reached.
func (s *Service) checkPMSHotelIDs(context.Context) error {
	var missing []string
	for _, t := range s.deps.Tenants.Tenants() {
		if t.Active && !t.PMSHotelIDSet {
			missing = append(missing, t.ID)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	named := strings.Join(missing[:min(len(missing), maxNamedTenants)], ", ")
	if len(missing) > maxNamedTenants {
		named += fmt.Sprintf(" and %d more", len(missing)-maxNamedTenants)
	}
	return fmt.Errorf("active tenants without pms_hotel_id, not connected to their hotel in the PMS (their guests are told the booking system cannot be reached): %s", named)
}
