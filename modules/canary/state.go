package canary

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// states holds one *state per canary name. A config reload provisions the new
// handlers (LoadOrNew finds the existing state) before the old ones are
// cleaned up (Delete), so counts, windows, current weights and status carry
// over; the state goes away when the last config using the name does.
var states = caddy.NewUsagePool()

// Rollout status of a canary.
const (
	// statusRunning: steps (if any) advance on PASS; FAIL rolls back.
	statusRunning = "running"
	// statusPaused: no progression; FAIL still rolls back.
	statusPaused = "paused"
	// statusRolledBack: the canary's weight was set to 0 (by the judge or
	// the admin API); no progression until weights are set again.
	statusRolledBack = "rolled_back"
	// statusPromoted: the canary has 100 % of the traffic.
	statusPromoted = "promoted"
)

// settings are the parts of a handler's config the shared state acts on; the
// most recently provisioned handler's settings win.
type settings struct {
	limits       judge.Limits
	steps        []int
	autoRollback bool
	interval     time.Duration
	window       time.Duration
}

// armState is one arm's measurements. It outlives config reloads.
type armState struct {
	name     string
	window   *judge.Window
	requests prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Observer
}

func newArmState(canary, arm string, window time.Duration) *armState {
	return &armState{
		name:     arm,
		window:   judge.NewWindow(window),
		requests: requestsTotal.WithLabelValues(canary, arm),
		errors:   errorsTotal.WithLabelValues(canary, arm),
		duration: requestDuration.WithLabelValues(canary, arm),
	}
}

// record adds one finished request to the arm's window and metrics.
func (a *armState) record(end time.Time, latency time.Duration, failed bool) {
	a.window.Record(end, latency, failed)
	a.requests.Inc()
	if failed {
		a.errors.Inc()
	}
	a.duration.Observe(latency.Seconds())
}

// state is everything about one named canary that must survive a reload.
type state struct {
	name string
	now  func() time.Time
	log  *zap.Logger

	table atomic.Pointer[routeTable] // read on every request without locking

	mu            sync.Mutex
	arms          map[string]*armState
	upstreams     map[string]string
	order         []string // arm names in config order
	cfg           settings
	configWeights map[string]int // the weights of the last config, to see them change
	weights       map[string]int // current weights
	status        string
	lastVerdict   *judge.Verdict
	lastJudged    time.Time
	autoRollbacks uint64
}

// Destruct implements caddy.Destructor; a state holds no external resources.
func (s *state) Destruct() error { return nil }

// armConfig is an arm as a handler's config gives it.
type armConfig struct {
	name, upstream string
	weight         int
}

// apply reconciles the state with a newly provisioned handler's config.
//
// Weights: the config's weights are adopted when the state is new or when
// they differ from the weights of the previous config; otherwise the current
// weights — possibly set at runtime by the admin API or the judge — are kept.
// In other words, runtime weights win until the config's weights change.
// Adopting config weights starts a new rollout: status "running".
//
// Windows: an arm keeps its window across reloads unless the window length
// changed, in which case every arm starts an empty window of the new length.
func (s *state) apply(arms []armConfig, cfg settings) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	resize := s.cfg.window != cfg.window
	s.cfg = cfg
	newArms := make(map[string]*armState, len(arms))
	cw := make(map[string]int, len(arms))
	s.upstreams = make(map[string]string, len(arms))
	s.order = s.order[:0]
	for _, a := range arms {
		as := s.arms[a.name]
		if as == nil || resize {
			as = newArmState(s.name, a.name, cfg.window)
		}
		newArms[a.name] = as
		cw[a.name] = a.weight
		s.upstreams[a.name] = a.upstream
		s.order = append(s.order, a.name)
	}
	if resize && s.arms != nil {
		s.log.Info("canary window length changed; arms start empty windows", zap.Duration("window", cfg.window))
	}
	s.arms = newArms

	weights := s.weights
	if s.configWeights == nil || !maps.Equal(s.configWeights, cw) {
		if s.configWeights != nil {
			s.log.Info("canary weights changed in the config; adopting them", zap.Any("weights", cw))
		}
		weights = maps.Clone(cw)
		s.status = statusRunning
	}
	s.configWeights = cw
	return s.setWeightsLocked(weights)
}

// setWeightsLocked makes weights current. A canary going from weight 0 to a
// positive weight is a new attempt: every arm's window is emptied so that
// the verdict of a rolled-back attempt does not judge the next one. Weights
// it refuses are an errBadRequest: through the admin API, the caller's fault.
func (s *state) setWeightsLocked(weights map[string]int) error {
	var total int
	for _, name := range s.order {
		w := weights[name]
		if w < 0 {
			return errBadRequest{fmt.Sprintf("weight of arm %q is negative", name)}
		}
		total += w
	}
	if total <= 0 {
		return errBadRequest{"weights must add up to more than 0"}
	}
	routes := make([]route, len(s.order))
	ws := make([]int, len(s.order))
	for i, name := range s.order {
		routes[i] = route{arm: s.arms[name], armVar: name, upstreamVar: s.upstreams[name]}
		ws[i] = weights[name]
	}
	t, err := newRouteTable(routes, ws)
	if err != nil {
		return err
	}
	if s.weights != nil && s.weights[canaryArm] == 0 && weights[canaryArm] > 0 {
		for _, a := range s.arms {
			a.window.Reset()
		}
	}
	s.weights = make(map[string]int, len(s.order))
	for i, name := range s.order {
		s.weights[name] = ws[i]
		weightGauge.WithLabelValues(s.name, name).Set(100 * float64(ws[i]) / float64(total))
	}
	s.table.Store(t)
	return nil
}

