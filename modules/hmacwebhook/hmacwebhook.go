// Package hmacwebhook is the `hmac_webhook` request matcher: it lets through
// only webhooks signed by whoever holds the app secret (Meta's
// X-Hub-Signature-256), and answers everything else with an error status so
// the request fails closed.
package hmacwebhook

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/jsonscan"
	"github.com/agentehotel/agente-caddy/internal/limiter"
	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

func init() {
	caddy.RegisterModule(MatchHMACWebhook{})
}

// DefaultMaxBody is the largest body verified when max_body is not set: the
// one webhook body limit (1 MiB).
const DefaultMaxBody = agente.MaxWebhookBody

// DefaultHeader carries the signature when header is not set.
const DefaultHeader = "X-Hub-Signature-256"

// DefaultFailLimit failed checks per DefaultFailWindow from one client
// address are tolerated before its requests are refused unread: Meta's
// deliveries never fail, an operator trying a misconfigured secret fails a
// handful of times, and a flood is cut after the first few bodies.
const (
	DefaultFailLimit  = 20
	DefaultFailWindow = time.Minute
	// DefaultFailDelay holds each 429 a second: a flooder on N connections
	// gets N answers a second instead of as many as the CPU can give.
	DefaultFailDelay = time.Second
)

// failures counts failed checks per client address, for the whole process
// (every matcher and config), so a flood cannot reset its count by reload
// or spread it over routes.
var failures = limiter.NewMemory(limiter.MemoryOptions{})

// MatchHMACWebhook matches requests whose body is signed with a shared secret
// as `sha256=<hex HMAC-SHA256(secret, raw body)>` in a header, and fails every
// other request with the status of the first check it fails, in this order:
//
//  0. the client address failed these checks fail_limit times within
//     fail_window → 429 with Retry-After, before the body is read, and
//     answered only after fail_delay, so a flood of bad signatures costs
//     its sender a connection held open and a wait per request, not us a
//     body or the CPU of answering it as fast as it can ask (at most
//     maxHeld answers are held at once; past that they go at once)
//  1. signature header missing, repeated or not `sha256=` + 64 hex digits → 401
//  2. the body over max_body: if the Content-Type is wrong → 415, else → 413
//     (the body cannot be verified without reading past the limit, so the
//     signature is never checked and the body is read no further than max_body+1 bytes)
//  3. signature does not match the body under any secret → 401
//  4. Content-Type other than content_type (parameters allowed) → 415
//  5. with require_json, a body that is not valid JSON (an empty body is not) → 400
//
// Checks 1-3 and an unreadable body (a client that stalls until read_body
// times out) count as failures of the client address (Caddy's client IP).
// A body that finds the instance's webhook memory full (agente's
// webhook_memory) is answered 503 with Retry-After and counts as nothing.
//
// The body is read once for the whole chain: a match keeps the verified
// bytes in the request's webhook record (agente.Webhook), where
// tenant_resolve and the webhook handlers find them, and restores the body,
// so any other handler after it (reverse_proxy) reads the same bytes.
// It never answers false: a request either matches or fails with an error,
// so a failed check can never fall through to another route or Caddy's empty 200.
//
// Caddyfile:
//
//	@meta hmac_webhook {
//		secret       <secret>           # repeat during a rotation; any one matching is enough
//		header       <name>             # default X-Hub-Signature-256
//		max_body     <size>             # default 1MiB; accepts 1MiB, 512KB, 1048576
//		content_type <media type>       # e.g. application/json; omitted: not checked
//		require_json                    # reject bodies that are not valid JSON
//		fail_limit   <n> [<window>]     # failures per client address before 429; default 20 1m; 0 turns it off
//		fail_delay   <duration>         # how long a 429 is held before it is sent; default 1s; 0 sends it at once
//	}
//
// or, with one secret and the defaults: `@meta hmac_webhook <secret>`.
//
// In CEL expressions: `expression hmac_webhook('\{env.WHATSAPP_APP_SECRET}')`
// checks signature, max_body (1MiB), Content-Type application/json and JSON.
type MatchHMACWebhook struct {
	// Secrets are the shared secrets (Meta's app secret). Placeholders such as
	// {env.WHATSAPP_APP_SECRET} are resolved at provision time; empty values
	// are ignored, and at least one must remain.
	Secrets []string `json:"secrets,omitempty"`

	// Header is the request header carrying the signature. Default X-Hub-Signature-256.
	Header string `json:"header,omitempty"`

	// MaxBody is the largest body, in bytes, that is read and verified. Default 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// ContentType is the media type the request must declare (parameters such
	// as charset are allowed). Empty: not checked.
	ContentType string `json:"content_type,omitempty"`

	// RequireJSON rejects a body that is not a valid JSON document with 400.
	RequireJSON bool `json:"require_json,omitempty"`

	// FailLimit is how many failed checks one client address may make per
	// FailWindow before its requests are refused (429) without reading
	// their body. Default 20; -1 turns the limit off.
	FailLimit int `json:"fail_limit,omitempty"`

	// FailWindow is the sliding window FailLimit counts in. Default 1m.
	FailWindow caddy.Duration `json:"fail_window,omitempty"`

	// FailDelay is how long a 429 for a limited address is held before it
	// is sent: a flooder waits that long per request on each connection,
	// while the held request costs a parked goroutine. Default 1s; -1
	// sends it at once. Meta never fails a signature, so no real sender
	// ever waits.
	FailDelay caddy.Duration `json:"fail_delay,omitempty"`

	verifier *signature.Verifier
}

