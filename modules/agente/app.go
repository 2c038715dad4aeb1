// Package agente is the `agente` Caddy app: the process-wide part of
// agente-caddy that every other module of ours uses, and the only module
// package they import. It reads and checks the environment once (refusing
// to start staging or production on bad secrets), owns the Postgres pool and
// Redis client (shared across config reloads through caddy.UsagePools),
// applies migrations, builds the application (internal/hotel) and runs its
// workers between Start and Stop, and keeps the readiness checks behind
// /health/ready. It also holds the contracts between our HTTP modules: the
// request's webhook record (webhook.go) and the request variables.
//
// Modules reach it with Load(ctx); with no `agente` global option it is
// created with its defaults, which read everything from the environment.
package agente

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/hotel"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

func init() {
	caddy.RegisterModule(App{})
	httpcaddyfile.RegisterGlobalOption("agente", parseGlobalOption)
}

// App is the `agente` app. Every field is optional: an empty field takes its
// value from the environment variable named in its comment.
//
// Caddyfile (global options):
//
//	{
//		agente {
//			environment <development|test|staging|production>
//			postgres    <url>        # POSTGRES_URL; empty: in-memory stores (development only)
//			redis       <url>        # REDIS_URL; empty: in-memory (development only)
//			key_prefix  <prefix>     # REDIS_KEY_PREFIX; prefix of every Redis key we write
//			migrate     on|off       # apply embedded migrations at start (default on)
//			tenants_file <path>      # TENANTS_FILE; seeds the in-memory tenant directory (no Postgres)
//			tenant_refresh <duration> # full reload of the Postgres tenant cache; default 60s
//			inbox_lease <duration>   # takeover delay of a crashed process's work; default 30s (min 1s)
//			workers     on|off       # run the inbox workers and senders here (default on; off needs postgres)
//			inbox_workers <n>        # conversations handled at once by this process; default 64
//			senders     <n>          # guests sent to at once by this process; default 32
//			webhook_memory <size>    # webhook bodies held at once on this instance; default 32MiB
//			webhook_memory_per_client <size> # one client address's share of it; default 4MiB
//			metadata_allow <key...>  # message metadata keys that reach the agent; default the original system's
//			pms demo|qloapps {       # default PMS_TYPE
//				base_url     <url>       # default PMS_BASE_URL
//				api_key      <key>       # default PMS_API_KEY
//				time_zone    <IANA zone> # default Europe/Madrid
//				timeout      <duration>  # whole operation, retries included; default 5s
//				breaker_open <duration>  # open breaker's wait before a probe; default 30s
//				availability_ttl <duration> # default 60s
//				max_concurrent <n>       # calls at the PMS at once from this process; default 16
//			}
//		}
//	}
type App struct {
	// Environment overrides ENVIRONMENT.
	Environment string `json:"environment,omitempty"`
	// PostgresURL overrides POSTGRES_URL. Placeholders are resolved.
	PostgresURL string `json:"postgres_url,omitempty"`
	// RedisURL overrides REDIS_URL. Placeholders are resolved.
	RedisURL string `json:"redis_url,omitempty"`
	// KeyPrefix overrides REDIS_KEY_PREFIX: prefixed to every Redis key of
	// ours, so environments can share a Redis. Default empty, which keeps the
	// original system's key names (feature_flags, feature:<flag>), so its
	// scripts and existing data keep working.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Migrate applies the embedded Postgres migrations at start (under an
	// advisory lock, so instances starting together are safe). Default true.
	Migrate *bool `json:"migrate,omitempty"`
	// TenantsFile overrides TENANTS_FILE: the JSON or YAML tenant directory
	// loaded into memory when there is no Postgres (development). Ignored
	// with Postgres, which is the source of truth.
	TenantsFile string `json:"tenants_file,omitempty"`
	// TenantRefresh is the period of the Postgres tenant cache's full
	// reload; NOTIFY makes changes visible sooner. Default 60s.
	TenantRefresh caddy.Duration `json:"tenant_refresh,omitempty"`
	// InboxLease is how long a worker's claim on a conversation (inbox) or
	// on a guest's queued replies (outbox) stays exclusive without renewal;
	// live workers renew it every third of it. After a crash, what the dead
	// process held waits this long before another process, or the restarted
	// one, takes it over. Default 30s; at least 1s.
	InboxLease caddy.Duration `json:"inbox_lease,omitempty"`
	// WebhookMemory caps the bytes of webhook bodies held at once on this
	// instance (bodies are read whole before their signature is checked);
	// a webhook over it is answered 503 with Retry-After. Default 32 MiB.
	WebhookMemory int64 `json:"webhook_memory,omitempty"`
	// WebhookMemoryPerClient is one client address's share of
	// WebhookMemory. Default an eighth of it.
	WebhookMemoryPerClient int64 `json:"webhook_memory_per_client,omitempty"`
	// MetadataAllow lists the keys of a message's `metadata` that reach the
	// agent; every other key is dropped and counted in
	// metadata_filtered_keys_total. Default: user_context, custom_fields,
	// source, external_request_id, language_hint, subject, from_full.
	MetadataAllow []string `json:"metadata_allow,omitempty"`
	// PMS is the property-management system behind the agent.
	PMS *PMSConfig `json:"pms,omitempty"`
	// Workers runs the inbox workers, the outbox senders and the periodic
	// jobs in this process. Default true. Off makes this an edge that only
	// accepts webhooks into the Postgres inbox, while `agente-caddy worker`
	// processes (same configuration, no listener) do the work, so the two
	// scale separately; off needs Postgres, since a memory inbox has nobody
	// else to work on it.
	Workers *bool `json:"workers,omitempty"`
	// InboxWorkers is how many conversations this process's workers handle
	// at once (each turn may wait on the PMS). Default 64; at most 1024.
	InboxWorkers int `json:"inbox_workers,omitempty"`
	// Senders is how many guests this process's outbox sends replies to at
	// once; a send mostly waits on the provider (Meta's Graph API), so this
	// caps the replies a second: about Senders / the provider's latency.
	// Default 32; at most 1024.
	Senders int `json:"senders,omitempty"`

	settings  config.Settings
	postgres  *pgxpool.Pool
	redis     *redis.Client
	tenants   tenancy.Store
	flags     *flags.Store
	readiness *health.Checker
	hotel     *hotel.Service
	stop      func()
	release   []func()
	logger    *zap.Logger
	dashboard *dashboard
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "agente", New: func() caddy.Module { return new(App) }}
}

