package agent

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
)

// staleAvailability is the resilience layer serving its cache: the demo's
// answers, marked stale as of two hours ago.
type staleAvailability struct{ pms.PMS }

func (s staleAvailability) Availability(ctx context.Context, h pms.Hotel, st pms.Stay) (pms.Availability, error) {
	av, err := s.PMS.Availability(ctx, h, st)
	av.Stale, av.AsOf = true, morning.Add(-2*time.Hour)
	return av, err
}

func (s staleAvailability) HotelInfo(ctx context.Context, h pms.Hotel) (pms.HotelInfo, error) {
	info, err := s.PMS.HotelInfo(ctx, h)
	info.Stale = true
	return info, err
}

// downPMS fails every call as an unreachable PMS does.
type downPMS struct{ pms.PMS }

func (downPMS) Availability(context.Context, pms.Hotel, pms.Stay) (pms.Availability, error) {
	return pms.Availability{}, pms.ErrUnavailable
}
func (downPMS) HotelInfo(context.Context, pms.Hotel) (pms.HotelInfo, error) {
	return pms.HotelInfo{}, pms.ErrCircuitOpen
}

// flakyBooking times out after the PMS has made the booking, once.
type flakyBooking struct {
	pms.PMS
	failed bool
}

func (f *flakyBooking) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	b, err := f.PMS.CreateBooking(ctx, req)
	if err == nil && !f.failed {
		f.failed = true
		return pms.Booking{}, pms.ErrUnavailable
	}
	return b, err
}

// saveFails fails the next Save, like a database that drops the connection.
type saveFails struct {
	SessionStore
	fail bool
}

func (s *saveFails) Save(ctx context.Context, sess *Session) error {
	if s.fail {
		s.fail = false
		return errors.New("connection reset")
	}
	return s.SessionStore.Save(ctx, sess)
}

func buttonIDs(r chat.Reply) []string {
	var ids []string
	for _, b := range r.Buttons {
		ids = append(ids, b.ID)
	}
	return ids
}

func rowIDs(r chat.Reply) []string {
	var ids []string
	for _, s := range r.Sections {
		for _, row := range s.Rows {
			ids = append(ids, row.ID)
		}
	}
	return ids
}

func onlyRooms(rooms ...demo.Room) func(string) demo.Property {
	return func(string) demo.Property {
		p := demo.DefaultProperty("Hotel Madrid Central")
		p.Rooms = rooms
		return p
	}
}

func room(id int, name string, count int) demo.Room {
	return demo.Room{Type: pms.RoomType{ID: id, Name: pms.Untranslated(name), MaxAdults: 2, MaxChildren: 1}, Count: count, WeekdayRate: 100, WeekendRate: 130}
}