// canaryPercentLocked is the canary's share of the traffic in percent.
func (s *state) canaryPercentLocked() float64 {
	var total int
	for _, w := range s.weights {
		total += w
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(s.weights[canaryArm]) / float64(total)
}

// setCanaryPercentLocked gives the canary p percent (0-100) and shares the
// rest among the other arms in proportion to their config weights (all to
// the baseline when those are all 0). Weights are then percentages.
func (s *state) setCanaryPercentLocked(p int) error {
	p = min(max(p, 0), 100)
	w := map[string]int{canaryArm: p}
	rest := 100 - p
	var others []string
	var sum int
	for _, name := range s.order {
		if name != canaryArm {
			others = append(others, name)
			sum += s.configWeights[name]
		}
	}
	if sum == 0 {
		w[baselineArm] = rest
		return s.setWeightsLocked(w)
	}
	// Largest remainder, so the shares add up to exactly rest.
	type share struct {
		name string
		frac float64
	}
	var fracs []share
	given := 0
	for _, name := range others {
		exact := float64(rest) * float64(s.configWeights[name]) / float64(sum)
		w[name] = int(math.Floor(exact))
		given += w[name]
		fracs = append(fracs, share{name, exact - math.Floor(exact)})
	}
	sort.SliceStable(fracs, func(i, j int) bool { return fracs[i].frac > fracs[j].frac })
	for i := 0; given < rest; i++ {
		w[fracs[i%len(fracs)].name]++
		given++
	}
	return s.setWeightsLocked(w)
}

// verdictLocked judges the window as of now.
func (s *state) verdictLocked(now time.Time) judge.Verdict {
	b := s.arms[baselineArm].window.Snapshot(now)
	c := s.arms[canaryArm].window.Snapshot(now)
	return judge.Judge(s.cfg.limits, b, c)
}

// tick runs one round of the judge: verdict, then rollback or progression.
// Several handlers may share the state (one name used twice, or the old and
// the new config during a reload); a round within half an interval of the
// previous one is skipped so the state is judged once per interval.
func (s *state) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastJudged.IsZero() && now.Sub(s.lastJudged) < s.cfg.interval/2 {
		return
	}
	s.lastJudged = now
	v := s.verdictLocked(now)
	s.lastVerdict = &v
	verdictGauge.WithLabelValues(s.name).Set(verdictValue(v.Status))

	switch {
	case v.Status == judge.Fail && s.cfg.autoRollback && s.weights[canaryArm] > 0:
		if err := s.setCanaryPercentLocked(0); err != nil {
			s.log.Error("canary rollback failed", zap.Error(err))
			return
		}
		s.status = statusRolledBack
		s.autoRollbacks++
		rollbacksTotal.WithLabelValues(s.name).Inc()
		s.log.Warn("canary FAIL: rolled back to weight 0",
			zap.Strings("fail_reasons", v.FailReasons),
			zap.Uint64("baseline_requests", v.Baseline.Requests),
			zap.Uint64("canary_requests", v.Canary.Requests),
			zap.Float64("baseline_p95_seconds", v.Baseline.P95Seconds),
			zap.Float64("canary_p95_seconds", v.Canary.P95Seconds),
			zap.Float64("baseline_error_rate", v.Baseline.ErrorRate),
			zap.Float64("canary_error_rate", v.Canary.ErrorRate))

	case s.status == statusRunning && len(s.cfg.steps) > 0:
		cur := s.canaryPercentLocked()
		// With no canary traffic there is nothing to judge: take the first
		// step. Otherwise advance one step per PASS.
		if cur > 0 && v.Status != judge.Pass {
			return
		}
		next := -1
		for _, st := range s.cfg.steps {
			if float64(st) > cur+1e-9 {
				next = st
				break
			}
		}
		if next < 0 {
			return
		}
		if err := s.setCanaryPercentLocked(next); err != nil {
			s.log.Error("canary step failed", zap.Error(err))
			return
		}
		if next >= 100 {
			s.status = statusPromoted
		}
		s.log.Info("canary advanced", zap.Float64("from_percent", cur), zap.Int("to_percent", next), zap.String("verdict", string(v.Status)))
	}
}

func verdictValue(s judge.Status) float64 {
	switch s {
	case judge.Pass:
		return 1
	case judge.Fail:
		return 2
	}
	return 0
}

