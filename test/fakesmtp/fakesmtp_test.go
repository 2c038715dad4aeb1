package fakesmtp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/email"
)

// The binary's sender (internal/email) delivers to the fake: AUTH PLAIN,
// envelope, headers and the quoted-printable body survive the trip.
func TestSenderDeliversToFake(t *testing.T) {
	s := Start(t, Options{User: "hotel@example.com", Password: "app-pass"})
	sender := &email.Sender{Addr: s.Addr(), Username: "hotel@example.com", Password: "app-pass", From: "hotel@example.com"}
	in := chat.Message{Channel: chat.Gmail, ID: "abc123@mail.example", From: "guest@example.org", Subject: "Consulta habitación"}
	long := "Hola, " + strings.Repeat("disponibilidad ", 10) + "¿algo más?"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sender.SendReply(ctx, in, chat.Reply{Kind: chat.ReplyText, Text: long}); err != nil {
		t.Fatal(err)
	}
	mails, err := s.WaitForMails(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := mails[0]
	if m.From != "hotel@example.com" || len(m.To) != 1 || m.To[0] != "guest@example.org" || m.AuthUser != "hotel@example.com" {
		t.Fatalf("envelope %+v", m)
	}
	msg, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject() != "Re: Consulta habitación" || msg.Header.Get("In-Reply-To") != "<abc123@mail.example>" {
		t.Fatalf("headers %v (subject %q)", msg.Header, msg.Subject())
	}
	if strings.TrimSpace(msg.Body) != long {
		t.Fatalf("body %q, want %q", msg.Body, long)
	}
}

func TestAuthRequired(t *testing.T) {
	s := Start(t, Options{User: "hotel@example.com", Password: "right"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wrong := &email.Sender{Addr: s.Addr(), Username: "hotel@example.com", Password: "wrong", From: "hotel@example.com"}
	if err := wrong.Send(ctx, "guest@example.org", "x", chat.Reply{Text: "x"}); err == nil || s.FailedAuths() != 1 {
		t.Fatalf("wrong password: err %v, failed auths %d", err, s.FailedAuths())
	}
	none := &email.Sender{Addr: s.Addr(), From: "hotel@example.com"}
	if err := none.Send(ctx, "guest@example.org", "x", chat.Reply{Text: "x"}); err == nil {
		t.Fatal("MAIL without AUTH accepted")
	}
	if len(s.Mails()) != 0 {
		t.Fatalf("accepted %d mails", len(s.Mails()))
	}
}
