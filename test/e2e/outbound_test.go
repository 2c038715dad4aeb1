package e2e

// What may and may not reach a guest, end to end on the real binary: a guest
// who opted out gets nothing; with an expired WhatsApp token replies are
// held, readiness and /metrics say so, and a new token sends them, none lost
// and none twice.

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestOptedOutGuestGetsNothing: BAJA is confirmed once; then the guest's
// messages get no answer and a reply queued to them by anything else is
// suppressed, not failed; START is confirmed and the agent answers again.
func TestOptedOutGuestGetsNothing(t *testing.T) {
	s := startAgentStack(t, nil)
	w := newWebhookClient(2)
	guest := newGuestPhone()
	id := func(n string) string { return "wamid.optout-" + n + "-" + guest }

	s.deliver(w, textMessage(guest, id("1"), "Hola"))
	s.waitReplies(guest, 1, 10*time.Second)
	s.deliver(w, textMessage(guest, id("2"), "BAJA"))
	r := s.waitReplies(guest, 2, 10*time.Second)
	mustSay(t, r[1], "no recibirás más mensajes", "Hotel Madrid Central", "ALTA")

	s.deliver(w, textMessage(guest, id("3"), "Hola"))
	s.deliver(w, textMessage(guest, id("4"), "¿Tenéis habitación doble "+stayPhrase(time.Now())+" para 2?"))
	s.deliver(w, textMessage(guest, id("5"), "stop"))
	// A reply another part queues for the guest: a member of staff's, through
	// the conversations API and the same outbox.
	if status, _, body := Do(t, http.MethodPost, s.in.URL("/admin/tenants/"+agentTenant+"/conversations/"+guest+"/reply"),
		[]byte(`{"text":"Aviso del hotel"}`), s.adminHeader()); status != http.StatusAccepted {
		t.Fatalf("staff reply: %d %s", status, body)
	}
	s.waitQuiet(15 * time.Second)
	var suppressed, failed, answered int
	if err := s.db.QueryRow(context.Background(), `SELECT
		count(*) FILTER (WHERE state = 'suppressed' AND last_error LIKE 'suppressed: opted out%'),
		count(*) FILTER (WHERE state = 'failed'),
		count(*) FILTER (WHERE in_reply_to IN ($2, $3, $4) AND state <> 'suppressed')
		FROM outbox_replies WHERE recipient = $1`, guest, id("3"), id("4"), id("5")).Scan(&suppressed, &failed, &answered); err != nil {
		t.Fatal(err)
	}
	if suppressed != 1 || failed != 0 || answered != 0 {
		t.Errorf("while opted out: %d suppressed, %d failed, %d replies to the guest's messages; want the notice suppressed and nothing else\n%s",
			suppressed, failed, answered, s.queues())
	}
	if got := repliesTo(s.graph.Messages(), guest); len(got) != 2 {
		t.Fatalf("the guest got %d messages while opted out:\n%s", len(got)-2, bodies(got[2:]))
	}

	s.deliver(w, textMessage(guest, id("6"), "START"))
	r = s.waitReplies(guest, 3, 10*time.Second)
	mustSay(t, r[2], "Vuelves a recibir mensajes", "BAJA")
	s.deliver(w, textMessage(guest, id("7"), "Hola"))
	r = s.waitReplies(guest, 4, 10*time.Second)
	mustSay(t, r[3], "Hotel Madrid Central")

	rows, err := s.db.Query(context.Background(), `SELECT opted_out, text, message_id FROM guest_consent_changes
		WHERE tenant_id = $1 AND channel = 'whatsapp' AND guest = $2 ORDER BY seq`, agentTenant, guest)
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	for rows.Next() {
		var out bool
		var text, msg string
		if err := rows.Scan(&out, &text, &msg); err != nil {
			t.Fatal(err)
		}
		audit = append(audit, map[bool]string{true: "out", false: "in"}[out]+":"+text+":"+msg)
	}
	if want := []string{"out:BAJA:" + id("2"), "in:START:" + id("6")}; !slices.Equal(audit, want) {
		t.Errorf("consent changes %v, want %v", audit, want)
	}
}

