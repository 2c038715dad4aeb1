// Package canary is the `canary` HTTP handler (http.handlers.canary): it
// splits traffic between named arms, measures each arm, and lets a judge
// (internal/judge) roll the canary forward or back. The package also holds
// the admin API module (admin.api.canary) and the `canary-diff` subcommand.
// All three adapt internal/canary, which holds the routing table, the
// rollout state and the judge loop, to Caddy.
package canary

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/judge"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("canary", parseCaddyfile)
	// After request rewriting, auth and encoding, before handle/route blocks
	// and the responding handlers, so that everything that may answer for an
	// arm (reverse_proxy included) runs inside the measurement.
	httpcaddyfile.RegisterDirectiveOrder("canary", httpcaddyfile.Before, "invoke")
}

// Variables the handler sets for the rest of the route.
const (
	// VarArm holds the chosen arm's name: {http.vars.canary_arm}.
	VarArm = "canary_arm"
	// VarUpstream holds the chosen arm's upstream dial address ("" when the
	// arm has none): {http.vars.canary_upstream}.
	VarUpstream = "canary_upstream"
)

// defaultOverrideHeader is the header that forces an arm when
// OverrideHeader is not set.
const defaultOverrideHeader = "X-Canary"

// Handler splits requests between named arms (`baseline`, `canary`, and any
// others), records each arm's requests, errors and latency over a sliding
// window, and runs a judge every interval that compares the canary with the
// baseline (internal/judge): PASS advances the canary through the
// configured steps, FAIL sets its weight to 0 (auto-rollback).
//
// The rest of the route sees the arm as {http.vars.canary_arm} and its
// upstream as {http.vars.canary_upstream}, so each arm can go to its own
// upstream (`reverse_proxy {http.vars.canary_upstream}`) or be matched
// (`@canary vars {http.vars.canary_arm} canary`) to in-process handlers.
//
// Assignment: with a non-empty `key`, the key is hashed into [0,1) and the
// canary's bucket comes first ([0, w_canary) → canary, baseline last), so a
// key never leaves the canary while the canary's weight grows; without a
// key, an arm is drawn at random by weight. An override header (`always` →
// canary, `never` → baseline, or an arm's name) is honoured only from
// `trusted_sources`, matched against the connection's remote IP.
//
// A request fails when the response status is 5xx or the rest of the route
// returns an error (e.g. reverse_proxy cannot reach the upstream), except an
// error carrying a status below 500 (a client error). Latency is the time
// the rest of the route takes.
//
// State (windows, current weights, status) is shared by all handlers with the
// same name and survives config reloads; weights set at runtime (admin API,
// judge) win over the config's until the config's weights change.
//
// Caddyfile:
//
//	canary <name> {
//	    arm <arm_name> <weight> [upstream <host:port>]   # at least `baseline` and `canary`
//	    key <placeholder>                  # sticky key, e.g. {http.request.header.X-Guest-Phone}
//	    override_header <header>           # default X-Canary (used only with trusted_sources)
//	    trusted_sources <cidr|ip|private_ranges...>
//	    window <duration>                  # default 5m
//	    min_samples <n>                    # default 50
//	    interval <duration>                # default 30s
//	    steps <percent...>                 # e.g. 1 5 25 50 100
//	    p95_increase_limit <ratio>         # default env P95_INCREASE_LIMIT or 1.10
//	    p95_increase_min <duration>        # default env P95_INCREASE_MIN or 5ms
//	    err_increase_limit <ratio>         # default env ERR_INCREASE_LIMIT or 1.50
//	    err_abs_min <rate>                 # default env ERR_ABS_MIN or 0.005
//	    alpha <p>                          # default 0.05
//	    auto_rollback on|off               # default on
//	}
type Handler struct {
	// Name identifies the canary: handlers with the same name share state,
	// the state survives reloads, the metrics' `name` label and the admin
	// API (/canary/<name>) use it.
	Name string `json:"name"`
	// Arms are the traffic splits; `baseline` and `canary` are required.
	Arms []Arm `json:"arms"`
	// Key is a placeholder whose value makes assignment sticky (empty value:
	// random by weight).
	Key string `json:"key,omitempty"`
	// OverrideHeader is the request header that forces an arm when the
	// request comes from TrustedSources. Default X-Canary.
	OverrideHeader string `json:"override_header,omitempty"`
	// TrustedSources are the CIDRs or IPs (`private_ranges` for all private
	// ranges) whose override header is honoured. Empty: never honoured.
	TrustedSources []string `json:"trusted_sources,omitempty"`
	// Window is how far back the judge looks. Default 5m.
	Window caddy.Duration `json:"window,omitempty"`
	// MinSamples is the number of requests each arm needs in the window for
	// a PASS or FAIL. Default 50.
	MinSamples int `json:"min_samples,omitempty"`
	// Interval is how often the judge runs. Default 30s.
	Interval caddy.Duration `json:"interval,omitempty"`
	// Steps are canary percentages (1-100, increasing). Each PASS verdict
	// moves the canary to the first step above its current share (a canary
	// at weight 0 takes the first step without waiting for a verdict, since
	// there is nothing to judge); 100 means promoted. Empty: the weights
	// stay as set.
	Steps []int `json:"steps,omitempty"`
	// P95IncreaseLimit is the largest tolerated canary/baseline p95 ratio.
	// 0: env P95_INCREASE_LIMIT, else 1.10.
	P95IncreaseLimit float64 `json:"p95_increase_limit,omitempty"`
	// P95IncreaseMin is the smallest p95 increase that can fail the
	// canary, whatever the ratio. Unset: env P95_INCREASE_MIN, else 5ms.
	P95IncreaseMin *caddy.Duration `json:"p95_increase_min,omitempty"`
	// ErrIncreaseLimit is the largest tolerated canary/baseline error-rate
	// ratio. 0: env ERR_INCREASE_LIMIT, else 1.50.
	ErrIncreaseLimit float64 `json:"err_increase_limit,omitempty"`
	// ErrAbsMin is the error rate below which the canary never fails on
	// errors. Unset: env ERR_ABS_MIN, else 0.005.
	ErrAbsMin *float64 `json:"err_abs_min,omitempty"`
	// Alpha is the significance level of the judge's tests. Default 0.05.
	Alpha float64 `json:"alpha,omitempty"`
	// AutoRollback sets the canary's weight to 0 on FAIL. Default true.
	AutoRollback *bool `json:"auto_rollback,omitempty"`

	state          *canary.State
	trusted        []netip.Prefix
	keyPlaceholder string // Key's variable when Key is exactly one placeholder
	limits         judge.Limits
	rnd            *rand.Rand // tests only: seeded keyless draws (not concurrency-safe)
}

