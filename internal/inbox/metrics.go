package inbox

import "github.com/prometheus/client_golang/prometheus"

var (
	acceptedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inbox_accepted_total",
		Help: "Webhook items accepted into the inbox, by kind (message|status) and result (new|duplicate).",
	}, []string{"kind", "result"})

	processedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inbox_processed_total",
		Help: "Handler attempts on inbox messages by result: ok (done), retry (failed, will retry), dead (given up).",
	}, []string{"result"})

	inboxPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "inbox_pending",
		Help: "Inbox messages accepted and not yet done or dead.",
	})

	processingLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "inbox_processing_latency_seconds",
		Help:    "Time from a message's acceptance to its replies being queued.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})

	outboxSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outbox_sent_total",
		Help: "Outbox send outcomes by channel and result: sent, retry (will retry), failed (given up), held (credentials refused; not an attempt), suppressed (not sent on purpose: the guest opted out).",
	}, []string{"channel", "result"})

	outboxPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "outbox_pending",
		Help: "Outbox replies waiting for an attempt (held replies are counted in outbox_held_replies).",
	})

	outboxHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "outbox_held_replies",
		Help: "Outbox replies held because their channel refused our credentials (an expired or revoked WhatsApp access token); sent, in order, once it takes them again.",
	})

	leaseLost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inbox_lease_lost_total",
		Help: "Outcomes discarded because the lease expired and another worker took the item over, by queue (inbox|outbox).",
	}, []string{"queue"})
)

// Children resolved once: Accept is on the webhook's hot path.
var (
	acceptedNewMessages = acceptedTotal.WithLabelValues("message", "new")
	acceptedDupMessages = acceptedTotal.WithLabelValues("message", "duplicate")
	acceptedNewStatuses = acceptedTotal.WithLabelValues("status", "new")
	acceptedDupStatuses = acceptedTotal.WithLabelValues("status", "duplicate")
	processedOK         = processedTotal.WithLabelValues("ok")
	processedRetry      = processedTotal.WithLabelValues("retry")
	processedDead       = processedTotal.WithLabelValues("dead")
	leaseLostInbox      = leaseLost.WithLabelValues("inbox")
	leaseLostOutbox     = leaseLost.WithLabelValues("outbox")
)

// Collectors are this package's metrics, for telemetry.Register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{acceptedTotal, processedTotal, inboxPending, processingLatency, outboxSent, outboxPending, outboxHeld, leaseLost, unroutedTotal}
}
