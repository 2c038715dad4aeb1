package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a small ESMTP server for tests: EHLO/HELO, optional STARTTLS,
// optional AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type smtpServer struct {
	ln          net.Listener
	tlsConfig   *tls.Config // nil: no STARTTLS
	user, pass  string      // "": AUTH not offered nor required
	authOnlyTLS bool        // offer AUTH only after STARTTLS, as Gmail does
	silent      bool        // accept connections and never answer

	mu       sync.Mutex
	mails    []receivedMail
	authSeen int // AUTH commands received, successful or not
	wg       sync.WaitGroup
}

type receivedMail struct {
	From     string
	To       []string
	Data     string
	TLS      bool
	AuthUser string
}

func startSMTP(t *testing.T, s *smtpServer, addr string) *smtpServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				s.session(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) received() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mails...)
}

func (s *smtpServer) session(conn net.Conn) {
	if s.silent {
		buf := make([]byte, 1)
		conn.Read(buf) // until the client gives up
		return
	}
	tp := textproto.NewConn(conn)
	tp.PrintfLine("220 test.local ESMTP ready")
	isTLS, authUser := false, ""
	var cur *receivedMail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			exts := []string{"test.local greets " + arg, "8BITMIME"}
			if s.tlsConfig != nil && !isTLS {
				exts = append(exts, "STARTTLS")
			}
			if s.user != "" && (isTLS || !s.authOnlyTLS) {
				exts = append(exts, "AUTH PLAIN")
			}
			for i, e := range exts {
				sep := "-"
				if i == len(exts)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, e)
			}
		case "STARTTLS":
			if s.tlsConfig == nil || isTLS {
				tp.PrintfLine("502 5.5.1 not offered")
				continue
			}
			tp.PrintfLine("220 2.0.0 go ahead")
			tc := tls.Server(conn, s.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, isTLS, authUser, cur = tc, true, "", nil
			tp = textproto.NewConn(tc)
		case "AUTH":
			s.mu.Lock()
			s.authSeen++
			s.mu.Unlock()
			mech, resp, _ := strings.Cut(arg, " ")
			if s.user == "" || strings.ToUpper(mech) != "PLAIN" || (s.authOnlyTLS && !isTLS) {
				tp.PrintfLine("504 5.5.4 unrecognised authentication type")
				continue
			}
			if resp == "" {
				tp.PrintfLine("334 ")
				if resp, err = tp.ReadLine(); err != nil {
					return
				}
			}
			dec, _ := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(dec), "\x00")
			if len(parts) == 3 && parts[1] == s.user && parts[2] == s.pass {
				authUser = parts[1]
				tp.PrintfLine("235 2.7.0 accepted")
			} else {
				tp.PrintfLine("535 5.7.8 bad credentials")
			}
		case "MAIL":
			if s.user != "" && authUser == "" {
				tp.PrintfLine("530 5.7.0 authentication required")
				continue
			}
			cur = &receivedMail{From: addrArg(arg, "FROM:"), TLS: isTLS, AuthUser: authUser}
			tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			if cur == nil {
				tp.PrintfLine("503 5.5.1 MAIL first")
				continue
			}
			cur.To = append(cur.To, addrArg(arg, "TO:"))
			tp.PrintfLine("250 2.1.5 ok")
		case "DATA":
			if cur == nil || len(cur.To) == 0 {
				tp.PrintfLine("503 5.5.1 RCPT first")
				continue
			}
			tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			cur.Data = string(data)
			s.mu.Lock()
			s.mails = append(s.mails, *cur)
			s.mu.Unlock()
			cur = nil
			tp.PrintfLine("250 2.0.0 queued")
		case "RSET":
			cur = nil
			tp.PrintfLine("250 2.0.0 ok")
		case "NOOP":
			tp.PrintfLine("250 2.0.0 ok")
		case "QUIT":
			tp.PrintfLine("221 2.0.0 bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 unknown command")
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

// selfSigned returns a server config with a fresh certificate for
// 127.0.0.1/localhost and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test.local"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
