package mailbox

import "github.com/prometheus/client_golang/prometheus"

var mailsRead = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mailbox_mails_read_total",
	Help: "Mails read from the hotels' IMAP mailboxes, by outcome: accepted into the inbox, machine (never answered), empty.",
}, []string{"outcome"})

// Collectors are the package's metrics, for the app to register.
func Collectors() []prometheus.Collector { return []prometheus.Collector{mailsRead} }
