package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/mailbox"
	"github.com/agentehotel/agente-caddy/test/mailfixtures"
	"github.com/agentehotel/agente-caddy/test/smtpserver"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

const mailTenant = "tenant_hotel_sol"

// mailStack is the binary reading the hotel's mailbox in a real Dovecot and
// answering through a real SMTP server, which delivers the answers into the
// guests' Dovecot mailboxes.
type mailStack struct {
	t    *testing.T
	logs strings.Builder // of the instances before a restart
	in   *Instance
	dc   *testservices.DovecotServer
	smtp *smtpserver.Server
	db   *pgxpool.Pool
}

func startMailStack(t *testing.T) *mailStack {
	t.Helper()
	hotelBox := mailfixtures.Mailbox
	dc := testservices.StartDovecot(t, hotelBox, "ana.garcia@gmail.test", "john.smith@icloud.test", "victor@victim.test")
	s := &mailStack{t: t, dc: dc}
	s.smtp = smtpserver.Start(t, hotelBox, testservices.DovecotPassword, func(m smtpserver.Mail) {
		for _, rcpt := range m.To {
			if dc.HasUser(rcpt) {
				if err := dc.Deliver(rcpt, m.Data); err != nil {
					t.Errorf("delivering the reply to %s: %v", rcpt, err)
				}
			}
		}
	})
	pgURL := testservices.Postgres(t)
	s.in = Start(t, Options{Env: map[string]string{
		"POSTGRES_URL":       pgURL,
		"GMAIL_USERNAME":     hotelBox,
		"GMAIL_APP_PASSWORD": testservices.DovecotPassword,
		"IMAP_ADDR":          dc.Addr(),
		"IMAP_AUTHSERV_ID":   mailfixtures.AuthservID,
		"IMAP_TENANT_ID":     mailTenant,
		"SMTP_ADDR":          s.smtp.Addr(),
		"RATE_LIMIT_ENABLED": "false",
	}})
	db, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	s.db = db
	status, _, body := Do(t, http.MethodPost, s.in.URL("/admin/tenants"), []byte(`{"tenant_id":"`+mailTenant+`","name":"Hotel Sol"}`), adminJSONHeader(t, "e2e-mail"))
	if status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", status, body)
	}
	return s
}

// repliesTo are the answers sent to addr so far, parsed.
func (s *mailStack) repliesTo(addr string) []*mail.Message {
	var out []*mail.Message
	for _, m := range s.smtp.Mails() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					s.t.Fatalf("reply to %s unreadable: %v", addr, err)
				}
				out = append(out, msg)
			}
		}
	}
	return out
}

