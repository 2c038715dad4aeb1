package hotel

import (
	"context"
	"fmt"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// BenchmarkAcceptWebhook is the edge's own work on one signed webhook of
// one guest's message after its body is read: the one decode, the hotel's
// resolution and the memory inbox's accept (what tenant_resolve and
// whatsapp_webhook do), each op a new message of one of 256 guests.
func BenchmarkAcceptWebhook(b *testing.B) {
	s := newService(b, Config{}, nil)
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = []byte(whatsapptest.Message{PhoneNumberID: madridPNID, From: fmt.Sprintf("3462%07d", i%256),
			ID: fmt.Sprintf("wamid.bench-%d", i), Name: "Ana García", Text: "hola"}.JSON())
	}
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		body := bodies[n%len(bodies)]
		if n >= len(bodies) {
			// A new id, so that every op is a new message.
			body = []byte(whatsapptest.Message{PhoneNumberID: madridPNID, From: fmt.Sprintf("3462%07d", n%256),
				ID: fmt.Sprintf("wamid.bench-%d", n), Name: "Ana García", Text: "hola"}.JSON())
		}
		n++
		in, err := s.Decoder().Decode(chat.WhatsApp, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Accept(ctx, in, s.Resolve(in, Route{})); err != nil {
			b.Fatal(err)
		}
	}
}
