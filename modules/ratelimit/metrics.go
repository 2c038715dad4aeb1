package ratelimit

import "github.com/prometheus/client_golang/prometheus"

// Created once per process and registered into each config's registry, so a
// reload keeps their values.
var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ratelimit_decisions_total",
		Help: "Rate-limit decisions per zone: allowed (the request was admitted and counted in the zone) or limited (the zone rejected it). A zone that had room for a request another zone rejected records nothing.",
	}, []string{"zone", "result"})

	backendErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ratelimit_backend_errors_total",
		Help: "Requests the shared rate-limit backend (Redis) could not decide, because it failed or was being skipped after a recent failure; they were decided by on_backend_error.",
	})
)

// Collectors are this module's metrics, for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{decisions, backendErrors}
}
