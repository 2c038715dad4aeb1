package e2e

// The conversational agent end to end: the real binary on real Postgres and
// Redis, replies delivered to the fake Graph API (test/fakegraph).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

const (
	// agentPhoneNumberID is the hotel's WhatsApp business number, the one
	// caddy/dev-tenants.yaml gives tenant_hotel_madrid.
	agentPhoneNumberID = "106540352242922"
	agentTenant        = "tenant_hotel_madrid"
	agentGraphToken    = "EAAG-e2e-agent-token"
)

// agentStack is one agente-caddy process on its own Postgres database and
// Redis key prefix, sending replies to its own fake Graph API.
type agentStack struct {
	t     testing.TB
	in    *Instance
	graph *fakegraph.Server
	db    *pgxpool.Pool
}

// startAgentStack starts the shipped Caddyfile with Postgres, Redis and the
// fake Graph API, and registers the hotel's business number for
// tenant_hotel_madrid through the admin API (with Postgres the directory
// lives in the database, not in dev-tenants.yaml).
//
// flags are set in Redis (HSET <prefix>feature_flags) before the start, so
// the first message already sees them.
func startAgentStack(t testing.TB, env map[string]string, flags ...string) *agentStack {
	t.Helper()
	pgURL := testservices.Postgres(t)
	redisURL, prefix := testservices.Redis(t)
	if len(flags) > 0 {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		for _, f := range flags {
			if err := rdb.HSet(context.Background(), prefix+"feature_flags", f, "1").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	graph := fakegraph.Start(t, agentGraphToken)
	graph.AllowPhoneNumberIDs(agentPhoneNumberID)
	full := map[string]string{
		"POSTGRES_URL":             pgURL,
		"REDIS_URL":                redisURL,
		"REDIS_KEY_PREFIX":         prefix,
		"WHATSAPP_API_BASE":        graph.BaseURL(),
		"WHATSAPP_ACCESS_TOKEN":    agentGraphToken,
		"WHATSAPP_PHONE_NUMBER_ID": agentPhoneNumberID,
	}
	maps.Copy(full, env)
	s := &agentStack{t: t, graph: graph}
	s.in = Start(t, Options{Env: full})
	db, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	s.db = db
	s.registerHotel()
	return s
}

// adminHeader authorizes admin API calls (JSON bodies) as e2e-agent.
func (s *agentStack) adminHeader() map[string]string {
	t := s.t
	t.Helper()
	return adminJSONHeader(t, "e2e-agent")
}

func (s *agentStack) registerHotel() {
	s.t.Helper()
	s.addHotel(agentTenant, "Hotel Madrid Central", agentPhoneNumberID)
}

// addHotel creates a hotel through the admin API with its WhatsApp
// business number (phone_number_id); the fake Graph API takes replies from
// that number once the test allows it (AllowPhoneNumberIDs).
func (s *agentStack) addHotel(tenantID, name, phoneNumberID string) {
	t := s.t
	t.Helper()
	hdr := s.adminHeader()
	status, _, body := Do(t, http.MethodPost, s.in.URL("/admin/tenants"), []byte(`{"tenant_id":"`+tenantID+`","name":"`+name+`"}`), hdr)
	if status != http.StatusCreated {
		t.Fatalf("create tenant %s: %d %s", tenantID, status, body)
	}
	status, _, body = Do(t, http.MethodPost, s.in.URL("/admin/tenants/"+tenantID+"/identifiers"), []byte(`{"identifier":"`+phoneNumberID+`","type":"phone_number_id"}`), hdr)
	if status != http.StatusCreated {
		t.Fatalf("register %s's phone_number_id: %d %s", tenantID, status, body)
	}
}

// adminJSONHeader is the header of an admin API call with a JSON body, under
// a development admin token for sub.
func adminJSONHeader(t testing.TB, sub string) map[string]string {
	t.Helper()
	out, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, "admin-token", "--sub", sub, "--ttl", "10m")
	if code != 0 {
		t.Fatalf("admin-token: exit %d\n%s", code, out)
	}
	return map[string]string{"Authorization": "Bearer " + strings.TrimSpace(out), "Content-Type": "application/json"}
}

// agentGuestSeq keeps guests' phone numbers distinct across the tests of a run.
var agentGuestSeq atomic.Int64

// newGuestPhone is a fresh guest's phone number (E.164 digits).
func newGuestPhone() string { return fmt.Sprintf("3461%07d", agentGuestSeq.Add(1)) }

// fromGuest is a message from guest to the hotel's business number; the
// caller gives it its text or its interactive reply.
func fromGuest(from, wamid string) whatsapptest.Message {
	return whatsapptest.Message{PhoneNumberID: agentPhoneNumberID, From: from, ID: wamid, Name: "Ana García"}
}

func textMessage(from, wamid, text string) []byte {
	m := fromGuest(from, wamid)
	m.Text = text
	return []byte(m.JSON())
}

func buttonReply(from, wamid, id, title string) []byte {
	m := fromGuest(from, wamid)
	m.Interactive = whatsapptest.ButtonReply(id, title)
	return []byte(m.JSON())
}

// webhookClient posts signed webhooks; one per test so its connections are
// its own.
type webhookClient struct {
	c      *http.Client
	secret string // the app secret it signs with
}

func newWebhookClient(conns int) *webhookClient {
	return &webhookClient{secret: devSecret,
		c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}}
}

