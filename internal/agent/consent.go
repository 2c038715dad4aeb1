package agent

import "github.com/agentehotel/agente-caddy/internal/chat"

// The confirmations of a guest's opt-out and opt-in. What counts as one is
// internal/consent's; the hotel's service answers them before the
// orchestrator would run, so they are the only texts of this package said
// outside a turn.
var (
	textOptedOut = newTextKey("opted_out")
	textOptedIn  = newTextKey("opted_in")
)

// ConsentReply confirms that the guest opted out (optedOut) or back in, and
// says how to change it again, in lang ("es" or "en"; Spanish otherwise),
// naming the hotel.
func ConsentReply(optedOut bool, lang, hotel string) chat.Reply {
	key := textOptedIn
	if optedOut {
		key = textOptedOut
	}
	if lang = supportedLanguage(lang); lang == "" {
		lang = langES
	}
	return chat.Reply{Kind: chat.ReplyText, Text: say(lang, key, view{Hotel: hotel})}
}