// Provision reads and checks the environment and connects the shared stores.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.readiness = new(health.Checker)
	a.dashboard = new(dashboard)
	if err := a.provisionWebhookMemory(ctx); err != nil {
		return err
	}
	if err := telemetry.Register(ctx.GetMetricsRegistry(), append(telemetry.HTTPCollectors(), health.Collectors()...)...); err != nil {
		return err
	}
	settings, err := config.FromOS()
	if err != nil {
		return fmt.Errorf("agente: environment: %w", err)
	}
	a.settings = settings
	repl := a.Replacer()
	if a.Environment != "" {
		env, err := config.ParseEnvironment(repl.ReplaceAll(a.Environment, ""))
		if err != nil {
			return fmt.Errorf("agente: environment: %w", err)
		}
		settings.Environment = env
	}
	if a.PostgresURL != "" {
		settings.PostgresURL = repl.ReplaceAll(a.PostgresURL, "")
	}
	if a.RedisURL != "" {
		settings.RedisURL = repl.ReplaceAll(a.RedisURL, "")
	}
	if a.KeyPrefix == "" {
		a.KeyPrefix = "{env.REDIS_KEY_PREFIX}"
	}
	a.KeyPrefix = repl.ReplaceAll(a.KeyPrefix, "")
	if err := settings.Check(); err != nil {
		return fmt.Errorf("refusing to start in %s:\n%w", settings.Environment, err)
	}
	a.settings = settings

	if settings.PostgresURL != "" {
		pool, release, err := AcquirePostgres(ctx, settings.PostgresURL)
		if err != nil {
			return fmt.Errorf("agente: postgres: %w", err)
		}
		a.postgres, a.release = pool, append(a.release, release)
		a.readiness.Add("database", pool.Ping)
		if err := telemetry.Register(ctx.GetMetricsRegistry(), store.PoolCollector(pool)); err != nil {
			return err
		}
		if a.Migrate == nil || *a.Migrate {
			applied, err := store.Migrate(ctx, pool)
			if err != nil {
				return fmt.Errorf("agente: migrations: %w", err)
			}
			if len(applied) > 0 {
				a.logger.Info("applied migrations", zap.Strings("migrations", applied))
			}
		}
	}
	if settings.RedisURL != "" {
		client, release, err := AcquireRedis(settings.RedisURL)
		if err != nil {
			return fmt.Errorf("agente: redis: %w", err)
		}
		a.redis, a.release = client, append(a.release, release)
		a.readiness.Add("redis", func(ctx context.Context) error { return client.Ping(ctx).Err() })
	}
	if !a.runsWorkers() && a.postgres == nil {
		return errors.New("agente: workers off needs postgres: with the memory inbox no other process can take the work")
	}
	if err := a.openTenants(ctx); err != nil {
		return err
	}
	if err := a.openFlags(ctx); err != nil {
		return err
	}
	if err := a.ensureDefaultTenant(ctx); err != nil {
		return err
	}
	if err := a.buildHotel(ctx); err != nil {
		return err
	}
	if a.postgres == nil || a.redis == nil {
		var memory []string
		if a.postgres == nil {
			memory = append(memory, "Postgres (POSTGRES_URL unset): tenants, inbox, sessions")
		}
		if a.redis == nil {
			memory = append(memory, "Redis (REDIS_URL unset): rate limits, flags, PMS cache")
		}
		a.logger.Warn("running with in-memory stores; state is lost on restart and not shared between instances",
			zap.String("environment", string(settings.Environment)), zap.Strings("in_memory", memory))
	}
	return nil
}

