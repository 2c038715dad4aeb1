package e2e

// WhatsApp's 24-hour customer-service window and read receipts, end to end:
// the binary on Postgres, replies at the fake Graph API.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
)

// webhookTimestampRE is the Unix-seconds "timestamp" of a message or a
// status, string or number, in a webhook body.
var webhookTimestampRE = regexp.MustCompile(`("timestamp"\s*:\s*"?)([0-9]{9,11})\b`)

// textMessageAt is textMessage stamped sentAt, as Meta stamps a message
// with when the guest sent it.
func textMessageAt(from, wamid, text string, sentAt time.Time) []byte {
	return webhookTimestampRE.ReplaceAll(textMessage(from, wamid, text), fmt.Appendf(nil, `${1}%d`, sentAt.Unix()))
}

// templateParams is a template message's body parameters, or nil when m is
// not a template.
func templateParams(m fakegraph.Message) []string {
	tpl := m.Request.Template
	if m.Request.Type != "template" || tpl == nil || tpl.Name != "reanudar_conversacion" || tpl.Language == nil || tpl.Language.Code != "es" {
		return nil
	}
	params := []string{}
	for _, c := range tpl.Components {
		for _, p := range c.Parameters {
			params = append(params, p.Text)
		}
	}
	return params
}

// TestReplyOutsideTheWindowGoesOutAsTheHotelsTemplate: the hotel is given
// its approved template through the admin API. A guest whose message is
// older than 24 hours is answered with the template (the binary judges the
// window), as is one Meta finds outside it (131047); a guest inside the
// window gets the reply itself. Every message from Meta is marked read with
// a typing indicator.
func TestReplyOutsideTheWindowGoesOutAsTheHotelsTemplate(t *testing.T) {
	s := startAgentStack(t, nil)
	status, _, body := Do(t, http.MethodPatch, s.in.URL("/admin/tenants/"+agentTenant),
		[]byte(`{"whatsapp_template":{"name":"reanudar_conversacion","language":"es","body_parameters":["{guest_name}","{hotel_name}"]}}`), s.adminHeader())
	if status != http.StatusOK {
		t.Fatalf("PATCH whatsapp_template: %d %s", status, body)
	}
	w := newWebhookClient(2)
	old, closed, open := newGuestPhone(), newGuestPhone(), newGuestPhone()
	s.graph.CloseWindow(closed)

	s.deliver(w, textMessageAt(old, "wamid.window-old-"+old, "hola", time.Now().Add(-25*time.Hour)))
	s.deliver(w, textMessage(closed, "wamid.window-closed-"+closed, "hola"))
	s.deliver(w, textMessage(open, "wamid.window-open-"+open, "hola"))

	for _, guest := range []string{old, closed} {
		r := s.waitReplies(guest, 1, 10*time.Second)
		if got := templateParams(r[0]); !slices.Equal(got, []string{"Ana García", "Hotel Madrid Central"}) {
			t.Errorf("%s: sent %s, want the hotel's template with the guest's and the hotel's names", guest, r[0].Raw)
		}
	}
	r := s.waitReplies(open, 1, 10*time.Second)
	mustSay(t, r[0], "Hotel Madrid Central")
	if r[0].Request.Type != "text" {
		t.Errorf("inside the window: sent %s, want the reply itself", r[0].Raw)
	}
	s.waitQuiet(10 * time.Second)

	// The outbox records each reply sent, under the id Meta gave what went out.
	wamids := map[string]string{}
	for _, m := range s.graph.Messages() {
		wamids[m.WAMID] = m.Request.Type
	}
	rows, err := s.db.Query(context.Background(), `SELECT recipient, state, attempts, coalesce(provider_id, '') FROM outbox_replies`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var to, state, provider string
		var attempts int
		if err := rows.Scan(&to, &state, &attempts, &provider); err != nil {
			t.Fatal(err)
		}
		n++
		want := map[string]string{old: "template", closed: "template", open: "text"}[to]
		if state != "sent" || attempts != 1 || wamids[provider] != want {
			t.Errorf("reply to %s: %s after %d attempts as %q (%s), want sent at once as %s", to, state, attempts, provider, wamids[provider], want)
		}
	}
	if err := rows.Err(); err != nil || n != 3 {
		t.Fatalf("%d replies in the outbox (%v), want 3:\n%s", n, err, s.queues())
	}

	var read []string
	for _, rr := range s.graph.Reads() {
		if !rr.Typing || rr.PhoneNumberID != agentPhoneNumberID {
			t.Errorf("read receipt %+v: want a typing indicator from the hotel's number", rr)
		}
		read = append(read, rr.MessageID)
	}
	for _, id := range []string{"wamid.window-old-" + old, "wamid.window-closed-" + closed, "wamid.window-open-" + open} {
		if !slices.Contains(read, id) {
			t.Errorf("%s was not marked read (read: %v)", id, read)
		}
	}

	// Meta took a reply and says only in its receipt that the guest was
	// outside the window: the reply goes again as the template, once however
	// often the receipt is delivered, and the operator reads why.
	late := newGuestPhone()
	s.deliver(w, textMessage(late, "wamid.window-late-"+late, "hola"))
	first := s.waitReplies(late, 1, 10*time.Second)[0]
	receipt := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},
		"statuses":[{"id":%q,"status":"failed","timestamp":"%d","recipient_id":%q,
			"errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
				"error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]}]}}]}]}`,
		agentPhoneNumberID, first.WAMID, time.Now().Unix(), late)
	s.deliver(w, []byte(receipt))
	s.deliver(w, []byte(receipt))
	again := s.waitReplies(late, 2, 10*time.Second)
	if got := templateParams(again[1]); !slices.Equal(got, []string{"Ana García", "Hotel Madrid Central"}) {
		t.Errorf("after the 131047 receipt: sent %s, want the hotel's template", again[1].Raw)
	}
	s.waitQuiet(10 * time.Second)
	if n := len(repliesTo(s.graph.Messages(), late)); n != 2 {
		t.Errorf("%d messages to the guest after a receipt delivered twice, want 2 (the reply, one template)", n)
	}
	status, _, body = Do(t, http.MethodGet, s.in.URL("/admin/tenants/"+agentTenant+"/replies?to="+late), nil, s.adminHeader())
	if status != http.StatusOK || strings.Count(body, `"state":"sent"`) != 2 || !strings.Contains(body, `"provider_id":"`+first.WAMID+`"`) ||
		!strings.Contains(body, `"delivery_status":"failed"`) || !strings.Contains(body, `"delivery_errors":[{"code":131047`) {
		t.Errorf("the guest's replies through the admin API: %d %s", status, body)
	}
}
