// Package canary is the domain of a canary rollout: a routing table that
// splits requests between named arms (weighted or sticky by key, with
// overrides), the state of one named canary (arms, their windows, weights,
// rollout status and steps), the judge loop that rolls the canary forward on
// PASS and back on FAIL (internal/judge), the views the admin API and the
// dashboard show, and the `canary-diff` report read from the admin API or
// Prometheus. It knows nothing of Caddy: modules/canary adapts it.
package canary

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// Defaults of a canary's config.
const (
	DefaultWindow   = 5 * time.Minute
	DefaultInterval = 30 * time.Second
)

// Rollout status of a canary.
const (
	// statusRunning: steps (if any) advance on PASS; FAIL rolls back.
	statusRunning = "running"
	// statusPaused: no progression; FAIL still rolls back.
	statusPaused = "paused"
	// statusRolledBack: the canary's weight was set to 0 (by the judge or
	// the admin API); no progression until weights are set again.
	statusRolledBack = "rolled_back"
	// statusPromoted: the canary has 100 % of the traffic and the rollout
	// is finished: the judge stops (there is no baseline traffic left to
	// compare with, only stale samples), so nothing rolls it back
	// automatically; the admin API can still set weights or roll back.
	statusPromoted = "promoted"
)

// Arm is one arm as a canary's config gives it.
type Arm struct {
	Name     string
	Upstream string // dial address; "" when none
	Weight   int    // relative share of traffic, ≥ 0
}

