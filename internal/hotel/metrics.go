package hotel

import "github.com/prometheus/client_golang/prometheus"

var (
	readReceipts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whatsapp_read_receipts_total",
		Help: "Read receipts with typing indicator sent for guests' WhatsApp messages taken into work, by result (sent|failed|skipped: the access token is refused, replies are held).",
	}, []string{"result"})

	windowTemplates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whatsapp_window_templates_total",
		Help: "WhatsApp replies sent as the hotel's template because the guest was outside the 24-hour customer-service window, " +
			"by cause (window_closed: decided before sending; meta_131047: Meta refused the reply) and result " +
			"(sent|covered: an earlier template already went to the guest|not_configured: the hotel has no template|failed).",
	}, []string{"cause", "result"})
)

// collectors are this package's own metrics.
func collectors() []prometheus.Collector {
	return []prometheus.Collector{readReceipts, windowTemplates, handoffNotifications, handoffWaiting, handoffOldestWait, handoffWaitAlert}
}
