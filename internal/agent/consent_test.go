package agent

import (
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

func TestConsentReplies(t *testing.T) {
	for _, c := range []struct {
		optedOut bool
		lang     string
		want     []string
	}{
		{true, "es", []string{"Hotel Sol", "no recibirás más mensajes", "ALTA"}},
		{false, "es", []string{"Hotel Sol", "Vuelves a recibir", "BAJA"}},
		{true, "en", []string{"Hotel Sol", "won't receive any more messages", "START"}},
		{false, "en-GB", []string{"Hotel Sol", "again", "STOP"}},
		{true, "fr", []string{"no recibirás"}},
	} {
		r := ConsentReply(c.optedOut, c.lang, "Hotel Sol")
		for _, w := range c.want {
			if r.Kind != chat.ReplyText || !strings.Contains(r.Text, w) {
				t.Errorf("ConsentReply(%v, %q) = %+v, want it to say %q", c.optedOut, c.lang, r, w)
			}
		}
	}
}
