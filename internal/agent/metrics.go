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

func init() {
	// Every series exists from the start, so rate() and the error-rate alerts
	// see zeros rather than gaps.
	for _, in := range nlp.Intents() {
		messagesTotal.WithLabelValues(string(in), statusSuccess)
		messagesTotal.WithLabelValues(string(in), statusError)
		latencySeconds.WithLabelValues(string(in))
	}
}

// Collectors returns the orchestrator's collectors for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{messagesTotal, latencySeconds}
}

// intentLabel keeps the label's values to the known intents.
func intentLabel(in nlp.Intent) string { return string(knownIntent(in)) }
