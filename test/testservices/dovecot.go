package testservices

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// DovecotServer is a private, throwaway Dovecot IMAP server a test owns:
// plain authentication on a 127.0.0.1 port, users from a passwd file,
// Maildirs in a temporary directory. Mail is put into it with Append, in
// its wire form, as a delivering server would.
type DovecotServer struct {
	t     testing.TB
	d     *localserver.Dovecot
	users map[string]string

	mu      sync.Mutex
	running bool
}

// DovecotPassword is every test user's password.
const DovecotPassword = "test-password"

var dovecotInstall sync.Mutex

// StartDovecot starts Debian's Dovecot with the given users (password
// DovecotPassword), installing dovecot-imapd first when it is missing and
// the test runs as root. It is stopped and its files removed when the test
// ends. Skips locally (fails under CI=true) when Dovecot cannot be had.
func StartDovecot(t testing.TB, users ...string) *DovecotServer {
	t.Helper()
	return StartDovecotWith(t, localserver.DovecotOptions{}, users...)
}

// StartDovecotWith is StartDovecot with options (no IDLE, STARTTLS).
func StartDovecotWith(t testing.TB, opts localserver.DovecotOptions, users ...string) *DovecotServer {
	t.Helper()
	dovecotInstall.Lock()
	bin, err := localserver.DovecotBinary()
	if err != nil {
		var out bytes.Buffer
		if ierr := localserver.AptInstall(&out, "dovecot-imapd"); ierr != nil {
			err = fmt.Errorf("%v; installing: %v\n%s", err, ierr, out.Bytes())
		} else {
			bin, err = localserver.DovecotBinary()
		}
	}
	dovecotInstall.Unlock()
	Require(t, "Dovecot", err)
	pw := map[string]string{}
	for _, u := range users {
		pw[u] = DovecotPassword
	}
	d, err := localserver.NewDovecot(bin, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &DovecotServer{t: t, d: d, users: pw}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.Failed() {
			t.Logf("dovecot log:\n%s", d.Log())
		}
		d.Stop()
		s.running = false
		d.Remove()
	})
	s.Start()
	return s
}

// Addr is the server's IMAP address, host:port (no TLS).
func (s *DovecotServer) Addr() string { return s.d.Addr() }

// Start starts (or restarts) the server.
func (s *DovecotServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return
	}
	if err := s.d.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.running = true
}

// Stop stops the server; its mail stays for a restart.
func (s *DovecotServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d.Stop()
	s.running = false
}

// Login opens an IMAP session as user.
func (s *DovecotServer) Login(user string) (*client.Client, error) {
	c, err := client.Dial(s.Addr())
	if err != nil {
		return nil, err
	}
	if ok, _ := c.SupportStartTLS(); ok {
		// The test's own certificate: this is a test's helper, not the
		// code under test, which verifies.
		if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
			c.Logout()
			return nil, err
		}
	}
	c.Timeout = 20 * time.Second
	if err := c.Login(user, DovecotPassword); err != nil {
		c.Logout()
		return nil, err
	}
	return c, nil
}

// Append delivers raw (an RFC 5322 message, CRLF or LF line ends) into
// user's INBOX as unseen, with IMAP APPEND.
func (s *DovecotServer) Append(user string, raw []byte) {
	s.t.Helper()
	if err := s.Deliver(user, raw); err != nil {
		s.t.Fatal(err)
	}
}

// AppendAt is Append with flags (`\\Seen`...) and the server's receipt
// time (INTERNALDATE).
func (s *DovecotServer) AppendAt(user string, raw []byte, flags []string, received time.Time) {
	s.t.Helper()
	if err := s.deliver(user, raw, flags, received); err != nil {
		s.t.Fatal(err)
	}
}

// Deliver is Append for any goroutine: it returns the error.
func (s *DovecotServer) Deliver(user string, raw []byte) error {
	return s.deliver(user, raw, nil, time.Now())
}

func (s *DovecotServer) deliver(user string, raw []byte, flags []string, received time.Time) error {
	c, err := s.Login(user)
	if err != nil {
		return fmt.Errorf("dovecot login %s: %w", user, err)
	}
	defer c.Logout()
	raw = bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	if err := c.Append("INBOX", flags, received, bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("dovecot append for %s: %w", user, err)
	}
	return nil
}

// HasUser reports whether user has a mailbox here.
func (s *DovecotServer) HasUser(user string) bool {
	_, ok := s.users[user]
	return ok
}

// Messages returns the raw messages of user's INBOX, oldest first, and
// their flags.
func (s *DovecotServer) Messages(user string) (raws [][]byte, flags [][]string) {
	s.t.Helper()
	c, err := s.Login(user)
	if err != nil {
		s.t.Fatalf("dovecot login %s: %v", user, err)
	}
	defer c.Logout()
	mb, err := c.Select("INBOX", true)
	if err != nil {
		s.t.Fatalf("select: %v", err)
	}
	if mb.Messages == 0 {
		return nil, nil
	}
	set := new(imap.SeqSet)
	set.AddRange(1, mb.Messages)
	section := &imap.BodySectionName{Peek: true}
	ch := make(chan *imap.Message, mb.Messages)
	if err := c.Fetch(set, []imap.FetchItem{section.FetchItem(), imap.FetchFlags}, ch); err != nil {
		s.t.Fatalf("fetch: %v", err)
	}
	for m := range ch {
		var b bytes.Buffer
		if r := m.GetBody(section); r != nil {
			_, _ = b.ReadFrom(r)
		}
		raws = append(raws, b.Bytes())
		flags = append(flags, m.Flags)
	}
	return raws, flags
}
