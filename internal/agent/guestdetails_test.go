package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/qloapps"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
)

// detailCorpus is what the analyzer reads in the guest-detail replies the
// tests send (TestDetailCorpusIsTheAnalyzers keeps it honest).
var detailCorpus = map[string]nlp.Result{
	"ana@example.com":             {Intent: nlp.Unknown, Language: "es", Entities: nlp.Entities{Email: "ana@example.com"}},
	"juan@example.com":            {Intent: nlp.Unknown, Language: "es", Entities: nlp.Entities{Email: "juan@example.com"}},
	"john@example.com":            {Intent: nlp.Unknown, Language: "es", Entities: nlp.Entities{Email: "john@example.com"}},
	"my email is ana@example.com": {Intent: nlp.Unknown, Language: "en", Entities: nlp.Entities{Email: "ana@example.com"}},
	"mi correo es juan@gmail":     {Intent: nlp.Unknown, Language: "es"},
	"juan@gmail":                  {Intent: nlp.Unknown, Language: "es"},
	"john@example":                {Intent: nlp.Unknown, Language: "es"},
	"Juan Pérez":                  {Intent: nlp.Unknown, Language: "es"},
	"García López":                {Intent: nlp.Unknown, Language: "es"},
	"me llamo Ana García López":   {Intent: nlp.Unknown, Language: "es"},
	"Ana":                         {Intent: nlp.Unknown, Language: "es"},
	"John Smith":                  {Intent: nlp.Unknown, Language: "es"},
	"Smith":                       {Intent: nlp.Unknown, Language: "es"},
	"+34 600 111 222":             {Intent: nlp.Unknown, Language: "es"},
	"600111222":                   {Intent: nlp.Unknown, Language: "es"},
	"+44 7911 123456":             {Intent: nlp.Unknown, Language: "es"},
}

func init() {
	for text, r := range detailCorpus {
		corpus[text] = r
	}
}

func TestDetailCorpusIsTheAnalyzers(t *testing.T) {
	for text, want := range detailCorpus {
		got := nlp.Analyze(text, morning)
		if got.Intent != want.Intent || got.Answer != want.Answer || got.Entities.Email != want.Entities.Email ||
			hasSlotEntities(got.Entities) || (want.Language == "en" && got.Language != "en") {
			t.Errorf("the analyzer reads %q as %+v; the test corpus says %+v", text, got, want)
		}
	}
}

var allGuestFields = pms.GuestFields{FirstName: true, LastName: true, Email: true, Phone: true}

// strictGuests is a PMS that needs every guest detail, as QloApps does, and
// refuses some values as its validation would.
type strictGuests struct {
	pms.PMS
	refuse map[pms.GuestDetail]string // detail → value refused; "*" refuses the booking for no known detail
	calls  int
}

func (*strictGuests) GuestRequirements() pms.GuestFields { return allGuestFields }

func (s *strictGuests) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	s.calls++
	if s.refuse["*"] != "" {
		return pms.Booking{}, fmt.Errorf("%w: %s", pms.ErrInvalid, s.refuse["*"])
	}
	if m := allGuestFields.Missing(req.Guest); len(m) > 0 {
		return pms.Booking{}, &pms.InvalidGuestError{Detail: m[0], Reason: "required"}
	}
	for d, v := range s.refuse {
		if detailValue(req.Guest, d) == v {
			return pms.Booking{}, &pms.InvalidGuestError{Detail: d, Reason: "Please provide a valid " + string(d) + "."}
		}
	}
	return s.PMS.CreateBooking(ctx, req)
}

func withStrictGuests(refuse map[pms.GuestDetail]string) (envOption, *strictGuests) {
	s := &strictGuests{refuse: refuse}
	return withPMS(func(p pms.PMS) pms.PMS { s.PMS = p; return s }), s
}

func (e *env) booking(id string) pms.Booking {
	e.t.Helper()
	b, err := e.demo.GetBooking(context.Background(), e.hotel.Hotel, id)
	if err != nil {
		e.t.Fatalf("booking %s: %v", id, err)
	}
	return b
}

func (e *env) noBooking(id string) {
	e.t.Helper()
	if _, err := e.demo.GetBooking(context.Background(), e.hotel.Hotel, id); !errors.Is(err, pms.ErrNotFound) {
		e.t.Fatalf("booking %s exists (%v)", id, err)
	}
}

func (c *conv) session() State {
	c.e.t.Helper()
	s, err := c.e.store.Load(context.Background(), KeyFor(c.hotel.TenantID, c.ch, c.from), c.e.clock.Now())
	if err != nil || s.New {
		c.e.t.Fatalf("session of %s: new=%v err=%v", c.from, s != nil && s.New, err)
	}
	return s.State
}

