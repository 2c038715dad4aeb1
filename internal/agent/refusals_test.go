package agent

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// checkingPMS refuses, as PMS implementations do with Stay.CheckBookable,
// stays that start before its today and parties no room type holds, and
// counts the calls that reach it.
type checkingPMS struct {
	pms.PMS
	today pms.Date
	calls int // Availability and CreateBooking
}

func (c *checkingPMS) check(ctx context.Context, h pms.Hotel, s pms.Stay) error {
	c.calls++
	rts, err := c.PMS.RoomTypes(ctx, h)
	if err != nil {
		return err
	}
	return s.CheckBookable(c.today, rts)
}

func (c *checkingPMS) Availability(ctx context.Context, h pms.Hotel, s pms.Stay) (pms.Availability, error) {
	if err := c.check(ctx, h, s); err != nil {
		return pms.Availability{}, err
	}
	return c.PMS.Availability(ctx, h, s)
}

func (c *checkingPMS) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	if err := c.check(ctx, req.Hotel, req.Stay); err != nil {
		return pms.Booking{}, err
	}
	return c.PMS.CreateBooking(ctx, req)
}

// withChecks puts a checkingPMS whose today is today in front of the demo.
func withChecks(today string) (envOption, *checkingPMS) {
	c := &checkingPMS{today: date(today)}
	return withPMS(func(p pms.PMS) pms.PMS { c.PMS = p; return c }), c
}

// repricing books at a total other than the one it quoted.
type repricing struct {
	pms.PMS
	extra float64
}

func (r repricing) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	b, err := r.PMS.CreateBooking(ctx, req)
	b.TotalPrice += r.extra
	return b, err
}

