package agente

import (
	"net/http/httptest"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/hotel"
)

// The first decode lives in the record's kept allocation; a decode for
// another channel gets an Inbound of its own, so what an earlier caller
// holds never changes.
func TestWebhookLaterDecodesLeaveTheFirstAlone(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	w := &Webhook{body: []byte(`{}`), read: true}
	first, err := w.Inbound(r, hotel.Decoder{}, chat.WhatsApp, MaxWebhookBody)
	if err != nil || first != &w.kept.inbound {
		t.Fatalf("first decode: %p %v, want the kept Inbound %p", first, err, &w.kept.inbound)
	}
	for i, ch := range []chat.Channel{chat.Gmail, chat.WhatsApp} {
		in, err := w.Inbound(r, hotel.Decoder{}, ch, MaxWebhookBody)
		if err != nil || in == first || in.Channel != ch {
			t.Fatalf("decode %d for %s: %p %v (first %p)", i+2, ch, in, err, first)
		}
		if first.Channel != chat.WhatsApp {
			t.Fatalf("decode %d for %s changed the first decode's Inbound to %s", i+2, ch, first.Channel)
		}
	}
	if w.Decodes() != 3 {
		t.Errorf("%d decodes, want 3", w.Decodes())
	}
}
