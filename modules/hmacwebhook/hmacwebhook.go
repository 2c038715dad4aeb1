// Package hmacwebhook is the `hmac_webhook` request matcher: it lets through
// only webhooks signed by whoever holds the app secret (Meta's
// X-Hub-Signature-256), and answers everything else with an error status so
// the request fails closed.
package hmacwebhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/config"
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

// MatchHMACWebhook matches requests whose body is signed with a shared secret
// as `sha256=<hex HMAC-SHA256(secret, raw body)>` in a header, and fails every
// other request with the status of the first check it fails, in this order:
//
//  1. signature header missing, repeated or not `sha256=` + 64 hex digits → 401
//  2. the body over max_body: if the Content-Type is wrong → 415, else → 413
//     (the body cannot be verified without reading past the limit, so the
//     signature is never checked and the body is read no further than max_body+1 bytes)
//  3. signature does not match the body under any secret → 401
//  4. Content-Type other than content_type (parameters allowed) → 415
//  5. with require_json, a body that is not valid JSON (an empty body is not) → 400
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
	mac, err := signature.ParseHeader(r.Header.Values(m.Header))
	if err != nil {
		return reject(result(err), http.StatusUnauthorized, err)
	}
	wh := agente.WebhookOf(r)
	body, fits, err := wh.Body(r, m.MaxBody)
	if err != nil {
		return reject("unreadable", http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
	}
	if !fits {
		if !m.contentTypeOK(r) {
			return reject("unverifiable", http.StatusUnsupportedMediaType, errContentType(m.ContentType))
		}
		return reject("unverifiable", http.StatusRequestEntityTooLarge,
			fmt.Errorf("body larger than %d bytes", m.MaxBody))
	}
	if err := m.verifier.Verify(body, mac); err != nil {
		return reject("mismatch", http.StatusUnauthorized, err)
	}
	checks.WithLabelValues("valid").Inc()
	wh.MarkVerified()
	if !m.contentTypeOK(r) {
		return false, caddyhttp.Error(http.StatusUnsupportedMediaType, errContentType(m.ContentType))
	}
	if m.RequireJSON && !validJSON(body) {
		return false, caddyhttp.Error(http.StatusBadRequest, errors.New("body is not valid JSON"))
	}
	return true, nil
}

func (m MatchHMACWebhook) contentTypeOK(r *http.Request) bool {
	if m.ContentType == "" {
		return true
	}
	got, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(got, m.ContentType)
}

func validJSON(body []byte) bool { return json.Valid(body) }

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
	Help: "Webhook signature checks by result: valid, missing, multiple, malformed, mismatch, unverifiable (body over the limit), unreadable.",
}, []string{"result"})

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchHMACWebhook)(nil)
	_ caddy.Validator                   = (*MatchHMACWebhook)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchHMACWebhook)(nil)
	_ caddyfile.Unmarshaler             = (*MatchHMACWebhook)(nil)
	_ caddyhttp.CELLibraryProducer      = (*MatchHMACWebhook)(nil)
)
