package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakesmtp"
)

// TestGmailWebhookRepliesBySMTP: the email channel end to end through the
// binary. A signed POST /webhooks/gmail goes through the same chain and
// agent as WhatsApp (the sender's address decides the hotel), and the reply
// leaves by SMTP (SMTP_ADDR, authenticated as GMAIL_USERNAME) as an answer
// to the guest's email: To the guest, "Re: <subject>", In-Reply-To and
// References the guest's Message-ID, the agent's reply as the body.
func TestGmailWebhookRepliesBySMTP(t *testing.T) {
	const mailbox, password = "reservas@hotel.example", "e2e-app-password"
	smtp := fakesmtp.Start(t, fakesmtp.Options{User: mailbox, Password: password})
	in := Start(t, Options{Env: map[string]string{
		"ENVIRONMENT": "test", "SMTP_ADDR": smtp.Addr(), "GMAIL_USERNAME": mailbox, "GMAIL_APP_PASSWORD": password,
	}})

	cases := []struct {
		name, payload                         string
		to, subject, inReplyTo, hotel, quoted string
	}{
		{
			name: "new question with a Message-ID",
			payload: `{"from":"Guest One <guest1@barcelona.com>","subject":"Consulta disponibilidad habitación",` +
				`"body":"Buenos días, ¿tienen habitación del 5 al 7 de diciembre para 2?\n\nOn Mon, someone wrote:\n> old text",` +
				`"timestamp":"2026-11-20T10:30:00Z","message_id":"<CAF=e2e.1@mail.gmail.com>"}`,
			to: "guest1@barcelona.com", subject: "Re: Consulta disponibilidad habitación", inReplyTo: "<CAF=e2e.1@mail.gmail.com>",
			hotel: "Hotel Barcelona Beach", quoted: "old text",
		},
		{
			name:    "reply without a Message-ID",
			payload: `{"from":"guest1@sevilla.com","subject":"RE: hola","body":"Hola","timestamp":"2026-11-20T10:31:00Z"}`,
			to:      "guest1@sevilla.com", subject: "RE: hola", hotel: "Hotel Sevilla Plaza",
		},
	}
	for i, c := range cases {
		status, _, got := Do(t, "POST", in.URL("/webhooks/gmail"), []byte(c.payload), signedBy(gmailSecret, c.payload, nil))
		if status != 200 {
			t.Fatalf("%s: %d %s", c.name, status, got)
		}
		var answer testModeReply
		_ = json.Unmarshal([]byte(got), &answer)
		reply := replyText(t, got)
		if !strings.Contains(reply, c.hotel) {
			t.Fatalf("%s: reply %q does not come from %s", c.name, reply, c.hotel)
		}
		mails, err := smtp.WaitForMails(i+1, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, in.Logs())
		}
		m := mails[i]
		if m.From != mailbox || len(m.To) != 1 || m.To[0] != c.to || m.AuthUser != mailbox {
			t.Fatalf("%s: envelope from %q to %v auth %q", c.name, m.From, m.To, m.AuthUser)
		}
		msg, err := m.Parse()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, m.Data)
		}
		h := msg.Header
		if !strings.Contains(h.Get("To"), c.to) || !strings.Contains(h.Get("From"), mailbox) || msg.Subject() != c.subject {
			t.Errorf("%s: To %q From %q Subject %q, want %s, %s, %q", c.name, h.Get("To"), h.Get("From"), msg.Subject(), c.to, mailbox, c.subject)
		}
		if h.Get("In-Reply-To") != c.inReplyTo || h.Get("References") != c.inReplyTo {
			t.Errorf("%s: In-Reply-To %q References %q, want %q", c.name, h.Get("In-Reply-To"), h.Get("References"), c.inReplyTo)
		}
		if h.Get("Auto-Submitted") != "auto-replied" || h.Get("Message-ID") == "" || h.Get("Date") == "" ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/plain; charset=UTF-8") {
			t.Errorf("%s: headers %v", c.name, h)
		}
		// The body is the reply the agent gave (text replies carry no
		// buttons); the guest's quoted history was not answered.
		if answer.ResponseType == "text" && strings.TrimSpace(msg.Body) != strings.TrimSpace(reply) {
			t.Errorf("%s: body %q, want the reply %q", c.name, msg.Body, reply)
		}
		if !strings.Contains(msg.Body, c.hotel) || (c.quoted != "" && strings.Contains(msg.Body, c.quoted)) {
			t.Errorf("%s: body %q", c.name, msg.Body)
		}
	}
	if smtp.FailedAuths() != 0 {
		t.Fatalf("%d failed SMTP logins", smtp.FailedAuths())
	}
}