// post sends a signed webhook and returns the status and body.
func (w *webhookClient) post(url string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	for k, v := range signedBy(w.secret, string(body), nil) {
		req.Header.Set(k, v)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// deliver posts and fails the test unless the webhook is acknowledged 200.
func (s *agentStack) deliver(w *webhookClient, body []byte) {
	s.t.Helper()
	status, got, err := w.post(s.in.URL("/webhooks/whatsapp"), body)
	if err != nil || status != http.StatusOK {
		s.t.Fatalf("webhook: %d %q %v", status, got, err)
	}
}

// repliesTo are the messages the fake accepted for guest, in arrival order.
// The sender writes `to` in E.164 with its plus sign; guest is WhatsApp's
// wa_id (digits).
func repliesTo(msgs []fakegraph.Message, guest string) []fakegraph.Message {
	var out []fakegraph.Message
	for _, m := range msgs {
		if strings.TrimPrefix(m.Request.To, "+") == guest {
			out = append(out, m)
		}
	}
	return out
}

// waitReplies waits until the fake holds n replies to guest.
func (s *agentStack) waitReplies(guest string, n int, timeout time.Duration) []fakegraph.Message {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := repliesTo(s.graph.Messages(), guest)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d replies to %s after %s, want %d: %s\n%s", len(got), guest, timeout, n, bodies(got), s.queues())
		}
		// Wakes on the next accepted message, whoever it is for.
		_, _ = s.graph.WaitForMessages(len(s.graph.Messages())+1, 100*time.Millisecond)
	}
}

// bodyText is what the guest reads: a text message's body or an
// interactive message's body.
func bodyText(m fakegraph.Message) string {
	switch {
	case m.Request.Text != nil:
		return m.Request.Text.Body
	case m.Request.Interactive != nil && m.Request.Interactive.Body != nil:
		return m.Request.Interactive.Body.Text
	case m.Request.Image != nil:
		return m.Request.Image.Caption
	}
	return ""
}

func bodies(msgs []fakegraph.Message) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, fmt.Sprintf("[%s→%s] %q", m.Request.Type, m.Request.To, bodyText(m)))
	}
	return strings.Join(parts, "\n")
}

func mustSay(t testing.TB, m fakegraph.Message, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(bodyText(m), sub) {
			t.Errorf("reply %q does not contain %q", bodyText(m), sub)
		}
	}
}

