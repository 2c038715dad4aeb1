// Package mailbox reads a hotel's mailbox over IMAP: a worker per mailbox
// (IDLE, with polling when the server has no IDLE) fetches new mail by UID,
// reads each message as it really arrives (MIME, transfer encodings,
// charsets, quoted replies and signatures), leaves machines unanswered, and
// hands what a guest wrote to the same durable inbox as WhatsApp, stamped
// with what the receiving server said about the sender
// (Authentication-Results).
package mailbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // ISO-8859-*, Windows-125*, and the other charsets mail arrives in
	"github.com/emersion/go-message/mail"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/email"
)

// maxBody bounds the text read from one message part.
const maxBody = 256 << 10

// Mail is one message as the agent needs it.
type Mail struct {
	MessageID  string   // without angle brackets; a hash when the mail has none
	InReplyTo  string   // the message it answers, without angle brackets
	References []string // the thread, oldest first, without angle brackets
	From       string   // the sender's address, lowercased
	Name       string   // the sender's display name
	Subject    string
	Date       time.Time
	// Text is what the sender wrote: the text/plain part (or the HTML one
	// made text), decoded to UTF-8, without quoted history or signature.
	Text string
	// Attachments are the names (or types) of the parts not read.
	Attachments []string
	// Machine is why the mail comes from a machine and must not be
	// answered ("" for a person): see MachineReason.
	Machine string
	// Auth is what the receiving server found (Authentication-Results).
	Auth email.Auth
}

// ParseOptions says whose mailbox this is.
type ParseOptions struct {
	// AuthservID is the authserv-id of the receiving server whose
	// Authentication-Results are trusted; others are ignored.
	AuthservID string
	// Own are the mailbox's own addresses: mail from them is ours.
	Own []string
}

// Parse reads one RFC 5322 message.
func Parse(raw []byte, opts ParseOptions) (Mail, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return Mail{}, fmt.Errorf("mailbox: reading message: %w", err)
	}
	h := mail.Header{Header: e.Header}
	var m Mail
	if id, err := h.MessageID(); err == nil && id != "" {
		m.MessageID = id
	} else {
		sum := sha256.Sum256(raw)
		m.MessageID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	if ids, err := h.MsgIDList("In-Reply-To"); err == nil && len(ids) > 0 {
		m.InReplyTo = ids[0]
	}
	if ids, err := h.MsgIDList("References"); err == nil {
		m.References = ids
	}
	if addrs, err := h.AddressList("From"); err == nil && len(addrs) > 0 {
		m.From, m.Name = strings.ToLower(addrs[0].Address), addrs[0].Name
	} else if a, err := email.ParseAddress(e.Header.Get("From")); err == nil {
		m.From, m.Name = a.Address, a.Name
	}
	if m.Subject, err = h.Subject(); err != nil {
		m.Subject = e.Header.Get("Subject")
	}
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	if m.Date, err = h.Date(); err != nil {
		m.Date = time.Time{}
	}
	m.Auth = email.ReadAuthenticationResults(e.Header.Values("Authentication-Results"), opts.AuthservID, m.From)
	m.Machine = MachineReason(e.Header, m.From, opts.Own)

	var plain, html string
	walk(e, 0, &plain, &html, &m.Attachments)
	body := plain
	if strings.TrimSpace(body) == "" && html != "" {
		body = HTMLText(html)
	}
	m.Text = email.StripQuoted(body)
	return m, nil
}

// walk collects the first text/plain and text/html bodies that are not
// attachments, and the names of the parts it does not read.
func walk(e *message.Entity, depth int, plain, html *string, attachments *[]string) {
	if depth > 10 {
		return
	}
	t, params, _ := e.Header.ContentType()
	if t == "" {
		t = "text/plain"
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	if mr := e.MultipartReader(); mr != nil {
		if t == "multipart/report" {
			// A delivery report's first part is the machine's notice; the
			// rest (status, the returned message) is not anyone's words.
			if p, err := mr.NextPart(); err == nil {
				walk(p, depth+1, plain, html, attachments)
			}
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				if !errors.Is(err, io.EOF) && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
					return
				}
				if errors.Is(err, io.EOF) {
					return
				}
			}
			if p == nil {
				return
			}
			walk(p, depth+1, plain, html, attachments)
		}
	}
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if d, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = d
	}
	isAttachment := disp == "attachment" || (name != "" && !strings.HasPrefix(t, "text/"))
	switch {
	case !isAttachment && t == "text/plain" && *plain == "":
		*plain = readText(e.Body)
	case !isAttachment && t == "text/html" && *html == "":
		*html = readText(e.Body)
	case isAttachment || !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "multipart/"):
		if name == "" {
			name = t
		}
		*attachments = append(*attachments, name)
	}
}

func readText(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxBody))
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// Message makes the mail a chat message of the email channel for tenant,
// received in mailbox (the hotel's address).
func (m Mail) Message(tenant, mailbox string, received time.Time) chat.Message {
	ts := m.Date
	if ts.IsZero() || ts.After(received.Add(time.Hour)) {
		ts = received
	}
	text := m.Text
	if text == "" {
		text = m.Subject
	}
	msg := chat.Message{
		TenantID:   tenant,
		Channel:    chat.Gmail,
		ID:         m.MessageID,
		From:       m.From,
		To:         strings.ToLower(mailbox),
		Name:       m.Name,
		Timestamp:  ts.UTC(),
		Kind:       chat.KindText,
		Text:       text,
		Subject:    m.Subject,
		References: threadOf(m.References, m.InReplyTo),
		Email: &chat.EmailFacts{
			Verified:    m.Auth.Verified,
			Auth:        m.Auth.Summary(),
			Attachments: m.Attachments,
		},
	}
	if text == "" && len(m.Attachments) > 0 {
		msg.Text = strings.Join(m.Attachments, ", ")
	}
	return msg
}

// threadOf is References, with In-Reply-To last when References lacks it.
func threadOf(refs []string, inReplyTo string) []string {
	out := append([]string(nil), refs...)
	if inReplyTo != "" && (len(out) == 0 || out[len(out)-1] != inReplyTo) {
		found := false
		for _, r := range out {
			found = found || r == inReplyTo
		}
		if !found {
			out = append(out, inReplyTo)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