// Arm is one traffic split.
type Arm struct {
	// Name of the arm, exposed as {http.vars.canary_arm}.
	Name string `json:"name"`
	// Weight is the arm's relative share of traffic (≥ 0).
	Weight int `json:"weight"`
	// Upstream is a dial address (host:port) exposed as
	// {http.vars.canary_upstream}.
	Upstream string `json:"upstream,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.canary",
		New: func() caddy.Module { return new(Handler) },
	}
}

// states holds one canary's state per name. A config reload provisions the
// new handlers (LoadOrNew finds the existing state) before the old ones are
// cleaned up (Delete), so counts, windows, current weights and status carry
// over; the state goes away when the last config using the name does.
var states = caddy.NewUsagePool()

// pooledState is a canary's state as states holds it.
type pooledState struct{ *canary.State }

// Destruct implements caddy.Destructor; a state holds no external resources.
func (pooledState) Destruct() error { return nil }

// dashboard is where a canary shows its view (the agente app's
// GET /admin/dashboard) and hands its state to the admin API's
// /admin/canaries.
type dashboard interface {
	AddDashboardItem(section, name string, report func(context.Context) any)
	AddCanary(st *canary.State)
}

// Provision resolves defaults, joins (or creates) the named state, starts
// the judge loop, which stops with the config, and shows the canary on the
// app's dashboard.
func (h *Handler) Provision(ctx caddy.Context) error {
	// A bad config is refused before anything shared is touched.
	if err := h.resolve(); err != nil {
		return err
	}
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	return h.start(ctx, app)
}

// start does the rest of Provision once the config is resolved and the app
// loaded; d is the app's dashboard (tests, whose bare caddy.Context has no
// apps, pass their own).
func (h *Handler) start(ctx caddy.Context, d dashboard) error {
	if err := telemetry.Register(ctx.GetMetricsRegistry(), canary.Collectors()...); err != nil {
		return err
	}
	val, _, err := states.LoadOrNew(h.Name, func() (caddy.Destructor, error) {
		log := caddy.Log().Named("http.handlers.canary").With(zap.String("canary", h.Name))
		return pooledState{canary.NewState(h.Name, log)}, nil
	})
	if err != nil {
		return err
	}
	st := val.(pooledState).State
	h.state = st
	if err := st.Apply(h.config()); err != nil {
		return fmt.Errorf("arms: %w", err)
	}
	go st.JudgeEvery(ctx, time.Duration(h.Interval))
	d.AddDashboardItem("canaries", h.Name, func(context.Context) any { return st.View() })
	d.AddCanary(st)
	return nil
}

// config is what the shared state acts on; resolve has filled it in.
func (h *Handler) config() canary.Config {
	arms := make([]canary.Arm, len(h.Arms))
	for i, a := range h.Arms {
		arms[i] = canary.Arm{Name: a.Name, Upstream: a.Upstream, Weight: a.Weight}
	}
	return canary.Config{
		Arms:         arms,
		Limits:       h.limits,
		Steps:        h.Steps,
		AutoRollback: h.AutoRollback == nil || *h.AutoRollback,
		Interval:     time.Duration(h.Interval),
		Window:       time.Duration(h.Window),
	}
}

// resolve checks the config and fills defaults and derived fields; Provision
// calls it before touching shared state so a bad config changes nothing.
func (h *Handler) resolve() error {
	if err := h.check(); err != nil {
		return err
	}
	if h.Window == 0 {
		h.Window = caddy.Duration(canary.DefaultWindow)
	}
	if h.Interval == 0 {
		h.Interval = caddy.Duration(canary.DefaultInterval)
	}
	if h.OverrideHeader == "" {
		h.OverrideHeader = defaultOverrideHeader
	}
	limits, err := canary.LimitOverrides{
		P95IncreaseLimit: h.P95IncreaseLimit,
		P95IncreaseMin:   p95IncreaseMin(h.P95IncreaseMin),
		ErrIncreaseLimit: h.ErrIncreaseLimit,
		ErrAbsMin:        h.ErrAbsMin,
		Alpha:            h.Alpha,
		MinSamples:       uint64(h.MinSamples), // check refused a negative one
	}.Limits(nil)
	if err != nil {
		return err
	}
	h.limits = limits
	h.trusted = h.trusted[:0]
	for _, src := range h.TrustedSources {
		if src == "private_ranges" {
			for _, c := range caddyhttp.PrivateRangesCIDR() {
				p, _ := caddyhttp.CIDRExpressionToPrefix(c)
				h.trusted = append(h.trusted, p)
			}
			continue
		}
		p, err := caddyhttp.CIDRExpressionToPrefix(src)
		if err != nil {
			return fmt.Errorf("trusted_sources: %v", err)
		}
		h.trusted = append(h.trusted, p)
	}
	h.keyPlaceholder = ""
	if k := h.Key; len(k) > 2 && k[0] == '{' && k[len(k)-1] == '}' && strings.Count(k, "{") == 1 {
		h.keyPlaceholder = k[1 : len(k)-1]
	}
	return nil
}

// Validate rejects a bad config with a message naming the field.
func (h *Handler) Validate() error {
	return h.check()
}

func (h *Handler) check() error {
	if h.Name == "" {
		return errors.New("name: required")
	}
	if len(h.Arms) < 2 {
		return errors.New("arms: at least the arms `baseline` and `canary` are required")
	}
	seen := map[string]bool{}
	total := 0
	for i, a := range h.Arms {
		switch {
		case a.Name == "":
			return fmt.Errorf("arms[%d].name: required", i)
		case seen[a.Name]:
			return fmt.Errorf("arms[%d].name: arm %q is defined twice", i, a.Name)
		case a.Weight < 0:
			return fmt.Errorf("arms[%d].weight: must be ≥ 0, got %d", i, a.Weight)
		case a.Upstream != "" && !validDialAddress(a.Upstream):
			return fmt.Errorf("arms[%d].upstream: %q is not host:port", i, a.Upstream)
		}
		seen[a.Name] = true
		total += a.Weight
	}
	if !seen[canary.BaselineArm] || !seen[canary.CanaryArm] {
		return errors.New("arms: the arms `baseline` and `canary` are required")
	}
	if total <= 0 {
		return errors.New("arms: the weights must add up to more than 0")
	}
	if h.Window < 0 || (h.Window != 0 && time.Duration(h.Window) < time.Second) {
		return fmt.Errorf("window: must be at least 1s, got %v", time.Duration(h.Window))
	}
	if h.Interval < 0 || (h.Interval != 0 && time.Duration(h.Interval) < 10*time.Millisecond) {
		return fmt.Errorf("interval: must be at least 10ms, got %v", time.Duration(h.Interval))
	}
	if h.MinSamples < 0 {
		return fmt.Errorf("min_samples: must be at least 1, got %d", h.MinSamples)
	}
	prev := 0
	for i, s := range h.Steps {
		if s < 1 || s > 100 || s <= prev {
			return fmt.Errorf("steps[%d]: steps must be increasing percentages in 1..100, got %v", i, h.Steps)
		}
		prev = s
	}
	if h.P95IncreaseLimit < 0 {
		return fmt.Errorf("p95_increase_limit: must be positive, got %v", h.P95IncreaseLimit)
	}
	if h.ErrIncreaseLimit < 0 {
		return fmt.Errorf("err_increase_limit: must be positive, got %v", h.ErrIncreaseLimit)
	}
	if h.ErrAbsMin != nil && (*h.ErrAbsMin < 0 || *h.ErrAbsMin >= 1) {
		return fmt.Errorf("err_abs_min: must be in [0, 1), got %v", *h.ErrAbsMin)
	}
	if h.Alpha < 0 || h.Alpha >= 1 {
		return fmt.Errorf("alpha: must be in (0, 1), got %v", h.Alpha)
	}
	for _, src := range h.TrustedSources {
		if src == "private_ranges" {
			continue
		}
		if _, err := caddyhttp.CIDRExpressionToPrefix(src); err != nil {
			return fmt.Errorf("trusted_sources: %v", err)
		}
	}
	return nil
}

// validDialAddress accepts host:port with a non-empty port, or a single
// placeholder (resolved per request by reverse_proxy).
func validDialAddress(s string) bool {
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		return true
	}
	i := strings.LastIndexByte(s, ':')
	return i > 0 && i < len(s)-1
}

// Cleanup leaves the shared state; the last config to leave deletes it.
func (h *Handler) Cleanup() error {
	if h.state == nil {
		return nil
	}
	h.state = nil
	_, err := states.Delete(h.Name)
	return err
}

// ServeHTTP picks the arm, exposes it to the rest of the route, and measures
// the rest of the route for that arm.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rt := h.pick(h.state.Routes(), r)
	ctx := r.Context()
	caddyhttp.SetVar(ctx, VarArm, rt.ArmVar())
	caddyhttp.SetVar(ctx, VarUpstream, rt.UpstreamVar())

	rec := recorderPool.Get().(*recorder)
	rec.ResponseWriter = w
	rec.status = 0
	start := time.Now()
	err := next.ServeHTTP(rec, r)
	end := time.Now()
	status := rec.status
	rec.ResponseWriter = nil
	recorderPool.Put(rec)

	failed := status >= 500
	if err != nil {
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode == 0 || he.StatusCode >= 500 {
			failed = true
		}
	}
	rt.Record(end, end.Sub(start), failed)
	return err
}

// pick chooses the arm for r: trusted override, else sticky key, else random.
func (h *Handler) pick(t *canary.RouteTable, r *http.Request) *canary.Route {
	if len(h.trusted) > 0 {
		if v := r.Header.Get(h.OverrideHeader); v != "" && h.trustedSource(r) {
			if rt := t.ByOverride(v); rt != nil {
				return rt
			}
		}
	}
	if h.Key != "" {
		if key := h.key(r); key != "" {
			return t.ByKey(key)
		}
	}
	return t.Keyless(h.rnd)
}

func (h *Handler) key(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	if h.keyPlaceholder != "" {
		s, _ := repl.GetString(h.keyPlaceholder)
		return s
	}
	return repl.ReplaceKnown(h.Key, "")
}

// trustedSource reports whether the connection's remote IP is trusted. The
// direct peer is used, not a forwarded client IP, so a header cannot vouch
// for itself.
func (h *Handler) trustedSource(r *http.Request) bool {
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ip = ap.Addr()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		ip = a
	} else {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// recorder captures the status the rest of the route answers with.
type recorder struct {
	caddyhttp.ResponseWriterWrapper
	status int
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

func (r *recorder) WriteHeader(code int) {
	// 1xx responses are informational; the final status comes later.
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriterWrapper.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriterWrapper.Write(b)
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens (syntax on
// Handler).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if !d.NextArg() {
		return d.Errf("canary: a name is required: canary <name> { ... }")
	}
	h.Name = d.Val()
	if d.NextArg() {
		return d.Errf("canary: unexpected argument %q after the name", d.Val())
	}
	for d.NextBlock(0) {
		sub := d.Val()
		args := d.RemainingArgs()
		one := func() (string, error) {
			if len(args) != 1 {
				return "", d.Errf("%s: expected one value, got %d", sub, len(args))
			}
			return args[0], nil
		}
		float := func() (float64, error) {
			s, err := one()
			if err != nil {
				return 0, err
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, d.Errf("%s: %q is not a number", sub, s)
			}
			return f, nil
		}
		var err error
		switch sub {
		case "arm":
			if len(args) != 2 && !(len(args) == 4 && args[2] == "upstream") {
				return d.Errf("arm: expected `arm <name> <weight> [upstream <host:port>]`, got %v", args)
			}
			w, err := strconv.Atoi(args[1])
			if err != nil {
				return d.Errf("arm %s: weight %q is not an integer", args[0], args[1])
			}
			a := Arm{Name: args[0], Weight: w}
			if len(args) == 4 {
				a.Upstream = args[3]
			}
			h.Arms = append(h.Arms, a)
		case "key":
			h.Key, err = one()
		case "override_header":
			h.OverrideHeader, err = one()
		case "trusted_sources":
			if len(args) == 0 {
				return d.Errf("trusted_sources: at least one CIDR or IP expected")
			}
			h.TrustedSources = append(h.TrustedSources, args...)
		case "window":
			var s string
			if s, err = one(); err == nil {
				var dur time.Duration
				if dur, err = caddy.ParseDuration(s); err != nil {
					return d.Errf("window: %v", err)
				}
				h.Window = caddy.Duration(dur)
			}
		case "interval":
			var s string
			if s, err = one(); err == nil {
				var dur time.Duration
				if dur, err = caddy.ParseDuration(s); err != nil {
					return d.Errf("interval: %v", err)
				}
				h.Interval = caddy.Duration(dur)
			}
		case "min_samples":
			var s string
			if s, err = one(); err == nil {
				if h.MinSamples, err = strconv.Atoi(s); err != nil {
					return d.Errf("min_samples: %q is not an integer", s)
				}
			}
		case "steps":
			if len(args) == 0 {
				return d.Errf("steps: at least one percentage expected")
			}
			h.Steps = h.Steps[:0]
			for _, s := range args {
				p, err := strconv.Atoi(s)
				if err != nil {
					return d.Errf("steps: %q is not an integer percentage", s)
				}
				h.Steps = append(h.Steps, p)
			}
		case "p95_increase_limit":
			h.P95IncreaseLimit, err = float()
		case "p95_increase_min":
			var s string
			if s, err = one(); err == nil {
				var dur time.Duration
				if dur, err = caddy.ParseDuration(s); err == nil {
					if dur < 0 {
						return d.Errf("p95_increase_min: must not be negative, got %s", s)
					}
					cd := caddy.Duration(dur)
					h.P95IncreaseMin = &cd
				}
			}
		case "err_increase_limit":
			h.ErrIncreaseLimit, err = float()
		case "err_abs_min":
			var f float64
			if f, err = float(); err == nil {
				h.ErrAbsMin = &f
			}
		case "alpha":
			h.Alpha, err = float()
		case "auto_rollback":
			var s string
			if s, err = one(); err == nil {
				switch s {
				case "on":
					on := true
					h.AutoRollback = &on
				case "off":
					off := false
					h.AutoRollback = &off
				default:
					return d.Errf("auto_rollback: expected on or off, got %q", s)
				}
			}
		default:
			return d.Errf("canary: unrecognized subdirective %q", sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var c Handler
	err := c.UnmarshalCaddyfile(h.Dispenser)
	return &c, err
}

// Interface guards
var (
	_ caddy.Module                = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
	_ caddy.Destructor            = pooledState{}
)

// p95IncreaseMin is the option in seconds, nil when unset.
func p95IncreaseMin(d *caddy.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := time.Duration(*d).Seconds()
	return &s
}