// CaddyModule returns the Caddy module information.
func (MatchHMACWebhook) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.hmac_webhook",
		New: func() caddy.Module { return new(MatchHMACWebhook) },
	}
}

// Provision resolves the secrets and registers the metrics.
func (m *MatchHMACWebhook) Provision(ctx caddy.Context) error {
	// Secrets come from the environment as the agente app reads it
	// (development defaults included); loading the app first also means a
	// staging or production start with a missing or placeholder secret
	// stops with the variable named, not with an empty secret.
	app, err := agente.Load(ctx)
	if err != nil {
		return err
	}
	if err := telemetry.Register(ctx.GetMetricsRegistry(), checks); err != nil {
		return err
	}
	repl := app.Replacer()
	resolved := make([]string, 0, len(m.Secrets))
	for _, s := range m.Secrets {
		resolved = append(resolved, repl.ReplaceAll(s, ""))
	}
	if m.Header == "" {
		m.Header = DefaultHeader
	}
	if m.MaxBody == 0 {
		m.MaxBody = DefaultMaxBody
	}
	if m.FailLimit == 0 {
		m.FailLimit = DefaultFailLimit
	}
	if m.FailWindow == 0 {
		m.FailWindow = caddy.Duration(DefaultFailWindow)
	}
	if m.FailDelay == 0 {
		m.FailDelay = caddy.Duration(DefaultFailDelay)
	}
	v, err := signature.NewVerifier(resolved...)
	if err != nil {
		return fmt.Errorf("hmac_webhook: secret: %v (%s)", err, strings.Join(m.Secrets, ", "))
	}
	m.verifier = v
	return nil
}

// Validate rejects configurations that could never match.
func (m *MatchHMACWebhook) Validate() error {
	if len(m.Secrets) == 0 {
		return errors.New("hmac_webhook: secret: at least one secret is required")
	}
	if m.FailLimit < -1 {
		return fmt.Errorf("hmac_webhook: fail_limit: %d is negative (-1 turns it off)", m.FailLimit)
	}
	if m.FailWindow < 0 {
		return fmt.Errorf("hmac_webhook: fail_window: %s is negative", time.Duration(m.FailWindow))
	}
	if m.FailDelay < -1 || m.FailDelay > caddy.Duration(maxFailDelay) {
		return fmt.Errorf("hmac_webhook: fail_delay: %s is not between 0 and %s", time.Duration(m.FailDelay), maxFailDelay)
	}
	if m.MaxBody < 0 {
		return fmt.Errorf("hmac_webhook: max_body: %d is negative", m.MaxBody)
	}
	if m.ContentType != "" {
		if _, _, err := mime.ParseMediaType(m.ContentType); err != nil {
			return fmt.Errorf("hmac_webhook: content_type: %q is not a media type: %v", m.ContentType, err)
		}
	}
	return nil
}

