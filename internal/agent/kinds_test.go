package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// none asserts that a message got no reply.
func none(t *testing.T, replies []chat.Reply) {
	t.Helper()
	if len(replies) != 0 {
		t.Fatalf("got %d replies, want none: %+v", len(replies), replies)
	}
}

var kindCases = []conversationCase{
	{"messages without words are told once what to do instead", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		photo := c.message(chat.KindImage, "", "")
		photo.Media = &chat.Media{ID: "1", MimeType: "image/jpeg"}
		mustContain(t, one(t, c.deliver(photo)), "no puedo ver fotos", "solo puedo leer mensajes de texto")
		// A burst of files gets one answer.
		none(t, c.deliver(c.message(chat.KindSticker, "", "")))
		none(t, c.deliver(c.message(chat.KindDocument, "", "")))
		// Words clear it: the next file is answered again.
		mustContain(t, one(t, c.say("hola")), "Hotel Madrid Central")
		mustContain(t, one(t, c.deliver(c.message(chat.KindAudio, "", ""))), "notas de voz")
		c.say("hola")
		mustContain(t, one(t, c.deliver(c.message(chat.KindLocation, "", ""))), "ubicación")
		c.say("hola")
		mustContain(t, one(t, c.deliver(c.message(chat.KindUnsupported, "", ""))), "solo puedo leer mensajes de texto")
		c.say("hola")
		mustContain(t, one(t, c.deliver(c.message(chat.KindContacts, "", ""))), "solo puedo leer mensajes de texto")
		none(t, c.deliver(c.message(chat.KindFlowReply, "", "")))
		// A caption is what the guest said.
		video := c.message(chat.KindVideo, "reservar doble del 5 al 7 de diciembre para 2", "")
		mustContain(t, one(t, c.deliver(video)), "Habitación doble")
		// An order's note is read too.
		mustContain(t, one(t, c.deliver(c.message(chat.KindOrder, "quiero cancelar mi reserva", ""))), "número de la reserva")
	}},

	{"reactions, edits, deletions and the channel's notices get no reply", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		for _, k := range []chat.Kind{chat.KindReaction, chat.KindEdit, chat.KindRevoke, chat.KindSystem} {
			m := c.message(k, "", "")
			m.Target = "wamid.biz"
			if k == chat.KindSystem {
				m.System = &chat.System{Type: "customer_identity_changed", Body: "x"}
			}
			none(t, c.deliver(m))
		}
		// Nothing was remembered either: the guest's first words are greeted.
		s, err := e.store.Load(context.Background(), KeyFor(e.hotel.TenantID, chat.WhatsApp, c.from), e.clock.Now())
		if err != nil || !s.New {
			t.Fatalf("a silent message started a session: %+v %v", s, err)
		}
	}},

	{"the guest's first message of a new chat is greeted", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		mustContain(t, one(t, c.deliver(c.message(chat.KindWelcome, "", ""))), "Bienvenido/a a Hotel Madrid Central")
	}},

	{"a guest who changes number keeps the conversation and the bookings", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.say("reservar doble del 5 al 7 de diciembre para 2")
		mustContain(t, one(t, c.say("sí")), "DEMO-000001")
		changed := c.message(chat.KindSystem, "", "")
		newNumber := fmt.Sprintf("34699%06d", guestSeq.Add(1))
		changed.System = &chat.System{Type: chat.SystemChangedNumber, Body: "Ana changed number", NewID: newNumber, FormerID: c.from}
		changed.From = newNumber
		none(t, c.deliver(changed))
		none(t, c.deliver(changed)) // redelivered: harmless

		moved := e.guest()
		moved.from = newNumber
		r := one(t, moved.say("quiero cancelar mi reserva"))
		mustContain(t, r, "Vas a cancelar la reserva DEMO-000001")
		mustContain(t, one(t, moved.say("sí")), "Reserva DEMO-000001 cancelada")
		// The old number's conversation is gone: it is greeted afresh.
		s, err := e.store.Load(context.Background(), KeyFor(e.hotel.TenantID, chat.WhatsApp, c.from), e.clock.Now())
		if err != nil || !s.New {
			t.Fatalf("old number's session still there: %+v %v", s, err)
		}
	}},

	{"a booking under the old number is found after the session expired", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.say("reservar doble del 5 al 7 de diciembre para 2")
		mustContain(t, one(t, c.say("sí")), "DEMO-000001")
		e.clock.Set(e.clock.Now().Add(DefaultSessionTTL + time.Hour))
		newNumber := fmt.Sprintf("34699%06d", guestSeq.Add(1))
		changed := c.message(chat.KindSystem, "", "")
		changed.System = &chat.System{Type: chat.SystemChangedNumber, NewID: newNumber, FormerID: c.from}
		changed.From = newNumber
		none(t, c.deliver(changed))
		moved := e.guest()
		moved.from = newNumber
		mustContain(t, one(t, moved.say("cancelar la reserva DEMO-000001")), "Vas a cancelar la reserva DEMO-000001")
		// Someone else's number still finds nothing.
		mustContain(t, one(t, e.guest().say("cancelar la reserva DEMO-000001")), "No encuentro ninguna reserva tuya")
	}},

	{"a guest known only by a user id is answered and asked for a phone", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.from = fmt.Sprintf("US.%d", 13491208655302741918-uint64(guestSeq.Add(1)))
		mustContain(t, one(t, c.say("hola")), "Hotel Madrid Central")
		if k := KeyFor(e.hotel.TenantID, chat.WhatsApp, c.from); k.UserID != c.from {
			t.Fatalf("session key %q, want the user id as sent", k.UserID)
		}
		s, _ := e.store.Load(context.Background(), KeyFor(e.hotel.TenantID, chat.WhatsApp, c.from), e.clock.Now())
		if s.New {
			t.Fatal("the user id's session was not kept")
		}
		if g := (&turn{s: s, st: &s.State, m: chat.Message{Channel: chat.WhatsApp}}).guest(); g.Phone != "" {
			t.Fatalf("a user id became the booking's phone %q", g.Phone)
		}
	}},
}

func TestMessageKinds(t *testing.T) { runConversations(t, kindCases) }