// waitQuiet waits until the inbox and the outbox have nothing left to do
// (every message done or dead, every reply sent or failed).
func (s *agentStack) waitQuiet(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var inboxPending, outboxPending int
		err := s.db.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM inbox_messages WHERE state = 'pending'),
			(SELECT count(*) FROM outbox_replies WHERE state = 'pending')`).Scan(&inboxPending, &outboxPending)
		if err == nil && inboxPending == 0 && outboxPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s: %d inbox messages and %d replies still pending (err %v)", timeout, inboxPending, outboxPending, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queues describes the inbox and outbox rows, for failure messages.
func (s *agentStack) queues() string {
	var b strings.Builder
	rows, err := s.db.Query(context.Background(), `SELECT seq, tenant_id, message_id, conversation_key, state, attempts, coalesce(last_error, '') FROM inbox_messages ORDER BY seq`)
	if err != nil {
		return err.Error()
	}
	for rows.Next() {
		var seq int64
		var attempts int
		var tenant, id, conv, state, lastErr string
		if err := rows.Scan(&seq, &tenant, &id, &conv, &state, &attempts, &lastErr); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "inbox %d %s %s %s %s attempts=%d %s\n", seq, tenant, id, conv, state, attempts, lastErr)
	}
	rows, err = s.db.Query(context.Background(), `SELECT seq, recipient, in_reply_to, state, attempts, coalesce(provider_id, ''), coalesce(last_error, '') FROM outbox_replies ORDER BY seq`)
	if err != nil {
		return err.Error()
	}
	for rows.Next() {
		var seq int64
		var attempts int
		var to, inReplyTo, state, provider, lastErr string
		if err := rows.Scan(&seq, &to, &inReplyTo, &state, &attempts, &provider, &lastErr); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "outbox %d to=%s re=%s %s attempts=%d %s %s\n", seq, to, inReplyTo, state, attempts, provider, lastErr)
	}
	return b.String()
}

// monthsES are the month names the guest writes.
var monthsES = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

// stayPhrase is "del 5 al 7 de <month>" for the month after next: always in
// the future, in the hotel's time zone too, whatever today is.
func stayPhrase(now time.Time) string {
	m := time.Date(now.Year(), now.Month()+2, 1, 0, 0, 0, 0, time.UTC)
	return "del 5 al 7 de " + monthsES[m.Month()-1]
}

var bookingNumberRE = regexp.MustCompile(`DEMO-\d+`)

// TestGuestBooksARoomInThreeMessages: availability, choice, "sí" — three
// replies at the fake, the last carrying the booking number; the booking is
// in the demo PMS (a cancellation request finds it by number).
func TestGuestBooksARoomInThreeMessages(t *testing.T) {
	s := startAgentStack(t, nil)
	w := newWebhookClient(2)
	guest := newGuestPhone()

	s.deliver(w, textMessage(guest, "wamid.book-1-"+guest, "hola, tienen habitación doble "+stayPhrase(time.Now())+" para 2?"))
	r := s.waitReplies(guest, 1, 10*time.Second)
	mustSay(t, r[0], "Hotel Madrid Central", "2 noches", "2 adultos", "Habitación doble")

	// The room and the email for the confirmation in one message: the
	// email question is not asked.
	s.deliver(w, textMessage(guest, "wamid.book-2-"+guest, "la doble, mi correo es ana.garcia@example.com"))
	r = s.waitReplies(guest, 2, 10*time.Second)
	mustSay(t, r[1], "Habitación: Habitación doble", "ana.garcia@example.com", "¿Confirmo la reserva?")

	s.deliver(w, textMessage(guest, "wamid.book-3-"+guest, "sí"))
	r = s.waitReplies(guest, 3, 10*time.Second)
	mustSay(t, r[2], "¡Reserva confirmada!", "ana.garcia@example.com")
	number := bookingNumberRE.FindString(bodyText(r[2]))
	if number == "" {
		t.Fatalf("confirmation without a booking number: %q", bodyText(r[2]))
	}
	for i, m := range r {
		if m.Request.Type != "text" || m.PhoneNumberID != agentPhoneNumberID {
			t.Errorf("reply %d: type %s from %s, want text from the hotel's number", i+1, m.Request.Type, m.PhoneNumberID)
		}
	}

	// The booking exists in the PMS: asked to cancel it, the agent looks it
	// up by number and shows its room.
	s.deliver(w, textMessage(guest, "wamid.book-4-"+guest, "quiero cancelar la reserva "+number))
	r = s.waitReplies(guest, 4, 10*time.Second)
	mustSay(t, r[3], "Vas a cancelar la reserva "+number, "Habitación: Habitación doble")
	if t.Failed() {
		t.Logf("replies:\n%s", bodies(r))
	}
}

// noReadReceipts turns read receipts off for the tests that make the Graph
// API slow to hold replies in flight: a receipt, sent before the reply is
// made, would be what the slow API holds.
var noReadReceipts = map[string]string{"FEATURE_FLAGS": flags.WhatsAppMarkRead + "=false"}

// TestGracefulRestartHandsBackInFlightReplies: SIGTERM while a reply is on
// its way to a slow Graph API. The send is abandoned (Meta never accepted
// it), the claim is handed back at shutdown, and after the restart the reply
// goes out at once, exactly once — not after the dead claim's lease (30 s)
// expires. Repeated, because what shuts down first varies between runs.
func TestGracefulRestartHandsBackInFlightReplies(t *testing.T) {
	s := startAgentStack(t, noReadReceipts)
	w := newWebhookClient(2)
	for round := 1; round <= 3; round++ {
		guest := newGuestPhone()
		s.graph.SetDelay(time.Minute)
		calls := s.graph.Calls()
		s.deliver(w, textMessage(guest, fmt.Sprintf("wamid.graceful-%d-%s", round, guest), "hola"))
		deadline := time.Now().Add(10 * time.Second)
		for s.graph.Calls() == calls {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the reply never reached the Graph API\n%s", round, s.queues())
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.in.Stop()
		if strings.Contains(s.in.Logs(), "closed pool") {
			t.Errorf("round %d: an outcome was recorded on a closed pool at shutdown:\n%s", round, s.in.Logs())
		}
		s.graph.SetDelay(0)
		s.in.Restart()
		r := s.waitReplies(guest, 1, 10*time.Second)
		mustSay(t, r[0], "Hotel Madrid Central")
		s.waitQuiet(10 * time.Second)
		if got := repliesTo(s.graph.Messages(), guest); len(got) != 1 {
			t.Fatalf("round %d: %d replies, want 1:\n%s", round, len(got), bodies(got))
		}
	}
}

func listReply(from, wamid, id, title string) []byte {
	m := fromGuest(from, wamid)
	m.Interactive = whatsapptest.ListReply(id, title)
	return []byte(m.JSON())
}

func buttonIDs(m fakegraph.Message) []string {
	var ids []string
	if in := m.Request.Interactive; in != nil && in.Action != nil {
		for _, b := range in.Action.Buttons {
			ids = append(ids, b.Reply.ID)
		}
		for _, s := range in.Action.Sections {
			for _, r := range s.Rows {
				ids = append(ids, r.ID)
			}
		}
	}
	return ids
}

// TestGuestBooksWithButtons is the three-message booking with
// features.interactive_messages on in Redis: the offers come as a list,
// the confirmation as reply buttons, and the guest taps both.
func TestGuestBooksWithButtons(t *testing.T) {
	s := startAgentStack(t, nil, "features.interactive_messages")
	w := newWebhookClient(2)
	guest := newGuestPhone()

	s.deliver(w, textMessage(guest, "wamid.tap-1-"+guest, "hola, tienen habitación doble "+stayPhrase(time.Now())+" para 2?"))
	r := s.waitReplies(guest, 1, 10*time.Second)
	if in := r[0].Request.Interactive; r[0].Request.Type != "interactive" || in.Type != "list" || !slices.Contains(buttonIDs(r[0]), "room_2") {
		t.Fatalf("offers: %s, want an interactive list with room_2\n%s", r[0].Raw, bodies(r))
	}

	s.deliver(w, listReply(guest, "wamid.tap-2-"+guest, "room_2", "Doble"))
	r = s.waitReplies(guest, 2, 10*time.Second)
	mustSay(t, r[1], "¿A qué correo te envío la confirmación")

	s.deliver(w, textMessage(guest, "wamid.tap-3-"+guest, "sin email"))
	r = s.waitReplies(guest, 3, 10*time.Second)
	if in := r[2].Request.Interactive; r[2].Request.Type != "interactive" || in.Type != "button" || !slices.Equal(buttonIDs(r[2]), []string{"confirm_booking", "change_dates", "abort_booking"}) {
		t.Fatalf("confirmation: %s, want reply buttons confirm_booking, change_dates, abort_booking", r[2].Raw)
	}
	mustSay(t, r[2], "Habitación: Habitación doble")

	s.deliver(w, buttonReply(guest, "wamid.tap-4-"+guest, "confirm_booking", "Confirmar"))
	r = s.waitReplies(guest, 4, 10*time.Second)
	mustSay(t, r[3], "¡Reserva confirmada!")
	if bookingNumberRE.FindString(bodyText(r[3])) == "" {
		t.Fatalf("confirmation without a booking number: %q", bodyText(r[3]))
	}
	s.waitQuiet(10 * time.Second)
	if got := repliesTo(s.graph.Messages(), guest); len(got) != 4 {
		t.Fatalf("%d replies, want 4:\n%s", len(got), bodies(got))
	}
}

// TestRedeliveredWebhookAnsweredOnce: Meta delivers the same webhook twice;
// both deliveries are acknowledged, one reply goes out. A later message of
// the same guest is answered after it (one conversation is handled in
// order), so once its reply is in, a second reply to the first message
// would have arrived already.
func TestRedeliveredWebhookAnsweredOnce(t *testing.T) {
	s := startAgentStack(t, nil)
	w := newWebhookClient(2)
	guest := newGuestPhone()
	hello := textMessage(guest, "wamid.dup-1-"+guest, "hola")
	s.deliver(w, hello)
	s.deliver(w, hello)
	s.deliver(w, textMessage(guest, "wamid.dup-2-"+guest, "¿a qué hora es el check-in?"))

	s.waitReplies(guest, 2, 10*time.Second)
	s.waitQuiet(10 * time.Second)
	r := repliesTo(s.graph.Messages(), guest)
	if len(r) != 2 {
		t.Fatalf("%d replies, want 2 (one per distinct message):\n%s", len(r), bodies(r))
	}
	mustSay(t, r[0], "Bienvenido/a a Hotel Madrid Central")
	mustSay(t, r[1], "15:00")

	var rows, replies int
	if err := s.db.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM inbox_messages WHERE message_id = $1),
		(SELECT count(*) FROM outbox_replies WHERE in_reply_to = $1)`, "wamid.dup-1-"+guest).Scan(&rows, &replies); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || replies != 1 {
		t.Fatalf("redelivered message: %d inbox rows and %d replies, want 1 and 1\n%s", rows, replies, s.queues())
	}
}

