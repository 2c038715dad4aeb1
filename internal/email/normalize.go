// Package email is the Gmail channel: it normalises the JSON posted to
// POST /webhooks/gmail (the original system's email webhook payload
// {from, subject, body, timestamp}, as in testdata/seed_gmail_tenant_bcn.json)
// into a chat.Message, and sends replies by SMTP (Sender).
package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// ErrorKind is why an email payload could not be normalised; the value is the
// `error_type` label of message_normalization_errors_total{canal="gmail"}.
// An ErrorKind is an error (errors.Is works on what Normalize returns).
type ErrorKind string

const (
	// ErrMissingFrom: no `from`.
	ErrMissingFrom ErrorKind = "missing_from"
	// ErrInvalidFrom: `from` is not an email address.
	ErrInvalidFrom ErrorKind = "invalid_from"
	// ErrMissingContent: neither subject nor body has any text.
	ErrMissingContent ErrorKind = "missing_content"
	// ErrInvalidTimestamp: `timestamp` is neither RFC 3339, an RFC 5322 date,
	// nor unix seconds, or is out of range.
	ErrInvalidTimestamp ErrorKind = "invalid_timestamp"
	// ErrUnexpected: not a JSON object, or a field of the wrong JSON type.
	ErrUnexpected ErrorKind = "unexpected"
)

func (k ErrorKind) Error() string { return "email normalisation: " + string(k) }

// NormalizeError is a payload Normalize rejected.
type NormalizeError struct {
	Kind   ErrorKind
	Detail string
}

func (e *NormalizeError) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

func (e *NormalizeError) Unwrap() error { return e.Kind }

// NormalizeOptions tunes Normalize. The zero value is ready to use.
type NormalizeOptions struct {
	// Metadata filters the payload's `metadata` (and the derived `from_full`);
	// the zero value applies chat.DefaultAllowedMetadata.
	Metadata chat.MetadataFilter
	// Now stamps a payload without timestamp; nil means time.Now.
	Now func() time.Time
	// AuthservID names the receiving server whose Authentication-Results
	// a bridge may relay in `authentication_results`; empty: none is read.
	AuthservID string
}

type wirePayload struct {
	// Clues of a WhatsApp envelope on this route, read in the same pass
	// (chat.CheckChannel).
	Channel chat.LenientString `json:"channel"`
	Object  chat.LenientString `json:"object"`
	Entry   json.RawMessage    `json:"entry"`

	From      string          `json:"from"`
	To        string          `json:"to"`
	Subject   string          `json:"subject"`
	Body      string          `json:"body"`
	Timestamp json.RawMessage `json:"timestamp"`
	MessageID string          `json:"message_id"`
	Metadata  json.RawMessage `json:"metadata"`
	// AuthenticationResults is the receiving server's header, relayed by
	// the bridge: without it the mail can never change a booking.
	AuthenticationResults string `json:"authentication_results"`
}

// maxMessageIDLen bounds a message id kept verbatim; longer ones are hashed so
// that the dedup key stays small.
const maxMessageIDLen = 256

// Normalize reads the email webhook's JSON `{from, subject, body, timestamp}`
// plus the optional `message_id`, `to` and `metadata`:
//
//   - From is the sender's address, lowercased ("Ana <Ana@X.com>" → "ana@x.com");
//     the full form goes to metadata `from_full` (subject to the allowlist).
//   - ID is `message_id` without angle brackets or, when absent, "sha256:" and
//     a hash of (from, timestamp, subject, body): a redelivery of the same
//     email gets the same id and deduplicates.
//   - Kind is text; Text is the body without quoted reply history ("On … wrote:",
//     "El … escribió:", "> " lines, forwarded/original-message blocks) and
//     without the signature ("-- " and below, "Sent from my …"); the subject
//     when nothing is left.
//   - TenantID is left empty: tenant resolution is another component.
//
// Every rejection is a *NormalizeError and is counted in
// message_normalization_errors_total{canal="gmail"}.
func Normalize(body []byte, opts NormalizeOptions) (chat.Message, error) {
	m, _, err := decode(body, opts, false)
	return m, err
}

