package agent

import (
	"reflect"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
)

// namedRoom is a room type as a PMS names it: for two adults and two
// children, three guests in all, at one rate every night.
func namedRoom(id int, name string, rate float64) demo.Room {
	return demo.Room{Type: pms.RoomType{ID: id, Name: pms.Untranslated(name), MaxAdults: 2, MaxChildren: 2, MaxGuests: 3}, Count: 3, WeekdayRate: rate, WeekendRate: rate}
}

// qloRooms is a hotel whose room types are named as a QloApps install names
// them: in English whatever the guest speaks, in words that say no kind of
// room. Two nights cost 200, 260, 320 and 400 €.
func qloRooms(n int) envOption {
	rooms := []demo.Room{
		namedRoom(11, "General Rooms", 100), namedRoom(12, "Delux Rooms", 130),
		namedRoom(13, "Executive Rooms", 160), namedRoom(14, "luxury Rooms", 200),
	}
	return withProperty(onlyRooms(rooms[:n]...))
}

const askWhichQlo = "¿Cuál quieres reservar: General Rooms (1), Delux Rooms (2), Executive Rooms (3) o luxury Rooms (4)?"

var roomChoiceCases = []conversationCase{
	{"rooms are listed by the PMS's names and booked by name", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(qloRooms(4))
		c := e.guest()
		// A double is what any of these rooms may be: no "no doubles left".
		c.talk(t, []exchange{
			{"hola, tienen habitación doble del 5 al 7 de diciembre para 2?",
				[]string{"1. General Rooms: 200,00 €", "2. Delux Rooms: 260,00 €", "3. Executive Rooms: 320,00 €", "4. luxury Rooms: 400,00 €"},
				[]string{"No nos queda"}},
			// A yes picks nothing: which one, briefly, not the offer again.
			{"Sí, confirmo", []string{askWhichQlo, "Dime el número o el nombre."}, []string{"Disponibilidad en", "€"}},
			// A part every name has picks nothing either.
			{"rooms", []string{askWhichQlo}, []string{"Disponibilidad en"}},
			{"Quiero reservar la General Rooms", []string{"Habitación: General Rooms", "Total: 200,00 €", "¿Confirmo la reserva?"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "DEMO-000001", "Habitación: General Rooms", "Total: 200,00 €"}, nil},
		})
		if b := e.booking("DEMO-000001"); b.RoomTypeID != 11 {
			t.Errorf("booked room type %d, want General Rooms (11)", b.RoomTypeID)
		}

		// A request that names the room with the stay goes straight to the confirmation.
		d := e.guest()
		d.talk(t, []exchange{{"Quiero reservar la Delux Rooms del 5 al 7 de diciembre para 2", []string{"Habitación: Delux Rooms", "Total: 260,00 €", "¿Confirmo la reserva?"}, nil}})
	}},

	{"a room is picked by a unique part of its name, its number or its place", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(qloRooms(4))
		for _, pick := range []struct{ say, room string }{
			{"la general", "General Rooms"},
			{"DELUX", "Delux Rooms"},
			{"executive", "Executive Rooms"},
			{"la luxury", "luxury Rooms"},
			{"la 2", "Delux Rooms"},
			{"la segunda", "Delux Rooms"},
			{"2", "Delux Rooms"},
		} {
			c := e.guest()
			c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
			c.talk(t, []exchange{{pick.say, []string{"Habitación: " + pick.room, "¿Confirmo la reserva?"}, nil}})
		}
		// "The second" is the second room, not the 2nd of December.
		en := e.guest()
		en.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"1. General Rooms: €200.00", "4. luxury Rooms"}, nil},
			{"the second", []string{"Room: Delux Rooms", "Check-in: Fri 5 Dec", "Shall I confirm it?"}, nil},
		})
		// A double, in a hotel whose names say nothing of doubles: which one?
		d := e.guest()
		d.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		d.talk(t, []exchange{{"la doble", []string{askWhichQlo}, []string{"No nos queda"}}})
	}},

	{"an English yes after the list is asked which room", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(qloRooms(4))
		c := e.guest()
		which := "Which one would you like to book: General Rooms (1), Delux Rooms (2), Executive Rooms (3) or luxury Rooms (4)? Tell me the number or the name."
		c.talk(t, []exchange{
			{"hi, do you have a double room from 5 to 7 December for 2?", []string{"Availability at Hotel Madrid Central", "2. Delux Rooms: €260.00"}, nil},
			{"yes", []string{which}, []string{"Availability at"}},
			{"ok", []string{which}, nil},
			{"rooms", []string{which}, nil},
			{"I'd like the Delux Rooms", []string{"Room: Delux Rooms", "Total: €260.00", "Shall I confirm it?"}, nil},
			// Another room by name before confirming: the same stay in it.
			{"better the executive one", []string{"Room: Executive Rooms", "Total: €320.00", "Shall I confirm it?"}, nil},
			{"yes", []string{"Booking confirmed!", "Room: Executive Rooms"}, nil},
		})
		if b := e.booking("DEMO-000001"); b.RoomTypeID != 13 {
			t.Errorf("booked room type %d, want Executive Rooms (13)", b.RoomTypeID)
		}
	}},

	{"Spanish names are shown whole, and a guest's kind of room finds them", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(withProperty(onlyRooms(namedRoom(21, "Doble Giralda", 120), namedRoom(22, "Suite Alhambra", 210))))
		c := e.guest()
		c.talk(t, []exchange{
			{"hola, tienen habitación doble del 5 al 7 de diciembre para 2?", []string{"1. Doble Giralda: 240,00 €", "2. Suite Alhambra: 420,00 €"}, []string{"1. Doble:", "2. Suite:"}},
			{"vale", []string{"¿Cuál quieres reservar: Doble Giralda (1) o Suite Alhambra (2)?"}, nil},
			{"la doble", []string{"Habitación: Doble Giralda", "Total: 240,00 €"}, nil},
			{"sí", []string{"¡Reserva confirmada!", "Habitación: Doble Giralda"}, nil},
		})
		// A booking request naming the kind goes straight to the confirmation.
		d := e.guest()
		d.talk(t, []exchange{{"reservar doble del 5 al 7 de diciembre para 2", []string{"Habitación: Doble Giralda", "¿Confirmo la reserva?"}, nil}})
	}},

	{"with buttons, rows and buttons carry the PMS's names and a tap picks one", func(t *testing.T, mk func(...envOption) *env) {
		e := mk(qloRooms(4), withInteractive())
		c := e.guest()
		r := one(t, c.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?"))
		checkWhatsAppLimits(t, r)
		var titles []string
		for _, row := range r.Sections[0].Rows {
			titles = append(titles, row.Title)
		}
		if want := []string{"General Rooms", "Delux Rooms", "Executive Rooms", "luxury Rooms"}; !reflect.DeepEqual(titles, want) {
			t.Fatalf("rows %q, want %q", titles, want)
		}
		// Four rooms: the question is text, and the list still answers a tap.
		r = one(t, c.say("sí"))
		if r.Kind != chat.ReplyText {
			t.Fatalf("which-one question with four rooms: kind %s", r.Kind)
		}
		mustContain(t, r, askWhichQlo)
		mustContain(t, one(t, c.tap(chat.KindListReply, "room_13", "Executive Rooms")), "Habitación: Executive Rooms")

		// Three rooms: the question comes with a button for each.
		three := mk(qloRooms(3), withInteractive())
		g := three.guest()
		g.say("hola, tienen habitación doble del 5 al 7 de diciembre para 2?")
		r = one(t, g.say("Sí, confirmo"))
		checkWhatsAppLimits(t, r)
		if ids := buttonIDs(r); !reflect.DeepEqual(ids, []string{"room_11", "room_12", "room_13"}) {
			t.Fatalf("buttons %v", ids)
		}
		if r.Buttons[1].Title != "Delux Rooms" {
			t.Errorf("button titles %+v", r.Buttons)
		}
		mustContain(t, r, "¿Cuál quieres reservar: General Rooms (1), Delux Rooms (2) o Executive Rooms (3)?")
		mustContain(t, one(t, g.tap(chat.KindButtonReply, "room_12", "Delux Rooms")), "Habitación: Delux Rooms")
	}},
}

func TestRoomChoice(t *testing.T) { runConversations(t, roomChoiceCases) }
