package agent

import "testing"

func TestParseFullName(t *testing.T) {
	for _, c := range []struct {
		text        string
		mode        nameMode
		bare        bool
		first, last string
		ok          bool
	}{
		{"Juan Pérez", answered, true, "Juan", "Pérez", true},
		{"juan pérez", answered, true, "Juan", "Pérez", true},
		{"me llamo Ana García López", introduced, false, "Ana", "García López", true},
		{"Me llamo Ana García López y mi email es ana@example.com", introduced, false, "Ana", "García López", true},
		{"hola, me llamo ana, quiero reservar", introduced, false, "Ana", "", true},
		{"mi nombre es María de la Fuente", introduced, false, "María", "de la Fuente", true},
		{"a nombre de José Ortega y Gasset", introduced, false, "José", "Ortega y Gasset", true},
		{"My name is John O'Brien-Smith.", introduced, false, "John", "O'Brien-Smith", true},
		{"I'm Anna Smith", answered, false, "Anna", "Smith", true},
		{"soy Ana García", answered, false, "Ana", "García", true},
		{"Sr. Pedro Sánchez", answered, true, "Pedro", "Sánchez", true},
		{"Ana M. García", answered, true, "Ana", "M. García", true},
		{"Juan Pérez, juan@example.com, 600 111 222", answered, true, "Juan", "Pérez", true},
		{"Juan Pérez gracias", answered, true, "Juan", "Pérez", true},
		{"Ana", answered, true, "Ana", "", true},
		{"DE LA O María", answered, true, "", "", false}, // a particle cannot start a full name
		// Not names.
		{"Juan Pérez", introduced, false, "", "", false},
		{"Juan Pérez", answered, false, "", "", false},
		{"quiero reservar", answered, true, "", "", false},
		{"sí", answered, true, "", "", false},
		{"hola", answered, true, "", "", false},
		{"600111222", answered, true, "", "", false},
		{"ana@example.com", answered, true, "", "", false},
		{"🙂", answered, true, "", "", false},
		{"Juan Pérez quiere saber si hay parking", answered, true, "", "", false},
		{"a nombre de mi marido", introduced, false, "", "", false},
		{"me llamo 😊", introduced, false, "", "", false},
		{"uno dos tres cuatro cinco seis siete", answered, true, "", "", false},
	} {
		first, last, ok := parseFullName(c.text, c.mode, c.bare)
		if ok != c.ok || first != c.first || last != c.last {
			t.Errorf("parseFullName(%q, %v, bare=%v) = %q, %q, %v; want %q, %q, %v", c.text, c.mode, c.bare, first, last, ok, c.first, c.last, c.ok)
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
		got, ok := parseSurname(c.text, c.first, c.bare)
		if ok != c.ok || got != c.want {
			t.Errorf("parseSurname(%q, %q, %v) = %q, %v; want %q, %v", c.text, c.first, c.bare, got, ok, c.want, c.ok)
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
		if f, l := profileName(name); f != want[0] || l != want[1] {
			t.Errorf("profileName(%q) = %q, %q; want %q, %q", name, f, l, want[0], want[1])
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
		{"+34 600 111 222", minPhoneDigits, "+34600111222", true},
		{"600111222", minPhoneDigits, "600111222", true},
		{"600 11 12 22", minPhoneDigits, "600111222", true},
		{"600-111-222", minPhoneDigits, "600111222", true},
		{"(+34) 600.111.222", minPhoneDigits, "+34600111222", true},
		{"0034 600 111 222", minPhoneDigits, "+34600111222", true},
		{"+44 7911 123456", minPhoneDigits, "+447911123456", true},
		{"mi móvil es el 612 345 678, gracias", minPhoneDigits, "612345678", true},
		{"Juan Pérez, juan@example.com, 600 111 222", minPhoneDigits, "600111222", true},
		{"1234567", minPhoneDigits, "1234567", true},
		{"1234567", 9, "", false},
		{"600111222", 9, "600111222", true},
		// Not phones.
		{"del 5 al 7 de diciembre", minPhoneDigits, "", false},
		{"2", minPhoneDigits, "", false},
		{"12345", minPhoneDigits, "", false},
		{"1234567890123456", minPhoneDigits, "", false},
		{"DEMO-000001234", minPhoneDigits, "", false},
		{"ana600111222@example.com", minPhoneDigits, "", false},
		{"600111222abc", minPhoneDigits, "", false},
		{"no tengo", minPhoneDigits, "", false},
	} {
		got, ok := parsePhone(c.text, c.min)
		if ok != c.ok || got != c.want {
			t.Errorf("parsePhone(%q, %d) = %q, %v; want %q, %v", c.text, c.min, got, ok, c.want, c.ok)
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
		got, ok := labelledPhone(text)
		if got != want || ok != (want != "") {
			t.Errorf("labelledPhone(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
}

func TestDisplayPhone(t *testing.T) {
	for in, want := range map[string]string{"34600111222": "+34600111222", "+34600111222": "+34600111222", "600111222": "600111222", "": ""} {
		if got := displayPhone(in); got != want {
			t.Errorf("displayPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