// ensureDefaultTenant creates the tenant DEFAULT_TENANT_ID names when the
// Postgres directory has none (it starts empty): a default that names no
// tenant would route nothing, and every event no identifier resolves would
// be kept as unrouted instead of reaching it. It is created active, named
// after its id, once (instances starting together race harmlessly).
func (a *App) ensureDefaultTenant(ctx context.Context) error {
	id := a.settings.DefaultTenantID
	if a.postgres == nil || id == "" {
		return nil
	}
	if _, ok := a.tenants.Tenant(id); ok {
		return nil
	}
	_, err := a.tenants.CreateTenant(ctx, "agente-caddy", tenancy.Tenant{ID: id, Name: id, Active: true})
	switch {
	case errors.Is(err, tenancy.ErrConflict):
		return nil
	case err != nil:
		return fmt.Errorf("agente: creating the default tenant %q (DEFAULT_TENANT_ID): %w", id, err)
	}
	a.logger.Info("created the default tenant DEFAULT_TENANT_ID names; rename it or register its identifiers with the admin API",
		zap.String("tenant_id", id))
	return nil
}

// readinessInterval is how often the app runs the readiness checks on its
// own, so dependency_up and readiness_up stay current (and DependencyDown
// can fire) even when nobody polls /health/ready.
const readinessInterval = 15 * time.Second