func (s *mailStack) waitReply(addr string, within time.Duration) (*mail.Message, time.Duration) {
	s.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if r := s.repliesTo(addr); len(r) > 0 {
			return r[0], time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no reply to %s within %v\n%s", addr, within, s.in.Logs())
	return nil, 0
}

func body(t *testing.T, m *mail.Message) string {
	t.Helper()
	e, err := mailbox.Parse(readAll(t, m), mailbox.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e.Text
}

func readAll(t *testing.T, m *mail.Message) []byte {
	var b bytes.Buffer
	for k, vs := range m.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	_, _ = b.ReadFrom(m.Body)
	return b.Bytes()
}

// TestMailboxAnswersGuestsOnce is the email channel for real, end to end:
// a guest's mail delivered into the hotel's Dovecot mailbox is answered
// within seconds by SMTP with a reply that threads under it in the guest's
// own mailbox; a restart while mail waits answers it exactly once; the
// real-world MIME fixtures are read into what their senders wrote;
// machines (a bounce, an out-of-office, a newsletter) get no answer; and a
// forged From asking to cancel another guest's booking cancels nothing and
// is told why, in the guest's language.
func TestMailboxAnswersGuestsOnce(t *testing.T) {
	s := startMailStack(t)
	hotelBox := mailfixtures.Mailbox

	// 1. A guest's Gmail reply, answered within seconds, threaded.
	s.dc.Append(hotelBox, mailfixtures.Raw("gmail_reply"))
	r, took := s.waitReply("ana.garcia@gmail.test", 30*time.Second)
	t.Logf("gmail_reply answered %v after delivery into Dovecot", took.Round(time.Millisecond))
	h := r.Header
	if h.Get("In-Reply-To") != "<CAF1gmail-reply-0001@mail.gmail.test>" ||
		strings.Join(strings.Fields(h.Get("References")), " ") != "<reply-1@hotel.test> <CAF1gmail-reply-0001@mail.gmail.test>" ||
		h.Get("Subject") != "Re: Your stay at Hotel Sol" || h.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("reply headers: In-Reply-To %q References %q Subject %q Auto-Submitted %q",
			h.Get("In-Reply-To"), h.Get("References"), h.Get("Subject"), h.Get("Auto-Submitted"))
	}
	// In the guest's mailbox, the answer sits under the guest's mail.
	testservices.Eventually(t, 10*time.Second, "the reply reaches the guest's mailbox", func() bool {
		raws, _ := s.dc.Messages("ana.garcia@gmail.test")
		return len(raws) == 1
	})
	raws, _ := s.dc.Messages("ana.garcia@gmail.test")
	inGuestBox, err := mailbox.Parse(raws[0], mailbox.ParseOptions{})
	if err != nil || inGuestBox.InReplyTo != "CAF1gmail-reply-0001@mail.gmail.test" || !strings.HasPrefix(inGuestBox.Subject, "Re: ") {
		t.Errorf("reply in the guest's mailbox: %+v, %v", inGuestBox, err)
	}
	t.Logf("reply to gmail_reply: %q", inGuestBox.Text)

	// 2. Restart mid-way: mail arrives while the binary is down, and
	// another just before it is killed. Each is answered exactly once.
	s.logs.WriteString(s.in.Logs())
	s.in.Stop()
	s.dc.Append(hotelBox, mailfixtures.Raw("apple_mail_reply"))
	s.in.Restart()
	s.waitReply("john.smith@icloud.test", 30*time.Second)
	s.dc.Append(hotelBox, mailfixtures.Raw("latin1_qp"))
	time.Sleep(200 * time.Millisecond)
	s.logs.WriteString(s.in.Logs())
	s.in.Kill()
	s.in.Restart()
	s.waitReply("juergen.mueller@web.test", 60*time.Second)

	// 3. The other fixtures: people answered, machines not.
	for _, name := range []string{"outlook_reply", "attachment_html", "newsletter_html", "bounce", "out_of_office"} {
		s.dc.Append(hotelBox, mailfixtures.Raw(name))
	}
	jordi, _ := s.waitReply("jordi.puig@outlook.test", 30*time.Second)
	lucia, _ := s.waitReply("lucia.fernandez@yahoo.test", 30*time.Second)
	if !strings.Contains(body(t, lucia), "passport.pdf") {
		t.Errorf("the attachment is not mentioned: %q", body(t, lucia))
	}
	t.Logf("reply to outlook_reply: %q", body(t, jordi))

	// 4. A forged From (DMARC fail at the receiving server) asks, in
	// English, to cancel another guest's booking.
	const booking = "DEMO-777001"
	if _, err := s.db.Exec(context.Background(), `INSERT INTO demo_pms_bookings (id, tenant_id, property_id, reference, status,
		room_type_id, room_name, check_in, check_out, adults, children, guest_first_name, guest_last_name, guest_email, total_price, currency)
		VALUES ($1, $2, 0, 'e2e-victim', 1, 1, 'Doble', '2026-12-20', '2026-12-22', 2, 0, 'Victor', 'Victim', 'victor@victim.test', 240, 'EUR')`,
		booking, mailTenant); err != nil {
		t.Fatal(err)
	}
	s.dc.Append(hotelBox, mailfixtures.With("spoofed_cancel", map[string]string{"BOOKING_ID": booking}))
	spoofReply, _ := s.waitReply("victor@victim.test", 30*time.Second)
	text := body(t, spoofReply)
	t.Logf("reply to the forged cancellation: %q", text)
	if !strings.Contains(text, "cannot change or cancel a booking by email") || !strings.Contains(text, booking+" has not been changed") {
		t.Errorf("the refusal does not say why, in English: %q", text)
	}
	var status int
	if err := s.db.QueryRow(context.Background(), `SELECT status FROM demo_pms_bookings WHERE id = $1`, booking).Scan(&status); err != nil || status != 1 {
		t.Errorf("the booking's status is %d (%v), want 1 (new): the forged mail changed it", status, err)
	}

	// Exactly one answer per guest mail, none to a machine, after a
	// moment for anything late.
	time.Sleep(3 * time.Second)
	for addr, want := range map[string]int{
		"ana.garcia@gmail.test": 1, "john.smith@icloud.test": 1, "juergen.mueller@web.test": 1,
		"jordi.puig@outlook.test": 1, "lucia.fernandez@yahoo.test": 1, "victor@victim.test": 1,
		"news@traveldeals.test": 0, "mailer-daemon@mx.guestmail.test": 0, "maria.lopez@company.test": 0,
	} {
		if got := len(s.repliesTo(addr)); got != want {
			t.Errorf("%d replies to %s, want %d", got, addr, want)
		}
	}
	if n := len(s.smtp.Mails()); n != 6 {
		t.Errorf("%d mails sent, want 6", n)
	}
	// What the agent understood of each mail, as logged.
	understood := regexp.MustCompile(`"msg":"(mail understood|mail from a machine: not answered)".*?"from":"([^"]+)".*?"auth":"([^"]*)".*?"text":"((?:[^"\\]|\\.)*)"(?:,"reason":"([^"]*)")?`)
	for _, m := range understood.FindAllStringSubmatch(s.logs.String()+s.in.Logs(), -1) {
		t.Logf("%s: %s [%s] %s → %s", m[1], m[2], m[3], m[5], m[4])
	}
}

// TestHotelMailboxFromTheAdminAPI: a hotel gets its own mailbox through
// the admin API; the password is stored sealed (never in clear, never
// shown), the hotel's mailbox is read at once and its guests are answered
// from the hotel's own address and server.
func TestHotelMailboxFromTheAdminAPI(t *testing.T) {
	const hotelBox, tenant = "recepcion@hotel-luna.test", "tenant_hotel_luna"
	dc := testservices.StartDovecot(t, hotelBox, "ana.garcia@gmail.test")
	smtp := smtpserver.Start(t, hotelBox, testservices.DovecotPassword, nil)
	pgURL := testservices.Postgres(t)
	in := Start(t, Options{Env: map[string]string{"POSTGRES_URL": pgURL, "RATE_LIMIT_ENABLED": "false"}})
	hdr := adminJSONHeader(t, "e2e-mailbox-admin")
	if status, _, body := Do(t, http.MethodPost, in.URL("/admin/tenants"), []byte(`{"tenant_id":"`+tenant+`","name":"Hotel Luna"}`), hdr); status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", status, body)
	}
	url := in.URL("/admin/tenants/" + tenant + "/mailbox")
	put := `{"imap_addr":"` + dc.Addr() + `","smtp_addr":"` + smtp.Addr() + `","username":"` + hotelBox + `","password":"` +
		testservices.DovecotPassword + `","address":"` + hotelBox + `","authserv_id":"` + mailfixtures.AuthservID + `"}`
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{http.MethodGet, url, "", http.StatusNotFound},
		{http.MethodPut, url, `{"imap_addr":"nohost","smtp_addr":"x:1","username":"u","password":"p","address":"a@b.c"}`, http.StatusBadRequest},
		{http.MethodPut, in.URL("/admin/tenants/nobody/mailbox"), put, http.StatusNotFound},
		{http.MethodPost, url, put, http.StatusMethodNotAllowed},
		{http.MethodPut, url, put, http.StatusOK},
	} {
		status, _, body := Do(t, c.method, c.url, []byte(c.body), hdr)
		if status != c.status || strings.Contains(body, testservices.DovecotPassword) {
			t.Fatalf("%s %s: %d %s, want %d without the password", c.method, c.url, status, body, c.status)
		}
	}
	if status, _, body := Do(t, http.MethodPut, url, []byte(put), map[string]string{"Content-Type": "application/json"}); status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d %s", status, body)
	}
	staff, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, "admin-token", "--sub", "reception", "--role", "staff", "--tenant", tenant, "--ttl", "10m")
	if code != 0 {
		t.Fatalf("admin-token: %s", staff)
	}
	staffHdr := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(staff), "Content-Type": "application/json"}
	if status, _, body := Do(t, http.MethodGet, url, nil, staffHdr); status != http.StatusForbidden {
		t.Fatalf("a staff token reads the hotel's mailbox: %d %s", status, body)
	}
	status, _, body := Do(t, http.MethodGet, url, nil, hdr)
	if status != http.StatusOK || !strings.Contains(body, `"username":"`+hotelBox+`"`) || strings.Contains(body, "password") {
		t.Fatalf("GET: %d %s", status, body)
	}
	db, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(context.Background(), `SELECT password_sealed FROM tenant_mailboxes WHERE tenant_id = $1`, tenant).Scan(&sealed); err != nil ||
		bytes.Contains(sealed, []byte(testservices.DovecotPassword)) || len(sealed) < 12+16 {
		t.Fatalf("stored password: %x %v", sealed, err)
	}

	dc.Append(hotelBox, mailfixtures.Raw("gmail_reply"))
	mails, err := smtp.WaitForMails(1, 30*time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, in.Logs())
	}
	m := mails[0]
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil || m.AuthUser != hotelBox || m.From != hotelBox || !strings.Contains(msg.Header.Get("From"), hotelBox) ||
		msg.Header.Get("In-Reply-To") != "<CAF1gmail-reply-0001@mail.gmail.test>" || !strings.Contains(string(m.Data), "Hotel Luna") {
		t.Fatalf("reply from %q (auth %q), header From %q, In-Reply-To %q: %v\n%s", m.From, m.AuthUser, msg.Header.Get("From"), msg.Header.Get("In-Reply-To"), err, m.Data)
	}

	// Deleted: the hotel's mailbox is no longer read.
	if status, _, body := Do(t, http.MethodDelete, url, nil, hdr); status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	time.Sleep(time.Second)
	dc.Append(hotelBox, mailfixtures.Raw("apple_mail_reply"))
	time.Sleep(3 * time.Second)
	if n := len(smtp.Mails()); n != 1 {
		t.Errorf("%d replies after the mailbox was deleted, want still 1", n)
	}
}
