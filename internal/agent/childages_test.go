package agent

import (
	"slices"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// wantChildAges checks the ages the PMS was sent with a booking.
func (e *env) wantChildAges(id string, want ...int) {
	e.t.Helper()
	if got := e.booking(id).Stay.ChildAges; !slices.Equal(got, want) {
		e.t.Errorf("booking %s has child ages %v, want %v", id, got, want)
	}
}

var childAgeCases = []conversationCase{
	{"children's ages given with the party are booked with the stay", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2 adultos y 1 niño de 7 años", []string{"Habitación: Habitación doble", "Huéspedes: 2 adultos y 1 niño (7 años)", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "DEMO-000001", "Huéspedes: 2 adultos y 1 niño (7 años)"}, []string{"qué edad"}},
		})
		e.wantChildAges("DEMO-000001", 7)

		en := e.guest()
		en.talk(t, []exchange{
			{"book a double from 5 to 7 December for 2 adults and a 7-year-old", []string{"Room: Double room", "Guests: 2 adults and 1 child (aged 7)"}, nil},
			{"yes", []string{"Booking confirmed!", "DEMO-000002", "Guests: 2 adults and 1 child (aged 7)"}, []string{"How old"}},
		})
		e.wantChildAges("DEMO-000002", 7)
	}},

	{"children without ages are asked their ages once, as the booking is made", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2 adultos y 1 niño", []string{"Huéspedes: 2 adultos y 1 niño\n", "¿Confirmo la reserva?"}, []string{"años"}},
			{"sí", []string{"Antes de reservar: ¿qué edad tiene el niño o la niña?"}, []string{"Reserva confirmada"}},
		})
		e.noBooking("DEMO-000001")
		c.talk(t, []exchange{{"7", []string{"¡Reserva confirmada!", "DEMO-000001", "2 adultos y 1 niño (7 años)"}, nil}})
		e.wantChildAges("DEMO-000001", 7)

		two := e.guest()
		two.talk(t, []exchange{
			{"disponibilidad del 5 al 7 de diciembre para 2 adultos y 2 niños", []string{"1. Suite", "2. Habitación familiar"}, nil},
			{"2", []string{"Habitación: Habitación familiar", "2 adultos y 2 niños"}, nil},
			{"sí", []string{"¿qué edad tienen los 2 niños?", "Dime la edad de cada uno"}, nil},
			{"4 y 9", []string{"¡Reserva confirmada!", "DEMO-000002", "2 adultos y 2 niños (4 y 9 años)"}, nil},
		})
		e.wantChildAges("DEMO-000002", 4, 9)

		// Asked once: a reply without ages books without them.
		vague := e.guest()
		vague.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2 adultos y 1 niño", []string{"¿Confirmo la reserva?"}, nil},
			{"sí", []string{"¿qué edad tiene el niño o la niña?"}, nil},
			{"ni idea", []string{"¡Reserva confirmada!", "DEMO-000003"}, []string{"edad"}},
		})
		e.wantChildAges("DEMO-000003")

		en := e.guest()
		en.talk(t, []exchange{
			{"book a double from 5 to 7 December for 2 adults and 1 child", []string{"Guests: 2 adults and 1 child\n", "Shall I confirm it?"}, nil},
			{"yes", []string{"Before I book: how old is the child?"}, nil},
			{"7", []string{"Booking confirmed!", "DEMO-000004", "2 adults and 1 child (aged 7)"}, nil},
		})
		e.wantChildAges("DEMO-000004", 7)
	}},

	{"with buttons, confirming again while the ages are asked books without them", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withInteractive())
		c := e.guest()
		c.say("reservar doble del 5 al 7 de diciembre para 2 adultos y 1 niño")
		mustContain(t, one(t, c.tap(chat.KindButtonReply, BtnConfirmBooking, "Confirmar")), "¿qué edad tiene el niño o la niña?")
		mustContain(t, one(t, c.tap(chat.KindButtonReply, BtnConfirmBooking, "Confirmar")), "¡Reserva confirmada!", "DEMO-000001")
		e.wantChildAges("DEMO-000001")
	}},
}

func TestChildAges(t *testing.T) { runConversations(t, childAgeCases) }
