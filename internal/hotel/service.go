// Package hotel is the application behind the webhooks: it decodes and
// resolves inbound events, makes them durable in the inbox, runs the workers
// that answer guests (orchestrator, PMS chain, replies through the outbox
// and the channel senders), and serves the admin API. It is built from a
// plain Config and Deps, so it runs and is tested without Caddy; the
// `agente` Caddy app builds one per configuration and runs its workers
// between Start and Stop.
package hotel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/consent"
	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/mailbox"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms/resilient"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// MinInboxLease is the shortest InboxLease accepted: renewals every third of
// it must outlast a slow database round trip.
const MinInboxLease = time.Second

// MaxWorkers bounds InboxWorkers and Senders: each is a goroutine, and on
// Postgres each may hold a pooled connection while it claims or records.
const MaxWorkers = 1024

// Config is what the service is built from. The zero value of each field
// takes the default named in its comment.
type Config struct {
	// Environment names the deployment in /admin/dashboard.
	Environment string
	// AnswerInline answers webhook messages in the request, with the reply
	// in the answer, instead of through the workers (ENVIRONMENT=test).
	AnswerInline bool
	// DefaultTenant receives events no identifier resolves on a route that
	// configures no default of its own. Empty: such events have no hotel.
	DefaultTenant string
	// MetadataAllow lists the keys of a message's `metadata` that reach the
	// agent. Nil: the original system's list (chat.DefaultAllowedMetadata).
	MetadataAllow []string
	// InboxLease is how long a worker's claim on a conversation stays
	// exclusive without renewal; what a crashed process held waits this
	// long before another takes it over. Default 30s, at least MinInboxLease.
	InboxLease time.Duration
	// InboxWorkers is how many conversations this process's inbox workers
	// handle at once; Senders how many guests its outbox sends to at once.
	// 0: the inbox's defaults (16 and 32); at most MaxWorkers each.
	InboxWorkers, Senders int
	// PMS chooses and tunes the property-management system.
	PMS PMSConfig
	// WhatsApp sends replies through the Graph API; without an access token
	// replies are logged and kept, not sent (development).
	WhatsApp WhatsAppConfig
	// SMTP sends email replies; without an address they are logged and kept.
	SMTP SMTPConfig
	// EmailAuthservID is the receiving mail server whose
	// Authentication-Results a bridge posting to /webhooks/gmail may relay;
	// empty: none is trusted, and bridged mail never changes a booking.
	EmailAuthservID string
	// SecretKey (SECRET_KEY) seals the passwords of the hotels' own
	// mailboxes in Postgres; empty: hotels cannot have their own.
	SecretKey string
	// Mailboxes are the hotels' mailboxes read over IMAP: a worker each,
	// from Start to Stop, hands their guests' mail to the inbox.
	Mailboxes []mailbox.Config
	// Retention is how long a guest's finished messages and replies (and
	// their statuses, the unrouted events), expired sessions and idle
	// conversations (not waiting for a person) are kept; 0: DefaultRetention.
	Retention time.Duration
	// Handoff says how staff hear of a guest waiting for a person.
	Handoff HandoffConfig
}

// WhatsAppConfig is the Cloud API sender's.
type WhatsAppConfig struct {
	AccessToken   string
	APIBase       string // empty: whatsapp.DefaultBaseURL
	PhoneNumberID string // the number replies go out from when the message named none
	// ProbeInterval is how often a refused access token is tried again,
	// with one held reply. Default DefaultTokenProbeInterval.
	ProbeInterval time.Duration
}

// SMTPConfig is the email sender's.
type SMTPConfig struct {
	Addr, Username, Password, From string
}

// Validate names the first field that cannot work.
func (c Config) Validate() error {
	if c.InboxLease != 0 && c.InboxLease < MinInboxLease {
		return fmt.Errorf("inbox_lease: %s is shorter than %s: renewals every third of it must outlast a slow database round trip", c.InboxLease, MinInboxLease)
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"inbox_workers", c.InboxWorkers}, {"senders", c.Senders}} {
		if f.n < 0 || f.n > MaxWorkers {
			return fmt.Errorf("%s: %d is not between 1 and %d (0: the default)", f.name, f.n, MaxWorkers)
		}
	}
	if c.DefaultTenant != "" {
		if err := tenancy.ValidateTenantID(c.DefaultTenant); err != nil {
			return fmt.Errorf("default tenant: %v", err)
		}
	}
	return c.PMS.validate()
}

