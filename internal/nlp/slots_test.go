package nlp

import (
	"testing"
	"time"
)

func TestReadAnsweredName(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cases := []struct{ text, first, last string }{
		{"Sue Park", "Sue", "Park"},
		{"John Price", "John", "Price"},
		{"Pablo Hora Cancela", "Pablo", "Hora Cancela"},
		{"soy Elena Bar", "Elena", "Bar"},
		{"a nombre de Inés Salida Ruiz", "Inés", "Salida Ruiz"},
		{"my name's Aoife O'Connor", "Aoife", "O'Connor"},
		{"Jean-Luc Picard-Smith", "Jean-Luc", "Picard-Smith"},
		{"李雷", "李雷", ""},
		{"Светлана Орлова", "Светлана", "Орлова"},
		{"Nora Martes", "Nora", "Martes"},
		{"Peter Friday", "Peter", "Friday"},
		{"Ken Booking, ken@example.com", "Ken", "Booking"},
		{"ken@example.com\nKen Reserve", "Ken", "Reserve"},
		{"Raúl Peña Cancelar", "Raúl", "Peña Cancelar"},
		{"juan perez", "Juan", "Perez"},
		{"I'm Wei Zhang", "Wei", "Zhang"},
	}
	for _, c := range cases {
		f, l, ok := ReadAnsweredName(c.text, now)
		if !ok || f != c.first || l != c.last {
			t.Errorf("ReadAnsweredName(%q) = %q %q %v, want %q %q", c.text, f, l, ok, c.first, c.last)
		}
	}
	for _, text := range []string{
		"mejor cancela", "actually, cancel", "cancela la reserva", "Cancel please", "olvídalo", "forget it",
		"do you have parking?", "tienen parking", "dale", "quiero hablar con una persona", "sí", "no",
	} {
		if f, l, ok := ReadAnsweredName(text, now); ok {
			t.Errorf("ReadAnsweredName(%q) = %q %q, want no name", text, f, l)
		}
	}
}

func TestChangeOfMind(t *testing.T) {
	for text, want := range map[string]Intent{
		"mejor cancela":                 CancelReservation,
		"actually, cancel":              CancelReservation,
		"no, cancelar":                  CancelReservation,
		"forget it":                     CancelReservation,
		"quiero hablar con una persona": HumanHandoff,
		"Pablo Hora Cancela":            "",
		"Tom Cancel":                    "",
		"Sue Park":                      "",
		"al final mejor cancela todo":   CancelReservation,
		"I want to talk to a human":     HumanHandoff,
		"Ana":                           "",
	} {
		if got := ChangeOfMind(text); got != want {
			t.Errorf("ChangeOfMind(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestReadAnsweredSurname(t *testing.T) {
	for text, want := range map[string]string{
		"Park": "Park", "Hora Cancela": "Hora Cancela", "Sue Park": "Park", "Price": "Price", "O'Brien": "O'Brien",
	} {
		first := "Sue"
		if got, ok := ReadAnsweredSurname(text, first); !ok || got != want {
			t.Errorf("ReadAnsweredSurname(%q) = %q %v, want %q", text, got, ok, want)
		}
	}
	if got, ok := ReadAnsweredSurname("mejor cancela", "Sue"); ok {
		t.Errorf("a change of mind read as surname %q", got)
	}
}

func TestNameIsNotADate(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, text := range []string{"my name is Peter Friday", "me llamo Nora Martes", "a nombre de Luis Domingo"} {
		if r := Analyze(text, now); !r.Entities.CheckIn.IsZero() || !r.Entities.CheckOut.IsZero() {
			t.Errorf("Analyze(%q) read dates %v..%v from the name", text, r.Entities.CheckIn, r.Entities.CheckOut)
		}
	}
	r := Analyze("me llamo Nora Martes y quiero reservar del 5 al 7 de diciembre", now)
	if r.Entities.CheckIn.String() != "2026-12-05" || r.Entities.CheckOut.String() != "2026-12-07" {
		t.Errorf("dates after a name: %v..%v", r.Entities.CheckIn, r.Entities.CheckOut)
	}
}

func TestEntitiesGuestsWrite(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) // a Sunday
	cases := []struct {
		text, in, out    string
		adults, children int
		perNight         bool
	}{
		{"habitacion para el 24-27/12", "2026-12-24", "2026-12-27", 0, 0, false},
		{"del 2-4/1/2027 para 2", "2027-01-02", "2027-01-04", 2, 0, false},
		{"para el puente de diciembre", "2026-12-05", "2026-12-08", 0, 0, false},
		{"el puente de la Inmaculada somos una familia de 5", "2026-12-05", "2026-12-08", 5, 0, false},
		{"a family of 4 next friday for 2 nights", "2026-11-27", "2026-11-29", 4, 0, false},
		{"just for me, tomorrow", "2026-11-23", "", 1, 0, false},
		{"voy sola el finde", "2026-11-27", "2026-11-29", 1, 0, false},
		{"¿y por noche?", "", "", 0, 0, true},
		{"how much per night?", "", "", 0, 0, true},
	}
	for _, c := range cases {
		r := Analyze(c.text, now)
		e := r.Entities
		if dateString(e.CheckIn) != c.in || dateString(e.CheckOut) != c.out || e.Adults != c.adults || e.Children != c.children || e.PerNight != c.perNight {
			t.Errorf("Analyze(%q) = %s..%s adults %d children %d per night %v; want %s..%s %d %d %v", c.text,
				dateString(e.CheckIn), dateString(e.CheckOut), e.Adults, e.Children, e.PerNight, c.in, c.out, c.adults, c.children, c.perNight)
		}
	}
}

func TestNameAccentsAreNotSpanish(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, text := range []string{"hi, my name is Chloé Dubois", "hello, my name is Ángel Núñez"} {
		if r := Analyze(text, now); r.Language != "en" {
			t.Errorf("Analyze(%q).Language = %s, want en", text, r.Language)
		}
	}
}