// tokenStatus is the whatsapp_token dependency of /health/ready.
func tokenStatus(t *testing.T, in *Instance) (ready bool, up bool, reason string) {
	t.Helper()
	_, _, body := Do(t, "GET", in.URL("/health/ready"), nil, nil)
	var rep struct {
		Ready        bool `json:"ready"`
		Dependencies map[string]struct {
			Up       bool   `json:"up"`
			Advisory bool   `json:"advisory"`
			Error    string `json:"error"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/health/ready: %v: %s", err, body)
	}
	if d, ok := rep.Dependencies["whatsapp_token"]; ok {
		if !d.Advisory {
			t.Errorf("whatsapp_token is not advisory: an expired token must not take the instance out of service")
		}
		return rep.Ready, d.Up, d.Error
	}
	t.Fatalf("/health/ready has no whatsapp_token: %s", body)
	return
}

// TestExpiredTokenHoldsRepliesUntilANewOne: with an expired token the
// replies are held (none failed), the instance stays ready but reports
// whatsapp_token down with the reason, whatsapp_token_valid is 0 and
// outbox_held_replies counts the held replies; a reload keeps it so without
// calling Meta again. Restarted with a new token, the instance probes it
// with one held reply and sends them all, each once, in each guest's order.
func TestExpiredTokenHoldsRepliesUntilANewOne(t *testing.T) {
	// Read receipts off: the calls counted below are the replies' (a
	// receipt that races the first refused reply would be counted too).
	s := startAgentStack(t, map[string]string{"FEATURE_FLAGS": "whatsapp.mark_read=false"})
	w := newWebhookClient(2)
	s.graph.ExpireToken()
	g1, g2 := newGuestPhone(), newGuestPhone()
	for i, text := range []string{"Hola", "¿Dónde estáis?", "¿A qué hora es el check-in?"} {
		s.deliver(w, textMessage(g1, "wamid.token-"+g1+"-"+string(rune('a'+i)), text))
	}
	s.deliver(w, textMessage(g2, "wamid.token-"+g2, "Hola"))

	// Each guest's first reply is held; g1's others wait behind it.
	counts := func() (held, pending, failed, sent int) {
		t.Helper()
		if err := s.db.QueryRow(context.Background(), `SELECT
			count(*) FILTER (WHERE state = 'held'), count(*) FILTER (WHERE state = 'pending'),
			count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'sent')
			FROM outbox_replies`).Scan(&held, &pending, &failed, &sent); err != nil {
			t.Fatal(err)
		}
		return
	}
	testservices.Eventually(t, 15*time.Second, "the replies held", func() bool {
		held, pending, _, _ := counts()
		return held == 2 && pending == 2
	})
	ready, up, reason := tokenStatus(t, s.in)
	if !ready || up || !strings.Contains(reason, "code 190") || !strings.Contains(reason, "held") {
		t.Errorf("readiness: ready %v, whatsapp_token up %v %q; want ready, and whatsapp_token down with the reason", ready, up, reason)
	}
	testservices.Eventually(t, 15*time.Second, "whatsapp_token_valid 0 and outbox_held_replies 2", func() bool {
		m := scrape(t, s.in.URL("/metrics"))
		valid, ok1 := m.value("whatsapp_token_valid")
		held, ok2 := m.value("outbox_held_replies")
		return ok1 && ok2 && valid == 0 && held == 2
	})
	calls := s.graph.Calls()
	if calls > 4 {
		t.Errorf("%d calls to the Graph API for 2 held replies", calls)
	}

	// A reload keeps the token's state: still held, no call to Meta (the
	// next probe is 30s after the last).
	caddyfile, err := os.ReadFile(filepath.Join(RepoRoot(), "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	s.in.Reload(caddyfile)
	time.Sleep(2 * time.Second)
	if _, up, _ := tokenStatus(t, s.in); up {
		t.Errorf("after a reload with the same token, whatsapp_token is up")
	}
	if held, pending, failed, sent := counts(); held != 2 || pending != 2 || failed != 0 || sent != 0 || s.graph.Calls() != calls {
		t.Errorf("after a reload: %d held, %d pending, %d failed, %d sent, %d more calls\n%s", held, pending, failed, sent, s.graph.Calls()-calls, s.queues())
	}

	// The operator sets a new token and restarts.
	const newToken = "EAAG-e2e-agent-token-2"
	s.graph.SetToken(newToken)
	s.in.Stop()
	s.in.opts.Env["WHATSAPP_ACCESS_TOKEN"] = newToken
	s.in.Restart()
	s.waitReplies(g1, 3, 15*time.Second)
	s.waitReplies(g2, 1, 15*time.Second)
	s.waitQuiet(15 * time.Second)

	if held, pending, failed, sent := counts(); held != 0 || pending != 0 || failed != 0 || sent != 4 {
		t.Errorf("after the new token: %d held, %d pending, %d failed, %d sent\n%s", held, pending, failed, sent, s.queues())
	}
	// Each reply once, and g1's in the order queued.
	rows, err := s.db.Query(context.Background(), `SELECT recipient, provider_id, attempts FROM outbox_replies ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string][]string{}
	for rows.Next() {
		var to, wamid string
		var attempts int
		if err := rows.Scan(&to, &wamid, &attempts); err != nil {
			t.Fatal(err)
		}
		queued[to] = append(queued[to], wamid)
		if attempts != 1 {
			t.Errorf("reply %s to %s sent after %d attempts, want 1: holds are no attempts", wamid, to, attempts)
		}
	}
	for _, g := range []string{g1, g2} {
		var arrived []string
		for _, m := range repliesTo(s.graph.Messages(), g) {
			arrived = append(arrived, m.WAMID)
		}
		if !slices.Equal(arrived, queued[g]) {
			t.Errorf("to %s arrived %v, queued %v", g, arrived, queued[g])
		}
	}
	if n := len(s.graph.Messages()); n != 4 {
		t.Errorf("the Graph API accepted %d messages, want 4:\n%s", n, bodies(s.graph.Messages()))
	}
	if ready, up, reason := tokenStatus(t, s.in); !ready || !up {
		t.Errorf("readiness with the new token: ready %v, whatsapp_token up %v %q", ready, up, reason)
	}
	if v, _ := scrape(t, s.in.URL("/metrics")).value("whatsapp_token_valid"); v != 1 {
		t.Errorf("whatsapp_token_valid %v with the new token, want 1", v)
	}
}
