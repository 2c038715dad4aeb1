package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// Sender sends replies by SMTP (SMTP_ADDR, GMAIL_USERNAME, GMAIL_APP_PASSWORD).
//
// It upgrades with STARTTLS whenever the server offers it (and fails rather
// than continue in clear text if the upgrade fails), uses implicit TLS on
// port 465, and authenticates with AUTH PLAIN when Username is set: net/smtp
// refuses PLAIN over an unencrypted connection except to localhost, so
// credentials never cross the network in clear.
type Sender struct {
	// Addr is the server, host:port (smtp.gmail.com:587).
	Addr string
	// Username and Password authenticate (Gmail: the address and an app
	// password); empty Username means no AUTH.
	Username string
	Password string
	// From is the sender, "addr" or "Name <addr>".
	From string
	// HelloName is sent in EHLO; empty means "localhost".
	HelloName string
	// TLSConfig verifies the server; nil means the system roots and the
	// host of Addr as server name.
	TLSConfig *tls.Config
	// Now dates messages; nil means time.Now.
	Now func() time.Time
}

// defaultTimeout bounds a send whose context has no deadline.
const defaultTimeout = 60 * time.Second

// maxSubject bounds the subject, in runes.
const maxSubject = 200

// Send mails r to `to` as a new conversation: a plain-text UTF-8 message whose
// body is r.Plain() (buttons and list rows as numbered options), marked
// Auto-Submitted: auto-generated (RFC 3834).
func (s *Sender) Send(ctx context.Context, to, subject string, r chat.Reply) error {
	return s.send(ctx, to, subject, nil, r, "Auto-Submitted", "auto-generated")
}

// SendReply answers the inbound message in: to its sender, subject "Re: …"
// and, when in.ID is a real Message-ID, In-Reply-To/References so that the
// guest's mail client threads it. It is marked Auto-Submitted: auto-replied
// (RFC 3834) so that well-behaved autoresponders do not answer it back.
func (s *Sender) SendReply(ctx context.Context, in chat.Message, r chat.Reply) error {
	subject := strings.TrimSpace(in.Subject)
	if !hasReplyPrefix(subject) {
		subject = strings.TrimSpace("Re: " + subject)
	}
	var refs []string
	if IsMessageID(in.ID) {
		for _, id := range in.References {
			if IsMessageID(id) && id != in.ID && len(refs) < maxReferences-1 {
				refs = append(refs, id)
			}
		}
		refs = append(refs, in.ID)
	}
	return s.send(ctx, in.From, subject, refs, r, "Auto-Submitted", "auto-replied")
}

// maxReferences bounds the References header of a reply: the thread's
// first messages are dropped past it.
const maxReferences = 20

func hasReplyPrefix(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "re:") || strings.HasPrefix(l, "re :")
}

func (s *Sender) send(ctx context.Context, to, subject string, refs []string, r chat.Reply, extra ...string) (err error) {
	ctx, span := tracing.Start(ctx, "smtp.send", trace.SpanKindClient)
	defer func() { tracing.End(span, err) }()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("server.address", s.Addr))
	}
	from, err := ParseAddress(s.From)
	if err != nil {
		return fmt.Errorf("email: sender From: %w", err)
	}
	rcpt, err := ParseAddress(to)
	if err != nil {
		return fmt.Errorf("email: recipient: %w", err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	msg, err := compose(from, rcpt, subject, refs, r.Plain(), now(), extra)
	if err != nil {
		return err
	}
	if err := s.deliver(ctx, from.Address, rcpt.Address, msg); err != nil {
		ctxErr := ctx.Err()
		if d, ok := ctx.Deadline(); ctxErr == nil && ok && !time.Now().Before(d) {
			// The connection's deadline (the context's) fired a moment
			// before the context's own timer.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil && !errors.Is(err, ctxErr) {
			return fmt.Errorf("email: %w (%v)", ctxErr, err)
		}
		return err
	}
	return nil
}

// compose renders an RFC 5322 message. Header values come from parsed
// addresses and sanitised text, so no CR/LF can inject a header.
func compose(from, to *mail.Address, subject string, refs []string, body string, date time.Time, extra []string) ([]byte, error) {
	subject = strings.Join(strings.Fields(subject), " ")
	subject = truncate(subject, maxSubject)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("email: message id: %w", err)
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	if len(refs) > 0 {
		// The message answered is the thread's last; References carries
		// the thread on (RFC 5322 3.6.4).
		for _, id := range refs {
			if strings.ContainsAny(id, "<>\r\n\t ") {
				return nil, fmt.Errorf("email: reference %q is not a Message-ID", id)
			}
		}
		header("In-Reply-To", "<"+refs[len(refs)-1]+">")
		header("References", "<"+strings.Join(refs, ">\r\n <")+">")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		header(extra[i], extra[i+1])
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// deliver runs one SMTP session, bounded by ctx.
func (s *Sender) deliver(ctx context.Context, from, to string, msg []byte) error {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("email: SMTP address %q: %w", s.Addr, err)
	}
	tlsConfig := s.TLSConfig.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}
	var conn net.Conn
	if port == "465" { // SMTPS: TLS from the first byte
		d := tls.Dialer{Config: tlsConfig}
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return fmt.Errorf("email: dialing %s: %w", s.Addr, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultTimeout)
	}
	conn.SetDeadline(deadline)
	// A context cancelled mid-session unblocks every read and write.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("email: %s greeting: %w", s.Addr, err)
	}
	defer c.Close()
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("email: EHLO: %w", err)
	}
	if _, isTLS := c.TLSConnectionState(); !isTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("email: STARTTLS: %w", err)
			}
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("email: %s offers no AUTH but a username is configured", s.Addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("email: AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("email: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("email: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("email: writing message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: message not accepted: %w", err)
	}
	// The message was accepted at "." above; a failed QUIT loses nothing.
	_ = c.Quit()
	return nil
}
