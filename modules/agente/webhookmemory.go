package agente

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/bodybudget"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

// Defaults of the webhook memory budget (agente options webhook_memory and
// webhook_memory_per_client). 32 MiB holds 32 of the largest accepted bodies
// at once, or thousands of Meta's (a few KiB each), and stays a small part
// of an instance's memory; one client address may hold an eighth of it, so
// a single flooding or stalling address can never take it all.
const (
	DefaultWebhookMemory          = 32 << 20
	DefaultWebhookMemoryPerClient = DefaultWebhookMemory / 8
)

// WebhookMemoryRetryAfter is the Retry-After of a webhook refused because
// the budget is full: long enough for stalled reads to time out
// (read_body), short against Meta's own back-off.
const WebhookMemoryRetryAfter = 5 * time.Second

// ErrWebhookMemory is a webhook refused because the bodies in flight on
// this instance, or from its client address, already hold their budget;
// answered 503 with Retry-After (Meta delivers again).
var ErrWebhookMemory = bodybudget.ErrOverBudget

// webhookMemory is the instance's budget for webhook bodies in flight: one
// per process, whatever the config, so a reload neither doubles it nor
// forgets what the old config's requests hold. The app's Provision sets
// its limits.
var webhookMemory = bodybudget.New(DefaultWebhookMemory, DefaultWebhookMemoryPerClient)

// readWebhookBody reads r's body, at most limit bytes, into a pooled
// buffer under the budget, keyed by the client's address. release gives the
// buffer back to its pool, once, whoever calls it first: the webhook
// handler when its answer is written (Webhook.Release), or else the end of
// the request's context, for a request refused on its way. Nothing may keep
// the bytes past the request without copying them (decoding into Go values
// copies).
func readWebhookBody(r *http.Request, limit int64) (data []byte, release func(), err error) {
	body, err := webhookMemory.Read(r.Body, ClientAddress(r), limit, r.ContentLength)
	if err != nil {
		return nil, nil, err
	}
	if r.Context().Done() == nil {
		// A context that never ends (a request built by hand) would hold
		// the buffer forever: such a caller gets a copy instead.
		defer body.Release()
		return bytes.Clone(body.Bytes()), func() {}, nil
	}
	// The context's end releases the buffer in a goroutine of its own; a
	// handler that releases it first stops that, so a webhook that was
	// answered costs no extra goroutine.
	stop := context.AfterFunc(r.Context(), body.Release)
	return body.Bytes(), func() {
		if stop() {
			body.Release()
		}
	}, nil
}

// ClientAddress is the request's client IP as Caddy determined it (the
// connection's address, or the forwarded one from a trusted proxy).
func ClientAddress(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// VarRetryAfter holds a refusal's Retry-After in seconds, for json_error
// to send: a matcher that refuses a request has no response to set it on.
const VarRetryAfter = "agente.retry_after"

// SetRetryAfter records the Retry-After the error response to r carries
// (whole seconds, at least 1).
func SetRetryAfter(r *http.Request, d time.Duration) {
	caddyhttp.SetVar(r.Context(), VarRetryAfter, strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10))
}

// RetryAfter is what SetRetryAfter recorded, "" when nothing.
func RetryAfter(r *http.Request) string {
	s, _ := caddyhttp.GetVar(r.Context(), VarRetryAfter).(string)
	return s
}

var webhookMemoryInUse = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
	Name: "webhook_body_memory_bytes",
	Help: "Bytes of webhook bodies held in flight on this instance (the webhook_memory budget's use).",
}, func() float64 { return float64(webhookMemory.InUse()) })

var webhookMemoryRefused = prometheus.NewCounterFunc(prometheus.CounterOpts{
	Name: "webhook_body_memory_refused_total",
	Help: "Webhooks answered 503 because webhook_memory (or one client's share of it) was full.",
}, func() float64 { return float64(webhookMemory.Refused()) })

// provisionWebhookMemory applies the app's webhook memory options to the
// instance's budget and registers its metrics.
func (a *App) provisionWebhookMemory(ctx caddy.Context) error {
	if a.WebhookMemory < 0 || a.WebhookMemoryPerClient < 0 {
		return fmt.Errorf("webhook_memory and webhook_memory_per_client must not be negative")
	}
	total := a.WebhookMemory
	if total == 0 {
		total = DefaultWebhookMemory
	}
	perClient := a.WebhookMemoryPerClient
	if perClient == 0 {
		perClient = total / 8
	}
	if total < MaxWebhookBody || perClient < MaxWebhookBody {
		return fmt.Errorf("webhook_memory (%d) and webhook_memory_per_client (%d) must each hold at least one %d-byte body", total, perClient, MaxWebhookBody)
	}
	webhookMemory.SetLimits(total, perClient)
	return telemetry.Register(ctx.GetMetricsRegistry(), webhookMemoryInUse, webhookMemoryRefused)
}
