// Package loadgen posts signed WhatsApp webhooks to a local agente-caddy
// and measures what came back: the rate, the latency percentiles and the
// statuses. It is the load generator of `make bench` (test/e2e's
// BenchmarkStaircase) and of the loadgen command beside it; it only ever
// targets a loopback address and stops by itself after its requests.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// Request is one prepared POST.
type Request struct {
	Body   []byte
	Header http.Header
}

// Bodies are n distinct signed webhooks: message i has its own wamid
// (idPrefix-i) and comes from one of `guests` guests, written to the
// business number phoneNumberID. Everything is signed before any is sent,
// so the generator's own work is not measured.
func Bodies(n, guests int, secret, phoneNumberID, idPrefix, text string) []Request {
	return bodiesFrom(0, n, guests, secret, phoneNumberID, idPrefix, text)
}

// Guests hands out batches of webhooks that go on through N guests from
// one batch to the next, instead of starting again with the first: with as
// many guests as messages, every message opens a conversation of its own.
type Guests struct {
	N    int // how many guests write; at least 1
	next int
}

// Bodies is the next n webhooks (as the package's Bodies).
func (g *Guests) Bodies(n int, secret, phoneNumberID, idPrefix, text string) []Request {
	out := bodiesFrom(g.next, n, g.N, secret, phoneNumberID, idPrefix, text)
	g.next += n
	return out
}

// Batches are webhooks of perBody messages each, n messages in all (the
// last body may carry fewer), numbered and spread over the guests as
// Bodies numbers and spreads them: the way to fill a queue quickly, since
// Meta batches the messages that arrive together in one webhook.
func Batches(n, perBody, guests int, secret, phoneNumberID, idPrefix, text string) []Request {
	perBody = max(perBody, 1)
	out := make([]Request, 0, (n+perBody-1)/perBody)
	for i := 0; i < n; i += perBody {
		out = append(out, signed(secret, body(i, i, min(perBody, n-i), guests, phoneNumberID, idPrefix, text)))
	}
	return out
}

// bodiesFrom is Bodies with message i coming from guest (first+i) mod
// guests.
func bodiesFrom(first, n, guests int, secret, phoneNumberID, idPrefix, text string) []Request {
	out := make([]Request, n)
	for i := range out {
		out[i] = signed(secret, body(i, first+i, 1, guests, phoneNumberID, idPrefix, text))
	}
	return out
}

// body is a webhook of count messages: the k-th has the wamid
// idPrefix-(id+k) and comes from guest (guest+k) mod guests.
func body(id, guest, count, guests int, phoneNumberID, idPrefix, text string) []byte {
	msgs := make([]whatsapptest.Message, count)
	for k := range msgs {
		msgs[k] = whatsapptest.Message{PhoneNumberID: phoneNumberID, From: fmt.Sprintf("3462%07d", (guest+k)%max(guests, 1)),
			ID: fmt.Sprintf("wamid.%s-%d", idPrefix, id+k), Name: "Ana García", Text: text}
	}
	return []byte(whatsapptest.JSONOf(msgs...))
}

// signed is the POST of body, signed with secret as Meta signs it.
func signed(secret string, body []byte) Request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Hub-Signature-256", signature.Sign(secret, body))
	return Request{Body: body, Header: h}
}

// Config is one run.
type Config struct {
	URL         string    // a loopback http URL
	Requests    []Request // each sent once, in order across the connections
	Connections int       // concurrent clients; default 16
	// Rate is the target requests per second over all connections; 0 sends
	// as fast as the answers come back.
	Rate float64
}

// Result is what a run measured.
type Result struct {
	Sent     int
	OK       int         // 2xx
	Statuses map[int]int // every status seen
	Errors   int         // transport errors
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is the rate of answered requests.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Run sends every request once and waits for the answers.
func Run(ctx context.Context, cfg Config) (Result, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return Result{}, err
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return Result{}, errors.New("loadgen: only loopback targets (127.0.0.1, ::1, localhost)")
	}
	conns := cfg.Connections
	if conns <= 0 {
		conns = 16
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()

	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	latencies := make([]time.Duration, len(cfg.Requests))
	statuses := make([]int, len(cfg.Requests))
	var next atomic.Int64
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(cfg.Requests) {
					return
				}
				var due time.Time
				if interval > 0 {
					// Open loop: request i is due at start + i·interval,
					// whenever the previous answers came.
					due = start.Add(time.Duration(i) * interval)
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				r := cfg.Requests[i]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(r.Body))
				if err != nil {
					errs.Add(1)
					continue
				}
				req.Header = r.Header.Clone()
				t0 := time.Now()
				if !due.IsZero() && due.Before(t0) {
					// Sent late because every connection was busy: the
					// wait is part of its latency, as a client at this
					// rate would see it.
					t0 = due
				}
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[i] = time.Since(t0)
				statuses[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	res := Result{Sent: len(cfg.Requests), Elapsed: time.Since(start), Statuses: map[int]int{}, Errors: int(errs.Load())}
	var ok []time.Duration
	for i, s := range statuses {
		if s == 0 {
			continue
		}
		res.Statuses[s]++
		if s >= 200 && s < 300 {
			res.OK++
			ok = append(ok, latencies[i])
		}
	}
	slices.Sort(ok)
	res.P50, res.P99 = percentile(ok, 0.50), percentile(ok, 0.99)
	return res, ctx.Err()
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
