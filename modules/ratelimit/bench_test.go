package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// discardWriter is a ResponseWriter that keeps only headers, reused across
// iterations so the benchmark measures handlers, not recorders.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware measures what ratelimit adds to a bare `respond` route,
// in one run: each request is prepared as Caddy's server does
// (caddyhttp.PrepareRequest) and served by the handler chain. Keys rotate
// over 1000 clients with room for all, the common (admitted) path.
// x_respond is ns/op relative to the respond sub-benchmark.
//
//	go test -run '^$' -bench Middleware -benchmem ./modules/ratelimit
func BenchmarkMiddleware(b *testing.B) {
	respond := caddyhttp.StaticResponse{Body: "ok"}
	final := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return respond.ServeHTTP(w, r, nil)
	})
	clients := make([]string, 1000)
	for i := range clients {
		clients[i] = "client-" + strconv.Itoa(i)
	}
	var baseline float64
	run := func(b *testing.B, h caddyhttp.Handler) float64 {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", nil)
		w := &discardWriter{h: make(http.Header)}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			req.Header.Set("X-Client", clients[i%len(clients)])
			clear(w.h)
			r := caddyhttp.PrepareRequest(req, caddy.NewReplacer(), w, nil)
			if err := h.ServeHTTP(w, r); err != nil {
				b.Fatal(err)
			}
		}
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	}
	withLimit := func(b *testing.B, h *Handler) caddyhttp.Handler {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		b.Cleanup(cancel)
		h.Zones = []*Zone{{Name: "bench", Key: "{http.request.header.X-Client}", Events: 1 << 20, Window: caddy.Duration(time.Minute)}}
		if err := h.Provision(ctx); err != nil {
			b.Fatal(err)
		}
		if err := h.Validate(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = h.Cleanup() })
		return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return h.ServeHTTP(w, r, final)
		})
	}
	b.Run("respond", func(b *testing.B) { baseline = run(b, final) })
	b.Run("ratelimit+respond/memory", func(b *testing.B) {
		ns := run(b, withLimit(b, &Handler{}))
		b.ReportMetric(ns/baseline, "x_respond")
	})
	b.Run("ratelimit+respond/redis", func(b *testing.B) {
		url, prefix := testservices.Redis(b)
		ns := run(b, withLimit(b, &Handler{Backend: "redis", RedisURL: url, KeyPrefix: prefix}))
		b.ReportMetric(ns/baseline, "x_respond")
	})
}
