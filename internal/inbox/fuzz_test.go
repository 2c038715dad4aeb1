package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// FuzzAcceptNormalized: whatever Unicode a guest (or a forger with the app
// secret) puts in a message's text, name, id or metadata, the normalised
// batch is stored by both backends (nothing refused, so nothing redelivered
// forever), the message next to it in the batch is stored too, and what is
// read back is what was sent, less its NUL characters. `make test` runs the
// seeds; `go test -fuzz FuzzAcceptNormalized ./internal/inbox` explores.
func FuzzAcceptNormalized(f *testing.F) {
	for _, s := range []struct{ text, name, id, meta string }{
		{"Hola, quiero reservar", "Ana", "wamid.1", "campaign"},
		{"nul \x00 here", "Jo\x00sé", "wamid.\x00nul", "k\x00"},
		{"\u0000", "\x00", "\x00", "\x00"},
		{"bad utf-8 \xff\xfe \xed\xa0\x80", "\xc3", "wamid.\xff", "\xff"},
		{"emoji 👩‍👩‍👧‍👦 RTL \u202e עברית ZWJ \u200d BOM \ufeff", "名前", "wamid.ü", "ключ"},
		{"surrogate escape \\ud800 and \\u0000 as text", "\\u0000", "wamid.\\u0000", "\\"},
		{strings.Repeat("á", 5000), "", "", ""},
		{"\r\n\t\v\f\b\x7f\u2028\u2029", " ", " wamid.space ", " "},
	} {
		f.Add(s.text, s.name, s.id, s.meta)
	}
	mem := openMemory(f)
	memInbox := inbox.SharedMemory(mem.mem, mem.options("fuzz-mem"))
	pg := openPostgres(f)
	pgInbox := pg.instance(f, pg.options("fuzz-pg"))
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, text, name, id, meta string) {
		// A tenant per run: redeliveries of one input across runs are not
		// what this test is about.
		tenant := fmt.Sprintf("fuzz_%d", n.Add(1))
		body := webhookWith(text, name, id, meta)
		batch, err := whatsapp.Normalize(body, whatsapp.NormalizeOptions{
			Now:      func() time.Time { return epoch },
			Metadata: chat.NewMetadataFilter([]string{"note"}),
		})
		if err != nil && len(batch.Messages) == 0 {
			t.Fatalf("the well-formed neighbour was lost with the fuzzed message: %v", err)
		}
		batch = batch.ForTenant(tenant)
		for _, ib := range []*inbox.Inbox{memInbox, pgInbox} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := ib.Accept(ctx, batch.Messages, batch.Statuses)
			if err != nil {
				cancel()
				t.Fatalf("accept of %q refused: %v", body, err)
			}
			if res.New != len(batch.Messages) {
				t.Fatalf("accepted %d new of %d", res.New, len(batch.Messages))
			}
			stored, err := ib.Messages(ctx, inbox.Query{TenantID: tenant})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]chat.Message{}
			for _, r := range stored {
				byID[r.Message.ID] = r.Message
			}
			if _, ok := byID["wamid.neighbour"]; !ok {
				t.Fatalf("the neighbour was not stored: %+v", stored)
			}
			for _, m := range batch.Messages {
				clean := strings.ReplaceAll(m.ID, "\x00", "")
				if clean == "" {
					clean = strings.ReplaceAll(m.ID, "\x00", "\uFFFD")
				}
				got, ok := byID[clean]
				if !ok {
					t.Fatalf("message %q not stored under %q: %+v", m.ID, clean, stored)
				}
				if want := strings.ReplaceAll(m.Text, "\x00", ""); got.Text != want {
					t.Fatalf("text stored as %q, sent %q", got.Text, m.Text)
				}
				if want := strings.ReplaceAll(m.Name, "\x00", ""); got.Name != want {
					t.Fatalf("name stored as %q, sent %q", got.Name, m.Name)
				}
				for k, v := range got.Metadata {
					if strings.ContainsRune(k, 0) || strings.ContainsRune(fmt.Sprint(v), 0) {
						t.Fatalf("metadata kept a NUL: %q: %v", k, v)
					}
				}
				if !utf8.ValidString(got.Text) {
					t.Fatalf("stored text is not UTF-8: %q", got.Text)
				}
			}
		}
	})
}

// webhookWith is a signed-shape webhook of two text messages, the first
// carrying the fuzzed strings, the second an ordinary neighbour.
func webhookWith(text, name, id, meta string) []byte {
	msg := func(id, from, text string, md map[string]any) map[string]any {
		m := map[string]any{"from": from, "id": id, "timestamp": "1893553445", "type": "text", "text": map[string]any{"body": text}}
		if md != nil {
			m["metadata"] = md
		}
		return m
	}
	body, err := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
			"contacts":          []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": "34600000001"}},
			"messages": []any{
				msg(id, "34600000001", text, map[string]any{"note": meta, meta: "value"}),
				msg("wamid.neighbour", "34600000002", "hola", nil),
			},
		}}}}},
	})
	if err != nil {
		panic(err)
	}
	return body
}