// errBadRequest marks admin API errors that are the caller's fault.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

// setWeights applies weights given through the admin API. Arms left out keep
// their weight. A rolled-back or promoted canary is running again; a paused
// one stays paused.
func (s *state) setWeights(in map[string]int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := maps.Clone(s.weights)
	for name, v := range in {
		if _, ok := s.arms[name]; !ok {
			return errBadRequest{fmt.Sprintf("unknown arm %q (arms: %v)", name, s.order)}
		}
		w[name] = v
	}
	if err := s.setWeightsLocked(w); err != nil {
		return err
	}
	if s.status == statusRolledBack || s.status == statusPromoted {
		s.status = statusRunning
	}
	s.log.Info("canary weights set through the admin API", zap.Any("weights", s.weights))
	return nil
}

// promote gives the canary all the traffic.
func (s *state) promote() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setCanaryPercentLocked(100); err != nil {
		return err
	}
	s.status = statusPromoted
	s.log.Info("canary promoted through the admin API")
	return nil
}

// rollback gives the canary no traffic. It is not counted in
// canary_rollbacks_total, which counts the judge's automatic rollbacks.
func (s *state) rollback() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setCanaryPercentLocked(0); err != nil {
		return err
	}
	s.status = statusRolledBack
	s.log.Info("canary rolled back through the admin API")
	return nil
}

func (s *state) pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = statusPaused
	s.log.Info("canary paused through the admin API")
}

// resume sets the status back to running. A canary at weight 0 with steps
// restarts at the first step (with fresh windows); without steps it stays
// at 0 until weights are set.
func (s *state) resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = statusRunning
	if s.weights[canaryArm] == 0 && len(s.cfg.steps) > 0 {
		if err := s.setCanaryPercentLocked(s.cfg.steps[0]); err != nil {
			return err
		}
	}
	s.log.Info("canary resumed through the admin API")
	return nil
}

// ArmView is one arm in the admin API.
type ArmView struct {
	Weight     int     `json:"weight"`
	Percent    float64 `json:"percent"`
	Upstream   string  `json:"upstream,omitempty"`
	Requests   uint64  `json:"requests"`
	Errors     uint64  `json:"errors"`
	ErrorRate  float64 `json:"error_rate"`
	P50Seconds float64 `json:"p50_seconds"`
	P95Seconds float64 `json:"p95_seconds"`
	P99Seconds float64 `json:"p99_seconds"`
}

// View is a canary in the admin API. Verdict is computed on the current
// window when the view is taken; LastJudged* is the judge loop's last round.
type View struct {
	Name             string             `json:"name"`
	Status           string             `json:"status"`
	Weights          map[string]int     `json:"weights"`
	ConfigWeights    map[string]int     `json:"config_weights"`
	Steps            []int              `json:"steps"`
	AutoRollback     bool               `json:"auto_rollback"`
	WindowSeconds    float64            `json:"window_seconds"`
	IntervalSeconds  float64            `json:"interval_seconds"`
	Arms             map[string]ArmView `json:"arms"`
	Verdict          judge.Verdict      `json:"verdict"`
	Analysis         judge.Analysis     `json:"analysis"`
	LastJudgedAt     *time.Time         `json:"last_judged_at,omitempty"`
	LastJudgedStatus judge.Status       `json:"last_judged_status,omitempty"`
	AutoRollbacks    uint64             `json:"auto_rollbacks"`
}

func (s *state) view() View {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var total int
	for _, w := range s.weights {
		total += w
	}
	v := View{
		Name:            s.name,
		Status:          s.status,
		Weights:         maps.Clone(s.weights),
		ConfigWeights:   maps.Clone(s.configWeights),
		Steps:           slices.Clone(s.cfg.steps),
		AutoRollback:    s.cfg.autoRollback,
		WindowSeconds:   s.cfg.window.Seconds(),
		IntervalSeconds: s.cfg.interval.Seconds(),
		Arms:            make(map[string]ArmView, len(s.arms)),
		AutoRollbacks:   s.autoRollbacks,
	}
	if v.Steps == nil {
		v.Steps = []int{}
	}
	for _, name := range s.order {
		snap := s.arms[name].window.Snapshot(now)
		av := ArmView{
			Weight:     s.weights[name],
			Upstream:   s.upstreams[name],
			Requests:   snap.Requests,
			Errors:     snap.Errors,
			ErrorRate:  snap.ErrorRate(),
			P50Seconds: snap.Latency.Quantile(0.50),
			P95Seconds: snap.Latency.Quantile(0.95),
			P99Seconds: snap.Latency.Quantile(0.99),
		}
		if total > 0 {
			av.Percent = 100 * float64(av.Weight) / float64(total)
		}
		v.Arms[name] = av
	}
	v.Verdict = s.verdictLocked(now)
	v.Analysis = v.Verdict.Analysis
	if s.lastVerdict != nil {
		at := s.lastJudged
		v.LastJudgedAt = &at
		v.LastJudgedStatus = s.lastVerdict.Status
	}
	return v
}