// Keeper keeps values that must outlive one Service: a reload builds the new
// Service while the old one still runs, and in-memory state (the memory
// inbox, sessions, the demo PMS's bookings, the PMS breaker) must carry
// over. Keep returns the value under key, creating it on first use; the
// keeper releases it when nothing holds it any more.
type Keeper interface {
	Keep(key string, create func() any) (any, error)
}

func keep[T any](k Keeper, key string, create func() T) (T, error) {
	v, err := k.Keep(key, func() any { return create() })
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// Deps are the long-lived things the service uses but does not own.
type Deps struct {
	// Postgres is the shared pool; nil keeps inbox and sessions in memory.
	Postgres *pgxpool.Pool
	// Redis is the shared client; nil keeps the PMS cache in memory.
	Redis *redis.Client
	// RedisKeyPrefix prefixes every Redis key of ours.
	RedisKeyPrefix string
	// Tenants is the tenant directory (required).
	Tenants tenancy.Store
	// Flags are the feature flags (required).
	Flags *flags.Store
	// Readiness receives the PMS's checks; nil: not reported.
	Readiness *health.Checker
	// Keeper keeps in-memory state across reloads (required).
	Keeper Keeper
	// Logger receives the service's logs; nil: slog.Default().
	Logger *slog.Logger
	// Dashboard adds other parts' live figures to /admin/dashboard.
	Dashboard func(ctx context.Context) map[string]any
	// Canaries are the running config's canaries, for /admin/canaries.
	Canaries func() []*canary.State
	// TracerProvider makes the spans of the background work (inbox
	// accept, processing, orchestrator, PMS calls, sends), continuing the
	// webhook's trace; nil: the no-op, which records nothing.
	TracerProvider trace.TracerProvider
}

// Service is the application. Build it with New, run its workers with
// Start, stop them with Stop.
type Service struct {
	cfg          Config
	deps         Deps
	log          *slog.Logger
	metadata     chat.MetadataFilter
	orchestrator *agent.Orchestrator
	breaker      *resilient.Breaker
	inbox        *inbox.Inbox
	sender       *channelSender
	consent      consent.Store
	// guestReads reads a message's consent and session in one round trip;
	// nil without Postgres.
	guestReads   *pgGuestReads
	token        *tokenGuard  // nil without a WhatsApp access token
	outbound     inbox.Sender // what the outbox sends through: consent, token, 24-hour window, channel
	admin        *admin.Handler
	mailboxes    []*mailbox.Worker
	revocations  *adminauth.Revocations
	mailboxState mailbox.StateStore
	hotelBoxes   *hotelMailboxes // nil without Postgres or SecretKey
	adminRoutes  http.Handler
	// conversations is the staff's view of each hotel's guests.
	conversations conversation.Store
	// notifier tells a hotel's staff of a handoff; nil: nobody is told.
	notifier    *handoffNotifier
	zones       sync.Map // time zone name → *time.Location
	stopWorkers func()
	// reengageLater holds 131047 receipts that came before their reply
	// was recorded (window.go).
	reengageLater chan chat.Status
}

// New builds the service: the PMS chain, the orchestrator, the inbox, the
// senders and the admin API. It starts nothing.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Tenants == nil || deps.Flags == nil || deps.Keeper == nil {
		return nil, errors.New("hotel: Deps needs Tenants, Flags and a Keeper")
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger, reengageLater: make(chan chat.Status, 1024)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.MetadataAllow != nil {
		s.metadata = chat.NewMetadataFilter(cfg.MetadataAllow)
	}
	property, err := s.buildPMS()
	if err != nil {
		return nil, err
	}
	var sessions agent.SessionStore
	if deps.Postgres != nil {
		pgSessions := agent.NewPostgresSessions(deps.Postgres)
		sessions = pgSessions
		s.guestReads = newPGGuestReads(deps.Postgres, pgSessions)
	} else if sessions, err = keep(deps.Keeper, "sessions:memory", func() agent.SessionStore { return agent.NewMemorySessions() }); err != nil {
		return nil, err
	}
	if s.orchestrator, err = agent.New(nlp.Analyze, property, sessions); err != nil {
		return nil, err
	}
	if s.inbox, err = s.openInbox(); err != nil {
		return nil, err
	}
	s.sender = newChannelSender(cfg.WhatsApp, cfg.SMTP, s.log)
	if s.consent, err = s.openConsent(); err != nil {
		return nil, err
	}
	// A template the window sends instead of a reply is a send like any
	// other: the token guard holds it and consent suppresses it.
	var out inbox.Sender = newWindowSender(s.sender, deps.Tenants, s.log)
	if s.sender.whatsapp != nil {
		// Sets whatsapp_token_valid from what is known of the token.
		if s.token, err = s.newTokenGuard(out); err != nil {
			return nil, err
		}
		out = s.token
	} else {
		whatsappTokenValid.Set(1) // no token to refuse: development logs replies
	}
	s.outbound = loggedSender{next: consentSender{store: s.consent, next: out}, log: s.log}
	if err := s.buildMailboxes(); err != nil {
		return nil, err
	}
	if deps.Postgres != nil {
		s.revocations = adminauth.NewPostgresRevocations(deps.Postgres)
		if err := s.revocations.Load(context.Background()); err != nil {
			s.log.Warn("loading revoked admin tokens", "error", err)
		}
	} else if s.revocations, err = keep(deps.Keeper, "revocations:memory", adminauth.NewMemoryRevocations); err != nil {
		return nil, err
	}
	if err := s.openHotelMailboxes(); err != nil {
		return nil, err
	}
	if s.conversations, err = s.openConversations(); err != nil {
		return nil, err
	}
	if cfg.Handoff.Channels == nil {
		if cfg.Handoff.Channels, err = ParseHandoffChannels(cfg.Handoff.ChannelsJSON); err != nil {
			return nil, err
		}
	}
	s.notifier = newHandoffNotifier(cfg.Handoff, s.sender.email, staffDesk{s}, s.log)
	if cfg.Handoff.WaitAlert <= 0 {
		cfg.Handoff.WaitAlert = 15 * time.Minute
	}
	handoffWaitAlert.Set(cfg.Handoff.WaitAlert.Seconds())
	if s.admin, err = admin.New(admin.Options{
		Revocations:        s.revocations,
		Conversations:      staffDesk{s},
		DeadLetters:        s.inbox,
		Privacy:            guestData{s},
		Tenants:            deps.Tenants,
		Flags:              deps.Flags,
		Dashboard:          s.dashboard,
		ResumeConversation: s.resume,
		OnError: func(r *http.Request, err error) {
			s.log.Error("admin API", "path", r.URL.Path, "error", err)
		},
		PMSHotelIDRequired: cfg.PMS.needsHotelIDs(),
		Deliveries:         s.inbox,
		Canaries:           deps.Canaries,
	}); err != nil {
		return nil, err
	}
	s.adminRoutes = s.mailboxAdminRoutes()
	return s, nil
}