// Match implements the deprecated caddyhttp.RequestMatcher.
func (m MatchHMACWebhook) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError implements caddyhttp.RequestMatcherWithError.
func (m MatchHMACWebhook) MatchWithError(r *http.Request) (bool, error) {
	client := agente.ClientAddress(r)
	if d, limited := m.limited(client); limited {
		agente.SetRetryAfter(r, d.RetryAfter)
		checksLimited().Inc()
		m.hold(r)
		return false, caddyhttp.Error(http.StatusTooManyRequests, errTooManyFailures)
	}
	mac, err := signature.ParseHeader(r.Header.Values(m.Header))
	if err != nil {
		m.failed(client)
		return reject(result(err), http.StatusUnauthorized, err)
	}
	wh := agente.WebhookOf(r)
	body, fits, err := wh.Body(r, m.MaxBody)
	if errors.Is(err, agente.ErrWebhookMemory) {
		agente.SetRetryAfter(r, agente.WebhookMemoryRetryAfter)
		return reject("memory", http.StatusServiceUnavailable, errors.New("too many webhook bodies in flight; retry later"))
	}
	if err != nil {
		m.failed(client)
		return reject("unreadable", http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
	}
	if !fits {
		m.failed(client)
		if !m.contentTypeOK(r) {
			return reject("unverifiable", http.StatusUnsupportedMediaType, errContentType(m.ContentType))
		}
		return reject("unverifiable", http.StatusRequestEntityTooLarge,
			fmt.Errorf("body larger than %d bytes", m.MaxBody))
	}
	if err := m.verifier.Verify(body, mac); err != nil {
		m.failed(client)
		return reject("mismatch", http.StatusUnauthorized, err)
	}
	checksValid().Inc()
	wh.MarkVerified()
	if !m.contentTypeOK(r) {
		return false, caddyhttp.Error(http.StatusUnsupportedMediaType, errContentType(m.ContentType))
	}
	if m.RequireJSON && !validJSON(body) {
		return false, caddyhttp.Error(http.StatusBadRequest, errors.New("body is not valid JSON"))
	}
	return true, nil
}

// maxHeld bounds the 429s held at once in the process: each is a goroutine
// and a connection whose unread body fills a kernel buffer; an attacker
// with more connections than this gets the rest at once.
const maxHeld = 1024

// maxFailDelay bounds fail_delay below read_body's timeout (servers.caddy),
// so a held request is answered before the server gives up on it.
const maxFailDelay = 5 * time.Second

var held = make(chan struct{}, maxHeld)

// hold waits FailDelay before a 429 is sent, unless maxHeld are already
// waiting or the client goes away.
func (m MatchHMACWebhook) hold(r *http.Request) {
	if m.FailDelay <= 0 {
		return
	}
	select {
	case held <- struct{}{}:
	default:
		return
	}
	defer func() { <-held }()
	t := time.NewTimer(time.Duration(m.FailDelay))
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

var errTooManyFailures = errors.New("too many failed signature checks from this address; retry later")

func (m MatchHMACWebhook) failLimit() limiter.Limit {
	return limiter.Limit{Events: m.FailLimit, Window: time.Duration(m.FailWindow)}
}

// limited reports whether client used up its failures, and when it may
// try again.
func (m MatchHMACWebhook) limited(client string) (limiter.Decision, bool) {
	if m.FailLimit <= 0 || m.FailWindow <= 0 {
		return limiter.Decision{}, false
	}
	d, err := failures.Peek(client, m.failLimit())
	return d, err == nil && !d.Allowed
}

// failed counts one failed check of client.
func (m MatchHMACWebhook) failed(client string) {
	if m.FailLimit > 0 && m.FailWindow > 0 {
		_, _ = failures.Allow(context.Background(), client, m.failLimit())
	}
}

func (m MatchHMACWebhook) contentTypeOK(r *http.Request) bool {
	if m.ContentType == "" {
		return true
	}
	got, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(got, m.ContentType)
}

// validJSON is json.Valid, in one pass of a plain scanner for a valid body
// (internal/jsonscan).
func validJSON(body []byte) bool { return jsonscan.Valid(body) }

func errContentType(want string) error {
	return fmt.Errorf("Content-Type must be %s", want)
}

func reject(res string, status int, err error) (bool, error) {
	checks.WithLabelValues(res).Inc()
	return false, caddyhttp.Error(status, err)
}

func result(err error) string {
	switch {
	case errors.Is(err, signature.ErrMissing):
		return "missing"
	case errors.Is(err, signature.ErrMultiple):
		return "multiple"
	default:
		return "malformed"
	}
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens.
func (m *MatchHMACWebhook) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // matcher name
	if d.NextArg() {
		m.Secrets = append(m.Secrets, d.Val())
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "secret":
			if !d.NextArg() {
				return d.ArgErr()
			}
			m.Secrets = append(m.Secrets, d.Val())
		case "header":
			if !d.NextArg() {
				return d.ArgErr()
			}
			m.Header = d.Val()
		case "max_body":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := config.ParseSize(d.Val())
			if err != nil {
				return d.Errf("max_body: %v", err)
			}
			m.MaxBody = n
		case "content_type":
			if !d.NextArg() {
				return d.ArgErr()
			}
			m.ContentType = d.Val()
		case "require_json":
			m.RequireJSON = true
		case "fail_limit":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 0 {
				return d.Errf("fail_limit: %q is not a whole number >= 0", d.Val())
			}
			m.FailLimit = n
			if n == 0 {
				m.FailLimit = -1
			}
			if d.NextArg() {
				w, err := caddy.ParseDuration(d.Val())
				if err != nil || w <= 0 {
					return d.Errf("fail_limit: window %q is not a positive duration", d.Val())
				}
				m.FailWindow = caddy.Duration(w)
			}
		case "fail_delay":
			if !d.NextArg() {
				return d.ArgErr()
			}
			w, err := caddy.ParseDuration(d.Val())
			if err != nil || w < 0 {
				return d.Errf("fail_delay: %q is not a duration >= 0", d.Val())
			}
			m.FailDelay = caddy.Duration(w)
			if w == 0 {
				m.FailDelay = -1
			}
		default:
			return d.Errf("unrecognized hmac_webhook option '%s'", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

var checks = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "webhook_signature_checks_total",
	Help: "Webhook signature checks by result: valid, missing, multiple, malformed, mismatch, unverifiable (body over the limit), unreadable, limited (refused unread: too many failures from the address), memory (refused unread: webhook memory full).",
}, []string{"result"})

// The results of nearly every check, looked up once, on first use (so a
// series still appears when its first check happens).
var (
	checksValid   = sync.OnceValue(func() prometheus.Counter { return checks.WithLabelValues("valid") })
	checksLimited = sync.OnceValue(func() prometheus.Counter { return checks.WithLabelValues("limited") })
)

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchHMACWebhook)(nil)
	_ caddy.Validator                   = (*MatchHMACWebhook)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchHMACWebhook)(nil)
	_ caddyfile.Unmarshaler             = (*MatchHMACWebhook)(nil)
	_ caddyhttp.CELLibraryProducer      = (*MatchHMACWebhook)(nil)
)
