package whatsapp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// ChannelSpoofingDetected counts payloads rejected by CheckChannel.
// Unlabelled, as the seed's alert (rate(channel_spoofing_detected_total[5m]))
// expects one series.
var ChannelSpoofingDetected = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "channel_spoofing_detected_total",
	Help: "Webhook payloads whose shape or claimed channel disagrees with the route they arrived on.",
})

// Collectors are this package's metrics plus the shared message metrics
// (chat.Collectors), for telemetry.Register.
func Collectors() []prometheus.Collector {
	return append(chat.Collectors(), ChannelSpoofingDetected)
}

// markers are the top-level keys that give a payload's channel away.
// Raw, so that a key of an unexpected type still counts as present.
type markers struct {
	Object  json.RawMessage `json:"object"`
	Entry   json.RawMessage `json:"entry"`
	From    json.RawMessage `json:"from"`
	Subject json.RawMessage `json:"subject"`
	Body    json.RawMessage `json:"body"`
	Channel json.RawMessage `json:"channel"`
}

// str is a marker's string value, "" when absent or not a string.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func readMarkers(body []byte) (markers, bool) {
	var m markers
	if err := json.Unmarshal(body, &m); err != nil {
		return markers{}, false
	}
	return m, true
}

// looksWhatsApp: a Meta envelope (`object` = whatsapp_business_account, or an
// `entry`).
func (m markers) looksWhatsApp() bool {
	return str(m.Object) == "whatsapp_business_account" || m.Entry != nil
}

// looksGmail: the email webhook's `{from, subject, body, timestamp}`
// (DESIGN.md; seed 003 §2.3 "gmail_tenant_bcn").
func (m markers) looksGmail() bool {
	return m.From != nil && (m.Subject != nil || m.Body != nil)
}

// SpoofingError is a payload that claims or looks like another channel than
// its route's. The webhook answers it with 400.
type SpoofingError struct {
	Route chat.Channel // the channel of the route it arrived on
	Claim chat.Channel // the channel its shape or `channel` field says
}

func (e *SpoofingError) Error() string {
	return fmt.Sprintf("channel spoofing: a %s payload on the %s route", e.Claim, e.Route)
}

// CheckChannel rejects a payload on route whose shape or top-level `channel`
// field belongs to another channel (a gmail payload on the WhatsApp route, or
// the reverse, or a payload dressed as both), and counts it in
// channel_spoofing_detected_total. A body that is not a JSON object is left to
// the JSON check, and one with neither shape to the channel's normaliser:
// both answer nil here.
func CheckChannel(route chat.Channel, body []byte) error {
	m, ok := readMarkers(body)
	if !ok {
		return nil
	}
	var claim chat.Channel
	switch said := strings.ToLower(strings.TrimSpace(str(m.Channel))); {
	case said != "" && chat.Channel(said) != route:
		if len(said) > 32 { // attacker-chosen; it ends up in logs
			said = said[:32]
		}
		claim = chat.Channel(said)
	case route == chat.WhatsApp && m.looksGmail():
		claim = chat.Gmail
	case route == chat.Gmail && m.looksWhatsApp():
		claim = chat.WhatsApp
	default:
		return nil
	}
	ChannelSpoofingDetected.Inc()
	return &SpoofingError{Route: route, Claim: claim}
}
