// Package fakesmtp is a small ESMTP server on 127.0.0.1 for tests of the
// email sender and of the real binary: it speaks what net/smtp's client
// needs (EHLO/HELO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT), can require authentication, and records every accepted message.
//
//	s := fakesmtp.Start(t, fakesmtp.Options{User: "hotel@example.com", Password: "app"})
//	// SMTP_ADDR=s.Addr()
//	mails, err := s.WaitForMails(1, 5*time.Second)
//	msg, _ := mails[0].Parse()   // headers and the decoded body
//
// STARTTLS is offered only with Options.TLSConfig: the binary verifies
// certificates against the system roots, which a test certificate is not
// in. Plain AUTH is still possible because net/smtp allows it to localhost.
package fakesmtp

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a server.
type Options struct {
	// User and Password, when User is set, are required (AUTH PLAIN) before
	// MAIL; AUTH is not offered otherwise.
	User, Password string
	// TLSConfig, when set, makes the server offer STARTTLS with it.
	TLSConfig *tls.Config
	// AuthOnlyAfterTLS offers and accepts AUTH only after STARTTLS, as Gmail does.
	AuthOnlyAfterTLS bool
	// Addr is the address to listen on; default 127.0.0.1:0 (a free port).
	Addr string
	// Unresponsive accepts connections and never answers, as a hung server.
	Unresponsive bool
}

// Mail is one accepted message.
type Mail struct {
	From     string   // MAIL FROM address
	To       []string // RCPT TO addresses
	Data     []byte   // the message as sent after DATA (dot-unstuffed, LF line ends)
	AuthUser string   // who authenticated, "" without AUTH
	TLS      bool     // sent after STARTTLS
}

// Message is a parsed Mail: its header and its body decoded from the
// Content-Transfer-Encoding (quoted-printable, base64 or none).
type Message struct {
	Header mail.Header
	Body   string
}

// Subject is the decoded Subject header (RFC 2047 words decoded).
func (m Message) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

// Parse reads the message.
func (m Mail) Parse() (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return Message{}, err
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return Message{}, fmt.Errorf("decoding body: %w", err)
	}
	return Message{Header: msg.Header, Body: strings.ReplaceAll(string(b), "\r\n", "\n")}, nil
}

type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	out := p[:0]
	for _, c := range p[:k] {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return len(out), err
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	mails    []Mail
	changed  chan struct{} // closed and replaced on every accepted mail
	authSeen int           // AUTH commands, accepted or not
	authErr  int           // refused AUTH commands
}

// Start listens on Options.Addr until the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New listens on Options.Addr; Close stops it.
func New(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ln: ln, changed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port, for SMTP_ADDR.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening and waits for open sessions to end.
func (s *Server) Close() {
	s.ln.Close()
	s.wg.Wait()
}

// Mails is a copy of every accepted message, in order.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// FailedAuths is how many AUTH attempts were refused.
func (s *Server) FailedAuths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authErr
}

// AuthAttempts is how many AUTH commands arrived, accepted or not.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authSeen
}

// WaitForMails waits until at least n messages were accepted.
func (s *Server) WaitForMails(n int, within time.Duration) ([]Mail, error) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := append([]Mail(nil), s.mails...), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return got, fmt.Errorf("fakesmtp: %d of %d messages within %v", len(got), n, within)
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			s.session(conn)
		}()
	}
}

// maxData bounds a message (Gmail's limit is 25 MB; replies are small).
const maxData = 10 << 20

func (s *Server) session(conn net.Conn) {
	if s.opts.Unresponsive {
		_, _ = conn.Read(make([]byte, 1)) // until the client gives up
		return
	}
	tp := textproto.NewConn(conn)
	reply := func(format string, args ...any) bool { return tp.PrintfLine(format, args...) == nil }
	if !reply("220 fakesmtp.local ESMTP ready") {
		return
	}
	isTLS, authUser := false, ""
	authOffered := func() bool { return s.opts.User != "" && (isTLS || !s.opts.AuthOnlyAfterTLS) }
	var cur *Mail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		ok := true
		switch strings.ToUpper(verb) {
		case "EHLO":
			exts := []string{"fakesmtp.local greets " + arg, "8BITMIME", fmt.Sprintf("SIZE %d", maxData)}
			if s.opts.TLSConfig != nil && !isTLS {
				exts = append(exts, "STARTTLS")
			}
			if authOffered() {
				exts = append(exts, "AUTH PLAIN")
			}
			for i, e := range exts {
				sep := "-"
				if i == len(exts)-1 {
					sep = " "
				}
				ok = reply("250%s%s", sep, e)
			}
		case "HELO":
			ok = reply("250 fakesmtp.local")
		case "STARTTLS":
			if s.opts.TLSConfig == nil || isTLS {
				ok = reply("502 5.5.1 not offered")
				break
			}
			if !reply("220 2.0.0 go ahead") {
				return
			}
			tc := tls.Server(conn, s.opts.TLSConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			// RFC 3207: the session starts over.
			isTLS, authUser, cur = true, "", nil
			tp = textproto.NewConn(tc)
		case "AUTH":
			s.mu.Lock()
			s.authSeen++
			s.mu.Unlock()
			mech, resp, _ := strings.Cut(arg, " ")
			if !authOffered() || !strings.EqualFold(mech, "PLAIN") {
				ok = reply("504 5.5.4 unrecognised authentication type")
				break
			}
			if resp == "" {
				if !reply("334 ") {
					return
				}
				if resp, err = tp.ReadLine(); err != nil {
					return
				}
			}
			dec, _ := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(dec), "\x00")
			if len(parts) == 3 && parts[1] == s.opts.User && parts[2] == s.opts.Password {
				authUser = parts[1]
				ok = reply("235 2.7.0 accepted")
			} else {
				s.mu.Lock()
				s.authErr++
				s.mu.Unlock()
				ok = reply("535 5.7.8 bad credentials")
			}
		case "MAIL":
			if s.opts.User != "" && authUser == "" {
				ok = reply("530 5.7.0 authentication required")
				break
			}
			cur = &Mail{From: addrArg(arg, "FROM:"), AuthUser: authUser, TLS: isTLS}
			ok = reply("250 2.1.0 ok")
		case "RCPT":
			if cur == nil {
				ok = reply("503 5.5.1 MAIL first")
				break
			}
			cur.To = append(cur.To, addrArg(arg, "TO:"))
			ok = reply("250 2.1.5 ok")
		case "DATA":
			if cur == nil || len(cur.To) == 0 {
				ok = reply("503 5.5.1 RCPT first")
				break
			}
			if !reply("354 go ahead") {
				return
			}
			data, err := io.ReadAll(io.LimitReader(tp.DotReader(), maxData+1))
			if err != nil {
				return
			}
			if len(data) > maxData {
				ok = reply("552 5.3.4 message too big")
				cur = nil
				break
			}
			cur.Data = data
			s.mu.Lock()
			s.mails = append(s.mails, *cur)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			cur = nil
			ok = reply("250 2.0.0 queued")
		case "RSET":
			cur = nil
			ok = reply("250 2.0.0 ok")
		case "NOOP":
			ok = reply("250 2.0.0 ok")
		case "QUIT":
			_ = reply("221 2.0.0 bye")
			return
		default:
			ok = reply("502 5.5.2 unknown command")
		}
		if !ok {
			return
		}
	}
}

func addrArg(arg, prefix string) string {
	arg = strings.TrimSpace(arg)
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	arg, _, _ = strings.Cut(strings.TrimSpace(arg), " ")
	return strings.Trim(arg, "<>")
}