// ErrNotJSON is a webhook body that is not valid JSON (answered 400).
var ErrNotJSON = errors.New("body is not valid JSON")

// DecodeWebhook is Normalize for a payload that arrived on the email route,
// in one decode: it also refuses a WhatsApp payload (or one whose `channel`
// says another channel) with a *chat.SpoofingError, counted in
// channel_spoofing_detected_total, and a body that is not valid JSON with an
// error that errors.Is ErrNotJSON, before anything else. from is the
// payload's `from` as sent, the key of its tenant, even when the payload is
// otherwise rejected (a *NormalizeError).
func DecodeWebhook(body []byte, opts NormalizeOptions) (m chat.Message, from string, err error) {
	return decode(body, opts, true)
}

func decode(body []byte, opts NormalizeOptions, checkRoute bool) (chat.Message, string, error) {
	start := time.Now()
	p, err := readPayload(body, checkRoute)
	if errors.Is(err, ErrNotJSON) || errors.As(err, new(*chat.SpoofingError)) {
		return chat.Message{}, "", err // the route's refusals, before normalising
	}
	var m chat.Message
	var nerr *NormalizeError
	if err == nil {
		m, nerr = message(p, opts)
	} else {
		nerr = err.(*NormalizeError)
	}
	chat.NormalizationLatency.WithLabelValues(string(chat.Gmail)).Observe(time.Since(start).Seconds())
	if nerr != nil {
		chat.RecordNormalizationError(chat.Gmail, string(nerr.Kind))
		return chat.Message{}, p.From, nerr
	}
	return m, p.From, nil
}

// notJSON is the problem of a body that is not valid JSON.
type notJSON struct{ *NormalizeError }

func (notJSON) Is(target error) bool { return target == ErrNotJSON }

// readPayload decodes body once. With checkRoute it refuses, before
// anything else, a body that is not JSON and a payload of another channel.
func readPayload(body []byte, checkRoute bool) (wirePayload, error) {
	notObject := &NormalizeError{Kind: ErrUnexpected, Detail: "not a JSON object"}
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		if checkRoute && !json.Valid(body) {
			return wirePayload{}, notJSON{notObject}
		}
		return wirePayload{}, notObject
	}
	var p wirePayload
	err := json.Unmarshal(body, &p)
	if checkRoute {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
			return wirePayload{}, notJSON{notObject}
		}
		// After a field of the wrong type the decoder went on, so the
		// clues are read either way.
		clues := chat.ChannelClues{Said: string(p.Channel), LooksWhatsApp: p.Object == "whatsapp_business_account" || p.Entry != nil}
		if err := chat.CheckChannel(chat.Gmail, clues); err != nil {
			return wirePayload{}, err
		}
	}
	if err != nil {
		detail := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			detail = fmt.Sprintf("field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return wirePayload{}, &NormalizeError{Kind: ErrUnexpected, Detail: detail}
	}
	return p, nil
}

