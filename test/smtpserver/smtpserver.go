// Package smtpserver receives mail for tests with a real SMTP server
// implementation (github.com/emersion/go-smtp's server, in the test's
// process) on 127.0.0.1: AUTH PLAIN for one user, every accepted message
// recorded and handed to Deliver (a test delivers it into the recipient's
// Dovecot mailbox, as the guest's provider would).
package smtpserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one accepted message.
type Mail struct {
	From     string
	To       []string
	Data     []byte
	AuthUser string
}

// Server is a running SMTP server.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	user string
	pass string
	// Deliver, when set, receives each accepted message before the server
	// answers DATA.
	deliver func(Mail)

	mu    sync.Mutex
	mails []Mail
	added chan struct{}
}

// Start listens on a free 127.0.0.1 port, requiring AUTH as user/password,
// and stops when the test ends.
func Start(t testing.TB, user, password string, deliver func(Mail)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, user: user, pass: password, deliver: deliver, added: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true // loopback only, no TLS certificate the client would trust
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Mails are the accepted messages so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitForMails waits until n messages were accepted.
func (s *Server) WaitForMails(n int, within time.Duration) ([]Mail, error) {
	deadline := time.After(within)
	for {
		if m := s.Mails(); len(m) >= n {
			return m, nil
		}
		select {
		case <-s.added:
		case <-deadline:
			return s.Mails(), fmt.Errorf("%d mails within %v, want %d", len(s.Mails()), within, n)
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	auth string
	mail Mail
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.user || password != se.s.pass {
			return errors.New("invalid credentials")
		}
		se.auth = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.auth == "" {
		return smtp.ErrAuthRequired
	}
	se.mail = Mail{From: from, AuthUser: se.auth}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.mail.To = append(se.mail.To, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return err
	}
	m := se.mail
	m.Data = b.Bytes()
	if se.s.deliver != nil {
		se.s.deliver(m)
	}
	se.s.mu.Lock()
	se.s.mails = append(se.s.mails, m)
	se.s.mu.Unlock()
	select {
	case se.s.added <- struct{}{}:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.mail = Mail{} }
func (se *session) Logout() error { return nil }
