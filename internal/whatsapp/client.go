package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// DefaultBaseURL is the Graph API version we target; WHATSAPP_API_BASE
// overrides it.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// Meta error codes the sender treats specially (from Meta's WhatsApp Cloud API
// error code documentation).
const (
	CodeThroughput      = 130429 // per-number throughput limit
	CodePairRate        = 131056 // too many messages to the same user (≈ 1 per 6 s)
	CodeOutsideWindow   = 131047 // 24-hour customer-service window closed: needs a template
	CodeMaintenance     = 131057 // business account in maintenance or upgrade
	CodeUnknown         = 1      // "An unknown error occurred", transient per Meta
	CodeTemporary       = 2      // "Service temporarily unavailable"
	CodeAppRateLimit    = 4      // application request limit
	CodeWABARateLimit   = 80007  // WhatsApp Business Account rate limit
	CodeSomethingWrong  = 131000 // "Something went wrong", transient per Meta
	CodeServiceUnavail  = 131016 // "Service unavailable"
	CodeInvalidParam    = 100
	CodeInvalidToken    = 190
	pairRateBackoff     = 6 * time.Second
	throughputBackoff   = 1 * time.Second
	maintenanceBackoff  = 30 * time.Second
	rateLimitBackoff    = 60 * time.Second
	maxResponseBodySize = 1 << 20
)

// Client sends replies through the WhatsApp Cloud API.
type Client struct {
	// BaseURL is the Graph API base including the version; empty means
	// DefaultBaseURL. Tests point it at test/fakegraph.
	BaseURL string
	// Token is the system-user access token (WHATSAPP_ACCESS_TOKEN).
	Token string
	// HTTPClient sends the requests; nil means a client with a 30 s timeout.
	// The context given to Send bounds each call too.
	HTTPClient *http.Client

	// header is the posts' request headers for the token they were built
	// with, shared by every post: net/http only reads a request's headers,
	// and setting them on every post cost four allocations each time.
	header atomic.Pointer[tokenHeader]
}

type tokenHeader struct {
	token  string
	header http.Header
}

// postHeader is the request headers of a post.
func (c *Client) postHeader() http.Header {
	if h := c.header.Load(); h != nil && h.token == c.Token {
		return h.header
	}
	h := &tokenHeader{token: c.Token, header: http.Header{
		"Authorization": {"Bearer " + c.Token},
		"Content-Type":  {"application/json"},
		"Accept":        {"application/json"},
	}}
	c.header.Store(h)
	return h.header
}

var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: graphTransport()}

// graphTransport keeps idle connections to the Graph API for every sender
// and read receipt that may be in flight at once (the outbox's senders and
// the inbox's workers share it): net/http's default keeps two per host, so
// each send beyond the second closed its connection afterwards and the next
// one dialled (and, against Meta, shook hands over TLS) again.
func graphTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}

// SendError is a send that failed. Retryable tells the outbox whether to try
// again; RetryAfter, when not zero, is the least wait before doing so (the
// answer's Retry-After, or the pace Meta's limit implies).
type SendError struct {
	Status     int    // HTTP status; 0 when no answer came (transport error) or the reply was invalid
	Code       int    // Meta's error.code; 0 when the answer had none
	Message    string // Meta's error.message, or what went wrong
	Retryable  bool
	RetryAfter time.Duration
	Err        error // the transport error or ErrInvalidReply, if any
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp send: ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d ", e.Status)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, "code %d ", e.Code)
	}
	b.WriteString(e.Message)
	if e.Retryable {
		b.WriteString(" (retryable")
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, " after %s", e.RetryAfter)
		}
		b.WriteString(")")
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// Send posts r to guest `to` (E.164, with or without '+') from business number
// phoneNumberID and returns the new message's wamid. r is fitted into Meta's
// limits first (see Render). Every failure is a *SendError.
//
// A transport error after the request left (a timeout waiting for the answer)
// is retryable although Meta may have delivered the message: the Cloud API has
// no idempotency key, so a retry can duplicate a reply in that rare case.
func (c *Client) Send(ctx context.Context, phoneNumberID, to string, r chat.Reply) (id string, err error) {
	ctx, span := tracing.Start(ctx, "whatsapp.send", trace.SpanKindClient)
	defer func() {
		if id != "" && span.IsRecording() {
			span.SetAttributes(attribute.String("messaging.message.id", id))
		}
		tracing.End(span, err)
	}()
	body, err := Render(to, r)
	if err != nil {
		return "", &SendError{Message: err.Error(), Err: err}
	}
	status, raw, err := c.post(ctx, phoneNumberID, body)
	if err != nil {
		return "", err
	}
	var ok struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if json.Unmarshal(raw, &ok) != nil || len(ok.Messages) == 0 || ok.Messages[0].ID == "" {
		// Meta took the request; retrying could send the message twice.
		return "", &SendError{Status: status, Message: "answer has no message id: " + snippet(raw)}
	}
	return ok.Messages[0].ID, nil
}