// Collectors are the metrics the service records, for the app to register.
func Collectors() []prometheus.Collector {
	var cs []prometheus.Collector
	for _, group := range [][]prometheus.Collector{
		agent.Collectors(), whatsapp.Collectors(), email.Collectors(), inbox.Collectors(), resilient.Collectors(), collectors(), mailbox.Collectors(),
		{whatsappTokenValid},
	} {
		cs = append(cs, group...)
	}
	return cs
}

// TokenRevocations are the revoked admin token ids admin_auth refuses.
func (s *Service) TokenRevocations() *adminauth.Revocations { return s.revocations }

// Admin is the admin API. It answers 401 to a request whose context carries
// no authenticated admin (admin.WithActor): authentication is in front of it.
func (s *Service) Admin() http.Handler { return s.adminRoutes }

// dashboard adds this process's live figures to /admin/dashboard. Every
// section is always there (empty, or with an "error", rather than absent):
// tenants (the admin API's own), messages_today, breaker, canaries,
// handoffs_waiting, dead_letters.
func (s *Service) dashboard(ctx context.Context) map[string]any {
	out := map[string]any{"environment": s.cfg.Environment}
	if st, err := s.inbox.Stats(ctx); err == nil {
		out["inbox_pending"], out["outbox_pending"], out["outbox_held"] = st.InboxPending, st.OutboxPending, st.OutboxHeld
	}
	now := time.Now().UTC()
	today := map[string]any{"since": now.Truncate(24 * time.Hour)}
	if n, err := s.inbox.AcceptedSince(ctx, now.Truncate(24*time.Hour)); err == nil {
		today["count"] = n
	} else {
		today["count"], today["error"] = 0, "inbox unavailable"
	}
	out["messages_today"] = today
	breaker := map[string]any{"state": "none"}
	if s.breaker != nil {
		out["pms_breaker_state"] = s.breaker.State()
		breaker["state"] = s.breaker.State()
	}
	out["pms_cache"] = resilient.CacheFigures()
	out["breaker"] = breaker
	out["handoffs_waiting"] = s.waitingSummary(ctx)
	out["dead_letters"] = s.deadLetterSummary(ctx)
	out["canaries"] = map[string]any{}
	if s.deps.Dashboard != nil {
		for k, v := range s.deps.Dashboard(ctx) {
			out[k] = v
		}
	}
	return out
}
