package chat

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/jsonscan"
)

// ChannelSpoofingDetected counts payloads refused by CheckChannel.
// Unlabelled, as the original system's alert
// (rate(channel_spoofing_detected_total[5m])) expects one series.
var ChannelSpoofingDetected = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "channel_spoofing_detected_total",
	Help: "Webhook payloads whose shape or claimed channel disagrees with the route they arrived on.",
})

// ChannelClues are what a payload's top-level keys say about its channel.
// Each channel's decoder reads them in the same pass as the payload itself,
// so the route check costs no second decode.
type ChannelClues struct {
	// Said is the payload's own top-level `channel` field, "" when absent or
	// not a string.
	Said string
	// LooksWhatsApp: a Meta envelope (`object` = whatsapp_business_account,
	// or an `entry` of any type).
	LooksWhatsApp bool
	// LooksGmail: the email webhook's `from` with a `subject` or a `body`.
	LooksGmail bool
}

// SpoofingError is a payload that claims or looks like another channel than
// its route's. The webhook answers it with 400.
type SpoofingError struct {
	Route Channel // the channel of the route it arrived on
	Claim Channel // the channel its shape or `channel` field says
}

func (e *SpoofingError) Error() string {
	return fmt.Sprintf("channel spoofing: a %s payload on the %s route", e.Claim, e.Route)
}

// CheckChannel refuses a payload on route whose clues belong to another
// channel (a gmail payload on the WhatsApp route, or the reverse, or a
// payload dressed as both, or one whose `channel` field names another), and
// counts it in channel_spoofing_detected_total. A payload with neither shape
// is left to the channel's normaliser.
func CheckChannel(route Channel, c ChannelClues) error {
	var claim Channel
	switch said := strings.ToLower(strings.TrimSpace(c.Said)); {
	case said != "" && Channel(said) != route:
		if len(said) > 32 { // attacker-chosen; it ends up in logs
			said = said[:32]
		}
		claim = Channel(said)
	case route == WhatsApp && c.LooksGmail:
		claim = Gmail
	case route == Gmail && c.LooksWhatsApp:
		claim = WhatsApp
	default:
		return nil
	}
	ChannelSpoofingDetected.Inc()
	return &SpoofingError{Route: route, Claim: claim}
}

// LenientString is a JSON value read as a string when it is one and as ""
// otherwise, so that a clue of an unexpected type never fails the decode of
// the payload around it.
type LenientString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *LenientString) UnmarshalJSON(b []byte) error {
	*s = ""
	if len(b) == 0 || b[0] != '"' {
		return nil
	}
	// Nothing to unescape (a guest's profile name, usually): what the
	// decoder would give, without a second decode.
	sc := jsonscan.New(b)
	if plain, ok := sc.String(); ok && sc.End() {
		*s = LenientString(plain)
		return nil
	}
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = LenientString(v)
	}
	return nil
}