// TestTestEnvironmentAnswersInline: with ENVIRONMENT=test the webhook's
// answer carries the reply: {"status":"ok","response_type":...,
// "content":...}; text while interactive messages are off, the reply
// object (here a list, then buttons) while they are on.
func TestTestEnvironmentAnswersInline(t *testing.T) {
	graph := fakegraph.Start(t, agentGraphToken)
	base := map[string]string{
		"ENVIRONMENT":              "test",
		"WHATSAPP_API_BASE":        graph.BaseURL(),
		"WHATSAPP_ACCESS_TOKEN":    agentGraphToken,
		"WHATSAPP_PHONE_NUMBER_ID": agentPhoneNumberID,
	}
	w := newWebhookClient(2)
	post := func(in *Instance, body []byte) testModeReply {
		t.Helper()
		status, got, err := w.post(in.URL("/webhooks/whatsapp"), body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("webhook: %d %s %v", status, got, err)
		}
		var out testModeReply
		if err := json.Unmarshal([]byte(got), &out); err != nil || out.Status != "ok" {
			t.Fatalf("answer %s: %v", got, err)
		}
		return out
	}

	// Memory stores and the development tenant directory: test mode needs
	// no database.
	text := Start(t, Options{Env: base})
	guest := newGuestPhone()
	out := post(text, textMessage(guest, "wamid.inline-1-"+guest, "hola, tienen habitación doble "+stayPhrase(time.Now())+" para 2?"))
	var content string
	if out.ResponseType != "text" || json.Unmarshal(out.Content, &content) != nil || !strings.Contains(content, "Disponibilidad en Hotel Madrid Central") {
		t.Fatalf("first answer: %+v (content %s), want text offers", out, out.Content)
	}
	out = post(text, textMessage(guest, "wamid.inline-2-"+guest, "la doble, mi correo es ana.garcia@example.com"))
	if out.ResponseType != "text" || json.Unmarshal(out.Content, &content) != nil || !strings.Contains(content, "¿Confirmo la reserva?") {
		t.Fatalf("second answer: %+v (content %s)", out, out.Content)
	}
	out = post(text, textMessage(guest, "wamid.inline-3-"+guest, "sí"))
	if out.ResponseType != "text" || json.Unmarshal(out.Content, &content) != nil || !bookingNumberRE.MatchString(content) {
		t.Fatalf("third answer: %+v (content %s), want the booking number", out, out.Content)
	}
	// The inline replies are also sent, once each.
	if msgs, err := graph.WaitForMessages(3, 10*time.Second); err != nil || len(repliesTo(msgs, guest)) != 3 {
		t.Fatalf("sent replies: %v\n%s", err, bodies(msgs))
	}
	// A statuses-only event has nothing to answer.
	status := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"statuses":[{"id":"wamid.sent-1","status":"delivered","timestamp":"%d","recipient_id":%q}]}}]}]}`, agentPhoneNumberID, time.Now().Unix(), guest))
	if out := post(text, status); out.ResponseType != "" || out.Content != nil {
		t.Fatalf("statuses answered %+v, want only status ok", out)
	}

	env := maps.Clone(base)
	env["FEATURE_FLAGS"] = "features.interactive_messages=1"
	buttons := Start(t, Options{Env: env})
	guest = newGuestPhone()
	out = post(buttons, textMessage(guest, "wamid.inline-4-"+guest, "hola, tienen habitación doble "+stayPhrase(time.Now())+" para 2?"))
	var reply struct {
		Kind     string `json:"kind"`
		Text     string `json:"text"`
		Buttons  []struct{ ID, Title string }
		Sections []struct {
			Rows []struct{ ID, Title string }
		}
	}
	if out.ResponseType != "interactive_list" || json.Unmarshal(out.Content, &reply) != nil || len(reply.Sections) == 0 || reply.Sections[0].Rows[0].ID != "room_2" {
		t.Fatalf("interactive offers: %+v (content %s), want interactive_list starting with room_2", out, out.Content)
	}
	out = post(buttons, listReply(guest, "wamid.inline-5-"+guest, "room_2", "Doble"))
	if out.ResponseType != "text" || json.Unmarshal(out.Content, &content) != nil || !strings.Contains(content, "¿A qué correo") {
		t.Fatalf("email question: %+v (content %s), want text", out, out.Content)
	}
	out = post(buttons, textMessage(guest, "wamid.inline-6-"+guest, "sin email"))
	if out.ResponseType != "interactive_buttons" || json.Unmarshal(out.Content, &reply) != nil || len(reply.Buttons) != 3 || reply.Buttons[0].ID != "confirm_booking" {
		t.Fatalf("interactive confirmation: %+v (content %s), want interactive_buttons", out, out.Content)
	}
}

// TestKillAfterAcksAnswersEveryMessageOnce: 30 messages of 10 guests are
// acknowledged, the binary is killed with SIGKILL right after the last ack
// and started again; every acknowledged message is answered exactly once,
// and each guest's replies come in the order of the guest's messages.
//
// The first message of each guest is answered before the crash, so the
// crash also finds replies already sent (they must not go out again). For
// the rest the Graph API is slow, so at the kill the inbox holds messages
// pending, claimed and done, and the outbox replies queued and in flight.
// An in-flight send is cut off before Meta accepts it: the one window the
// outbox cannot close (Meta accepted, the kill came before the outbox
// recorded it) is kept out of this test, which would otherwise be flaky.
//
// INBOX_LEASE=2s (default 30s) bounds how long the restarted process waits
// for the claims of the killed one to expire.
func TestKillAfterAcksAnswersEveryMessageOnce(t *testing.T) {
	s := startAgentStack(t, map[string]string{"INBOX_LEASE": "2s", "FEATURE_FLAGS": noReadReceipts["FEATURE_FLAGS"]})
	w := newWebhookClient(10)
	type step struct{ text, want string }
	script := []step{
		{"hola", "Bienvenido/a a Hotel Madrid Central"},
		{"¿a qué hora es el check-in?", "15:00"},
		{"gracias, adiós", "Gracias por escribirnos"},
	}
	guests := make([]string, 10)
	for i := range guests {
		guests[i] = newGuestPhone()
	}
	wamid := func(guest string, i int) string { return fmt.Sprintf("wamid.crash-%s-%d", guest, i) }

	// Before the crash: the first message of each guest, answered.
	for _, g := range guests {
		s.deliver(w, textMessage(g, wamid(g, 0), script[0].text))
	}
	for _, g := range guests {
		s.waitReplies(g, 1, 10*time.Second)
	}
	s.waitQuiet(10 * time.Second)

	// The batch: the other 20, each guest's in order, guests in parallel.
	s.graph.SetDelay(time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, len(guests))
	for _, g := range guests {
		wg.Go(func() {
			for i := 1; i < len(script); i++ {
				status, body, err := w.post(s.in.URL("/webhooks/whatsapp"), textMessage(g, wamid(g, i), script[i].text))
				if err != nil || status != http.StatusOK {
					errs <- fmt.Errorf("%s message %d: %d %s %v", g, i, status, body, err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.in.Kill()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var pending, done, queued, inboxLeases, outboxLeases int
	if err := s.db.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM inbox_messages WHERE state = 'pending'),
		(SELECT count(*) FROM inbox_messages WHERE state = 'done'),
		(SELECT count(*) FROM outbox_replies WHERE state = 'pending'),
		(SELECT count(*) FROM inbox_leases WHERE lease_until > now()),
		(SELECT count(*) FROM outbox_leases WHERE lease_until > now())`).Scan(&pending, &done, &queued, &inboxLeases, &outboxLeases); err != nil {
		t.Fatal(err)
	}
	t.Logf("at the kill: inbox %d pending, %d done, %d conversations leased; outbox %d unsent, %d guests leased; Graph API %d calls (%d before the batch)",
		pending, done, inboxLeases, queued, outboxLeases, s.graph.Calls(), len(guests))

	s.graph.SetDelay(0)
	start := time.Now()
	s.in.Restart()
	total := len(guests) * len(script)
	if _, err := s.graph.WaitForMessages(total, 15*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, s.queues())
	}
	s.waitQuiet(10 * time.Second)
	t.Logf("every reply delivered %s after the restart", time.Since(start).Round(time.Millisecond))

	// The fake's side: exactly one reply per message, in each guest's order.
	sent := s.graph.Messages()
	if len(sent) != total {
		t.Fatalf("the Graph API accepted %d replies, want %d:\n%s", len(sent), total, bodies(sent))
	}
	for _, g := range guests {
		r := repliesTo(sent, g)
		if len(r) != len(script) {
			t.Fatalf("%s: %d replies, want %d:\n%s", g, len(r), len(script), bodies(r))
		}
		for i, st := range script {
			if !strings.Contains(bodyText(r[i]), st.want) {
				t.Errorf("%s: reply %d is %q, want the answer to %q (%q): out of order or wrong", g, i+1, bodyText(r[i]), st.text, st.want)
			}
		}
	}

	// The database's side: every message done with exactly one reply, sent,
	// recorded under the id the Graph API gave it.
	rows, err := s.db.Query(context.Background(), `SELECT m.message_id, m.state, count(r.seq), count(r.seq) FILTER (WHERE r.state = 'sent'), coalesce(min(r.provider_id), '')
		FROM inbox_messages m LEFT JOIN outbox_replies r ON r.in_reply_to = m.message_id AND r.tenant_id = m.tenant_id
		GROUP BY m.message_id, m.state`)
	if err != nil {
		t.Fatal(err)
	}
	byWAMID := map[string]bool{}
	for _, m := range sent {
		byWAMID[m.WAMID] = true
	}
	n := 0
	for rows.Next() {
		var id, state, provider string
		var replies, sentReplies int
		if err := rows.Scan(&id, &state, &replies, &sentReplies, &provider); err != nil {
			t.Fatal(err)
		}
		n++
		if state != "done" || replies != 1 || sentReplies != 1 || !byWAMID[provider] {
			t.Errorf("%s: %s with %d replies (%d sent, provider id %q known to the Graph API: %v), want done with one sent reply", id, state, replies, sentReplies, provider, byWAMID[provider])
		}
		delete(byWAMID, provider)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != total || len(byWAMID) != 0 {
		t.Fatalf("%d inbox messages, want %d; Graph API messages no reply row owns: %v", n, total, byWAMID)
	}
}

