package tenancy

import "github.com/prometheus/client_golang/prometheus"

// Tenancy metrics, under the original system's names (kept so its dashboards
// and alerts keep working).
var (
	Resolutions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenant_resolution_total",
		Help: "Tenant resolutions by result: provided (route config), hit (registered identifier), default, miss_strict (rejected).",
	}, []string{"result"})

	TenantsActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tenants_active_total",
		Help: "Active tenants in the in-process tenant cache.",
	})

	IdentifiersCached = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tenant_identifiers_cached_total",
		Help: "Tenant identifiers (phones, emails, WhatsApp ids) in the in-process tenant cache.",
	})

	RefreshLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tenant_refresh_latency_seconds",
		Help:    "Time to reload the tenant cache from Postgres.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})

	// IsolationErrors counts attempts to choose another tenant than the
	// resolved one: a client-supplied X-Tenant-ID that disagrees, or any
	// other cross-tenant access a component detects.
	IsolationErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tenant_isolation_errors_total",
		Help: "Requests that claimed a tenant other than the resolved one (e.g. a mismatching X-Tenant-ID header).",
	})

	// Children resolved once: the hot path must not hash label values.
	resolvedProvided   = Resolutions.WithLabelValues(string(ResultProvided))
	resolvedHit        = Resolutions.WithLabelValues(string(ResultHit))
	resolvedDefault    = Resolutions.WithLabelValues(string(ResultDefault))
	resolvedMissStrict = Resolutions.WithLabelValues(string(ResultMissStrict))
)

// Collectors are the tenancy collectors, for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{Resolutions, TenantsActive, IdentifiersCached, RefreshLatency, IsolationErrors}
}

func publishStats(st Stats) {
	TenantsActive.Set(float64(st.Active))
	IdentifiersCached.Set(float64(st.Identifiers))
}
