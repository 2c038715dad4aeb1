package canary

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// Collectors are package-level so that a config reload registers the same
// objects again and the counts carry over (internal/telemetry).
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "canary_requests_total",
		Help: "Requests through a canary handler, by canary name and arm.",
	}, []string{"name", "arm"})

	errorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "canary_errors_total",
		Help: "Requests through a canary handler that failed (5xx or an error from the rest of the route, e.g. an unreachable upstream), by canary name and arm.",
	}, []string{"name", "arm"})

	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "canary_request_duration_seconds",
		Help:    "Time the rest of the route took for requests through a canary handler, by canary name and arm.",
		Buckets: []float64{.001, .0025, .005, .01, .02, .03, .05, .075, .1, .15, .2, .3, .5, .75, 1, 1.5, 2.5, 5, 10},
	}, []string{"name", "arm"})

	weightGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "canary_weight",
		Help: "Current share of traffic assigned to a canary arm, in percent (0-100).",
	}, []string{"name", "arm"})

	verdictGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "canary_verdict",
		Help: "Last verdict of a canary's judge: 0 INCONCLUSIVE, 1 PASS, 2 FAIL.",
	}, []string{"name"})

	rollbacksTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "canary_rollbacks_total",
		Help: "Automatic rollbacks (canary weight set to 0 by a FAIL verdict), by canary name.",
	}, []string{"name"})
)

// Collectors are this package's collectors, for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{requestsTotal, errorsTotal, requestDuration, weightGauge, verdictGauge, rollbacksTotal}
}

// verdictValue is a verdict as canary_verdict shows it.
func verdictValue(s judge.Status) float64 {
	switch s {
	case judge.Pass:
		return 1
	case judge.Fail:
		return 2
	}
	return 0
}
