package whatsapp

import (
	"encoding/json"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// ChannelSpoofingDetected counts payloads refused for their channel (it is
// chat's; every channel records into the one series).
var ChannelSpoofingDetected = chat.ChannelSpoofingDetected

// SpoofingError is a payload of another channel than its route's.
type SpoofingError = chat.SpoofingError

// Collectors are this package's metrics plus the shared message metrics
// (chat.Collectors), for telemetry.Register.
func Collectors() []prometheus.Collector {
	return append(chat.Collectors(), ChannelSpoofingDetected)
}

// markers are the top-level keys that give a payload's channel away.
// Raw, so that a key of an unexpected type still counts as present.
type markers struct {
	Object  chat.LenientString `json:"object"`
	Entry   json.RawMessage    `json:"entry"`
	From    json.RawMessage    `json:"from"`
	Subject json.RawMessage    `json:"subject"`
	Body    json.RawMessage    `json:"body"`
	Channel chat.LenientString `json:"channel"`
}

func (m markers) clues() chat.ChannelClues {
	return chat.ChannelClues{
		Said:          string(m.Channel),
		LooksWhatsApp: m.Object == "whatsapp_business_account" || m.Entry != nil,
		LooksGmail:    m.From != nil && (m.Subject != nil || m.Body != nil),
	}
}

// CheckChannel is chat.CheckChannel on a raw payload of any channel, for
// callers that do not decode it otherwise (DecodeWebhook and the email
// channel's decoder read the clues in their own single pass). A body that is
// not a JSON object is left to the JSON check: it answers nil.
func CheckChannel(route chat.Channel, body []byte) error {
	var m markers
	if err := json.Unmarshal(body, &m); err != nil {
		return nil
	}
	return chat.CheckChannel(route, m.clues())
}
