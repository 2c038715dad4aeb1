package e2e

// The hotel's staff through the admin API, on the real binary: a guest who
// asks for a person waits in the staff's list; staff read the history,
// answer (the guest gets it from the fake Graph), and give the guest back to
// the agent. A staff token reaches its own hotel's conversations only.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/fakesmtp"
)

// staffHeader is a staff token's header for the given hotels.
func staffHeader(t testing.TB, sub string, tenants ...string) map[string]string {
	t.Helper()
	args := []string{"admin-token", "--sub", sub, "--ttl", "10m", "--role", "staff"}
	for _, id := range tenants {
		args = append(args, "--tenant", id)
	}
	out, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, args...)
	if code != 0 {
		t.Fatalf("admin-token: exit %d\n%s", code, out)
	}
	return map[string]string{"Authorization": "Bearer " + strings.TrimSpace(out), "Content-Type": "application/json"}
}

// getJSON calls the admin API and decodes the answer, failing unless the
// status is want.
func callJSON(t testing.TB, in *Instance, method, path, body string, hdr map[string]string, want int) map[string]any {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	status, _, got := Do(t, method, in.URL(path), b, hdr)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, got, want)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, got)
	}
	return out
}

// hookReceiver records the JSON documents posted to it.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	docs []map[string]any
}

func startHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc map[string]any
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.docs = append(h.docs, doc)
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) received() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.docs...)
}

