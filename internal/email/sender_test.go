package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/test/fakesmtp"
)

var sendTime = time.Date(2025, 10, 22, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))

// parseMail is the delivered message's header and decoded body.
func parseMail(t *testing.T, m fakesmtp.Mail) (mail.Header, string) {
	t.Helper()
	msg, err := m.Parse()
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, m.Data)
	}
	return msg.Header, msg.Body
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSendPlainServer(t *testing.T) {
	srv := fakesmtp.Start(t, fakesmtp.Options{})
	s := &Sender{Addr: srv.Addr(), From: "Hotel Barcelona <reservas@hotel-bcn.example>", Now: func() time.Time { return sendTime }}
	r := chat.Reply{Kind: chat.ReplyButtons, Text: "¿Confirmo la reserva de la doble del 5 al 7 de noviembre?",
		Buttons: []chat.Button{{ID: "yes", Title: "Sí, confirmar"}, {ID: "no", Title: "No"}}}
	if err := s.Send(context.Background(), "Guest1@Barcelona.com", "Tu reserva en el Hotel Barcelona", r); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	got := mails[0]
	if got.From != "reservas@hotel-bcn.example" || len(got.To) != 1 || got.To[0] != "guest1@barcelona.com" || got.TLS {
		t.Fatalf("envelope %+v", got)
	}
	h, body := parseMail(t, got)
	if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Name != "Hotel Barcelona" || from[0].Address != "reservas@hotel-bcn.example" {
		t.Fatalf("From %q", h.Get("From"))
	}
	if h.Get("To") != "<guest1@barcelona.com>" {
		t.Fatalf("To %q", h.Get("To"))
	}
	if subj := decodeHeader(t, h.Get("Subject")); subj != "Tu reserva en el Hotel Barcelona" {
		t.Fatalf("Subject %q", subj)
	}
	if d, err := h.Date(); err != nil || !d.Equal(sendTime) {
		t.Fatalf("Date %q %v", h.Get("Date"), err)
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@hotel-bcn\.example>$`).MatchString(h.Get("Message-ID")) {
		t.Fatalf("Message-ID %q", h.Get("Message-ID"))
	}
	if h.Get("In-Reply-To") != "" || h.Get("Auto-Submitted") != "auto-generated" {
		t.Fatalf("In-Reply-To %q Auto-Submitted %q", h.Get("In-Reply-To"), h.Get("Auto-Submitted"))
	}
	if h.Get("Content-Type") != "text/plain; charset=UTF-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" || h.Get("MIME-Version") != "1.0" {
		t.Fatalf("MIME headers %v", h)
	}
	want := "¿Confirmo la reserva de la doble del 5 al 7 de noviembre?\n\n1. Sí, confirmar\n2. No\n"
	if body != want {
		t.Fatalf("body %q, want %q", body, want)
	}
}

func TestSendReplyThreads(t *testing.T) {
	srv := fakesmtp.Start(t, fakesmtp.Options{})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example"}
	in := chat.Message{Channel: chat.Gmail, ID: "CAF=abc123@mail.gmail.com", From: "guest1@barcelona.com", Subject: "Consulta disponibilidad habitación"}
	list := chat.Reply{Kind: chat.ReplyList, Text: "Tenemos:", Sections: []chat.Section{{Rows: []chat.Row{{ID: "d", Title: "Doble", Description: "120 €"}, {ID: "s", Title: "Suite", Description: "220 €"}}}}}
	if err := s.SendReply(context.Background(), in, list); err != nil {
		t.Fatal(err)
	}
	in2 := in
	in2.ID, in2.Subject = "sha256:0123", "RE: Consulta"
	if err := s.SendReply(context.Background(), in2, chat.Reply{Text: "Gracias"}); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails", len(mails))
	}
	h, body := parseMail(t, mails[0])
	if subj := decodeHeader(t, h.Get("Subject")); subj != "Re: Consulta disponibilidad habitación" {
		t.Fatalf("Subject %q", subj)
	}
	if h.Get("In-Reply-To") != "<CAF=abc123@mail.gmail.com>" || h.Get("References") != "<CAF=abc123@mail.gmail.com>" || h.Get("Auto-Submitted") != "auto-replied" {
		t.Fatalf("threading headers %v", h)
	}
	if body != "Tenemos:\n\n1. Doble — 120 €\n2. Suite — 220 €\n" {
		t.Fatalf("body %q", body)
	}
	h2, _ := parseMail(t, mails[1])
	if subj := decodeHeader(t, h2.Get("Subject")); subj != "RE: Consulta" {
		t.Fatalf("Subject %q", subj)
	}
	if h2.Get("In-Reply-To") != "" {
		t.Fatalf("a hashed id must not be referenced: %q", h2.Get("In-Reply-To"))
	}
}

func TestSendSTARTTLSAndAuth(t *testing.T) {
	cfg, pool := selfSigned(t)
	srv := fakesmtp.Start(t, fakesmtp.Options{TLSConfig: cfg, User: "reservas@hotel-bcn.example", Password: "app-password", AuthOnlyAfterTLS: true})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example", Username: "reservas@hotel-bcn.example", Password: "app-password",
		TLSConfig: &tls.Config{RootCAs: pool}}
	if err := s.Send(context.Background(), "guest@example.com", "Hola", chat.Reply{Text: "Hola"}); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 || !mails[0].TLS || mails[0].AuthUser != "reservas@hotel-bcn.example" {
		t.Fatalf("mails %+v", mails)
	}

	t.Run("wrong password", func(t *testing.T) {
		bad := *s
		bad.Password = "nope"
		if err := bad.Send(context.Background(), "guest@example.com", "Hola", chat.Reply{Text: "Hola"}); err == nil || !strings.Contains(err.Error(), "AUTH") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("untrusted certificate fails, no clear-text fallback", func(t *testing.T) {
		untrusting := *s
		untrusting.TLSConfig = nil
		before := len(srv.Mails())
		err := untrusting.Send(context.Background(), "guest@example.com", "Hola", chat.Reply{Text: "Hola"})
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v", err)
		}
		if len(srv.Mails()) != before {
			t.Fatal("a message went through after a failed STARTTLS")
		}
	})
}

func TestSendNoClearTextAuthToRemoteHost(t *testing.T) {
	// 127.0.0.2 is loopback on Linux but not "localhost" to net/smtp, so it
	// stands for a remote server that offers no STARTTLS.
	srv := fakesmtp.Start(t, fakesmtp.Options{User: "u", Password: "p", Addr: "127.0.0.2:0"})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example", Username: "u", Password: "p"}
	err := s.Send(context.Background(), "guest@example.com", "Hola", chat.Reply{Text: "Hola"})
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Fatalf("err = %v", err)
	}
	if seen := srv.AuthAttempts(); seen != 0 || len(srv.Mails()) != 0 {
		t.Fatalf("credentials or mail sent in clear: auth %d mails %d", seen, len(srv.Mails()))
	}

	t.Run("localhost may authenticate in clear", func(t *testing.T) {
		srv := fakesmtp.Start(t, fakesmtp.Options{User: "u", Password: "p"})
		s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example", Username: "u", Password: "p"}
		if err := s.Send(context.Background(), "guest@example.com", "Hola", chat.Reply{Text: "Hola"}); err != nil {
			t.Fatal(err)
		}
		if m := srv.Mails(); len(m) != 1 || m[0].AuthUser != "u" {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("username but no AUTH offered", func(t *testing.T) {
		srv := fakesmtp.Start(t, fakesmtp.Options{})
		s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example", Username: "u", Password: "p"}
		if err := s.Send(context.Background(), "guest@example.com", "Hola", chat.Reply{Text: "Hola"}); err == nil || !strings.Contains(err.Error(), "no AUTH") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSendRespectsContext(t *testing.T) {
	srv := fakesmtp.Start(t, fakesmtp.Options{Unresponsive: true})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example"}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, "guest@example.com", "Hola", chat.Reply{Text: "Hola"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Generous bound: the point is that it does not wait for the server's
	// 30 s or our 60 s default.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		if err := s.Send(ctx, "guest@example.com", "Hola", chat.Reply{Text: "Hola"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSendRejectsHeaderInjection(t *testing.T) {
	srv := fakesmtp.Start(t, fakesmtp.Options{})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example"}
	if err := s.Send(context.Background(), "guest@example.com\r\nBcc: victim@example.com", "x", chat.Reply{Text: "x"}); err == nil {
		t.Fatal("recipient with CRLF accepted")
	}
	if err := s.Send(context.Background(), "guest@example.com", "Hola\r\nBcc: victim@example.com", chat.Reply{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	h, _ := parseMail(t, srv.Mails()[0])
	if h.Get("Bcc") != "" || !strings.Contains(decodeHeader(t, h.Get("Subject")), "Hola Bcc:") {
		t.Fatalf("headers %v", h)
	}
	if err := s.SendReply(context.Background(), chat.Message{From: "guest@example.com", ID: "a@b>\r\nBcc: v@x"}, chat.Reply{Text: "x"}); err != nil {
		t.Fatal(err) // not a Message-ID: sent without In-Reply-To
	}
	h, _ = parseMail(t, srv.Mails()[1])
	if h.Get("Bcc") != "" || h.Get("In-Reply-To") != "" {
		t.Fatalf("headers %v", h)
	}
}

func TestSendDotStuffingAndLongLines(t *testing.T) {
	srv := fakesmtp.Start(t, fakesmtp.Options{})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example"}
	text := "Línea\n.\n.. dos puntos\n" + strings.Repeat("ñ", 300)
	if err := s.Send(context.Background(), "guest@example.com", "x", chat.Reply{Text: text}); err != nil {
		t.Fatal(err)
	}
	delivered := srv.Mails()[0]
	for _, l := range strings.Split(string(delivered.Data), "\n") { // the dot reader turned CRLF into LF
		if len(l) > 78 {
			t.Fatalf("line of %d bytes", len(l))
		}
	}
	_, body := parseMail(t, delivered)
	if body != text+"\n" {
		t.Fatalf("body %q", body)
	}
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
