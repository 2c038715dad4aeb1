package agente

import (
	"cmp"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap/exp/zapslog"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/hotel"
	"github.com/agentehotel/agente-caddy/internal/mailbox"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

// PMSConfig chooses and tunes the property-management system. Every string
// field defaults from the environment variable named in its comment.
type PMSConfig struct {
	// Type is demo or qloapps. Default PMS_TYPE, else demo.
	Type string `json:"type,omitempty"`
	// BaseURL is the QloApps shop URL. Default PMS_BASE_URL.
	BaseURL string `json:"base_url,omitempty"`
	// APIKey is the QloApps webservice key. Default PMS_API_KEY.
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
	// MaxConcurrent is how many calls this process has at the PMS at once;
	// the others wait for a free one within their timeout. Default 16: the
	// inbox workers handle more conversations at once (inbox_workers, 64),
	// most of which never ask the PMS.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
}

// hotelConfig is the application's configuration: the app's fields, else
// the environment.
func (a *App) hotelConfig() hotel.Config {
	s, repl := a.settings, a.Replacer()
	p := a.PMS
	if p == nil {
		p = new(PMSConfig)
	}
	or := func(v, setting string) string {
		if v == "" {
			return setting
		}
		return strings.TrimSpace(repl.ReplaceAll(v, ""))
	}
	return hotel.Config{
		Environment:   string(s.Environment),
		AnswerInline:  s.Environment == config.Test,
		DefaultTenant: s.DefaultTenantID,
		MetadataAllow: a.MetadataAllow,
		InboxLease:    time.Duration(a.InboxLease),
		InboxWorkers:  a.InboxWorkers,
		Senders:       a.Senders,
		PMS: hotel.PMSConfig{
			Type:               or(p.Type, s.PMSType),
			BaseURL:            or(p.BaseURL, s.PMSBaseURL),
			APIKey:             or(p.APIKey, s.PMSAPIKey),
			TimeZone:           p.TimeZone,
			Timeout:            time.Duration(p.Timeout),
			BreakerOpenTimeout: time.Duration(p.BreakerOpenTimeout),
			AvailabilityTTL:    time.Duration(p.AvailabilityTTL),
			MaxConcurrent:      p.MaxConcurrent,
		},
		WhatsApp:  hotel.WhatsAppConfig{AccessToken: s.WhatsAppAccessToken, APIBase: s.WhatsAppAPIBase, PhoneNumberID: s.WhatsAppPhoneNumberID},
		SMTP:      hotel.SMTPConfig{Addr: s.SMTPAddr, Username: s.GmailUsername, Password: s.GmailAppPassword, From: s.GmailUsername},
		Mailboxes: a.mailboxes(),
		Retention: s.DataRetention,
		SecretKey: s.SecretKey,
		// A bridge relays the header of the mailbox's provider.
		EmailAuthservID: cmp.Or(s.IMAPAuthservID, "mx.google.com"),
		Handoff: hotel.HandoffConfig{
			ChannelsJSON: s.HandoffChannels,
			ConsoleURL:   s.ConsoleBaseURL,
			WaitAlert:    s.HandoffWaitAlert,
		},
	}
}

// mailboxes is the GMAIL_USERNAME mailbox, read over IMAP when its
// password, a server (IMAP_ADDR) and its hotel (IMAP_TENANT_ID, else
// DEFAULT_TENANT_ID) are known.
func (a *App) mailboxes() []mailbox.Config {
	s := a.settings
	if s.GmailUsername == "" || s.GmailAppPassword == "" || s.IMAPAddr == "" {
		return nil
	}
	tenant := s.IMAPTenantID
	if tenant == "" {
		tenant = s.DefaultTenantID
	}
	if tenant == "" {
		a.logger.Warn("the GMAIL_USERNAME mailbox is not read: set IMAP_TENANT_ID (or DEFAULT_TENANT_ID) to the hotel it belongs to")
		return nil
	}
	return []mailbox.Config{{
		TenantID: tenant, Addr: s.IMAPAddr, Username: s.GmailUsername, Password: s.GmailAppPassword,
		AuthservID: s.IMAPAuthservID,
	}}
}

// buildHotel builds the application; Start runs its workers.
func (a *App) buildHotel(ctx caddy.Context) error {
	if err := telemetry.Register(ctx.GetMetricsRegistry(), hotel.Collectors()...); err != nil {
		return err
	}
	cfg := a.hotelConfig()
	tracer, err := a.acquireTracerProvider(ctx)
	if err != nil {
		return fmt.Errorf("agente: traces: %w", err)
	}
	svc, err := hotel.New(cfg, hotel.Deps{
		Postgres:       a.postgres,
		Redis:          a.redis,
		RedisKeyPrefix: a.KeyPrefix,
		Tenants:        a.tenants,
		Flags:          a.flags,
		Readiness:      a.readiness,
		Keeper:         keeper{a},
		Logger:         slog.New(zapslog.NewHandler(a.logger.Core())),
		Dashboard:      a.dashboardItems,
		Canaries:       a.Canaries,
		TracerProvider: tracer,
	})
	if err != nil {
		return fmt.Errorf("agente: %w", err)
	}
	a.hotel = svc
	return nil
}

// kept holds the application's in-memory state that must outlive one
// config (the memory inbox and sessions, the demo PMS's bookings, the PMS
// cache and breaker): Caddy provisions a new config before cleaning up the
// old one, so the reference count never drops to zero on a reload.
var kept = caddy.NewUsagePool()

type keptValue struct{ v any }

func (keptValue) Destruct() error { return nil }

// keeper is the app as the application's hotel.Keeper.
type keeper struct{ a *App }

func (k keeper) Keep(key string, create func() any) (any, error) {
	v, _, err := kept.LoadOrNew(key, func() (caddy.Destructor, error) { return keptValue{create()}, nil })
	if err != nil {
		return nil, err
	}
	k.a.release = append(k.a.release, func() { _, _ = kept.Delete(key) })
	return v.(keptValue).v, nil
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
		case "max_concurrent":
			if c.MaxConcurrent, err = parseCount(val); err != nil {
				err = d.Errf("pms %s: %v", key, err)
			}
		default:
			return d.Errf("unrecognized pms option '%s'", key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var _ hotel.Keeper = keeper{}