// Config is a canary's configuration. Several handlers may share one state;
// the most recently applied config wins.
type Config struct {
	// Arms in config order; BaselineArm and CanaryArm are required.
	Arms []Arm
	// Limits are the judge's.
	Limits judge.Limits
	// Steps are canary percentages (1-100, increasing) the canary advances
	// through on PASS; empty: the weights stay as set.
	Steps []int
	// AutoRollback sets the canary's weight to 0 on FAIL.
	AutoRollback bool
	// Interval is how often the judge runs.
	Interval time.Duration
	// Window is how far back the judge looks.
	Window time.Duration
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

// State is everything about one named canary that must survive a config
// reload: measurements, current weights, rollout status.
type State struct {
	name string
	now  func() time.Time
	log  *zap.Logger

	table atomic.Pointer[RouteTable] // read on every request without locking

	mu            sync.Mutex
	arms          map[string]*armState
	upstreams     map[string]string
	order         []string // arm names in config order
	cfg           Config
	configWeights map[string]int // the weights of the last config, to see them change
	weights       map[string]int // current weights
	status        string
	lastVerdict   *judge.Verdict
	lastJudged    time.Time
	autoRollbacks uint64
}

// NewState is the state of the canary name, empty until Apply.
func NewState(name string, log *zap.Logger) *State {
	return &State{name: name, now: time.Now, log: log}
}

// Name is the canary's name.
func (s *State) Name() string { return s.name }

// Routes is the current routing table (nil before the first Apply).
func (s *State) Routes() *RouteTable { return s.table.Load() }

// Apply reconciles the state with a newly provisioned handler's config.
//
// Weights: the config's weights are adopted when the state is new or when
// they differ from the weights of the previous config; otherwise the current
// weights — possibly set at runtime by the admin API or the judge — are kept.
// In other words, runtime weights win until the config's weights change.
// Adopting config weights starts a new rollout: status "running".
//
// Windows: an arm keeps its window across reloads unless the window length
// changed, in which case every arm starts an empty window of the new length.
func (s *State) Apply(cfg Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	resize := s.cfg.Window != cfg.Window
	s.cfg = cfg
	newArms := make(map[string]*armState, len(cfg.Arms))
	cw := make(map[string]int, len(cfg.Arms))
	s.upstreams = make(map[string]string, len(cfg.Arms))
	s.order = s.order[:0]
	for _, a := range cfg.Arms {
		as := s.arms[a.Name]
		if as == nil || resize {
			as = newArmState(s.name, a.Name, cfg.Window)
		}
		newArms[a.Name] = as
		cw[a.Name] = a.Weight
		s.upstreams[a.Name] = a.Upstream
		s.order = append(s.order, a.Name)
	}
	if resize && s.arms != nil {
		s.log.Info("canary window length changed; arms start empty windows", zap.Duration("window", cfg.Window))
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
	if err := s.setWeightsLocked(weights); err != nil {
		return err
	}
	s.promoteIfFullLocked()
	// The verdict and rollback series exist before the judge's first round.
	rollbacksTotal.WithLabelValues(s.name).Add(0)
	verdictGauge.WithLabelValues(s.name)
	return nil
}

// WeightsError is weights the state refuses: through the admin API, the
// caller's fault.
type WeightsError struct{ msg string }

func (e WeightsError) Error() string { return e.msg }

// setWeightsLocked makes weights current. A canary going from weight 0 to a
// positive weight is a new attempt: every arm's window is emptied so that
// the verdict of a rolled-back attempt does not judge the next one.
func (s *State) setWeightsLocked(weights map[string]int) error {
	var total int
	for _, name := range s.order {
		w := weights[name]
		if w < 0 {
			return WeightsError{fmt.Sprintf("weight of arm %q is negative", name)}
		}
		total += w
	}
	if total <= 0 {
		return WeightsError{"weights must add up to more than 0"}
	}
	routes := make([]Route, len(s.order))
	for i, name := range s.order {
		routes[i] = Route{arm: s.arms[name], armVar: name, upstreamVar: s.upstreams[name], weight: weights[name]}
	}
	t, err := newRouteTable(routes)
	if err != nil {
		return err
	}
	if s.weights != nil && s.weights[CanaryArm] == 0 && weights[CanaryArm] > 0 {
		for _, a := range s.arms {
			a.window.Reset()
		}
	}
	s.weights = make(map[string]int, len(s.order))
	for _, r := range routes {
		name := r.arm.name
		s.weights[name] = r.weight
		weightGauge.WithLabelValues(s.name, name).Set(100 * float64(r.weight) / float64(total))
	}
	s.table.Store(t)
	return nil
}

// promoteIfFullLocked finishes a rollout whose canary has all the traffic:
// status promoted, and the other arms' samples dropped, so that nothing
// (a judge round, a report) compares the canary with a baseline that
// stopped serving.
func (s *State) promoteIfFullLocked() {
	if s.canaryPercentLocked() < 100 {
		return
	}
	if s.status != statusPromoted {
		s.log.Info("canary has 100% of the traffic: rollout finished (promoted)")
	}
	s.status = statusPromoted
	for name, a := range s.arms {
		if name != CanaryArm {
			a.window.Reset()
		}
	}
}

// canaryPercentLocked is the canary's share of the traffic in percent.
func (s *State) canaryPercentLocked() float64 {
	var total int
	for _, w := range s.weights {
		total += w
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(s.weights[CanaryArm]) / float64(total)
}

// setCanaryPercentLocked gives the canary p percent (0-100) and shares the
// rest among the other arms in proportion to their config weights (all to
// the baseline when those are all 0). Weights are then percentages.
func (s *State) setCanaryPercentLocked(p int) error {
	p = min(max(p, 0), 100)
	w := map[string]int{CanaryArm: p}
	rest := 100 - p
	var others []string
	var sum int
	for _, name := range s.order {
		if name != CanaryArm {
			others = append(others, name)
			sum += s.configWeights[name]
		}
	}
	if sum == 0 {
		w[BaselineArm] = rest
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
func (s *State) verdictLocked(now time.Time) judge.Verdict {
	b := s.arms[BaselineArm].window.Snapshot(now)
	c := s.arms[CanaryArm].window.Snapshot(now)
	return judge.Judge(s.cfg.Limits, b, c)
}

// JudgeEvery runs a round of the judge (Tick) every interval until ctx is
// done.
func (s *State) JudgeEvery(ctx context.Context, interval time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			s.Tick(time.Now())
		}
	}
}

// Tick runs one round of the judge: verdict, then rollback or progression.
// Several handlers may share the state (one name used twice, or the old and
// the new config during a reload); a round within half an interval of the
// previous one is skipped so the state is judged once per interval.
func (s *State) Tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastJudged.IsZero() && now.Sub(s.lastJudged) < s.cfg.Interval/2 {
		return
	}
	s.lastJudged = now
	if s.status == statusPromoted {
		// A finished rollout is not judged: its baseline has no traffic.
		return
	}
	v := s.verdictLocked(now)
	s.lastVerdict = &v
	verdictGauge.WithLabelValues(s.name).Set(verdictValue(v.Status))

	switch {
	case v.Status == judge.Fail && s.cfg.AutoRollback && s.weights[CanaryArm] > 0:
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

	case s.status == statusRunning && len(s.cfg.Steps) > 0:
		cur := s.canaryPercentLocked()
		// With no canary traffic there is nothing to judge: take the first
		// step. Otherwise advance one step per PASS.
		if cur > 0 && v.Status != judge.Pass {
			return
		}
		next := -1
		for _, st := range s.cfg.Steps {
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
		s.promoteIfFullLocked()
		s.log.Info("canary advanced", zap.Float64("from_percent", cur), zap.Int("to_percent", next), zap.String("verdict", string(v.Status)))
	}
}

// SetWeights applies weights given through the admin API. Arms left out
// keep their weight. A rolled-back or promoted canary is running again; a
// paused one stays paused. Weights it refuses are a WeightsError.
func (s *State) SetWeights(in map[string]int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := maps.Clone(s.weights)
	for name, v := range in {
		if _, ok := s.arms[name]; !ok {
			return WeightsError{fmt.Sprintf("unknown arm %q (arms: %v)", name, s.order)}
		}
		w[name] = v
	}
	if err := s.setWeightsLocked(w); err != nil {
		return err
	}
	if s.status == statusRolledBack || s.status == statusPromoted {
		s.status = statusRunning
	}
	s.promoteIfFullLocked()
	s.log.Info("canary weights set through the admin API", zap.Any("weights", s.weights))
	return nil
}

// Promote gives the canary all the traffic.
func (s *State) Promote() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setCanaryPercentLocked(100); err != nil {
		return err
	}
	s.promoteIfFullLocked()
	s.log.Info("canary promoted through the admin API")
	return nil
}

// Rollback gives the canary no traffic. It is not counted in
// canary_rollbacks_total, which counts the judge's automatic rollbacks.
func (s *State) Rollback() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setCanaryPercentLocked(0); err != nil {
		return err
	}
	s.status = statusRolledBack
	s.log.Info("canary rolled back through the admin API")
	return nil
}

// Pause stops the steps; FAIL still rolls back.
func (s *State) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = statusPaused
	s.log.Info("canary paused through the admin API")
}

// Resume sets the status back to running. A canary at weight 0 with steps
// restarts at the first step (with fresh windows); without steps it stays
// at 0 until weights are set.
func (s *State) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = statusRunning
	if s.weights[CanaryArm] == 0 && len(s.cfg.Steps) > 0 {
		if err := s.setCanaryPercentLocked(s.cfg.Steps[0]); err != nil {
			return err
		}
	}
	s.log.Info("canary resumed through the admin API")
	return nil
}