// message checks a decoded payload and makes it a chat.Message.
func message(p wirePayload, opts NormalizeOptions) (chat.Message, *NormalizeError) {
	if strings.TrimSpace(p.From) == "" {
		return chat.Message{}, &NormalizeError{Kind: ErrMissingFrom}
	}
	from, err := ParseAddress(p.From)
	if err != nil {
		return chat.Message{}, &NormalizeError{Kind: ErrInvalidFrom, Detail: err.Error()}
	}
	ts, rawTS, err := parseTimestamp(p.Timestamp, opts.Now)
	if err != nil {
		return chat.Message{}, &NormalizeError{Kind: ErrInvalidTimestamp, Detail: err.Error()}
	}
	subject := strings.TrimSpace(p.Subject)
	text := StripQuoted(p.Body)
	if text == "" {
		text = subject
	}
	if text == "" {
		return chat.Message{}, &NormalizeError{Kind: ErrMissingContent}
	}
	m := chat.Message{
		Channel:   chat.Gmail,
		ID:        messageID(p, from.Address, rawTS),
		From:      from.Address,
		Name:      from.Name,
		Timestamp: ts,
		Kind:      chat.KindText,
		Text:      text,
		Subject:   subject,
	}
	if p.AuthenticationResults != "" {
		a := ReadAuthenticationResults([]string{p.AuthenticationResults}, opts.AuthservID, from.Address)
		m.Email = &chat.EmailFacts{Verified: a.Verified, Auth: a.Summary()}
	}
	if p.To != "" {
		if to, err := ParseAddress(p.To); err == nil {
			m.To = to.Address
		}
	}
	md := chat.DecodeMetadata(p.Metadata)
	if from.Name != "" {
		if md == nil {
			md = map[string]any{}
		}
		md["from_full"] = strings.TrimSpace(p.From) // ours, not the client's
	}
	if len(md) > 0 {
		m.Metadata = opts.Metadata.Apply(md)
	}
	return m, nil
}

// ParseAddress reads "addr" or "Name <addr>" (RFC 5322, RFC 2047 names) and
// lowercases the address.
func ParseAddress(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not an email address: %w", truncate(s, 80), err)
	}
	if len(a.Address) > 254 {
		return nil, fmt.Errorf("address longer than 254 characters")
	}
	a.Address = strings.ToLower(a.Address)
	return a, nil
}

func messageID(p wirePayload, from, rawTS string) string {
	id := strings.TrimSpace(p.MessageID)
	id = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">"))
	if id != "" && len(id) <= maxMessageIDLen && !strings.ContainsAny(id, "<>\r\n\t ") {
		return id
	}
	h := sha256.New()
	if id != "" {
		h.Write([]byte(id))
	} else {
		for _, s := range []string{from, rawTS, p.Subject, p.Body} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// IsMessageID reports whether id (a chat.Message.ID of this channel) is a
// real RFC 5322 Message-ID that a reply can reference, rather than a hash.
func IsMessageID(id string) bool {
	return id != "" && !strings.HasPrefix(id, "sha256:") && strings.Contains(id, "@") && !strings.ContainsAny(id, "<>\r\n\t ")
}

const maxUnix = 253402300799 // 9999-12-31T23:59:59Z

// parseTimestamp accepts RFC 3339 ("2025-10-22T10:30:00Z", the original
// system's form), an RFC 5322 date (an email's Date header), or unix seconds
// as a number or a string. It returns the time and the raw text (for the dedup hash).
func parseTimestamp(raw json.RawMessage, now func() time.Time) (time.Time, string, error) {
	r := strings.TrimSpace(string(raw))
	if r == "" || r == "null" {
		if now == nil {
			now = time.Now
		}
		return now().UTC(), "", nil
	}
	var s string
	if r[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, r, err
		}
		s = strings.TrimSpace(s)
	} else {
		s = r
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		if sec < 0 || sec > maxUnix {
			return time.Time{}, s, fmt.Errorf("unix time %d out of range", sec)
		}
		return time.Unix(sec, 0).UTC(), s, nil
	}
	if r[0] != '"' {
		return time.Time{}, s, fmt.Errorf("timestamp %s is not unix seconds", truncate(s, 40))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = mail.ParseDate(s); err != nil {
			return time.Time{}, s, fmt.Errorf("timestamp %q is not RFC 3339, an RFC 5322 date, or unix seconds", truncate(s, 40))
		}
	}
	if t = t.UTC(); t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, s, fmt.Errorf("timestamp %q out of range", truncate(s, 40))
	}
	return t, s, nil
}

func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// Collectors are the message metrics this channel records into
// (chat.Collectors), for telemetry.Register.
func Collectors() []prometheus.Collector { return chat.Collectors() }
