package inbox_test

import (
	"errors"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// Erasing a guest deletes their messages, the replies to them and those
// replies' statuses, leaves every other guest alone, and refuses while any
// of the guest's work is in flight.
func TestEraseGuest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, senderOptions(e))
		mustAccept(t, ib, guestMsg("111", "a1", 0), guestMsg("111", "a2", 1), guestMsg("222", "b1", 2))

		// Pending work: nothing is erased.
		if _, err := ib.EraseGuest(ctxT(t), tenant, chat.WhatsApp, "111"); !errors.Is(err, inbox.ErrGuestBusy) {
			t.Fatalf("erase with pending messages: %v, want ErrGuestBusy", err)
		}
		stop := runInbox(t, ib, newCalls(t).handler("a"))
		waitFor(t, "messages handled", func() bool { return pendingInbox(t, ib) == 0 })
		stop()
		if _, err := ib.EraseGuest(ctxT(t), tenant, chat.WhatsApp, "111"); !errors.Is(err, inbox.ErrGuestBusy) {
			t.Fatalf("erase with replies queued: %v, want ErrGuestBusy", err)
		}
		s := &scriptedSender{}
		stopSend := runSender(t, ib, s)
		waitFor(t, "replies sent", func() bool { _, sent := s.snapshot(); return len(sent) == 3 })
		stopSend()
		// Meta's statuses of the replies to each guest.
		for _, st := range []chat.Status{
			{TenantID: tenant, Channel: chat.WhatsApp, MessageID: "wamid.re: a1", Status: "delivered", Recipient: "111", Timestamp: epoch},
			{TenantID: tenant, Channel: chat.WhatsApp, MessageID: "wamid.re: a2", Status: "read", Timestamp: epoch},
			{TenantID: tenant, Channel: chat.WhatsApp, MessageID: "wamid.re: b1", Status: "delivered", Recipient: "222", Timestamp: epoch},
		} {
			if _, err := ib.Accept(ctxT(t), nil, []chat.Status{st}); err != nil {
				t.Fatal(err)
			}
		}

		got, err := ib.EraseGuest(ctxT(t), tenant, chat.WhatsApp, "111")
		if err != nil {
			t.Fatal(err)
		}
		if want := (inbox.GuestErasure{Messages: 2, Replies: 2, Statuses: 2}); got != want {
			t.Errorf("erased %+v, want %+v", got, want)
		}
		ms := messages(t, ib)
		if _, ok := ms["a1"]; ok || len(ms) != 1 || ms["b1"].Message.From != "222" {
			t.Errorf("messages after erasing 111: %v", ms)
		}
		if rs := replies(t, ib, inbox.Query{To: "111"}); len(rs) != 0 {
			t.Errorf("replies to 111 after erasing: %+v", rs)
		}
		if rs := replies(t, ib, inbox.Query{To: "222"}); len(rs) != 1 || rs[0].DeliveryStatus != "delivered" {
			t.Errorf("the other guest's replies: %+v", rs)
		}
		if sts, err := ib.Statuses(ctxT(t), tenant, chat.WhatsApp, "wamid.re: a2"); err != nil || len(sts) != 0 {
			t.Errorf("statuses of an erased reply: %v %v", sts, err)
		}
		// Erasing again finds nothing.
		if got, err := ib.EraseGuest(ctxT(t), tenant, chat.WhatsApp, "111"); err != nil || got != (inbox.GuestErasure{}) {
			t.Errorf("second erase: %+v %v", got, err)
		}
	})
}
