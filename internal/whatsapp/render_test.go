package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// units counts like Meta, independently of utf16Len.
func units(s string) int { return len(utf16.Encode([]rune(s))) }

func TestUTF16Len(t *testing.T) {
	for s, want := range map[string]int{
		"":         0,
		"hola":     4,
		"ñandú":    5,
		"✅":        1, // U+2705 is in the BMP
		"😀":        2, // U+1F600 is a surrogate pair
		"👍🏽":       4, // thumbs up + skin tone
		"🇪🇸":       4, // two regional indicators
		"a😀b":      4,
		"\xff":     1, // invalid UTF-8 is sent as U+FFFD
		"𝄞 música": 9,
	} {
		if got := utf16Len(s); got != want || got != units(s) {
			t.Errorf("utf16Len(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTruncateCountsUTF16(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"fits", "Doble estándar", 24, "Doble estándar"},
		{"exactly the limit in units", strings.Repeat("😀", 10), 20, strings.Repeat("😀", 10)},
		// 10 emoji are 20 units but 10 runes: counting runes let 12 through.
		{"emoji over the limit", strings.Repeat("😀", 12), 20, strings.Repeat("😀", 9) + "…"},
		// A pair that does not fit in the last unit is left out whole.
		{"a pair that does not fit", "abcdefghijklmnopqr😀😀", 20, "abcdefghijklmnopqr…"},
		{"a pair that fits", "abcdefghijklmnopq😀😀", 20, "abcdefghijklmnopq😀…"},
		// Skin tone, ZWJ family, flags and accents stay whole.
		{"skin tone after its hand", "Reserva hecha 👍🏽👍🏽", 20, "Reserva hecha 👍🏽…"},
		{"skin tone not cut off its hand", "Reserva hecha 👍🏽👍🏽", 18, "Reserva hecha …"},
		{"ZWJ sequence", "Familia 👨‍👩‍👧 ok", 12, "Familia …"},
		{"flags pair up", "🇪🇸🇫🇷🇮🇹", 10, "🇪🇸🇫🇷…"},
		{"flag not split", "ab🇪🇸🇫🇷", 9, "ab🇪🇸…"},
		{"combining accent", "Cafe\u0301 Cafe\u0301", 5, "Caf…"},
		{"variation selector kept", "Hotel ❤️❤️", 9, "Hotel ❤️…"},
		{"variation selector not cut off", "Hotel ❤️❤️", 8, "Hotel …"},
		// A single grapheme longer than the limit: cut between characters.
		{"one huge grapheme", strings.Repeat("e\u0301", 1) + strings.Repeat("\u0301", 30), 5, "e\u0301\u0301\u0301…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := truncate(c.in, c.max)
			if got != c.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if units(got) > c.max || !utf8.ValidString(got) {
				t.Errorf("%q: %d units, valid UTF-8 %v", got, units(got), utf8.ValidString(got))
			}
		})
	}
}

// Every limit of Render holds in UTF-16 units for texts of emoji and
// characters outside the BMP, which counted as runes slipped past them.
func TestRenderLimitsInUTF16(t *testing.T) {
	emoji := strings.Repeat("🏨", 3000) // 6000 units
	music := strings.Repeat("𝄞", 3000)
	limit := func(t *testing.T, what, s string, max int) {
		t.Helper()
		if n := units(s); n > max || n < max-1 {
			t.Errorf("%s: %d units, want %d or %d (a pair does not fit in the last unit)", what, n, max-1, max)
		}
		if !strings.HasSuffix(s, "…") || !utf8.ValidString(s) {
			t.Errorf("%s: %q is not cut cleanly", what, s)
		}
	}
	render := func(t *testing.T, r chat.Reply) outMessage {
		t.Helper()
		raw, err := Render(guest, r)
		if err != nil {
			t.Fatal(err)
		}
		var m outMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := render(t, chat.Reply{Kind: chat.ReplyText, Text: emoji})
	limit(t, "text body", m.Text.Body, MaxTextBody)

	m = render(t, chat.Reply{Kind: chat.ReplyImage, Text: music, ImageURL: "https://hotel.example/a.jpg"})
	limit(t, "caption", m.Image.Caption, MaxImageCaption)

	m = render(t, chat.Reply{Kind: chat.ReplyButtons, Header: emoji, Text: "Elige", Footer: music,
		Buttons: []chat.Button{{ID: "a", Title: emoji}, {ID: "b", Title: "Otra"}}})
	in := m.Interactive
	limit(t, "header", in.Header.Text, MaxHeaderFooter)
	limit(t, "footer", in.Footer.Text, MaxHeaderFooter)
	limit(t, "button title", in.Action.Buttons[0].Reply.Title, MaxButtonTitle)

	// A body within 1024 runes but over 1024 units cannot go with buttons.
	m = render(t, chat.Reply{Kind: chat.ReplyButtons, Text: strings.Repeat("😀", 600), Buttons: []chat.Button{{ID: "a", Title: "Sí"}}})
	if m.Interactive.Type != "list" {
		t.Errorf("a 1200-unit body with buttons: %s, want a list", m.Interactive.Type)
	}

	m = render(t, chat.Reply{Kind: chat.ReplyList, Header: music, Text: emoji, Footer: emoji, ListButton: emoji,
		Sections: []chat.Section{{Title: music, Rows: []chat.Row{{ID: "a", Title: "Suite 🌊", Description: emoji}}}}})
	in = m.Interactive
	limit(t, "list body", in.Body.Text, MaxListBody)
	limit(t, "list button", in.Action.Button, MaxListButton)
	limit(t, "section title", in.Action.Sections[0].Title, MaxSectionTitle)
	limit(t, "row description", in.Action.Sections[0].Rows[0].Description, MaxRowDescription)
	if got := in.Action.Sections[0].Rows[0].Title; got != "Suite 🌊" {
		t.Errorf("row title %q", got)
	}

	// A row title over 24 units is cut and kept whole in the description.
	long := "Suite 🌊🌊🌊🌊🌊🌊🌊🌊🌊🌊" // 16 runes, 26 units
	m = render(t, chat.Reply{Kind: chat.ReplyList, Text: "Elige", Sections: []chat.Section{{Rows: []chat.Row{{ID: "a", Title: long}}}}})
	row := m.Interactive.Action.Sections[0].Rows[0]
	limit(t, "row title", row.Title, MaxRowTitle)
	if row.Description != long {
		t.Errorf("description %q, want the whole title", row.Description)
	}

	// Ids are never cut: over the limit in units is invalid.
	if _, err := Render(guest, chat.Reply{Kind: chat.ReplyList, Text: "x",
		Sections: []chat.Section{{Rows: []chat.Row{{ID: strings.Repeat("😀", 101), Title: "a"}}}}}); err == nil {
		t.Error("a row id of 202 units was accepted")
	}
}

func TestListSectionsAlwaysHaveATitle(t *testing.T) {
	rows := []chat.Row{{ID: "dbl", Title: "Doble"}, {ID: "suite", Title: "Suite"}}
	for _, c := range []struct {
		name     string
		r        chat.Reply
		sections []string
	}{
		{"lone untitled section: the list's label", chat.Reply{ListButton: "Ver habitaciones", Sections: []chat.Section{{Rows: rows}}}, []string{"Ver habitaciones"}},
		{"lone untitled section without a label: the default", chat.Reply{Sections: []chat.Section{{Rows: rows}}}, []string{DefaultListButton}},
		{"lone titled section keeps its title", chat.Reply{ListButton: "Ver", Sections: []chat.Section{{Title: "Habitaciones", Rows: rows}}}, []string{"Habitaciones"}},
		{"blank title", chat.Reply{ListButton: "Ver", Sections: []chat.Section{{Title: "  ", Rows: rows}}}, []string{"Ver"}},
		{"merged sections", chat.Reply{ListButton: "Rooms", Sections: []chat.Section{{Rows: rows[:1]}, {Title: "B", Rows: rows[1:]}}}, []string{"Rooms"}},
		{"titled sections", chat.Reply{Sections: []chat.Section{{Title: "A", Rows: rows[:1]}, {Title: "B", Rows: rows[1:]}}}, []string{"A", "B"}},
		{"buttons become a list", chat.Reply{Kind: chat.ReplyButtons, ListButton: "Opciones", Buttons: []chat.Button{{ID: "1", Title: "Uno"}, {ID: "2", Title: "Dos"}, {ID: "3", Title: "Tres"}, {ID: "4", Title: "Cuatro"}}}, []string{"Opciones"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			if r.Kind == "" {
				r.Kind = chat.ReplyList
			}
			r.Text = "Elige"
			m, err := build(guest, r)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range m.Interactive.Action.Sections {
				got = append(got, s.Title)
			}
			if strings.Join(got, "|") != strings.Join(c.sections, "|") {
				t.Fatalf("section titles %q, want %q", got, c.sections)
			}
		})
	}
}

// Replies full of emoji, cut by Render, are accepted by the fake, which
// counts like Meta.
func TestRenderedEmojiPassTheFake(t *testing.T) {
	g, c := newFake(t)
	e := strings.Repeat("😀", 700)
	replies := []chat.Reply{
		{Kind: chat.ReplyButtons, Header: e, Text: e, Footer: e, Buttons: []chat.Button{{ID: "a", Title: e}, {ID: "b", Title: "b👍🏽👍🏽👍🏽👍🏽👍🏽"}}},
		{Kind: chat.ReplyList, Header: e, Text: e, Footer: e, ListButton: e, Sections: []chat.Section{{Rows: []chat.Row{{ID: "a", Title: e, Description: e}}}}},
		{Kind: chat.ReplyImage, Text: e, ImageURL: "https://hotel.example/a.png"},
		{Kind: chat.ReplyText, Text: e + e + e + e},
	}
	for i, r := range replies {
		if _, err := c.Send(context.Background(), testPhoneNumberID, guest, r); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	if n := len(g.Messages()); n != len(replies) {
		t.Fatalf("%d accepted", n)
	}
}

// The template request is Meta's documented shape to the letter: messaging
// product, recipient, type, then the template's name, language code and
// one body component of text parameters.
func TestRenderTemplateIsMetasShape(t *testing.T) {
	raw, err := Render("+91 98678 00451", chat.Reply{Kind: chat.ReplyTemplate, Template: &chat.Template{
		Name: "order_confirmation", Language: "en", BodyParameters: []string{"Asha", "ORD-9271"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"messaging_product":"whatsapp","to":"+919867800451","type":"template","template":{"name":"order_confirmation","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"Asha"},{"type":"text","text":"ORD-9271"}]}]}}`
	if string(raw) != want {
		t.Fatalf("body\n%s\nwant\n%s", raw, want)
	}

	// Without parameters there is no component; white space Meta refuses in
	// a parameter is folded.
	raw, _ = Render(guest, chat.Reply{Kind: chat.ReplyTemplate, Template: &chat.Template{Name: "hello_world", Language: "en_US"}})
	if want := `{"messaging_product":"whatsapp","to":"+34600111222","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`; string(raw) != want {
		t.Fatalf("body\n%s\nwant\n%s", raw, want)
	}
	raw, _ = Render(guest, chat.Reply{Kind: chat.ReplyTemplate, Template: &chat.Template{Name: "t", Language: "es", BodyParameters: []string{" Ana\n\tGarcía      López "}}})
	if !strings.Contains(string(raw), `"text":"Ana García López"`) {
		t.Fatalf("parameter not folded: %s", raw)
	}

	for name, r := range map[string]chat.Reply{
		"no template":     {Kind: chat.ReplyTemplate},
		"no name":         {Kind: chat.ReplyTemplate, Template: &chat.Template{Language: "es"}},
		"no language":     {Kind: chat.ReplyTemplate, Template: &chat.Template{Name: "t"}},
		"blank parameter": {Kind: chat.ReplyTemplate, Template: &chat.Template{Name: "t", Language: "es", BodyParameters: []string{"Ana", " \n "}}},
	} {
		if _, err := Render(guest, r); !errors.Is(err, ErrInvalidReply) {
			t.Errorf("%s: %v, want ErrInvalidReply", name, err)
		}
	}
	if _, err := Render("guest@example.com", chat.Reply{Kind: chat.ReplyTemplate, Template: &chat.Template{Name: "t", Language: "es"}}); !errors.Is(err, ErrInvalidReply) {
		t.Errorf("email recipient: %v", err)
	}
}

func TestRenderMarkReadIsMetasShape(t *testing.T) {
	raw, err := RenderMarkRead("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA")
	want := `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA","typing_indicator":{"type":"text"}}`
	if err != nil || string(raw) != want {
		t.Fatalf("body\n%s\nwant\n%s (%v)", raw, want, err)
	}
	if _, err := RenderMarkRead(" "); !errors.Is(err, ErrInvalidReply) {
		t.Fatalf("blank id: %v", err)
	}
}

func TestMarkRead(t *testing.T) {
	g, c := newFake(t)
	if err := c.MarkRead(context.Background(), testPhoneNumberID, "wamid.guest-1"); err != nil {
		t.Fatal(err)
	}
	reads := g.Reads()
	if len(reads) != 1 || reads[0].MessageID != "wamid.guest-1" || !reads[0].Typing || reads[0].PhoneNumberID != testPhoneNumberID {
		t.Fatalf("reads %+v", reads)
	}
	g.FailNext(1, 131000)
	var se *SendError
	if err := c.MarkRead(context.Background(), testPhoneNumberID, "wamid.guest-2"); !errors.As(err, &se) || se.Code != 131000 || !se.Retryable {
		t.Fatalf("failure: %v", err)
	}
	if err := c.MarkRead(context.Background(), "", "wamid.guest-3"); !errors.As(err, &se) || !errors.Is(err, ErrInvalidReply) {
		t.Fatalf("no business number: %v", err)
	}
	if g.Calls() != 2 {
		t.Fatalf("%d calls, want 2 (the invalid one stays here)", g.Calls())
	}
}

// Outside the 24-hour window Meta refuses free-form messages with 131047,
// which is never retried, and takes the template.
func TestTemplateOutsideTheWindow(t *testing.T) {
	g, c := newFake(t)
	g.CloseWindow("34600111222")
	_, err := c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Kind: chat.ReplyText, Text: "Hola"})
	var se *SendError
	if !errors.As(err, &se) || se.Code != CodeOutsideWindow || se.Retryable {
		t.Fatalf("free-form outside the window: %v", err)
	}
	wamid, err := c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Kind: chat.ReplyTemplate,
		Template: &chat.Template{Name: "reanudar_conversacion", Language: "es", BodyParameters: []string{"Ana", "Hotel Madrid Central"}}})
	if err != nil || !strings.HasPrefix(wamid, "wamid.") {
		t.Fatalf("template: %q %v", wamid, err)
	}
	if m := g.Messages(); len(m) != 1 || m[0].Request.Template.Name != "reanudar_conversacion" {
		t.Fatalf("accepted %+v", m)
	}
}
