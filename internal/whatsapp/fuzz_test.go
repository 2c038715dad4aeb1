package whatsapp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

func FuzzNormalize(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(batchBody(3))
	f.Add(envelope(`{"from":"1","id":"w","timestamp":"1","type":"location","location":{"latitude":1e400}}`))
	f.Add(envelope(`{"from":"1","timestamp":"1","type":"interactive","interactive":{"type":"list_reply","list_reply":null}}`))
	f.Add(valueEnvelope(`{"statuses":[{"id":"w","status":"failed","timestamp":"1","errors":[{"code":"x"}]}],"errors":[1]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"value":{"messages":[{"metadata":{"a":[{"b":null}]}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, _ := Normalize(body, testOpts())
		for _, m := range b.Messages {
			if m.Channel != chat.WhatsApp || m.ID == "" || m.Kind == "" {
				t.Fatalf("incomplete message %+v", m)
			}
			if _, ok := e164Digits(m.From); !ok || m.From == "" {
				t.Fatalf("From %q is not E.164 digits", m.From)
			}
			for k := range m.Metadata {
				if !(chat.MetadataFilter{}).Allows(k) {
					t.Fatalf("metadata key %q passed the default allowlist", k)
				}
			}
		}
		for _, s := range b.Statuses {
			if s.MessageID == "" || s.Status == "" {
				t.Fatalf("incomplete status %+v", s)
			}
		}
		// What Normalize produces must be storable (the inbox serialises it).
		if _, err := json.Marshal(b.Messages); err != nil {
			t.Fatalf("messages do not marshal: %v", err)
		}
		if _, err := json.Marshal(b.Statuses); err != nil {
			t.Fatalf("statuses do not marshal: %v", err)
		}
		parts := b.ByBusiness()
		n := 0
		for _, p := range parts {
			n += p.Len()
		}
		if n != b.Len() {
			t.Fatalf("ByBusiness lost events: %d of %d", n, b.Len())
		}
		checkPathsAgree(t, body)
		CheckChannel(chat.WhatsApp, body)
	})
}