// Start runs the application's workers, and the readiness checks
// periodically, until Stop.
func (a *App) Start() error {
	// Every app is provisioned before any starts: building a big tenant
	// directory (a 10,000-hotel file parsed into a YAML tree, or its
	// Postgres rows) and the rest of the configuration left garbage the
	// scavenger would hand back over minutes. One forced collection now
	// (tens of milliseconds, once per config load) makes the idle RSS
	// what the server keeps.
	debug.FreeOSMemory()
	if a.runsWorkers() {
		a.hotel.Start()
	} else {
		a.logger.Info("workers off: this process accepts webhooks; `agente-caddy worker` processes handle them")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(readinessInterval)
		defer t.Stop()
		for {
			a.readiness.Run(ctx, 2*time.Second)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// runsWorkers reports whether the workers run in this process.
func (a *App) runsWorkers() bool { return a.Workers == nil || *a.Workers }

// Stop ends the workers (what they hold is finished or handed back for the
// next config or instance) and the periodic readiness checks.
func (a *App) Stop() error {
	a.hotel.Stop()
	if a.stop != nil {
		a.stop()
	}
	return nil
}

// Cleanup releases this config's hold on the shared connections and state;
// they close when the last config using them is gone. Caddy also cleans up
// a config that failed to provision and never started.
func (a *App) Cleanup() error {
	if a.hotel != nil {
		a.hotel.Stop()
	}
	for _, release := range a.release {
		release()
	}
	a.release = nil
	return nil
}

// Settings is the checked environment.
func (a *App) Settings() config.Settings { return a.settings }

// Postgres is the shared pool, or nil when running in memory.
func (a *App) Postgres() *pgxpool.Pool { return a.postgres }

// Redis is the shared client, or nil when running in memory.
func (a *App) Redis() *redis.Client { return a.redis }

// RedisKeyPrefix prefixes every Redis key of ours.
func (a *App) RedisKeyPrefix() string { return a.KeyPrefix }

// Tenants is the tenant directory every route of the process shares.
func (a *App) Tenants() tenancy.Store { return a.tenants }

// Flags are the feature flags (Redis, or memory without Redis).
func (a *App) Flags() *flags.Store { return a.flags }

// Readiness is where modules add the checks of their dependencies.
func (a *App) Readiness() *health.Checker { return a.readiness }

// Hotel is the application: webhooks are accepted into it, the admin API is
// its.
func (a *App) Hotel() *hotel.Service { return a.hotel }

// Decoder reads webhook bodies as the application expects them (its
// metadata allowlist).
func (a *App) Decoder() hotel.Decoder { return a.hotel.Decoder() }

// Replacer resolves configuration placeholders as the app reads the
// environment: {env.NAME} is the process's variable or, in development and
// test, the development default of an unset secret (config.Settings.Getenv);
// every other placeholder is Caddy's. Modules resolve their {env.*} values
// through it, so a Caddyfile value and a setting never disagree.
func (a *App) Replacer() *caddy.Replacer {
	settings, global := a.settings, caddy.NewReplacer()
	repl := caddy.NewEmptyReplacer()
	repl.Map(func(key string) (any, bool) {
		if name, ok := strings.CutPrefix(key, "env."); ok {
			return settings.Getenv(name), true
		}
		return global.Get(key)
	})
	return repl
}

// Load returns the app of the config being provisioned.
func Load(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("agente")
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
}

// directories keeps one tenant directory (cache, LISTEN connection) per
// source for the whole process, across reloads; flagStores likewise, so
// flags set in memory survive a reload.
var (
	directories = caddy.NewUsagePool()
	flagStores  = caddy.NewUsagePool()
)

type pooledDirectory struct{ tenancy.Store }

func (d pooledDirectory) Destruct() error { d.Close(); return nil }

type pooledFlags struct{ *flags.Store }

func (pooledFlags) Destruct() error { return nil }

func (a *App) openTenants(ctx caddy.Context) error {
	file := a.TenantsFile
	if file == "" {
		file = "{env.TENANTS_FILE}"
	}
	file = a.Replacer().ReplaceAll(file, "")
	key := "memory:" + file
	if a.postgres != nil {
		key, file = "postgres:"+a.settings.PostgresURL, ""
	}
	logger := a.logger.Named("tenancy")
	v, _, err := directories.LoadOrNew(key, func() (caddy.Destructor, error) {
		st, err := tenancy.Open(context.WithoutCancel(ctx), a.postgres, file, tenancy.PostgresOptions{
			Refresh: time.Duration(a.TenantRefresh),
			Logf:    func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) },
		})
		if err != nil {
			return nil, err
		}
		return pooledDirectory{st}, nil
	})
	if err != nil {
		return fmt.Errorf("agente: tenants: %w", err)
	}
	a.tenants = v.(pooledDirectory).Store
	a.release = append(a.release, func() { _, _ = directories.Delete(key) })
	a.readiness.Add("tenant_cache", a.tenants.Check)
	return telemetry.Register(ctx.GetMetricsRegistry(), tenancy.Collectors()...)
}

func (a *App) openFlags(ctx caddy.Context) error {
	defaults, err := flags.DefaultsFromEnv(a.settings.Getenv)
	if err != nil {
		return fmt.Errorf("agente: FEATURE_FLAGS: %w", err)
	}
	key := "memory"
	if a.redis != nil {
		key = "redis:" + a.settings.RedisURL + "|" + a.KeyPrefix
	}
	v, _, err := flagStores.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts := flags.Options{KeyPrefix: a.KeyPrefix, Defaults: defaults}
		if a.redis != nil {
			opts.Client = a.redis
		}
		return pooledFlags{flags.New(opts)}, nil
	})
	if err != nil {
		return err
	}
	a.flags = v.(pooledFlags).Store
	a.release = append(a.release, func() { _, _ = flagStores.Delete(key) })
	return telemetry.Register(ctx.GetMetricsRegistry(), flags.Collectors()...)
}

