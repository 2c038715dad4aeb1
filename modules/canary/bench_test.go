package canary

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler rather than a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

var okBody = []byte("ok")

// terminal is the bare route: a handler that answers 200 "ok".
var terminal = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(200)
	_, err := w.Write(okBody)
	return err
})

// BenchmarkHandler measures, in one run, the bare route and the same route
// behind the canary handler (keyless and with a sticky header key), and
// reports the canary's overhead per request and the ratio to the bare route.
func BenchmarkHandler(b *testing.B) {
	keyless := provision(b, twoArms("bench-keyless", 90, 10))
	sticky := twoArms("bench-sticky", 90, 10)
	sticky.Key = "{http.request.header.X-Guest-Phone}"
	provision(b, sticky)

	w := &discardWriter{h: http.Header{}}
	r := request("192.0.2.1:1234", http.Header{"X-Guest-Phone": {"+34600123456"}})

	var bareNs float64
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = terminal.ServeHTTP(w, r)
		}
		bareNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	for _, c := range []struct {
		name string
		h    *Handler
	}{{"keyless", keyless}, {"sticky", sticky}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.h.ServeHTTP(w, r, terminal)
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(per-bareNs, "overhead-ns/op")
			b.ReportMetric(per/max(bareNs, 1), "x-bare")
		})
	}
}

// BenchmarkHandlerParallel is the keyless handler under concurrent load
// (window and counters contended).
func BenchmarkHandlerParallel(b *testing.B) {
	h := provision(b, twoArms("bench-parallel", 90, 10))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		r := request("192.0.2.1:1234", nil)
		for pb.Next() {
			_ = h.ServeHTTP(w, r, terminal)
		}
	})
}

// BenchmarkRoute compares a bare route and the same route behind the canary
// handler through a real HTTP server on loopback (keep-alive client). The two
// are interleaved request by request so that drift in a shared machine's load
// hits both alike; reported: each one's ns per request and their ratio.
func BenchmarkRoute(b *testing.B) {
	h := provision(b, twoArms("bench-route", 90, 10))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
		caddyhttp.NewTestReplacer(r)
		if r.URL.Path == "/canary" {
			_ = h.ServeHTTP(w, r, terminal)
			return
		}
		_ = terminal.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := srv.Client()
	get := func(url string) time.Duration {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	var bare, canary time.Duration
	for b.Loop() {
		bare += get(srv.URL + "/bare")
		canary += get(srv.URL + "/canary")
	}
	n := float64(b.N)
	b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-ns/req")
	b.ReportMetric(float64(canary.Nanoseconds())/n, "canary-ns/req")
	b.ReportMetric(float64(canary)/float64(bare), "x-bare")
}