// MarkRead marks the guest's message messageID (the wamid its webhook gave)
// as read, which shows the guest two blue ticks on it and on their earlier
// messages, and shows them a typing indicator until the business's next
// message or for 25 seconds. It is sent from business number phoneNumberID,
// the one the guest wrote to. Every failure is a *SendError.
func (c *Client) MarkRead(ctx context.Context, phoneNumberID, messageID string) (err error) {
	ctx, span := tracing.Start(ctx, "whatsapp.mark_read", trace.SpanKindClient)
	defer func() { tracing.End(span, err) }()
	body, err := RenderMarkRead(messageID)
	if err != nil {
		return &SendError{Message: err.Error(), Err: err}
	}
	status, raw, err := c.post(ctx, phoneNumberID, body)
	if err != nil {
		return err
	}
	var ok struct {
		Success bool `json:"success"`
	}
	if json.Unmarshal(raw, &ok) != nil || !ok.Success {
		return &SendError{Status: status, Message: "answer is not a success: " + snippet(raw)}
	}
	return nil
}

// post sends body to POST /{phone_number_id}/messages and returns a 2xx
// answer's status and body; any other outcome is a *SendError.
func (c *Client) post(ctx context.Context, phoneNumberID string, body []byte) (int, []byte, error) {
	if phoneNumberID == "" || strings.ContainsAny(phoneNumberID, "/?#") {
		err := invalid("phone_number_id %q", phoneNumberID)
		return 0, nil, &SendError{Message: err.Error(), Err: err}
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	endpoint := strings.TrimSuffix(base, "/") + "/" + url.PathEscape(phoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, &SendError{Message: "building request: " + err.Error(), Err: err}
	}
	req.Header = c.postHeader()
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, &SendError{Message: err.Error(), Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String("http.request.method", http.MethodPost), attribute.String("server.address", req.URL.Host),
			attribute.String("url.path", req.URL.Path), attribute.Int("http.response.status_code", resp.StatusCode))
	}
	raw, err := readAnswer(resp)
	if err != nil {
		return 0, nil, &SendError{Status: resp.StatusCode, Message: "reading answer: " + err.Error(), Retryable: true, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return 0, nil, classify(resp, raw)
	}
	return resp.StatusCode, raw, nil
}

// readAnswer reads an answer's body, at most maxResponseBodySize bytes, into
// a buffer of its declared length when it declares one: io.ReadAll starts
// at 512 bytes, and Meta's answers are a few dozen to a couple of hundred.
func readAnswer(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxResponseBodySize {
		raw := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, raw); err != nil {
			return nil, err
		}
		return raw, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxResponseBodySize))
}

// classify turns an error answer into a SendError: Meta's throughput, pair-
// rate, maintenance and transient codes, 429 and 5xx are retryable; 131047
// (24-hour window), bad tokens and other 4xx are not.
func classify(resp *http.Response, raw []byte) *SendError {
	var body struct {
		Error struct {
			Message     string `json:"message"`
			Code        int    `json:"code"`
			IsTransient bool   `json:"is_transient"`
		} `json:"error"`
	}
	e := &SendError{Status: resp.StatusCode}
	if json.Unmarshal(raw, &body) == nil && (body.Error.Code != 0 || body.Error.Message != "") {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Message = http.StatusText(resp.StatusCode) + ": " + snippet(raw)
	}
	switch e.Code {
	case CodeThroughput:
		e.Retryable, e.RetryAfter = true, throughputBackoff
	case CodePairRate:
		e.Retryable, e.RetryAfter = true, pairRateBackoff
	case CodeMaintenance:
		e.Retryable, e.RetryAfter = true, maintenanceBackoff
	case CodeAppRateLimit, CodeWABARateLimit:
		e.Retryable, e.RetryAfter = true, rateLimitBackoff
	case CodeUnknown, CodeTemporary, CodeSomethingWrong, CodeServiceUnavail:
		e.Retryable = true
	case CodeOutsideWindow:
		return e // never retried, whatever the status says
	default:
		e.Retryable = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || body.Error.IsTransient
	}
	if d := retryAfter(resp.Header.Get("Retry-After")); e.Retryable && d > e.RetryAfter {
		e.RetryAfter = d
	}
	return e
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
