package chat

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Message metrics, by the names the dashboards and alerts under observability/
// query. They live here, not in a channel package, because every channel
// records into the same series and tells itself apart with the `canal` label.
var (
	MessagesNormalized = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "message_normalized_total",
		Help: "Inbound messages normalised, by channel and tenant (recorded after tenant resolution).",
	}, []string{"canal", "tenant_id"})

	NormalizationErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "message_normalization_errors_total",
		Help: "Problems met while normalising inbound payloads, by channel and error type (missing_entry, missing_changes, missing_messages, unexpected, and the email channel's own).",
	}, []string{"canal", "error_type"})

	NormalizationLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "message_normalization_latency_seconds",
		Help:    "Time to normalise one inbound payload, by channel.",
		Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	}, []string{"canal"})

	MetadataFilteredKeys = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "metadata_filtered_keys_total",
		Help: "Keys dropped from inbound message metadata by the allowlist. Unlabelled: the key names are attacker-chosen.",
	})
)

// Collectors are the message metrics, for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{MessagesNormalized, NormalizationErrors, NormalizationLatency, MetadataFilteredKeys}
}

// RecordNormalized counts n messages of channel canal normalised for tenant.
// Normalisation cannot know the tenant (resolution is another component), so
// the caller records this once the tenant is known.
func RecordNormalized(canal Channel, tenant string, n int) {
	if n <= 0 {
		return
	}
	k := normalizedKey{canal, tenant}
	c, ok := normalizedOf.Load(k)
	if !ok {
		c, _ = normalizedOf.LoadOrStore(k, MessagesNormalized.WithLabelValues(string(canal), tenant))
	}
	c.(prometheus.Counter).Add(float64(n))
}

// normalizedOf holds MessagesNormalized's series by channel and tenant,
// looked up once each (as many as the series: the tenants are the
// directory's).
var normalizedOf sync.Map // normalizedKey → prometheus.Counter

type normalizedKey struct {
	canal  Channel
	tenant string
}

// RecordNormalizationError counts one normalisation problem of kind errorType.
func RecordNormalizationError(canal Channel, errorType string) {
	NormalizationErrors.WithLabelValues(string(canal), errorType).Inc()
}
