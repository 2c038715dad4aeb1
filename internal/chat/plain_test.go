package chat

import "testing"

func TestPlain(t *testing.T) {
	cases := []struct {
		name string
		r    Reply
		want string
	}{
		{"text", Reply{Kind: ReplyText, Text: "  Hola  "}, "Hola"},
		{"buttons", Reply{Kind: ReplyButtons, Header: "Reserva", Text: "¿Confirmo?", Footer: "Hotel Madrid",
			Buttons: []Button{{ID: "yes", Title: "Sí"}, {ID: "no", Title: "No"}}},
			"Reserva\n\n¿Confirmo?\n\n1. Sí\n2. No\n\nHotel Madrid"},
		{"list numbers across sections", Reply{Kind: ReplyList, Text: "Elige", ListButton: "Ver",
			Sections: []Section{
				{Title: "Dobles", Rows: []Row{{ID: "d1", Title: "Doble", Description: "120 €"}}},
				{Title: "Suites", Rows: []Row{{ID: "s1", Title: "Suite"}}},
			}},
			"Elige\n\nDobles\n1. Doble — 120 €\n\nSuites\n2. Suite"},
		{"single section title omitted", Reply{Kind: ReplyList, Text: "Elige",
			Sections: []Section{{Title: "Habitaciones", Rows: []Row{{ID: "d1", Title: "Doble"}}}}},
			"Elige\n\n1. Doble"},
		{"image", Reply{Kind: ReplyImage, Text: "Nuestra piscina", ImageURL: "https://h.example/p.jpg"},
			"Nuestra piscina\n\nhttps://h.example/p.jpg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.r.Plain(); got != c.want {
				t.Fatalf("got\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}
