package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/nlp"
)

// Metric label values of orchestrator_messages_total's status; the original
// system's alerts compute error rates as status="error" over all.
const (
	statusSuccess = "success"
	statusError   = "error"
)

var (
	messagesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orchestrator_messages_total",
		Help: "Guest messages handled by the orchestrator, by intent and outcome (success|error).",
	}, []string{"intent", "status"})

	latencySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "orchestrator_latency_seconds",
		Help:    "Time the orchestrator took to answer a guest message, by intent.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10},
	}, []string{"intent"})
)

// intentSeries are one intent's series, looked up once: a label lookup
// hashes and checks its values on every call, and each message made two.
type intentSeries struct {
	success, error prometheus.Counter
	latency        prometheus.Observer
}

// byIntent holds the series of every known intent (intentLabel keeps
// labels to them).
var byIntent = map[string]intentSeries{}

func init() {
	// Every series exists from the start, so rate() and the error-rate alerts
	// see zeros rather than gaps.
	for _, in := range nlp.Intents() {
		byIntent[string(in)] = intentSeries{
			success: messagesTotal.WithLabelValues(string(in), statusSuccess),
			error:   messagesTotal.WithLabelValues(string(in), statusError),
			latency: latencySeconds.WithLabelValues(string(in)),
		}
	}
}

// observeTurn counts one handled message of intent label with its status
// and latency.
func observeTurn(label, status string, seconds float64) {
	s, ok := byIntent[label]
	if !ok {
		messagesTotal.WithLabelValues(label, status).Inc()
		latencySeconds.WithLabelValues(label).Observe(seconds)
		return
	}
	if status == statusSuccess {
		s.success.Inc()
	} else {
		s.error.Inc()
	}
	s.latency.Observe(seconds)
}

// Collectors returns the orchestrator's collectors for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{messagesTotal, latencySeconds}
}

// intentLabel keeps the label's values to the known intents.
func intentLabel(in nlp.Intent) string { return string(knownIntent(in)) }