var refusalCases = []conversationCase{
	{"a stay in the past is refused without asking the PMS", func(t *testing.T, mk func(...envOption) *env) {
		checks, p := withChecks("2025-11-20")
		e := mk(checks)
		c := e.guest()
		c.talk(t, []exchange{{"reservar del 18 al 19 de noviembre de 2025 para 2", []string{"El mar 18 nov ya ha pasado. ¿Qué fechas quieres?"}, nil}})
		en := e.guest()
		en.talk(t, []exchange{{"book from 18 to 19 November 2025 for 2", []string{"Tue 18 Nov has already passed. Which dates would you like?"}, nil}})

		// Today is the hotel's: at 00:30 in Madrid it is still the 19th in UTC.
		e.clock.Set(time.Date(2025, 11, 20, 0, 30, 0, 0, madridTZ))
		late := e.guest()
		late.talk(t, []exchange{{"reservar del 19 al 21 de noviembre de 2025 para 2", []string{"El mié 19 nov ya ha pasado."}, nil}})
		if p.calls != 0 {
			t.Fatalf("the PMS was asked %d times about stays in the past", p.calls)
		}

		// A confirmation sent after the check-in day is over books nothing.
		e.clock.Set(morning)
		es, en2 := e.guest(), e.guest()
		es.talk(t, []exchange{{"reservar doble del 20 al 22 de noviembre para 2", []string{"¿Confirmo la reserva?"}, nil}})
		en2.talk(t, []exchange{{"book a double for 2 adults from 20 to 22 November", []string{"Shall I confirm it?"}, nil}})
		asked := p.calls
		e.clock.Set(morning.Add(23 * time.Hour))
		es.talk(t, []exchange{{"sí", []string{"El jue 20 nov ya ha pasado. ¿Qué fechas quieres?"}, []string{"Reserva confirmada"}}})
		en2.talk(t, []exchange{{"yes", []string{"Thu 20 Nov has already passed."}, []string{"Booking confirmed"}}})
		if p.calls != asked {
			t.Errorf("the PMS was asked to book a stay in the past")
		}
		e.noBooking("DEMO-000001")
	}},

	{"a PMS that says the stay is past gets the same answer", func(t *testing.T, mk func(...envOption) *env) {
		// The PMS's today is later than the agent's clock (its zone, its clock).
		checks, p := withChecks("2025-12-06")
		e := mk(checks)
		c := e.guest()
		c.talk(t, []exchange{{"reservar doble del 5 al 7 de diciembre para 2", []string{"El vie 5 dic ya ha pasado. ¿Qué fechas quieres?"}, []string{"No puedo buscar"}}})
		en := e.guest()
		en.talk(t, []exchange{{"hi, do you have a double room from 5 to 7 December for 2?", []string{"Fri 5 Dec has already passed."}, nil}})

		// Bookable when quoted, past when booked.
		p.today = date("2025-11-20")
		late := e.guest()
		late.talk(t, []exchange{{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿Confirmo la reserva?"}, nil}})
		p.today = date("2025-12-06")
		late.talk(t, []exchange{{"sí", []string{"El vie 5 dic ya ha pasado. ¿Qué fechas quieres?"}, nil}})
		e.noBooking("DEMO-000001")
	}},

	{"a party no room holds hears the largest room's size and is offered a person", func(t *testing.T, mk func(...envOption) *env) {
		checks, _ := withChecks("2025-11-20")
		e := mk(checks)
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar del 5 al 7 de diciembre para 9 adultos", []string{
				"no tenemos habitaciones para 9 adultos en una sola: la más grande es para 5 personas",
				"¿quieres que te pase con una persona del equipo para reservarlas?", "Responde SÍ para hablar con una persona"}, nil},
			{"sí", []string{"Te paso con una persona del equipo de Hotel Madrid Central"}, nil},
		})
		if r := c.say("hola"); len(r) != 0 {
			t.Fatalf("the agent kept answering after the handoff: %+v", r)
		}
		if st := c.session(); st.Context.Adults != 9 || st.Context.CheckIn != "2025-12-05" {
			t.Errorf("the stay was not kept for the person who takes over: %+v", st.Context)
		}

		// Or one room for fewer guests, on the same dates.
		en := e.guest()
		en.talk(t, []exchange{
			{"book from 5 to 7 December for 9 adults", []string{"no single room of ours takes 9 adults: the largest takes 5 guests", "Reply YES to talk to a person"}, nil},
			{"4", []string{"Room: Family room", "Guests: 4 adults", "Check-in: Fri 5 Dec", "Shall I confirm it?"}, nil},
		})

		// With buttons: a person, or no booking.
		checks2, _ := withChecks("2025-11-20")
		tap := mk(checks2, withInteractive()).guest()
		r := one(t, tap.say("reservar del 5 al 7 de diciembre para 9 adultos"))
		checkWhatsAppLimits(t, r)
		if ids := buttonIDs(r); !reflect.DeepEqual(ids, []string{BtnMenuHuman, BtnAbortBooking}) {
			t.Fatalf("buttons %v", ids)
		}
		mustContain(t, one(t, tap.tap(chat.KindButtonReply, BtnMenuHuman, "Hablar con persona")), "Te paso con una persona del equipo")
	}},

	{"the confirmation says the booked total when it is not the quote", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withPMS(func(p pms.PMS) pms.PMS { return repricing{PMS: p, extra: 30} }))
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"Total: 260,00 €", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "Total: 290,00 €", "Ojo: el total de la reserva es 290,00 €, no los 260,00 € que te indiqué"}, nil},
		})
		en := e.guest()
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double room: €260.00"}, nil},
			{"the double", []string{"Total: €260.00"}, nil},
			{"yes", []string{"Booking confirmed!", "Total: €290.00", "Note: the booking's total is €290.00, not the €260.00 I quoted"}, nil},
		})
		// The same total says nothing more.
		same := mk().guest()
		same.say("reservar doble del 5 al 7 de diciembre para 2")
		mustNotContain(t, one(t, same.say("sí")), "Ojo", "te indiqué")
	}},
}

func TestRefusals(t *testing.T) { runConversations(t, refusalCases) }