func TestStaffAnswerAGuestWhoAskedForAPerson(t *testing.T) {
	mailbox, password := "agent@hotel-madrid.test", "smtp-secret"
	smtp := fakesmtp.Start(t, fakesmtp.Options{User: mailbox, Password: password})
	slack := startHookReceiver(t)
	channels, _ := json.Marshal(map[string]any{agentTenant: []any{
		map[string]string{"kind": "email", "to": "reception@hotel-madrid.test"},
		map[string]string{"kind": "slack", "url": slack.srv.URL + "/services/T000/B000/XXXX"},
	}})
	s := startAgentStack(t, map[string]string{
		"SMTP_ADDR": smtp.Addr(), "GMAIL_USERNAME": mailbox, "GMAIL_APP_PASSWORD": password,
		"HANDOFF_CHANNELS": string(channels), "CONSOLE_BASE_URL": "https://admin.hotel-madrid.test",
	})
	w := newWebhookClient(2)
	guest := newGuestPhone()
	s.deliver(w, textMessage(guest, "wamid.staff-1-"+guest, "Hola"))
	s.waitReplies(guest, 1, 10*time.Second)
	s.deliver(w, textMessage(guest, "wamid.staff-2-"+guest, "quiero hablar con una persona, por favor"))
	r := s.waitReplies(guest, 2, 10*time.Second)
	t.Logf("the guest was told: %q", bodyText(r[1]))

	// The reception's email arrives over SMTP; the Slack-shaped payload at
	// the webhook receiver. Both name the guest, the hotel, the last
	// messages and the console's link.
	link := "https://admin.hotel-madrid.test/console/#/t/" + agentTenant + "/c/" + guest
	// The agent's answer to the request is among the last messages: the
	// notice is sent only after the turn that handed off has committed.
	told := bodyText(r[1])
	deadline := time.Now().Add(10 * time.Second)
	for (len(smtp.Mails()) == 0 || len(slack.received()) == 0) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(smtp.Mails()) != 1 || len(slack.received()) != 1 {
		t.Fatalf("%d mails, %d webhook posts; want 1 of each\n%s", len(smtp.Mails()), len(slack.received()), s.in.Logs())
	}
	mail, err := smtp.Mails()[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if to := smtp.Mails()[0].To; len(to) != 1 || to[0] != "reception@hotel-madrid.test" {
		t.Fatalf("mail to %v", to)
	}
	for _, want := range []string{guest, "Hotel Madrid Central", "quiero hablar con una persona", told, link} {
		if !strings.Contains(mail.Subject()+"\n"+mail.Body, want) {
			t.Errorf("staff mail lacks %q:\n%s\n%s", want, mail.Subject(), mail.Body)
		}
	}
	t.Logf("staff mail: %s\n%s", mail.Subject(), mail.Body)
	doc := slack.received()[0]
	payload, _ := json.Marshal(doc)
	if _, ok := doc["text"].(string); !ok || doc["blocks"] == nil {
		t.Fatalf("not Slack's incoming-webhook shape: %s", payload)
	}
	for _, want := range []string{guest, "Hotel Madrid Central", "quiero hablar con una persona", told, link} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("Slack payload lacks %q: %s", want, payload)
		}
	}
	t.Logf("slack payload: %s", payload)

	staff := staffHeader(t, "reception@madrid", agentTenant)
	base := "/admin/tenants/" + agentTenant + "/conversations"
	var waiting []any
	deadline = time.Now().Add(10 * time.Second)
	for len(waiting) == 0 && time.Now().Before(deadline) {
		waiting = callJSON(t, s.in, "GET", base+"?state=waiting", "", staff, 200)["items"].([]any)
		if len(waiting) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(waiting) != 1 {
		t.Fatalf("waiting list: %v", waiting)
	}
	c := waiting[0].(map[string]any)
	if c["guest"] != guest || c["state"] != "waiting" || c["waiting_since"] == nil || c["channel"] != "whatsapp" {
		t.Fatalf("waiting guest %v", c)
	}
	if found := callJSON(t, s.in, "GET", base+"?q="+guest[len(guest)-5:], "", staff, 200)["items"].([]any); len(found) != 1 {
		t.Fatalf("search by phone: %v", found)
	}

	// Staff answer; the guest gets it; the agent stays silent meanwhile.
	id := callJSON(t, s.in, "POST", base+"/"+guest+"/reply", `{"text":"Hola, soy Marta de recepción. ¿En qué puedo ayudarte?"}`, staff, 202)["id"]
	r = s.waitReplies(guest, 3, 10*time.Second)
	mustSay(t, r[2], "soy Marta de recepción")
	s.deliver(w, textMessage(guest, "wamid.staff-3-"+guest, "Hola"))
	s.waitQuiet(10 * time.Second)
	if got := repliesTo(s.graph.Messages(), guest); len(got) != 3 {
		t.Fatalf("the agent answered during the handoff: %s", bodies(got))
	}

	hist := callJSON(t, s.in, "GET", base+"/"+guest, "", staff, 200)
	msgs := hist["messages"].([]any)
	var lines []string
	var staffLine map[string]any
	for _, m := range msgs {
		m := m.(map[string]any)
		lines = append(lines, m["direction"].(string)+" "+m["status"].(string)+" "+m["text"].(string))
		if m["staff"] == true {
			staffLine = m
		}
	}
	t.Logf("history:\n%s", strings.Join(lines, "\n"))
	if len(msgs) != 6 || staffLine == nil || staffLine["id"] != id || staffLine["status"] == "queued" || hist["state"] != "waiting" {
		t.Fatalf("history: state %v, %d messages, staff line %v", hist["state"], len(msgs), staffLine)
	}

	// Resume: the agent answers again, and the guest is no longer waiting.
	callJSON(t, s.in, "POST", base+"/"+guest+"/resume", "", staff, 200)
	s.deliver(w, textMessage(guest, "wamid.staff-4-"+guest, "Hola"))
	s.waitReplies(guest, 4, 10*time.Second)
	if waiting := callJSON(t, s.in, "GET", base+"?state=waiting", "", staff, 200)["items"].([]any); len(waiting) != 0 {
		t.Fatalf("still waiting after resume: %v", waiting)
	}
	callJSON(t, s.in, "POST", base+"/"+guest+"/close", "", staff, 200)
	if closed := callJSON(t, s.in, "GET", base+"?state=closed", "", staff, 200)["items"].([]any); len(closed) != 1 {
		t.Fatalf("closed list: %v", closed)
	}

	// Another hotel's staff, and staff on the operator's routes: 403.
	other := staffHeader(t, "reception@bcn", "tenant_hotel_bcn")
	for _, c := range []struct{ method, path, body string }{
		{"GET", base, ""},
		{"GET", base + "/" + guest, ""},
		{"POST", base + "/" + guest + "/reply", `{"text":"x"}`},
		{"POST", base + "/" + guest + "/resume", ""},
	} {
		callJSON(t, s.in, c.method, c.path, c.body, other, http.StatusForbidden)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/admin/tenants", ""},
		{"PATCH", "/admin/tenants/" + agentTenant, `{"name":"x"}`},
		{"PUT", "/admin/feature-flags/features.interactive_messages", `{"enabled":true}`},
		{"GET", "/admin/dashboard", ""},
		{"GET", "/admin/canaries", ""},
		{"POST", "/admin/canaries/web/promote", ""},
		{"GET", "/admin/dead-letters", ""},
	} {
		callJSON(t, s.in, c.method, c.path, c.body, staff, http.StatusForbidden)
	}
	who := callJSON(t, s.in, "GET", "/admin/whoami", "", staff, 200)
	if who["role"] != "staff" || who["sub"] != "reception@madrid" {
		t.Fatalf("whoami %v", who)
	}
}

