package whatsapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Each benchmark also decodes the same body into `any` with encoding/json,
// untimed, and reports Normalize's time as a multiple of it
// (x_unmarshal_any): a ratio that survives noisy shared machines.
func benchNormalize(b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.StopTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
	ref := time.Since(start)
	b.StartTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Normalize(body, NormalizeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(ref), "x_unmarshal_any")
}

func BenchmarkNormalize(b *testing.B) {
	b.Run("1_message", func(b *testing.B) { benchNormalize(b, batchBody(1)) })
	b.Run("50_messages", func(b *testing.B) { benchNormalize(b, batchBody(50)) })
}

// BenchmarkSend is one text reply posted to a local server answering as
// Meta does, over a kept connection. The server runs in the same process:
// its allocations are counted too.
func BenchmarkSend(b *testing.B) {
	const answer = `{"messaging_product":"whatsapp","contacts":[{"input":"34600000000","wa_id":"34600000000"}],"messages":[{"id":"wamid.bench"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: testToken}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Send(ctx, testPhoneNumberID, guest, chat.Reply{Text: "hola"}); err != nil {
			b.Fatal(err)
		}
	}
}
