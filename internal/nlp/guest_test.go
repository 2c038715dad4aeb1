package nlp

import "testing"

func TestParseFullName(t *testing.T) {
	for _, c := range []struct {
		text        string
		mode        NameMode
		bare        bool
		first, last string
		ok          bool
	}{
		{"Juan Pérez", NameAnswered, true, "Juan", "Pérez", true},
		{"juan pérez", NameAnswered, true, "Juan", "Pérez", true},
		{"me llamo Ana García López", NameIntroduced, false, "Ana", "García López", true},
		{"Me llamo Ana García López y mi email es ana@example.com", NameIntroduced, false, "Ana", "García López", true},
		{"hola, me llamo ana, quiero reservar", NameIntroduced, false, "Ana", "", true},
		{"mi nombre es María de la Fuente", NameIntroduced, false, "María", "de la Fuente", true},
		{"a nombre de José Ortega y Gasset", NameIntroduced, false, "José", "Ortega y Gasset", true},
		{"My name is John O'Brien-Smith.", NameIntroduced, false, "John", "O'Brien-Smith", true},
		{"I'm Anna Smith", NameAnswered, false, "Anna", "Smith", true},
		{"soy Ana García", NameAnswered, false, "Ana", "García", true},
		{"Sr. Pedro Sánchez", NameAnswered, true, "Pedro", "Sánchez", true},
		{"Ana M. García", NameAnswered, true, "Ana", "M. García", true},
		{"Juan Pérez, juan@example.com, 600 111 222", NameAnswered, true, "Juan", "Pérez", true},
		{"Juan Pérez gracias", NameAnswered, true, "Juan", "Pérez", true},
		{"Ana", NameAnswered, true, "Ana", "", true},
		{"DE LA O María", NameAnswered, true, "", "", false}, // a particle cannot start a full name
		// Not names.
		{"Juan Pérez", NameIntroduced, false, "", "", false},
		{"Juan Pérez", NameAnswered, false, "", "", false},
		{"quiero reservar", NameAnswered, true, "", "", false},
		{"sí", NameAnswered, true, "", "", false},
		{"hola", NameAnswered, true, "", "", false},
		{"600111222", NameAnswered, true, "", "", false},
		{"ana@example.com", NameAnswered, true, "", "", false},
		{"🙂", NameAnswered, true, "", "", false},
		{"Juan Pérez quiere saber si hay parking", NameAnswered, true, "", "", false},
		{"a nombre de mi marido", NameIntroduced, false, "", "", false},
		{"me llamo 😊", NameIntroduced, false, "", "", false},
		{"uno dos tres cuatro cinco seis siete", NameAnswered, true, "", "", false},
	} {
		first, last, ok := ParseFullName(c.text, c.mode, c.bare)
		if ok != c.ok || first != c.first || last != c.last {
			t.Errorf("ParseFullName(%q, %v, bare=%v) = %q, %q, %v; want %q, %q, %v", c.text, c.mode, c.bare, first, last, ok, c.first, c.last, c.ok)
		}
	}
}

func TestParseSurname(t *testing.T) {
	for _, c := range []struct {
		text, first string
		bare        bool
		want        string
		ok          bool
	}{
		{"García", "Ana", true, "García", true},
		{"garcía lópez", "Ana", true, "García López", true},
		{"Ana García", "Ana", true, "García", true},
		{"mi apellido es Pérez", "Juan", false, "Pérez", true},
		{"mis apellidos son de la Fuente Ruiz", "María", false, "de la Fuente Ruiz", true},
		{"my surname is Smith", "John", false, "Smith", true},
		{"it's Smith, thanks", "John", true, "Smith", true},
		{"Smith", "John", false, "", false},
		{"no sé", "Ana", true, "", false},
		{"600 111 222", "Ana", true, "", false},
		{"", "Ana", true, "", false},
	} {
		got, ok := ParseSurname(c.text, c.first, c.bare)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseSurname(%q, %q, %v) = %q, %v; want %q, %v", c.text, c.first, c.bare, got, ok, c.want, c.ok)
		}
	}
}

func TestProfileName(t *testing.T) {
	for name, want := range map[string][2]string{
		"Ana García":       {"Ana", "García"},
		"Pablo García 🏄":   {"Pablo", "García"},
		"ana":              {"Ana", ""},
		"María José Ruiz":  {"María", "José Ruiz"},
		"🌴🌴":               {"", ""},
		".":                {"", ""},
		"":                 {"", ""},
		"Mamá":             {"Mamá", ""},
		"Juan 600 111 222": {"Juan", ""},
	} {
		if f, l := SplitProfileName(name); f != want[0] || l != want[1] {
			t.Errorf("SplitProfileName(%q) = %q, %q; want %q, %q", name, f, l, want[0], want[1])
		}
	}
}

func TestParsePhone(t *testing.T) {
	for _, c := range []struct {
		text string
		min  int
		want string
		ok   bool
	}{
		{"+34 600 111 222", MinPhoneDigits, "+34600111222", true},
		{"600111222", MinPhoneDigits, "600111222", true},
		{"600 11 12 22", MinPhoneDigits, "600111222", true},
		{"600-111-222", MinPhoneDigits, "600111222", true},
		{"(+34) 600.111.222", MinPhoneDigits, "+34600111222", true},
		{"0034 600 111 222", MinPhoneDigits, "+34600111222", true},
		{"+44 7911 123456", MinPhoneDigits, "+447911123456", true},
		{"mi móvil es el 612 345 678, gracias", MinPhoneDigits, "612345678", true},
		{"Juan Pérez, juan@example.com, 600 111 222", MinPhoneDigits, "600111222", true},
		{"1234567", MinPhoneDigits, "1234567", true},
		{"1234567", 9, "", false},
		{"600111222", 9, "600111222", true},
		// Not phones.
		{"del 5 al 7 de diciembre", MinPhoneDigits, "", false},
		{"2", MinPhoneDigits, "", false},
		{"12345", MinPhoneDigits, "", false},
		{"1234567890123456", MinPhoneDigits, "", false},
		{"DEMO-000001234", MinPhoneDigits, "", false},
		{"ana600111222@example.com", MinPhoneDigits, "", false},
		{"600111222abc", MinPhoneDigits, "", false},
		{"no tengo", MinPhoneDigits, "", false},
	} {
		got, ok := ParsePhone(c.text, c.min)
		if ok != c.ok || got != c.want {
			t.Errorf("ParsePhone(%q, %d) = %q, %v; want %q, %v", c.text, c.min, got, ok, c.want, c.ok)
		}
	}
}

func TestLabelledPhone(t *testing.T) {
	for text, want := range map[string]string{
		"mi teléfono es 600 111 222":         "600111222",
		"Tel: +34 600 111 222":               "+34600111222",
		"my phone number is +44 7911 123456": "+447911123456",
		"reservar doble del 5 al 7 para 2":   "",
		"600111222":                          "", // not labelled
		"¿cuál es el teléfono del hotel?":    "",
		"hotel 600111222":                    "", // "tel" inside a word
	} {
		got, ok := ParseLabelledPhone(text)
		if got != want || ok != (want != "") {
			t.Errorf("ParseLabelledPhone(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
}