func wantGuest(t *testing.T, b pms.Booking, want pms.Guest) {
	t.Helper()
	if b.Guest != want {
		t.Errorf("booking %s is for %+v, want %+v", b.ID, b.Guest, want)
	}
}

// exchange is one guest message and what the answer must (and must not) say.
type exchange struct {
	say     string
	want    []string
	wantNot []string
}

func (c *conv) talk(t *testing.T, steps []exchange) {
	t.Helper()
	for _, s := range steps {
		r := one(t, c.say(s.say))
		for _, w := range s.want {
			if !strings.Contains(r.Text, w) {
				t.Fatalf("%q: reply %q does not contain %q", s.say, r.Text, w)
			}
		}
		mustNotContain(t, r, s.wantNot...)
	}
}

var guestDetailCases = []conversationCase{
	{"WhatsApp guest with a full profile name is asked only the email", func(t *testing.T, mk func(...envOption) *env) {
		strict, _ := withStrictGuests(nil)
		e := mk(strict)
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo electrónico te enviamos la confirmación"}, []string{"apellidos", "teléfono"}},
			{"ana@example.com", []string{"Habitación: Habitación doble", "Titular: Ana García (ana@example.com, +" + c.from + ")", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "DEMO-000001"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000001"), pms.Guest{FirstName: "Ana", LastName: "García", Email: "ana@example.com", Phone: c.from})

		// A second booking in the conversation asks nothing again.
		c.talk(t, []exchange{{"reservar doble del 12 al 14 de diciembre para 2", []string{"¿Confirmo la reserva?", "Titular: Ana García"}, nil}})

		en := e.guest()
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double room: €260.00"}, nil},
			{"the double", []string{"Which email address should we send the booking confirmation to?"}, nil},
			{"my email is ana@example.com", []string{"Lead guest: Ana García (ana@example.com, +" + en.from + ")", "Shall I confirm it?"}, nil},
			{"yes", []string{"Booking confirmed!", "DEMO-000002"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000002"), pms.Guest{FirstName: "Ana", LastName: "García", Email: "ana@example.com", Phone: en.from})
	}},

	{"with the email question on, a WhatsApp guest is asked an email once and may decline", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withAskEmail())
		en := e.guest() // profile "Ana García": the holder is known
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double room"}, nil},
			{"the double", []string{"Which email address should I send the booking confirmation to?", `say "no email"`}, []string{"Shall I confirm"}},
			{"no thanks", []string{"Lead guest: Ana García (+" + en.from + ")", "Shall I confirm it?"}, []string{"@"}},
			{"yes", []string{"Booking confirmed!", "Lead guest: Ana García (+" + en.from + ")"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000001"), pms.Guest{FirstName: "Ana", LastName: "García", Phone: en.from})
		// Declined once, not asked again in the conversation.
		en.talk(t, []exchange{{"reservar doble del 12 al 14 de diciembre para 2", []string{"¿Confirmo la reserva?"}, []string{"correo"}}})

		es := e.guest()
		es.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo te envío la confirmación", "«sin email»"}, nil},
			{"ana.garcia.example.com", []string{"no parece una dirección de correo válida", "«sin email» para reservar sin él"}, nil},
			{"ana@example.com", []string{"Titular: Ana García (ana@example.com, +" + es.from + ")", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "Titular: Ana García (ana@example.com, +" + es.from + ")"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000002"), pms.Guest{FirstName: "Ana", LastName: "García", Email: "ana@example.com", Phone: es.from})

		// A nickname: the holder and the email in one question.
		sue := e.guest()
		sue.name = "Sue"
		sue.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A nombre de quién hago la reserva? Y, si quieres la confirmación por correo, tu email."}, nil},
			{"Sue Park", []string{"¿A qué correo te envío la confirmación"}, nil},
			{"sin email", []string{"Titular: Sue Park (+" + sue.from + ")", "¿Confirmo la reserva?"}, nil},
		})
		ian := e.guest()
		ian.name = "Ian"
		ian.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"Y, si quieres la confirmación por correo, tu email."}, nil},
			{"Sue Park", []string{"¿A qué correo te envío"}, nil},
			{"sue.park@example.com", []string{"Titular: Sue Park (sue.park@example.com, +" + ian.from + ")"}, nil},
		})
	}},

	{"the email question is not asked by email, nor when the PMS needs the email", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withAskEmail())
		mail := e.guest()
		mail.ch, mail.from = chat.Gmail, "ana@example.com"
		mail.talk(t, []exchange{{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿Confirmo la reserva?", "ana@example.com"}, []string{"¿A qué correo"}}})
		strict, _ := withStrictGuests(nil)
		c := mk(withAskEmail(), strict).guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo electrónico te enviamos la confirmación"}, []string{"«sin email»"}},
			{"no", []string{"no he hecho ninguna reserva"}, nil},
		})
	}},

	{"an email guest is asked for a phone", func(t *testing.T, mk func(...envOption) *env) {
		strict, _ := withStrictGuests(nil)
		e := mk(strict)
		mail := e.guest()
		mail.ch, mail.from = chat.Gmail, "Guest1@Madrid.com"
		mail.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿Me das un teléfono de contacto para la reserva?"}, []string{"correo"}},
			{"+34 600 111 222", []string{"Titular: Ana García (guest1@madrid.com, +34600111222)", "¿Confirmo la reserva?", "Responde SÍ"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "DEMO-000001"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000001"), pms.Guest{FirstName: "Ana", LastName: "García", Email: "guest1@madrid.com", Phone: "+34600111222"})

		// No display name: the name is asked too, then the phone.
		en := e.guest()
		en.ch, en.from, en.name = chat.Gmail, "guest2@example.com", ""
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double"}, nil},
			{"the double", []string{"I need the lead guest's first and last name"}, nil},
			{"John Smith", []string{"Could you give me a contact phone number"}, nil},
			{"600111222", []string{"Lead guest: John Smith (guest2@example.com, 600111222)", "Reply YES"}, nil},
			{"yes", []string{"Booking confirmed!", "DEMO-000002"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000002"), pms.Guest{FirstName: "John", LastName: "Smith", Email: "guest2@example.com", Phone: "600111222"})
	}},

	{"a one-word profile name is a nickname: the holder is asked", func(t *testing.T, mk func(...envOption) *env) {
		strict, _ := withStrictGuests(nil)
		e := mk(strict)
		c := e.guest()
		c.name = "Ana"
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A nombre de quién la hago?"}, []string{"Gracias, Ana"}},
			{"Ana", []string{"Gracias, Ana. ¿Me dices tus apellidos para la reserva?"}, nil},
			{"García López", []string{"¿A qué correo electrónico"}, nil},
			{"ana@example.com", []string{"Titular: Ana García López (ana@example.com, +" + c.from + ")"}, nil},
			{"sí", []string{"DEMO-000001"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000001"), pms.Guest{FirstName: "Ana", LastName: "García López", Email: "ana@example.com", Phone: c.from})

		// "me llamo…" answers the surname question too (it is not a request to be called).
		intro := e.guest()
		intro.name = "Ana 🌸"
		intro.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A nombre de quién la hago?"}, nil},
			{"me llamo Ana García López", []string{"¿A qué correo electrónico"}, []string{"Te paso con una persona"}},
		})
		if g := intro.session().Context; g.FirstName != "Ana" || g.LastName != "García López" {
			t.Errorf("name kept as %q %q", g.FirstName, g.LastName)
		}

		en := e.guest()
		en.name = "John"
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double"}, nil},
			{"the double", []string{"Who should I book it for?"}, []string{"Thanks, John"}},
			{"John Smith", []string{"Which email address"}, nil},
			{"john@example.com", []string{"Lead guest: John Smith (john@example.com, +" + en.from + ")"}, nil},
			{"yes", []string{"Booking confirmed!", "DEMO-000002"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000002"), pms.Guest{FirstName: "John", LastName: "Smith", Email: "john@example.com", Phone: en.from})
	}},

	{"an invalid email is asked again; a guest who cannot give it goes to a person", func(t *testing.T, mk func(...envOption) *env) {
		strict, pmsDouble := withStrictGuests(nil)
		e := mk(strict)
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo electrónico"}, nil},
			{"mi correo es juan@gmail", []string{"Eso no parece una dirección de correo válida", "nombre@ejemplo.com"}, nil},
			{"juan@example.com", []string{"Titular: Ana García (juan@example.com", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"DEMO-000001"}, nil},
		})

		en := e.guest()
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double"}, nil},
			{"the double", []string{"Which email address"}, nil},
			{"john@example", []string{"That doesn't look like a valid email address"}, nil},
			{"john@example.com", []string{"Shall I confirm it?"}, nil},
		})

		stuck := e.guest()
		stuck.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo electrónico"}, nil},
			{"juan@gmail", []string{"no parece una dirección de correo válida"}, nil},
			{"asdfgh", []string{"no parece una dirección de correo válida"}, nil},
			{"mi correo es juan@gmail", []string{"No consigo tomar bien tus datos", "Hotel Madrid Central te contactará"}, nil},
		})
		if r := stuck.say("hola"); len(r) != 0 {
			t.Fatalf("answered after handing the booking to a person: %+v", r)
		}
		if st := stuck.session(); st.Context.CheckIn != "2025-12-05" || st.Context.CheckOut != "2025-12-07" {
			t.Errorf("the stay was forgotten: %+v", st.Context)
		}
		if pmsDouble.calls != 1 {
			t.Errorf("the PMS was asked to book %d times, want once (only the complete booking)", pmsDouble.calls)
		}
	}},

	{"a detail the PMS refuses is asked again, keeping the dates", func(t *testing.T, mk func(...envOption) *env) {
		strict, _ := withStrictGuests(nil)
		e := mk(strict)
		for _, lang := range []string{langES, langEN} {
			c := e.guest()
			// The PMS refuses this guest's WhatsApp number.
			strictPMS(e).refuse = map[pms.GuestDetail]string{pms.GuestPhone: c.from}
			steps := []exchange{
				{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo"}, nil},
				{"ana@example.com", []string{"¿Confirmo la reserva?"}, nil},
				{"sí", []string{"El sistema de reservas no ha aceptado el teléfono. ¿Me das un teléfono de contacto"}, []string{"Revisa las fechas", "No puedo buscar"}},
				{"+34 600 111 222", []string{"Entrada: vie 5 dic", "Titular: Ana García (ana@example.com, +34600111222)", "¿Confirmo la reserva?"}, nil},
				{"sí", []string{"¡Reserva confirmada!", "vie 5 dic"}, nil},
			}
			if lang == langEN {
				steps = []exchange{
					{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double"}, nil},
					{"the double", []string{"Which email address"}, nil},
					{"ana@example.com", []string{"Shall I confirm it?"}, nil},
					{"yes", []string{"The booking system did not accept the phone number. Could you give me a contact phone number"}, []string{"check the dates"}},
					{"+44 7911 123456", []string{"Check-in: Fri 5 Dec", "Lead guest: Ana García (ana@example.com, +447911123456)"}, nil},
					{"yes", []string{"Booking confirmed!"}, nil},
				}
			}
			c.talk(t, steps)
			st := c.session()
			if len(st.Bookings) != 1 {
				t.Fatalf("%s: bookings %v", lang, st.Bookings)
			}
			b := e.booking(st.Bookings[0])
			if b.Guest.Phone == c.from || b.Stay.CheckIn != date("2025-12-05") || b.Stay.CheckOut != date("2025-12-07") {
				t.Errorf("%s: booked %+v", lang, b)
			}
		}
	}},

	{"a booking the PMS refuses for no known reason goes to a person, dates kept", func(t *testing.T, mk func(...envOption) *env) {
		strict, pmsDouble := withStrictGuests(map[pms.GuestDetail]string{"*": "Invalid address provided."})
		e := mk(strict)
		c := e.guest()
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo"}, nil},
			{"ana@example.com", []string{"¿Confirmo la reserva?"}, nil},
			{"sí", []string{"No he podido completar la reserva del vie 5 dic al dom 7 dic", "Un compañero del equipo de Hotel Madrid Central te contactará"},
				[]string{"Revisa las fechas", "No puedo buscar"}},
		})
		if r := c.say("hola"); len(r) != 0 {
			t.Fatalf("answered during handoff: %+v", r)
		}
		if st := c.session(); !st.Handoff || st.Context.CheckIn != "2025-12-05" || st.Context.CheckOut != "2025-12-07" || st.Context.Adults != 2 {
			t.Errorf("state after the refusal: %+v", st)
		}
		e.noBooking("DEMO-000001")

		en := e.guest()
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. Double"}, nil},
			{"the double", []string{"Which email address"}, nil},
			{"ana@example.com", []string{"Shall I confirm it?"}, nil},
			{"yes", []string{"I couldn't complete the booking from Fri 5 Dec to Sun 7 Dec", "A member of the Hotel Madrid Central team will contact you here"}, nil},
		})

		// A detail refused a second time is not asked a third: a person takes over.
		pmsDouble.refuse = map[pms.GuestDetail]string{pms.GuestEmail: "ana@example.com"}
		twice := e.guest()
		twice.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A qué correo"}, nil},
			{"ana@example.com", []string{"¿Confirmo la reserva?"}, nil},
			{"sí", []string{"no ha aceptado el correo electrónico", "¿A qué correo"}, nil},
			{"ana@example.com", []string{"¿Confirmo la reserva?"}, nil},
			{"sí", []string{"No he podido completar la reserva"}, nil},
		})
	}},

	{"a PMS that does not say needs only a first name", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		mail := e.guest()
		mail.ch, mail.from, mail.name = chat.Gmail, "guest3@example.com", ""
		mail.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A nombre de quién hago la reserva?"}, []string{"apellidos"}},
			{"Ana", []string{"Titular: Ana (guest3@example.com)", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"DEMO-000001"}, nil},
		})
		wantGuest(t, e.booking("DEMO-000001"), pms.Guest{FirstName: "Ana", Email: "guest3@example.com"})
		// WhatsApp with a one-word profile ("Sue", "JP"): a nickname, not
		// who the booking is for.
		c := e.guest()
		c.name = "Sue"
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A nombre de quién hago la reserva?"}, []string{"Titular"}},
			{"Sue Park", []string{"¿Confirmo la reserva?", "Titular: Sue Park (+" + c.from + ")"}, nil},
		})
	}},

	{"details given before they are asked are used", func(t *testing.T, mk func(...envOption) *env) {
		strict, _ := withStrictGuests(nil)
		e := mk(strict)
		mail := e.guest()
		mail.ch, mail.from, mail.name = chat.Gmail, "guest4@example.com", ""
		mail.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"¿A nombre de quién la hago?"}, nil},
			// One reply, two details.
			{"me llamo Ana García López", []string{"¿Me das un teléfono"}, nil},
			{"600111222", []string{"Titular: Ana García López (guest4@example.com, 600111222)"}, nil},
			{"sí", []string{"DEMO-000001"}, nil},
		})
	}},

	{"with buttons on, an old confirmation tap while a detail is missing asks for it", func(t *testing.T, mk func(...envOption) *env) {
		strict, pmsDouble := withStrictGuests(nil)
		e := mk(strict, withInteractive())
		c := e.guest()
		r := one(t, c.say("reservar doble del 5 al 7 de diciembre para 2"))
		if r.Kind != chat.ReplyText {
			t.Fatalf("a detail question came as %s", r.Kind)
		}
		mustContain(t, r, "¿A qué correo")
		mustContain(t, one(t, c.tap(chat.KindButtonReply, BtnConfirmBooking, "Confirmar")), "¿A qué correo")
		if pmsDouble.calls != 0 {
			t.Fatal("booked without the email")
		}
		r = one(t, c.say("ana@example.com"))
		if ids := buttonIDs(r); len(ids) != 3 || ids[0] != BtnConfirmBooking {
			t.Fatalf("confirmation buttons %v", ids)
		}
		mustContain(t, one(t, c.tap(chat.KindButtonReply, BtnConfirmBooking, "Confirmar")), "¡Reserva confirmada!")
	}},

	{"books through the QloApps client, which needs every detail", func(t *testing.T, mk func(...envOption) *env) {
		fake := fakeqloapps.Start(t, "AGENTTESTKEY")
		var e *env
		client, err := qloapps.New(qloapps.Config{BaseURL: fake.URL, APIKey: "AGENTTESTKEY", TimeZone: "Europe/Madrid",
			Now: func() time.Time { return e.clock.Now() }}) // the conversation's clock decides what is past
		if err != nil {
			t.Fatal(err)
		}
		e = mk(withPMS(func(pms.PMS) pms.PMS { return client }))
		c := e.guest()
		c.name = "Pablo"
		c.talk(t, []exchange{
			{"reservar doble del 5 al 7 de diciembre para 2", []string{"1. Habitaciones generales"}, nil},
			{"1", []string{"¿A nombre de quién la hago?"}, nil},
			{"Pablo García López", []string{"¿A qué correo"}, nil},
			{"juan@example.com", []string{"Titular: Pablo García López (juan@example.com, +" + c.from + ")", "¿Confirmo la reserva?"}, nil},
			// QloApps records the booking under its first language's name:
			// the guest is told the room in theirs.
			{"sí", []string{"¡Reserva confirmada!", "Habitación: Habitaciones generales"}, nil},
		})
		bs := fake.Bookings()
		if len(bs) != 1 {
			t.Fatalf("QloApps holds %d bookings", len(bs))
		}
		if cu := bs[0].Customer; cu.Firstname != "Pablo" || cu.Lastname != "García López" || cu.Email != "juan@example.com" || cu.Phone != c.from {
			t.Errorf("customer_detail %+v", cu)
		}
	}},
}

// strictPMS is the strictGuests double an env books through.
func strictPMS(e *env) *strictGuests { return e.o.pms.(*strictGuests) }

func TestGuestDetails(t *testing.T) { runConversations(t, guestDetailCases) }