// Replies Meta refused for good (a Graph 400 for a misconfigured template)
// are listed with the reason; after the fix a replay sends each exactly
// once, and a second replay sends nothing.
func TestRefusedRepliesReplayedOnce(t *testing.T) {
	s := startAgentStack(t, nil)
	w := newWebhookClient(2)
	admin := s.adminHeader()
	guests := []string{newGuestPhone(), newGuestPhone()}
	// Each guest's message costs a read receipt and a reply: four calls.
	s.graph.FailNextWith(4, fakegraph.Failure{Code: 132001, Message: "(#132001) Template name does not exist in the translation"})
	for i, g := range guests {
		s.deliver(w, textMessage(g, fmt.Sprintf("wamid.dead-%d-%s", i, g), "Hola"))
	}
	var items []any
	deadline := time.Now().Add(15 * time.Second)
	for len(items) < 2 && time.Now().Before(deadline) {
		items = callJSON(t, s.in, "GET", "/admin/dead-letters?kind=outbox&tenant="+agentTenant, "", admin, 200)["items"].([]any)
		time.Sleep(50 * time.Millisecond)
	}
	if len(items) != 2 {
		t.Fatalf("dead letters: %v\n%s", items, s.queues())
	}
	for _, it := range items {
		d := it.(map[string]any)
		t.Logf("dead letter: %v", d)
		if !strings.Contains(d["reason"].(string), "132001") || d["kind"] != "outbox" || d["tenant"] != agentTenant {
			t.Errorf("dead letter %v lacks its reason", d)
		}
	}
	for _, g := range guests {
		if got := repliesTo(s.graph.Messages(), g); len(got) != 0 {
			t.Fatalf("a refused reply reached %s", g)
		}
	}
	// The template is fixed (the fake answers normally again): replay.
	if n := callJSON(t, s.in, "POST", "/admin/dead-letters/replay", `{"kind":"outbox","tenant":"`+agentTenant+`"}`, admin, 200)["replayed"]; n != float64(2) {
		t.Fatalf("replayed %v, want 2", n)
	}
	for _, g := range guests {
		s.waitReplies(g, 1, 10*time.Second)
	}
	if n := callJSON(t, s.in, "POST", "/admin/dead-letters/replay", `{"all":true}`, admin, 200)["replayed"]; n != float64(0) {
		t.Fatalf("second replay took %v", n)
	}
	s.waitQuiet(10 * time.Second)
	for _, g := range guests {
		if got := repliesTo(s.graph.Messages(), g); len(got) != 1 {
			t.Fatalf("%s got %d replies, want exactly 1: %s", g, len(got), bodies(got))
		}
	}
	if left := callJSON(t, s.in, "GET", "/admin/dead-letters", "", admin, 200)["items"].([]any); len(left) != 0 {
		t.Fatalf("dead letters left: %v", left)
	}
	dash := callJSON(t, s.in, "GET", "/admin/dashboard", "", admin, 200)
	for _, section := range []string{"tenants", "messages_today", "breaker", "canaries", "handoffs_waiting", "dead_letters"} {
		if _, ok := dash[section]; !ok {
			t.Errorf("dashboard lacks %s: %v", section, dash)
		}
	}
}

// A handoff recorded by an instance that died before telling anyone (the
// row owes its notice) is told by the next instance to run: the notice is
// part of the handoff's own write, not of the process that made it.
func TestHandoffNoticeOwedByACrashedInstanceIsSent(t *testing.T) {
	hook := startHookReceiver(t)
	channels, _ := json.Marshal(map[string]any{agentTenant: []any{map[string]string{"kind": "webhook", "url": hook.srv.URL + "/handoff"}}})
	s := startAgentStack(t, map[string]string{"HANDOFF_CHANNELS": string(channels)})
	guest := newGuestPhone()
	since := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	if _, err := s.db.Exec(context.Background(), `INSERT INTO conversations
		(tenant_id, channel, guest, name, state, waiting_since, last_message_at, last_text, notice_due_at)
		VALUES ($1, 'whatsapp', $2, 'Ana García', 'waiting', $3, $3, 'necesito hablar con recepción', $3)`, agentTenant, guest, since); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(hook.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	docs := hook.received()
	if len(docs) != 1 || docs[0]["guest"] != guest || docs[0]["hotel"] != "Hotel Madrid Central" || docs[0]["name"] != "Ana García" {
		t.Fatalf("notices received: %v", docs)
	}
	// Sent, it is owed no more: nobody sends it again.
	var due *time.Time
	var attempts int
	if err := s.db.QueryRow(context.Background(), `SELECT notice_due_at, notice_attempts FROM conversations WHERE tenant_id = $1 AND guest = $2`,
		agentTenant, guest).Scan(&due, &attempts); err != nil || due != nil || attempts != 1 {
		t.Fatalf("after sending: notice_due_at %v, attempts %d, %v", due, attempts, err)
	}
	time.Sleep(6 * time.Second) // past the notice loop's poll
	if n := len(hook.received()); n != 1 {
		t.Errorf("%d notices, want exactly 1", n)
	}
}
