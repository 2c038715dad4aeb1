package hotel

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

func guestText(from, id, text string) string {
	return whatsapptest.Message{PhoneNumberID: madridPNID, From: from, ID: id, Text: text}.JSON()
}

// waitSent waits until n replies were sent (logged, without credentials)
// and returns their texts.
func waitSent(t *testing.T, s *Service, n int) []string {
	t.Helper()
	var texts []string
	testservices.Eventually(t, 10*time.Second, "replies sent", func() bool {
		texts = texts[:0]
		for _, r := range s.sender.logged.Sent() {
			texts = append(texts, r.Reply.Text)
		}
		return len(texts) >= n
	})
	return texts
}

// waitDone waits until every accepted message was handled.
func waitDone(t *testing.T, s *Service) {
	t.Helper()
	testservices.Eventually(t, 10*time.Second, "messages handled", func() bool {
		st, err := s.inbox.Stats(context.Background())
		return err == nil && st.InboxPending == 0 && st.OutboxPending == 0
	})
}

// STOP is confirmed once; then the guest gets nothing (their messages are
// handled without a reply, a second STOP included); START is confirmed and
// the agent answers again. A sentence with "parar" in it is no command.
func TestOptOutSilencesTheGuestUntilOptIn(t *testing.T) {
	s := newService(t, Config{}, nil)
	s.Start()
	defer s.Stop()
	say := func(id, text string) {
		t.Helper()
		if _, err := accept(t, s, chat.WhatsApp, guestText(madridGuest, id, text), Route{}); err != nil {
			t.Fatal(err)
		}
		waitDone(t, s)
	}
	say("wamid.c1", "Quiero parar en Madrid")
	say("wamid.c2", "STOP")
	say("wamid.c3", "Hola")
	say("wamid.c4", "¿Tenéis habitación para el 5 de diciembre?")
	say("wamid.c5", "baja")
	say("wamid.c6", "ALTA")
	say("wamid.c7", "Hola")
	got := waitSent(t, s, 4)
	if len(got) != 4 ||
		!strings.Contains(got[1], "no recibirás más mensajes de Hotel Madrid Central") || !strings.Contains(got[1], "ALTA") ||
		!strings.Contains(got[2], "Vuelves a recibir mensajes") || !strings.Contains(got[0], "no te he entendido") || !strings.Contains(got[3], "Bienvenido/a a Hotel Madrid Central") {
		t.Fatalf("sent %q, want an answer, the opt-out's confirmation, the opt-in's, an answer", got)
	}
	for _, id := range []string{"wamid.c3", "wamid.c4", "wamid.c5"} {
		if rs, _ := s.inbox.Replies(context.Background(), inbox.Query{InReplyTo: id}); len(rs) != 0 {
			t.Errorf("%s, written while opted out, got replies %+v", id, rs)
		}
	}
	for _, r := range messages(t, s) {
		if r.State != inbox.StateDone {
			t.Errorf("message %s: %s, want done", r.Message.ID, r.State)
		}
	}
	h, err := s.consent.History(context.Background(), "tenant_hotel_madrid", chat.WhatsApp, madridGuest)
	if err != nil || len(h) != 2 || !h[0].OptedOut || h[0].Text != "STOP" || h[0].MessageID != "wamid.c2" || h[1].OptedOut || h[1].Text != "ALTA" {
		t.Fatalf("consent history %+v, %v", h, err)
	}
}

// Whatever queued it and whenever, no reply reaches a guest who opted out
// except the opt-out's confirmation: a reply queued before (and sent after)
// the opt-out and a staff reply queued after it are suppressed, not failed.
// The opt-out outlives a reload.
func TestQueuedAndStaffRepliesToAnOptedOutGuestAreSuppressed(t *testing.T) {
	keeper := &mapKeeper{}
	s := newService(t, Config{AnswerInline: true}, keeper)
	staff := func(text string) {
		t.Helper()
		if err := s.inbox.Enqueue(context.Background(), inbox.OutboundReply{TenantID: "tenant_hotel_madrid", Channel: chat.WhatsApp,
			To: "+" + madridGuest, PhoneNumberID: madridPNID, Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}); err != nil {
			t.Fatal(err)
		}
	}
	staff("queued before")
	answer, err := accept(t, s, chat.WhatsApp, guestText(madridGuest, "wamid.s1", "No quiero más mensajes"), Route{})
	if err != nil || !strings.Contains(answer["content"].(string), "no recibirás más mensajes") {
		t.Fatalf("opt-out answered %v, %v", answer, err)
	}
	if answer, err := accept(t, s, chat.WhatsApp, guestText(madridGuest, "wamid.s2", "Hola"), Route{}); err != nil || answer["response_type"] != nil {
		t.Fatalf("a message while opted out answered %v, %v", answer, err)
	}
	staff("staff after")

	// A reload: the next service keeps the opt-out.
	next := newService(t, Config{AnswerInline: true}, keeper)
	next.Start()
	defer next.Stop()
	waitDone(t, next)
	byText := map[string]inbox.ReplyRecord{}
	rs, _ := next.inbox.Replies(context.Background(), inbox.Query{})
	for _, r := range rs {
		byText[r.Reply.Reply.Text] = r
	}
	if len(rs) != 3 {
		t.Fatalf("replies %+v, want the two staff replies and the confirmation", rs)
	}
	for _, text := range []string{"queued before", "staff after"} {
		r := byText[text]
		if r.State != inbox.StateSuppressed || !strings.HasPrefix(r.LastError, "suppressed: opted out") || r.Attempts != 0 {
			t.Errorf("%q: %+v, want suppressed as opted out", text, r)
		}
	}
	sent := next.sender.logged.Sent()
	if len(sent) != 1 || sent[0].InReplyTo != "wamid.s1" || !strings.Contains(sent[0].Reply.Text, "ALTA") {
		t.Fatalf("sent %+v, want only the confirmation", sent)
	}
}
