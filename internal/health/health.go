// Package health runs the readiness checks of /health/ready: every configured
// dependency (database, redis, pms) is asked, concurrently and with a
// deadline, and the answer is exported as the original system's readiness
// metrics.
package health

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Check asks one dependency whether it answers.
type Check func(ctx context.Context) error

// Status is one dependency's answer.
type Status struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// Advisory marks a check (AddAdvisory) whose failure is reported but
	// leaves the instance ready.
	Advisory bool   `json:"advisory,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Report is the readiness answer.
type Report struct {
	Ready        bool      `json:"ready"`
	Dependencies []Status  `json:"dependencies"`
	CheckedAt    time.Time `json:"checked_at"`
}

// Checker holds named checks. It is safe for concurrent use.
type Checker struct {
	mu     sync.RWMutex
	checks map[string]registered
}

type registered struct {
	check    Check
	advisory bool
}

// Add registers (or replaces) the check called name.
func (c *Checker) Add(name string, check Check) { c.add(name, registered{check: check}) }

// AddAdvisory registers (or replaces) a check whose failure is reported,
// in the answer and in dependency_up, without making the instance unready:
// what it finds hurts some guests (one hotel's configuration), and taking
// the instance out of service would hurt every guest.
func (c *Checker) AddAdvisory(name string, check Check) {
	c.add(name, registered{check: check, advisory: true})
}

func (c *Checker) add(name string, r registered) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks == nil {
		c.checks = map[string]registered{}
	}
	c.checks[name] = r
}

// Run asks every dependency at once, each bounded by timeout, and records
// dependency_up{name}, readiness_up and readiness_last_check_timestamp.
func (c *Checker) Run(ctx context.Context, timeout time.Duration) Report {
	c.mu.RLock()
	checks := make(map[string]registered, len(c.checks))
	for n, r := range c.checks {
		checks[n] = r
	}
	c.mu.RUnlock()

	statuses := make([]Status, 0, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, r := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := r.check(cctx)
			st := Status{Name: name, Up: err == nil, Advisory: r.advisory}
			if err != nil {
				st.Error = err.Error()
			}
			mu.Lock()
			statuses = append(statuses, st)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(statuses, func(i, j int) bool { return statuses[i].Name < statuses[j].Name })

	rep := Report{Ready: true, Dependencies: statuses, CheckedAt: time.Now()}
	for _, st := range statuses {
		DependencyUp.WithLabelValues(st.Name).Set(boolGauge(st.Up))
		if !st.Up && !st.Advisory {
			rep.Ready = false
		}
	}
	ReadinessUp.Set(boolGauge(rep.Ready))
	LastCheck.Set(float64(rep.CheckedAt.Unix()))
	return rep
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// The readiness metrics, under the original system's names (kept so its
// dashboards and alerts keep working).
var (
	DependencyUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dependency_up",
		Help: "1 when the dependency answered the last readiness check, 0 when it failed.",
	}, []string{"name"})
	ReadinessUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "readiness_up",
		Help: "1 when every dependency answered the last readiness check.",
	})
	LastCheck = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "readiness_last_check_timestamp",
		Help: "Unix time of the last readiness check.",
	})
)

// Collectors lists the readiness metrics for registration.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{DependencyUp, ReadinessUp, LastCheck}
}
