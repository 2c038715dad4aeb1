package resilient

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The PMS metrics, under the original system's names (kept so its dashboards
// and alerts keep working), shared by every wrapper of the process. Register them with telemetry.Register(reg, Collectors()...).
var (
	apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "pms_api_latency_seconds",
		Help:    "Time of each call to the PMS (one per attempt), by endpoint template and HTTP method.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 10},
	}, []string{"endpoint", "method"})

	operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pms_operations_total",
		Help: "PMS operations asked of the adapter, by operation and outcome (success includes cached and stale answers).",
	}, []string{"operation", "status"})

	errorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pms_errors_total",
		Help: "Failed PMS calls (per attempt) and breaker rejections, by operation and error type (timeout, http_5xx, http_4xx, decode, transport, breaker_open, busy: the operation's time ran out waiting for one of the calls at the PMS to end).",
	}, []string{"operation", "error_type"})

	cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pms_cache_hits_total",
		Help: "PMS answers served from the cache while fresh.",
	})
	cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pms_cache_misses_total",
		Help: "Cacheable PMS reads with no fresh cached answer (the PMS was asked).",
	})
	staleHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pms_stale_cache_hits_total",
		Help: "Expired cached answers served because the PMS failed or the breaker was open.",
	})
	apiCalls = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pms_api_calls_total",
		Help: "Calls made to the PMS (one per attempt; breaker rejections are not calls).",
	})

	breakerState = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pms_circuit_breaker_state",
		Help: "PMS circuit breaker state: 0 closed, 1 open, 2 half-open.",
	})
	breakerCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pms_circuit_breaker_calls_total",
		Help: "Calls through the PMS circuit breaker, by its state before the call (closed, open, half_open) and result (success, failure, rejected).",
	}, []string{"state", "result"})
	breakerStreak = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pms_circuit_breaker_failure_streak",
		Help: "Consecutive infrastructure failures of PMS calls (reset by a success).",
	})

	retryAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "retry_attempts_total",
		Help: "PMS calls retried, by operation and the failure that caused the retry (timeout, http_5xx, decode, transport).",
	}, []string{"operation", "exception"})
)

// Collectors are this package's collectors, for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{apiLatency, operations, errorsTotal, cacheHits, cacheMisses, staleHits,
		apiCalls, breakerState, breakerCalls, breakerStreak, retryAttempts}
}

// CacheCounts are this process's PMS cache counts so far, as
// pms_cache_hits_total, pms_cache_misses_total and pms_stale_cache_hits_total
// show them, with the share of cacheable reads answered from the cache,
// fresh or stale (0 before any). A stale hit follows a miss: the PMS was
// asked and failed.
type CacheCounts struct {
	Hits      uint64  `json:"hits"`
	Misses    uint64  `json:"misses"`
	StaleHits uint64  `json:"stale_hits"`
	HitRatio  float64 `json:"hit_ratio"`
}

// CacheFigures reads the cache counters.
func CacheFigures() CacheCounts {
	c := CacheCounts{Hits: counterValue(cacheHits), Misses: counterValue(cacheMisses), StaleHits: counterValue(staleHits)}
	if all := c.Hits + c.Misses; all > 0 {
		c.HitRatio = float64(c.Hits+c.StaleHits) / float64(all)
	}
	return c
}

func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return uint64(m.Counter.GetValue())
}
