package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
)

// staffToken mints a staff token reaching only tenants.
func staffToken(t *testing.T, sub string, tenants ...string) string {
	t.Helper()
	args := []string{"admin-token", "--sub", sub, "--ttl", "1h", "--role", "staff"}
	for _, id := range tenants {
		args = append(args, "--tenant", id)
	}
	out, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, args...)
	token := strings.TrimSpace(out)
	if code != 0 || strings.Count(token, ".") != 2 {
		t.Fatalf("admin-token --role staff: exit %d: %s", code, out)
	}
	return token
}

// TestConsoleReception is reception's day as the issue tells it: a guest
// asks for a person over a signed webhook; the reception page shows them
// within 5 s; staff open the conversation and answer, and the answer
// reaches the Graph API; staff give the guest back to the agent, who
// answers the next message. A staff user of hotel A never sees hotel B,
// on the page or through the API.
func TestConsoleReception(t *testing.T) {
	s := startAgentStack(t, nil)
	const hotelB, hotelBPNID = "hotel_b_console", "109876543210987"
	s.addHotel(hotelB, "Hotel B", hotelBPNID)
	s.graph.AllowPhoneNumberIDs(agentPhoneNumberID, hotelBPNID)
	hooks := newWebhookClient(2)
	guestA, guestB := newGuestPhone(), newGuestPhone()

	// Hotel B's guest asks for a person too: the one staff of A must never see.
	for i, text := range []string{"Hola", "quiero hablar con una persona, por favor"} {
		mB := fromGuest(guestB, fmt.Sprintf("wamid.console-b-%d", i))
		mB.PhoneNumberID, mB.Name, mB.Text = hotelBPNID, "Bruno Beta", text
		s.deliver(hooks, []byte(mB.JSON()))
		s.waitReplies(guestB, i+1, 15*time.Second)
	}
	s.deliver(hooks, textMessage(guestA, "wamid.console-a-0", "Hola"))
	s.waitReplies(guestA, 1, 15*time.Second)

	token := staffToken(t, "reception@madrid", agentTenant)
	b := newBrowser(t, 1280, 900)
	b.signIn(s.in, token)
	b.wait("reception of the one hotel", `location.hash.startsWith('#/reception/`+agentTenant+`') && document.querySelector('.convs')`, 10*time.Second)
	if nav := eval[string](b, `document.querySelector('#nav').innerText`); strings.Contains(nav, "Hotels") || strings.Contains(nav, "Canaries") {
		t.Errorf("a staff token is shown the operator's sections: %q", nav)
	}

	// The guest asks for a person; reception shows them within 5 s.
	s.deliver(hooks, textMessage(guestA, "wamid.console-a-1", "quiero hablar con una persona, por favor"))
	asked := time.Now()
	b.wait("the waiting guest listed", fmt.Sprintf(`document.querySelector('.convs li[data-guest$=%q]')`, guestA), 5*time.Second)
	t.Logf("the waiting guest was on the reception page %v after the webhook's 200", time.Since(asked).Round(time.Millisecond))
	s.waitReplies(guestA, 2, 15*time.Second) // the agent told the guest a person will answer
	if text := b.text(); strings.Contains(text, guestB) || strings.Contains(text, "Bruno") {
		t.Errorf("hotel B's guest shown to hotel A's staff:\n%s", text)
	}
	b.screenshot("console-reception")

	// Staff open the conversation and answer.
	b.do("open the conversation", chromedp.Click(chromedp.CSS(fmt.Sprintf(`.convs li[data-guest$=%q] a`, guestA))))
	b.wait("the conversation's history", `document.querySelectorAll('.msgs .msg').length >= 4 && document.querySelector('textarea[name="reply"]')`, 10*time.Second)
	const answer = "Hola, soy Marta de recepción. ¿En qué puedo ayudarle?"
	b.do("answer", chromedp.SetValue(chromedp.CSS(`textarea[name="reply"]`), answer), chromedp.Click(chromedp.CSS(`form.replybox button[type="submit"]`)))
	sent := s.waitReplies(guestA, 3, 15*time.Second)
	if got := bodyText(sent[len(sent)-1]); got != answer {
		t.Fatalf("the Graph API received %q, want the staff's answer %q", got, answer)
	}
	b.wait("the answer shown as staff's", `[...document.querySelectorAll('.msgs .msg.out.staff')].some(m => m.innerText.includes('Marta'))`, 10*time.Second)
	b.screenshot("console-conversation")

	// Give the guest back to the agent, who answers the next message.
	b.do("give back", chromedp.Click(chromedp.CSS(`button[data-action="resume"]`)))
	b.wait("given back", `document.querySelector('#flash').innerText.length > 0`, 10*time.Second)
	s.deliver(hooks, textMessage(guestA, "wamid.console-a-2", "hola, ¿a qué hora es el check-in?"))
	after := s.waitReplies(guestA, 4, 15*time.Second)
	if got := bodyText(after[3]); got == "" || got == answer {
		t.Fatalf("the agent's answer after the give-back: %q", got)
	}

	// Search by phone finds the guest; hotel B's guest is not found from A.
	b.goTo("#/reception/"+agentTenant+"?q="+guestA[len(guestA)-6:], fmt.Sprintf(`document.querySelector('.convs li[data-guest$=%q]')`, guestA))
	b.goTo("#/reception/"+agentTenant+"?q="+guestB, `document.querySelector('.convs li.hint')`)
	b.goTo("#/reception/"+hotelB, `document.querySelector('main [role="alert"]')`)
	if text := b.text(); strings.Contains(text, guestB) || strings.Contains(text, "Bruno") {
		t.Errorf("hotel B's page shows its guest to hotel A's staff:\n%s", text)
	}

	// The API refuses the same token everything of hotel B.
	auth := map[string]string{"Authorization": "Bearer " + token}
	for _, path := range []string{
		"/admin/tenants/" + hotelB + "/conversations?state=waiting",
		"/admin/tenants/" + hotelB + "/conversations/" + guestB,
		"/admin/tenants/" + hotelB,
		"/admin/canaries",
		"/admin/dashboard",
	} {
		if status, _, body := Do(t, http.MethodGet, s.in.URL(path), nil, auth); status != http.StatusForbidden {
			t.Errorf("staff of A: GET %s = %d %s, want 403", path, status, body)
		}
	}
	if status, _, body := Do(t, http.MethodPost, s.in.URL("/admin/tenants/"+hotelB+"/conversations/"+guestB+"/reply"), []byte(`{"text":"hi"}`),
		map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}); status != http.StatusForbidden {
		t.Errorf("staff of A replying to B's guest: %d %s", status, body)
	}
	if status, _, body := Do(t, http.MethodGet, s.in.URL("/admin/tenants/"+agentTenant+"/conversations?q="+guestB), nil, auth); status != 200 || strings.Contains(body, guestB) {
		t.Errorf("staff of A searching for B's guest: %d %s", status, body)
	}

	// On a phone.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844))
	b.goTo("#/reception/"+agentTenant+"/"+guestA+"?state=active", `document.querySelectorAll('.msgs .msg').length >= 6`)
	if overflow := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`); overflow {
		t.Errorf("the conversation scrolls sideways on a 390 px screen")
	}
	b.screenshot("console-conversation-phone")
}

// TestConsoleDeadLetters: a reply Meta refused for good is listed on the
// dead-letters page with its reason; the operator replays it from the page,
// the guest gets it, and it is gone from the list (a second replay of the
// same item takes nothing).
func TestConsoleDeadLetters(t *testing.T) {
	s := startAgentStack(t, nil)
	hooks := newWebhookClient(1)
	guest := newGuestPhone()
	// The read receipt and the reply both meet a 400 Meta does not retry.
	s.graph.FailNextWith(2, fakegraph.Failure{Code: 132001, Message: "(#132001) Template name does not exist in the translation"})
	s.deliver(hooks, textMessage(guest, "wamid.console-dead-1", "Hola"))
	token := mintAdminToken(t, config.DevDefaults["JWT_SECRET_KEY"], "ops-dead-letters", "1h")
	var items []any
	deadline := time.Now().Add(15 * time.Second)
	for len(items) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter after the refused reply\n%s", s.queues())
		}
		time.Sleep(100 * time.Millisecond)
		_, got := apiJSON(t, s.in, token, "GET", "/admin/dead-letters?kind=outbox", "")
		items, _ = got["items"].([]any)
	}
	id := items[0].(map[string]any)["id"].(string)

	b := newBrowser(t, 1280, 900)
	b.signIn(s.in, token)
	b.goTo("#/dead-letters", fmt.Sprintf(`[...document.querySelectorAll('main tbody tr')].some(r => r.innerText.includes(%q))`, guest))
	if text := b.text(); !strings.Contains(text, "outbox") || !strings.Contains(text, agentTenant) || !strings.Contains(text, "132001") {
		t.Errorf("dead-letters page lacks the kind or the hotel:\n%s", text)
	}
	b.screenshot("console-dead-letters")
	b.do("select and replay",
		chromedp.Click(chromedp.CSS(`main tbody tr input[type="checkbox"]`)),
		chromedp.Click(chromedp.CSS(`main .buttons button:not(.danger)`)))
	b.wait("replayed", `document.querySelector('#flash').innerText.includes('1')`, 10*time.Second)
	s.waitReplies(guest, 1, 15*time.Second)
	b.wait("gone from the list", fmt.Sprintf(`![...document.querySelectorAll('main tbody tr')].some(r => r.innerText.includes(%q))`, guest), 10*time.Second)
	if _, got := apiJSON(t, s.in, token, "POST", "/admin/dead-letters/replay", `{"ids":[{"kind":"outbox","id":"`+id+`"}]}`); got["replayed"] != float64(0) {
		t.Fatalf("second replay of %s: %v", id, got)
	}
}