// TestInboxLeaseBelowMinimumRefused: a lease too short to be renewed in
// time would let two processes work on one conversation; the config says so.
func TestInboxLeaseBelowMinimumRefused(t *testing.T) {
	out, code := Run(t, map[string]string{"INBOX_LEASE": "100ms"}, "validate", "--config", "Caddyfile", "--adapter", "caddyfile")
	if code == 0 || !strings.Contains(out, "inbox_lease: 100ms is shorter than 1s") {
		t.Fatalf("exit %d, want non-zero naming inbox_lease:\n%s", code, out)
	}
}

// TestEdgeWithoutWorkersAndSeparateWorkers: an edge started with its
// workers off acknowledges webhooks and answers none; `agente-caddy worker`
// with the same configuration (two of them, no listener) answers every one,
// once.
func TestEdgeWithoutWorkersAndSeparateWorkers(t *testing.T) {
	s := startAgentStack(t, map[string]string{"AGENTE_WORKERS": "off", "FEATURE_FLAGS": noReadReceipts["FEATURE_FLAGS"]})
	w := newWebhookClient(4)
	guests := make([]string, 6)
	for i := range guests {
		guests[i] = newGuestPhone()
		s.deliver(w, textMessage(guests[i], fmt.Sprintf("wamid.edge-%s", guests[i]), "hola"))
	}
	time.Sleep(2 * time.Second)
	var pending int
	if err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM inbox_messages WHERE state = 'pending'`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != len(guests) || s.graph.Calls() != 0 {
		t.Fatalf("edge without workers: %d pending, %d Graph calls; want %d pending and none", pending, s.graph.Calls(), len(guests))
	}
	for i := range 2 {
		cmd := exec.Command(Binary(t), "worker", "--config", "Caddyfile", "--adapter", "caddyfile")
		cmd.Dir = RepoRoot()
		cmd.Env = s.in.env()
		logs := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("worker %d:\n%s", i, logs.String())
			}
		})
	}
	if _, err := s.graph.WaitForMessages(len(guests), 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, s.queues())
	}
	s.waitQuiet(10 * time.Second)
	if n := len(s.graph.Messages()); n != len(guests) {
		t.Fatalf("%d replies for %d messages", n, len(guests))
	}
}