// postgresPools and redisClients keep one connection pool per URL for the
// whole process: a reload provisions the new config (which acquires) before
// cleaning up the old one (which releases), so connections survive reloads.
var (
	postgresPools = caddy.NewUsagePool()
	redisClients  = caddy.NewUsagePool()
)

type pooledPostgres struct{ *pgxpool.Pool }

func (p pooledPostgres) Destruct() error { p.Close(); return nil }

type pooledRedis struct{ *redis.Client }

func (r pooledRedis) Destruct() error { return r.Close() }

// AcquirePostgres returns the process's pool for url, connecting on first
// use; call release when the holder is cleaned up.
func AcquirePostgres(ctx context.Context, url string) (*pgxpool.Pool, func(), error) {
	v, _, err := postgresPools.LoadOrNew(url, func() (caddy.Destructor, error) {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		pool, err := store.Connect(cctx, url)
		if err != nil {
			return nil, err
		}
		return pooledPostgres{pool}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return v.(pooledPostgres).Pool, func() { _, _ = postgresPools.Delete(url) }, nil
}

// AcquireRedis returns the process's client for url. It does not dial: Redis
// may be down at start, and go-redis reconnects on its own.
func AcquireRedis(url string) (*redis.Client, func(), error) {
	v, _, err := redisClients.LoadOrNew(url, func() (caddy.Destructor, error) {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, errors.New("REDIS_URL is not a redis:// or rediss:// URL")
		}
		opts.DialTimeout = 2 * time.Second
		opts.ReadTimeout = time.Second
		opts.WriteTimeout = time.Second
		return pooledRedis{redis.NewClient(opts)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return v.(pooledRedis).Client, func() { _, _ = redisClients.Delete(url) }, nil
}

func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		key := d.Val()
		switch key {
		case "metadata_allow":
			app.MetadataAllow = append(app.MetadataAllow, d.RemainingArgs()...)
			if len(app.MetadataAllow) == 0 {
				return nil, d.ArgErr()
			}
			continue
		case "pms":
			if app.PMS == nil {
				app.PMS = new(PMSConfig)
			}
			if err := app.PMS.unmarshalCaddyfile(d); err != nil {
				return nil, err
			}
			continue
		}
		var val string
		if !d.AllArgs(&val) {
			return nil, d.ArgErr()
		}
		switch key {
		case "environment":
			app.Environment = val
		case "postgres":
			app.PostgresURL = val
		case "redis":
			app.RedisURL = val
		case "key_prefix":
			app.KeyPrefix = val
		case "tenants_file":
			app.TenantsFile = val
		case "tenant_refresh":
			d2, err := caddy.ParseDuration(val)
			if err != nil {
				return nil, d.Errf("tenant_refresh: %v", err)
			}
			app.TenantRefresh = caddy.Duration(d2)
		case "inbox_lease":
			d2, err := caddy.ParseDuration(val)
			if err != nil {
				return nil, d.Errf("inbox_lease: %v", err)
			}
			app.InboxLease = caddy.Duration(d2)
		case "inbox_workers", "senders":
			n, err := parseCount(val)
			if err != nil {
				return nil, d.Errf("%s: %v", key, err)
			}
			if key == "inbox_workers" {
				app.InboxWorkers = n
			} else {
				app.Senders = n
			}
		case "webhook_memory", "webhook_memory_per_client":
			n, err := config.ParseSize(val)
			if err != nil {
				return nil, d.Errf("%s: %v", key, err)
			}
			if key == "webhook_memory" {
				app.WebhookMemory = n
			} else {
				app.WebhookMemoryPerClient = n
			}
		case "migrate":
			on, err := parseOnOff(val)
			if err != nil {
				return nil, d.Errf("migrate: %v", err)
			}
			app.Migrate = &on
		case "workers":
			on, err := parseOnOff(val)
			if err != nil {
				return nil, d.Errf("workers: %v", err)
			}
			app.Workers = &on
		default:
			return nil, d.Errf("unrecognized agente option '%s'", key)
		}
	}
	return httpcaddyfile.App{Name: "agente", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseCount reads a whole number of at least 1 (workers, senders, calls
// at once).
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a whole number of at least 1", s)
	}
	return n, nil
}

func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", s)
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
