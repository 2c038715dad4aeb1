package agent

import (
	"context"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// TestEmailChangesBookingsOnlyWhenVerified: by email, a booking is
// cancelled only by mails the receiving server authenticated, from the
// address on the booking; a forged From can ask, not cancel, and is told
// why.
func TestEmailChangesBookingsOnlyWhenVerified(t *testing.T) {
	e := newEnv(t, NewMemorySessions())
	verified, forged := &chat.EmailFacts{Verified: true}, &chat.EmailFacts{Verified: false, Auth: "spf=fail dkim=none dmarc=fail"}
	mail := e.guest()
	mail.ch, mail.from = chat.Gmail, "guest1@madrid.com"
	send := func(text string, facts *chat.EmailFacts) chat.Reply {
		m := mail.message(chat.KindText, text, "")
		m.Email = facts
		return one(t, mail.deliver(m))
	}
	send("reservar doble del 5 al 7 de diciembre para 2", verified)
	mustContain(t, send("sí", verified), "¡Reserva confirmada!")
	status := func() pms.BookingStatus {
		b, err := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000001")
		if err != nil {
			t.Fatal(err)
		}
		return b.Status
	}
	confirmed := status()

	// Forged (or a bridge that states nothing): refused, with the reason.
	for _, facts := range []*chat.EmailFacts{forged, nil} {
		r := send("cancelar la reserva DEMO-000001", facts)
		mustContain(t, r, "no puedo modificar ni cancelar una reserva por email", "DEMO-000001 no se ha modificado")
		if status() != confirmed {
			t.Fatalf("a forged mail changed the booking: %v", status())
		}
	}
	// A verified request gets the prompt; a forged "yes" cannot confirm it.
	mustContain(t, send("cancelar la reserva DEMO-000001", verified), "DEMO-000001")
	mustContain(t, send("sí", forged), "no puedo modificar ni cancelar")
	if status() != confirmed {
		t.Fatalf("a forged confirmation cancelled: %v", status())
	}
	send("cancelar la reserva DEMO-000001", verified)
	send("sí", verified)
	if status() == confirmed {
		t.Fatal("a verified confirmation did not cancel")
	}

	// Another address, verified, cannot touch the booking either.
	other := e.guest()
	other.ch, other.from = chat.Gmail, "someone@else.com"
	m := other.message(chat.KindText, "cancelar la reserva DEMO-000001", "")
	m.Email = verified
	mustContain(t, one(t, other.deliver(m)), "No encuentro ninguna reserva tuya")
}

func TestEmailAttachmentsAreNoted(t *testing.T) {
	e := newEnv(t, NewMemorySessions())
	mail := e.guest()
	mail.ch, mail.from = chat.Gmail, "guest9@madrid.com"
	m := mail.message(chat.KindText, "sí", "")
	m.Email = &chat.EmailFacts{Verified: true, Attachments: []string{"passport.pdf"}}
	replies := mail.deliver(m)
	last := replies[len(replies)-1]
	mustContain(t, last, "No puedo abrir archivos adjuntos (passport.pdf)")
}