// conversationCases run over every session store: the dialogue must not
// depend on where its state lives.
var conversationCases = []conversationCase{
	{"books a room in three text messages", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		r := one(t, c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?"))
		if r.Kind != chat.ReplyText {
			t.Fatalf("offers with interactive off: kind %s", r.Kind)
		}
		mustContain(t, r, "Hotel Madrid Central", "vie 5 dic", "dom 7 dic", "2 noches", "2 adultos",
			"1. Habitación doble: 260,00 € en total", "Habitación con dos camas: 240,00 €", "Responde con el número")

		r = one(t, c.say("la doble"))
		mustContain(t, r, "Habitación: Habitación doble", "Total: 260,00 €", "¿Confirmo la reserva?", "Responde SÍ para confirmar")
		if e.freeRooms(2, "2025-12-05", "2025-12-07", 2) != 5 {
			t.Fatal("a room was taken before the guest confirmed")
		}

		r = one(t, c.say("sí"))
		mustContain(t, r, "¡Reserva confirmada!", "DEMO-000001", "Habitación: Habitación doble", "vie 5 dic", "dom 7 dic", "260,00 €")
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 4 {
			t.Fatalf("doubles free after booking = %d, want 4", got)
		}
		b, err := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000001")
		if err != nil {
			t.Fatal(err)
		}
		if b.Guest.Phone != c.from || b.Guest.FirstName != "Ana" || b.Guest.LastName != "García" || b.Reference == "" {
			t.Errorf("booked for %+v, reference %q", b.Guest, b.Reference)
		}
	}},

	{"books a room with a list, buttons and taps", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withInteractive())
		e.hotel.PhotoURL = "https://hotel.example/photo.jpg"
		c := e.guest()
		r := one(t, c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?"))
		checkWhatsAppLimits(t, r)
		if r.ResponseType() != "interactive_list" {
			t.Fatalf("four offers: response type %s, want interactive_list", r.ResponseType())
		}
		if ids := rowIDs(r); !reflect.DeepEqual(ids, []string{"room_2", "room_3", "room_4", "room_5"}) {
			t.Fatalf("rows %v", ids)
		}
		if r.Sections[0].Rows[0].Title != "Habitación doble" || r.Sections[0].Rows[0].Description != "260,00 € en total, 2 noches" {
			t.Errorf("first row %+v", r.Sections[0].Rows[0])
		}

		// Taps are handled by id: the analyzer is never asked about them.
		r = one(t, c.tap(chat.KindListReply, "room_2", "whatever the title said"))
		checkWhatsAppLimits(t, r)
		if r.ResponseType() != "interactive_buttons" {
			t.Fatalf("confirmation: response type %s", r.ResponseType())
		}
		if ids := buttonIDs(r); !reflect.DeepEqual(ids, []string{"confirm_booking", "change_dates", "abort_booking"}) {
			t.Fatalf("buttons %v", ids)
		}
		if r.Buttons[0].Title != "Confirmar" || r.Buttons[1].Title != "Cambiar fechas" || r.Buttons[2].Title != "Cancelar" {
			t.Errorf("titles %+v", r.Buttons)
		}
		mustContain(t, r, "Total: 260,00 €")
		mustNotContain(t, r, "Responde SÍ")

		r = one(t, c.tap(chat.KindButtonReply, "confirm_booking", "not a yes at all"))
		mustContain(t, r, "¡Reserva confirmada!", "DEMO-000001")
		if e.nlp.called("whatever the title said") || e.nlp.called("not a yes at all") {
			t.Error("a tap's text reached the analyzer")
		}
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 4 {
			t.Fatalf("doubles free = %d, want 4", got)
		}
	}},

	{"three offers or fewer come as buttons, with the hotel's photo", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withInteractive())
		e.hotel.PhotoURL = "https://hotel.example/photo.jpg"
		c := e.guest()
		r := one(t, c.say("disponibilidad del 5 al 7 de diciembre para 2 adultos y 2 niños"))
		checkWhatsAppLimits(t, r)
		if r.ResponseType() != "interactive_buttons_with_image" || r.ImageURL != e.hotel.PhotoURL {
			t.Fatalf("response type %s image %q", r.ResponseType(), r.ImageURL)
		}
		if ids := buttonIDs(r); !reflect.DeepEqual(ids, []string{"room_4", "room_5"}) {
			t.Fatalf("buttons %v", ids)
		}
		mustContain(t, r, "2 adultos y 2 niños")
		r = one(t, c.tap(chat.KindButtonReply, "room_5", "Familiar"))
		mustContain(t, r, "Habitación: Habitación familiar", "2 adultos y 2 niños")
	}},

	{"collects missing details over several messages", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		mustContain(t, one(t, c.say("quiero reservar una habitación")), "¿Para qué fechas?")
		mustContain(t, one(t, c.say("del 5 al 7 de diciembre")), "¿Para cuántas personas?")
		r := one(t, c.say("2"))
		mustContain(t, r, "1. Habitación doble", "2. Habitación con dos camas", "3. Suite", "4. Habitación familiar")
		mustContain(t, one(t, c.say("1")), "Habitación: Habitación doble", "¿Confirmo la reserva?")
		mustContain(t, one(t, c.say("si")), "¡Reserva confirmada!")
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 4 {
			t.Fatalf("doubles free = %d, want 4", got)
		}
	}},

	{"a request to book one known room goes straight to confirmation", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		mustContain(t, one(t, c.say("reservar doble del 5 al 7 de diciembre para 2")), "Habitación: Habitación doble", "¿Confirmo la reserva?")
		mustContain(t, one(t, c.say("cambiar")), "¿Para qué fechas?")
		mustContain(t, one(t, c.say("reservar doble del 12 al 14 de diciembre para 2")), "vie 12 dic", "¿Confirmo la reserva?")
		mustContain(t, one(t, c.say("no")), "no he hecho ninguna reserva")
		if got := e.freeRooms(2, "2025-12-12", "2025-12-14", 2); got != 5 {
			t.Fatalf("a declined booking took a room: %d free", got)
		}
		mustContain(t, one(t, c.tap(chat.KindButtonReply, "confirm_booking", "Confirmar")), "No tengo ninguna reserva pendiente")
	}},

	{"the same message delivered twice books once and answers the same", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		c.say("la doble")
		yes := c.message(chat.KindText, "sí", "")
		first := c.deliver(yes)
		again := c.deliver(yes)
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("redelivery answered %+v, first time %+v", again, first)
		}
		mustContain(t, one(t, first), "DEMO-000001")
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 4 {
			t.Fatalf("doubles free = %d, want 4", got)
		}
		if _, err := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000002"); !errors.Is(err, pms.ErrNotFound) {
			t.Fatalf("a second booking exists: %v", err)
		}
	}},

	{"a retry after a lost session write does not book twice", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		failing := &saveFails{SessionStore: e.store}
		o, err := New(e.nlp.analyze, e.demo, failing, WithClock(e.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		e.o = o
		c := e.guest()
		c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		c.say("la doble")
		yes := c.message(chat.KindText, "sí", "")
		failing.fail = true
		if _, err := e.o.Handle(context.Background(), yes, c.hotel); err == nil {
			t.Fatal("Handle hid a failed session write")
		}
		// The PMS booked, the session forgot; the inbox retries the message.
		mustContain(t, one(t, c.deliver(yes)), "DEMO-000001")
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 4 {
			t.Fatalf("doubles free = %d, want 4", got)
		}
	}},

	{"a booking the PMS made but did not confirm is not made twice", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withPMS(func(p pms.PMS) pms.PMS { return &flakyBooking{PMS: p} }))
		c := e.guest()
		c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		c.say("la doble")
		mustContain(t, one(t, c.say("sí")), "no puedo consultar el sistema de reservas")
		// A new "yes" (a new message id) reuses the first attempt's reference.
		mustContain(t, one(t, c.say("sí")), "DEMO-000001")
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 4 {
			t.Fatalf("doubles free = %d, want 4", got)
		}
	}},

	{"cancels the guest's booking and gives the room back", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.say("reservar doble del 5 al 7 de diciembre para 2")
		mustContain(t, one(t, c.say("sí")), "DEMO-000001")
		r := one(t, c.say("quiero cancelar mi reserva"))
		mustContain(t, r, "Vas a cancelar la reserva DEMO-000001", "Habitación: Habitación doble", "260,00 €", "Responde SÍ para cancelarla")
		mustContain(t, one(t, c.say("sí")), "Reserva DEMO-000001 cancelada")
		if got := e.freeRooms(2, "2025-12-05", "2025-12-07", 2); got != 5 {
			t.Fatalf("doubles free after cancel = %d, want 5", got)
		}
		b, _ := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000001")
		if b.Status != pms.BookingCancelled {
			t.Fatalf("status %v", b.Status)
		}
	}},

	{"room names in the guest's language, from offer to cancellation", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		en := e.guest()
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double room: €260.00", "2. Twin room"}, []string{"Habitación"}},
			{"the twin room please", []string{"Room: Twin room", "Shall I confirm it?"}, nil},
			{"yes", []string{"Booking confirmed!", "Room: Twin room"}, nil},
		})
		// The demo records the booking under its Spanish name; the English
		// guest is shown the room type's English one.
		if b, _ := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000001"); b.RoomName != "Habitación con dos camas" {
			t.Fatalf("the demo recorded %q", b.RoomName)
		}
		en.talk(t, []exchange{{"I want to cancel my booking", []string{"You are about to cancel booking DEMO-000001", "Room: Twin room"}, []string{"Habitación"}}})
		// A Spanish guest may name a room by its English name, and is
		// shown it in Spanish.
		bilingual := func(id int, es, en string) demo.Room {
			r := room(id, es, 3)
			r.Type.Name = pms.Text{"es": es, "en": en}
			return r
		}
		es := mk(withProperty(onlyRooms(bilingual(31, "Habitación Patio", "Courtyard Room"), bilingual(32, "Habitación Torre", "Tower Room")))).guest()
		es.talk(t, []exchange{
			{"hola, tenéis habitación del 5 al 7 de diciembre para 2?", []string{"1. Habitación Patio: 260,00 €", "2. Habitación Torre"}, []string{"Room"}},
			{"la courtyard", []string{"Habitación: Habitación Patio", "¿Confirmo la reserva?"}, nil},
		})
	}},

	{"cancels with buttons; a stranger cannot cancel someone's booking", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withInteractive())
		owner, stranger := e.guest(), e.guest()
		owner.say("reservar doble del 5 al 7 de diciembre para 2")
		owner.tap(chat.KindButtonReply, "confirm_booking", "Confirmar")

		r := one(t, stranger.say("cancelar la reserva DEMO-000001"))
		mustContain(t, r, "No encuentro ninguna reserva tuya con el número DEMO-000001")

		r = one(t, owner.say("quiero cancelar mi reserva"))
		checkWhatsAppLimits(t, r)
		if ids := buttonIDs(r); !reflect.DeepEqual(ids, []string{"confirm_cancel", "keep_booking"}) {
			t.Fatalf("buttons %v", ids)
		}
		mustContain(t, one(t, owner.tap(chat.KindButtonReply, "keep_booking", "No, mantener")), "sigue en pie")
		b, _ := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000001")
		if b.Status != pms.BookingNew {
			t.Fatalf("kept booking has status %v", b.Status)
		}
		owner.say("cancelar la reserva DEMO-000001")
		mustContain(t, one(t, owner.tap(chat.KindButtonReply, "confirm_cancel", "Sí, cancelar")), "cancelada")
	}},

	{"human handoff silences the agent until reset", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		mustContain(t, one(t, c.say("quiero hablar con una persona")), "Te paso con una persona del equipo de Hotel Madrid Central")
		for range 2 {
			if r := c.say("hola"); len(r) != 0 {
				t.Fatalf("replied during handoff: %+v", r)
			}
		}
		// The same guest at another hotel is another conversation.
		other := *c
		other.hotel.TenantID, other.hotel.Hotel.TenantID = "tenant_hotel_bcn", "tenant_hotel_bcn"
		mustContain(t, one(t, other.say("hola")), "¡Hola, Ana!")

		was, err := e.o.ResetHandoff(context.Background(), c.hotel.TenantID, c.ch, c.from)
		if err != nil || !was {
			t.Fatalf("ResetHandoff = %v, %v", was, err)
		}
		mustContain(t, one(t, c.say("hola")), "¡Hola, Ana!")
		if was, _ := e.o.ResetHandoff(context.Background(), c.hotel.TenantID, c.ch, c.from); was {
			t.Error("second reset reported a handoff")
		}
	}},

	{"HandleTurn says when a message hands the conversation off, once", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		turn := func(text string) Turn {
			t.Helper()
			tr, err := e.o.HandleTurn(context.Background(), c.message(chat.KindText, text, ""), c.hotel)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		}
		if tr := turn("hola"); tr.HandedOff {
			t.Fatal("a greeting handed off")
		}
		m := c.message(chat.KindText, "quiero hablar con una persona", "")
		if tr, _ := e.o.HandleTurn(context.Background(), m, c.hotel); !tr.HandedOff || len(tr.Replies) != 1 || tr.Language != "es" {
			t.Fatalf("handoff turn %+v", tr)
		}
		if tr, _ := e.o.HandleTurn(context.Background(), m, c.hotel); tr.HandedOff {
			t.Fatal("the redelivered handoff message handed off again")
		}
		if tr := turn("hola"); tr.HandedOff {
			t.Fatal("a message during the handoff handed off again")
		}
		if st, found, err := e.o.GuestState(context.Background(), c.hotel.TenantID, c.ch, c.from); err != nil || !found || !st.Handoff {
			t.Fatalf("GuestState = %+v %v %v", st, found, err)
		}
	}},

	{"handoff ends when the session expires", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.say("quiero hablar con una persona")
		e.clock.Set(morning.Add(23 * time.Hour))
		if r := c.say("hola"); len(r) != 0 {
			t.Fatalf("replied during handoff: %+v", r)
		}
		// 24 h after the guest's last message the session is gone.
		e.clock.Set(morning.Add(23*time.Hour + DefaultSessionTTL))
		mustContain(t, one(t, c.say("hola")), "¡Hola")
	}},

	{"urgent messages after hours get the after-hours path", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		e.clock.Set(time.Date(2025, 11, 20, 23, 30, 0, 0, madridTZ))
		r := one(t, c.say("hay una fuga de agua en mi habitación, es urgente"))
		mustContain(t, r, "08:00–22:00", "+34 910 000 111", "112", "a partir de las 08:00")
		// Not urgent: answered as usual at night.
		mustContain(t, one(t, c.say("hola")), "¡Hola, Ana!")
		// English guest.
		g := e.guest()
		mustContain(t, one(t, g.say("there is a gas smell in the corridor, urgent help please")), "Our service hours are 08:00–22:00", "call 112")
		// Urgent within hours: no after-hours answer.
		e.clock.Set(morning)
		mustNotContain(t, one(t, c.say("hay una fuga de agua en mi habitación, es urgente")), "112")
		// Hours are the hotel's own.
		e.clock.Set(time.Date(2025, 11, 20, 22, 30, 0, 0, madridTZ))
		late := e.guest()
		late.hotel.BusinessHours = BusinessHours{Open: 7 * time.Hour, Close: 23 * time.Hour}
		mustNotContain(t, one(t, late.say("hay una fuga de agua en mi habitación, es urgente")), "112")
	}},

	{"stale availability comes with a caveat", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withPMS(func(p pms.PMS) pms.PMS { return staleAvailability{p} }))
		c := e.guest()
		r := one(t, c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?"))
		mustContain(t, r, "Habitación doble: 260,00 €", "no he podido actualizar los datos (son de 08:00)")
		mustContain(t, one(t, c.say("la doble")), "¿Confirmo la reserva?", "pueden no estar al día")
		mustContain(t, one(t, c.say("información del hotel")), "Calle Mayor 1", "pueden no estar al día")
		fresh := mk()
		mustNotContain(t, one(t, fresh.guest().say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")), "actualizar")
	}},

	{"PMS failures get an apology and are counted", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withPMS(func(p pms.PMS) pms.PMS { return downPMS{p} }))
		c := e.guest()
		before := testutil.ToFloat64(messagesTotal.WithLabelValues("check_availability", "error"))
		replies, err := e.o.Handle(context.Background(), c.message(chat.KindText, "hola, tienen habitación doble del 5 al 7 de diciembre para 2?", ""), c.hotel)
		if err != nil {
			t.Fatalf("a PMS failure surfaced as an error: %v", err)
		}
		mustContain(t, one(t, replies), "Lo siento, ahora mismo no puedo consultar el sistema de reservas", "+34 910 000 111")
		if after := testutil.ToFloat64(messagesTotal.WithLabelValues("check_availability", "error")); after != before+1 {
			t.Fatalf("errors counted %v → %v", before, after)
		}
		mustContain(t, one(t, c.say("información del hotel")), "no puedo consultar")
	}},

	{"sold out suggests other dates, and other rooms", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withProperty(onlyRooms(room(2, "Double", 1))))
		a, b := e.guest(), e.guest()
		a.say("reservar doble del 5 al 7 de diciembre para 2")
		mustContain(t, one(t, a.say("sí")), "DEMO-000001")
		r := one(t, b.say("reservar doble del 5 al 7 de diciembre para 2"))
		mustContain(t, r, "no nos quedan habitaciones para 2 adultos del vie 5 dic al dom 7 dic",
			"del dom 7 dic al mar 9 dic o del vie 12 dic al dom 14 dic")
		// The guest's next dates are a new search.
		mustContain(t, one(t, b.say("reservar doble del 12 al 14 de diciembre para 2")), "¿Confirmo la reserva?")

		e2 := mk(withProperty(onlyRooms(room(2, "Double", 1), room(3, "Twin", 2))))
		x, y := e2.guest(), e2.guest()
		x.say("reservar doble del 5 al 7 de diciembre para 2")
		x.say("sí")
		r = one(t, y.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?"))
		mustContain(t, r, "No nos queda habitación Doble para esas fechas", "1. Twin")
		mustNotContain(t, r, "1. Double")
	}},

	{"the last room goes to whoever confirms first", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withProperty(onlyRooms(room(2, "Double", 1), room(3, "Twin", 1))))
		a, b := e.guest(), e.guest()
		a.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		b.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		a.say("la doble")
		b.say("la doble")
		mustContain(t, one(t, a.say("sí")), "DEMO-000001")
		replies := b.say("sí")
		if len(replies) != 2 {
			t.Fatalf("loser got %+v", replies)
		}
		mustContain(t, replies[0], "la última habitación Double para esas fechas se acaba de reservar")
		mustContain(t, replies[1], "Twin")
	}},

	{"answers in English and keeps the guest's language", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		r := one(t, c.say("hi, do you have a double room from 5 to 7 December for 2?"))
		mustContain(t, r, "Availability at Hotel Madrid Central from Fri 5 Dec to Sun 7 Dec (2 nights, 2 adults)",
			"1. Double room: €260.00 in total", "Reply with the number")
		mustContain(t, one(t, c.say("the double")), "Room: Double room", "Total: €260.00", "Shall I confirm it?", "Reply YES")
		mustContain(t, one(t, c.say("yes")), "Booking confirmed!", "DEMO-000001")
	}},

	{"hotel information by topic", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		r := one(t, c.say("a qué hora es el check-in y tienen parking?"))
		mustContain(t, r, "El check-in es a partir de las 15:00.", "Sí: Parking.")
		mustContain(t, one(t, c.say("admiten mascotas?")), "No me consta que se admitan mascotas")
		mustContain(t, one(t, c.say("dónde están?")), "Estamos en Calle Mayor 1, Madrid.")
		mustContain(t, one(t, c.say("información del hotel")), "Hotel Madrid Central", "Calle Mayor 1, Madrid",
			"Check-in desde las 15:00 · check-out hasta las 12:00", "WiFi gratis")
	}},

	{"late checkout is passed to reception on yes", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		mustContain(t, one(t, c.say("puedo dejar la habitación más tarde?")), "hasta las 12:00", "Responde SÍ para pedirlo")
		mustContain(t, one(t, c.say("sí")), "he pasado tu petición de late check-out a recepción")
		if r := c.say("hola"); len(r) != 0 {
			t.Fatalf("agent kept answering after passing to reception: %+v", r)
		}
	}},

	{"greeting, menu buttons, help and goodbye", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withInteractive())
		e.hotel.PhotoURL = "https://hotel.example/photo.jpg"
		c := e.guest()
		r := one(t, c.say("hola"))
		checkWhatsAppLimits(t, r)
		if r.ResponseType() != "interactive_buttons_with_image" {
			t.Fatalf("greeting response type %s", r.ResponseType())
		}
		if ids := buttonIDs(r); !reflect.DeepEqual(ids, []string{"menu_availability", "menu_info", "menu_human"}) {
			t.Fatalf("menu %v", ids)
		}
		mustContain(t, one(t, c.tap(chat.KindButtonReply, "menu_availability", "Ver disponibilidad")), "¿Para qué fechas?")
		mustContain(t, one(t, c.tap(chat.KindButtonReply, "menu_info", "Info del hotel")), "Calle Mayor 1")
		// Mid-booking, gibberish gets the pending question again.
		mustContain(t, one(t, c.say("asdfgh")), "¿Para qué fechas?")
		mustContain(t, one(t, c.say("gracias, adiós")), "¡Gracias por escribirnos!")
		r = one(t, c.say("asdfgh"))
		mustContain(t, r, "no te he entendido")
		checkWhatsAppLimits(t, r)
		if ids := buttonIDs(r); len(ids) != 3 {
			t.Errorf("help without its menu: %v", ids)
		}

		plain := mk()
		p := plain.guest()
		r = one(t, p.say("hola"))
		if r.Kind != chat.ReplyText {
			t.Fatalf("greeting with interactive off: %s", r.Kind)
		}
		mustContain(t, one(t, p.deliver(p.message(chat.KindImage, "", ""))), "solo puedo leer mensajes de texto")

		// Email shows no buttons: text with typed answers, whatever the flag.
		mail := e.guest()
		mail.ch, mail.from = chat.Gmail, "Guest1@Madrid.com"
		r = one(t, mail.say("reservar doble del 5 al 7 de diciembre para 2"))
		if r.Kind != chat.ReplyText {
			t.Fatalf("email reply kind %s", r.Kind)
		}
		mustContain(t, r, "Responde SÍ para confirmar")
		mustContain(t, one(t, mail.say("sí")), "¡Reserva confirmada!")
		b, err := e.demo.GetBooking(context.Background(), e.hotel.Hotel, "DEMO-000001")
		if err != nil || b.Guest.Email != "guest1@madrid.com" || b.Guest.Phone != "" {
			t.Fatalf("email guest's booking %+v, %v", b.Guest, err)
		}
	}},
}

func TestConversations(t *testing.T) { runConversations(t, conversationCases) }

func TestHandleRejectsUnattributableMessages(t *testing.T) {
	e := newEnv(t, NewMemorySessions())
	c := e.guest()
	m := c.message(chat.KindText, "hola", "")
	m.From = ""
	if _, err := e.o.Handle(context.Background(), m, c.hotel); !errors.Is(err, ErrBadMessage) {
		t.Errorf("no guest: %v", err)
	}
	m = c.message(chat.KindText, "hola", "")
	m.TenantID = "tenant_hotel_bcn"
	if _, err := e.o.Handle(context.Background(), m, c.hotel); !errors.Is(err, ErrBadMessage) {
		t.Errorf("other tenant's message: %v", err)
	}
	if _, err := New(nil, e.demo, NewMemorySessions()); err == nil {
		t.Error("New accepted a nil analyzer")
	}
}
