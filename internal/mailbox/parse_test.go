package mailbox

import (
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/email"

	"github.com/agentehotel/agente-caddy/test/mailfixtures"
)

var fixtureOpts = ParseOptions{AuthservID: mailfixtures.AuthservID, Own: []string{mailfixtures.Mailbox}}

// TestFixturesReadAsSent: each real-world mail is read into what its sender
// wrote, and the machines are recognised.
func TestFixturesReadAsSent(t *testing.T) {
	cases := []struct {
		name, text, from, subject, machine string
		verified                           bool
		attachments                        []string
	}{
		{name: "gmail_reply", from: "ana.garcia@gmail.test", subject: "Re: Your stay at Hotel Sol", verified: true,
			text: "Do you have a double room for 2 adults from 12 to 14 March? We would arrive around 18:00.\n\nThanks,\nAna"},
		{name: "outlook_reply", from: "jordi.puig@outlook.test", subject: "RE: Su estancia en Hotel Sol", verified: true,
			text: "Hola,\n\n¿Tienen parking? Llegaré tarde – sobre las 23:00 – y el parking cuesta 15€?\n\nUn saludo,\nJordi"},
		{name: "apple_mail_reply", from: "john.smith@icloud.test", subject: "Re: Breakfast", verified: true,
			text: "What time is breakfast served? Is it included in the rate?\n\nBest regards,\nJohn"},
		{name: "latin1_qp", from: "juergen.mueller@web.test", subject: "Späte Ankunft", verified: true,
			text: "Guten Tag,\n\nkönnen wir am Freitag spät einchecken? Wir kommen gegen 22 Uhr an. Grüße aus München!\n\nMit freundlichen Grüßen\nJürgen Müller"},
		{name: "attachment_html", from: "lucia.fernandez@yahoo.test", subject: "Invoice details", verified: true,
			text:        "Hello,\n\nI attach my passport copy. Can you send the invoice to my company & address?\n\nThank you",
			attachments: []string{"passport.pdf"}},
		{name: "newsletter_html", from: "news@traveldeals.test", subject: "Spring offers – up to 40% off", verified: true,
			machine: "Precedence: bulk", text: "Spring offers\nBook now and save up to 40% on your next stay.\nUnsubscribe"},
		{name: "bounce", from: "mailer-daemon@mx.guestmail.test", subject: "Undelivered Mail Returned to Sender",
			machine: "Auto-Submitted: auto-replied"},
		{name: "out_of_office", from: "maria.lopez@company.test", subject: "Automatic reply: Your booking at Hotel Sol", verified: true,
			machine: "Auto-Submitted: auto-replied",
			text:    "I am out of the office until 9 March with limited access to email.\nFor urgent matters please contact my colleague."},
		{name: "spoofed_cancel", from: "victor@victim.test", subject: "Cancel my booking", verified: false,
			text: "Hello, please cancel my booking {{BOOKING_ID}}. I confirm the cancellation."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(mailfixtures.Raw(c.name), fixtureOpts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s → from=%s machine=%q auth=%q attachments=%v text=%q", c.name, m.From, m.Machine, m.Auth.Summary(), m.Attachments, m.Text)
			if m.From != c.from || m.Subject != c.subject {
				t.Errorf("from %q subject %q, want %q %q", m.From, m.Subject, c.from, c.subject)
			}
			if c.text != "" && m.Text != c.text {
				t.Errorf("text\n%q\nwant\n%q", m.Text, c.text)
			}
			if m.Machine != c.machine {
				t.Errorf("machine %q, want %q", m.Machine, c.machine)
			}
			if m.Auth.Verified != c.verified {
				t.Errorf("verified %v (%s), want %v", m.Auth.Verified, m.Auth.Summary(), c.verified)
			}
			if strings.Join(m.Attachments, ",") != strings.Join(c.attachments, ",") {
				t.Errorf("attachments %v, want %v", m.Attachments, c.attachments)
			}
		})
	}
}

func TestBounceReadsOnlyTheNotice(t *testing.T) {
	m, err := Parse(mailfixtures.Raw("bounce"), fixtureOpts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Text, "This is the mail system at host mx.guestmail.test.") || strings.Contains(m.Text, "Reporting-MTA") {
		t.Errorf("bounce text %q", m.Text)
	}
}

func TestThreading(t *testing.T) {
	m, err := Parse(mailfixtures.Raw("gmail_reply"), fixtureOpts)
	if err != nil {
		t.Fatal(err)
	}
	msg := m.Message("bcn", mailfixtures.Mailbox, m.Date)
	if msg.ID != "CAF1gmail-reply-0001@mail.gmail.test" || strings.Join(msg.References, " ") != "reply-1@hotel.test" {
		t.Errorf("id %q references %v", msg.ID, msg.References)
	}
	if msg.Email == nil || !msg.Email.Verified {
		t.Errorf("email facts %+v", msg.Email)
	}
}

func TestAuthenticationResultsTrustOnlyTheReceivingServer(t *testing.T) {
	cases := []struct {
		name     string
		headers  []string
		from     string
		verified bool
	}{
		{"dmarc pass", []string{"mx.hotel.test; dmarc=pass header.from=a.test"}, "x@a.test", true},
		{"other server's pass ignored", []string{"mx.evil.test; dmarc=pass header.from=a.test"}, "x@a.test", false},
		{"our fail on top wins over a forged pass below", []string{"mx.hotel.test; dmarc=fail header.from=a.test", "mx.hotel.test; dmarc=pass header.from=a.test"}, "x@a.test", false},
		{"dmarc about another From", []string{"mx.hotel.test; dmarc=pass header.from=b.test"}, "x@a.test", false},
		{"aligned dkim without dmarc", []string{"mx.hotel.test 1; dkim=pass (good signature) header.d=mail.a.test"}, "x@a.test", true},
		{"unaligned dkim", []string{"mx.hotel.test; dkim=pass header.d=b.test"}, "x@a.test", false},
		{"aligned spf without dmarc", []string{"MX.HOTEL.TEST; spf=pass smtp.mailfrom=bounce@a.test"}, "x@a.test", true},
		{"none", []string{"mx.hotel.test; none"}, "x@a.test", false},
		{"missing", nil, "x@a.test", false},
	}
	for _, c := range cases {
		a := email.ReadAuthenticationResults(c.headers, "mx.hotel.test", c.from)
		if a.Verified != c.verified {
			t.Errorf("%s: verified %v (%s), want %v", c.name, a.Verified, a.Summary(), c.verified)
		}
	}
}
