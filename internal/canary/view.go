package canary

import (
	"maps"
	"slices"
	"time"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// ArmView is one arm of a View.
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

// View is a canary as the admin API (its JSON) and the dashboard show it.
// Verdict is computed on the current window when the view is taken;
// LastJudged* is the judge loop's last round.
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

// View is the canary now.
func (s *State) View() View {
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
		Steps:           slices.Clone(s.cfg.Steps),
		AutoRollback:    s.cfg.AutoRollback,
		WindowSeconds:   s.cfg.Window.Seconds(),
		IntervalSeconds: s.cfg.Interval.Seconds(),
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

// Detail is a View with each arm's window bucket by bucket (oldest first,
// judge.WindowSlots points per arm), for the console's charts.
type Detail struct {
	View
	Series map[string][]judge.SeriesPoint `json:"series"`
}

// Detail is the canary now, with its arms' series.
func (s *State) Detail() Detail {
	d := Detail{View: s.View()}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	d.Series = make(map[string][]judge.SeriesPoint, len(s.arms))
	for _, name := range s.order {
		d.Series[name] = s.arms[name].window.Series(now)
	}
	return d
}
