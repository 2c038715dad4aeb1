package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
)

const (
	testToken = "EAAtesttoken"
	guest     = "+34 600-111-222"
)

func newFake(t *testing.T) (*fakegraph.Server, *Client) {
	g := fakegraph.Start(t, testToken)
	g.AllowPhoneNumberIDs(testPhoneNumberID)
	return g, &Client{BaseURL: g.BaseURL(), Token: testToken}
}

func sendOne(t *testing.T, r chat.Reply) fakegraph.Message {
	t.Helper()
	g, c := newFake(t)
	wamid, err := c.Send(context.Background(), testPhoneNumberID, guest, r)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := g.WaitForMessages(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].WAMID != wamid || !strings.HasPrefix(wamid, "wamid.") {
		t.Fatalf("wamid %q, fake recorded %q", wamid, msgs[0].WAMID)
	}
	if msgs[0].Request.To != "+34600111222" || msgs[0].PhoneNumberID != testPhoneNumberID || msgs[0].Version != "v21.0" {
		t.Fatalf("to %q pnid %q version %q", msgs[0].Request.To, msgs[0].PhoneNumberID, msgs[0].Version)
	}
	return msgs[0]
}

func TestSendText(t *testing.T) {
	m := sendOne(t, chat.Reply{Kind: chat.ReplyText, Text: "Hola, ¿en qué puedo ayudarte?"})
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+34600111222","type":"text","text":{"preview_url":false,"body":"Hola, ¿en qué puedo ayudarte?"}}`
	if string(m.Raw) != want {
		t.Fatalf("body\n%s\nwant\n%s", m.Raw, want)
	}
}

func TestSendLongTextIsTruncated(t *testing.T) {
	long := strings.Repeat("ñ", 5000)
	m := sendOne(t, chat.Reply{Kind: chat.ReplyText, Text: long})
	body := m.Request.Text.Body
	if utf8.RuneCountInString(body) != MaxTextBody || !strings.HasSuffix(body, "…") || !utf8.ValidString(body) {
		t.Fatalf("body has %d runes, suffix %q", utf8.RuneCountInString(body), body[len(body)-6:])
	}
}

func TestSendButtons(t *testing.T) {
	m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Header: "Tu reserva", Text: "¿Confirmo la doble del 5 al 7 de noviembre?", Footer: "Hotel Madrid",
		Buttons: []chat.Button{{ID: "confirm_yes", Title: "Sí, confirmar"}, {ID: "confirm_no", Title: "No"}}})
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+34600111222","type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Tu reserva"},"body":{"text":"¿Confirmo la doble del 5 al 7 de noviembre?"},"footer":{"text":"Hotel Madrid"},"action":{"buttons":[{"type":"reply","reply":{"id":"confirm_yes","title":"Sí, confirmar"}},{"type":"reply","reply":{"id":"confirm_no","title":"No"}}]}}}`
	if string(m.Raw) != want {
		t.Fatalf("body\n%s\nwant\n%s", m.Raw, want)
	}
}

func TestSendButtonsWithImage(t *testing.T) {
	m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Text: "Suite junior", ImageURL: "https://hotel.example/suite.jpg",
		Buttons: []chat.Button{{ID: "book", Title: "Reservar"}}})
	h := m.Request.Interactive.Header
	if h == nil || h.Type != "image" || h.Image.Link != "https://hotel.example/suite.jpg" {
		t.Fatalf("header %+v", h)
	}
}

func TestSendButtonsLimits(t *testing.T) {
	t.Run("long titles, header and footer are cut on rune boundaries", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Header: strings.Repeat("á", 70), Text: "Elige", Footer: strings.Repeat("é", 61),
			Buttons: []chat.Button{{ID: "a", Title: "Habitación doble con vistas"}, {ID: "b", Title: "Suite"}}})
		in := m.Request.Interactive
		if got := in.Action.Buttons[0].Reply.Title; got != "Habitación doble co…" || utf8.RuneCountInString(got) != 20 {
			t.Fatalf("title %q", got)
		}
		if utf8.RuneCountInString(in.Header.Text) != 60 || utf8.RuneCountInString(in.Footer.Text) != 60 {
			t.Fatalf("header %d footer %d runes", utf8.RuneCountInString(in.Header.Text), utf8.RuneCountInString(in.Footer.Text))
		}
	})
	t.Run("more than 3 buttons become a list", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Text: "¿Qué habitación?", ImageURL: "https://hotel.example/x.jpg",
			Buttons: []chat.Button{{ID: "s", Title: "Sencilla"}, {ID: "d", Title: "Doble"}, {ID: "t", Title: "Triple"}, {ID: "x", Title: "Suite presidencial grande"}}})
		in := m.Request.Interactive
		if in.Type != "list" || in.Header != nil || in.Action.Button != DefaultListButton || len(in.Action.Sections) != 1 || len(in.Action.Sections[0].Rows) != 4 {
			t.Fatalf("interactive %+v", in)
		}
		row := in.Action.Sections[0].Rows[3]
		if row.ID != "x" || row.Title != "Suite presidencial gran…" || row.Description != "Suite presidencial grande" {
			t.Fatalf("row %+v", row)
		}
	})
	t.Run("body over 1024 becomes a list", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Text: strings.Repeat("x", 1500), Buttons: []chat.Button{{ID: "ok", Title: "OK"}}})
		if in := m.Request.Interactive; in.Type != "list" || len(in.Body.Text) != 1500 {
			t.Fatalf("type %q body %d", in.Type, len(in.Body.Text))
		}
	})
	t.Run("titles equal once cut become a list", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Text: "Elige",
			Buttons: []chat.Button{{ID: "a", Title: "Habitación doble vista mar"}, {ID: "b", Title: "Habitación doble vista patio"}}})
		if in := m.Request.Interactive; in.Type != "list" {
			t.Fatalf("type %q", in.Type)
		}
	})
	t.Run("more than 10 options become numbered text", func(t *testing.T) {
		var bs []chat.Button
		for i := 0; i < 11; i++ {
			bs = append(bs, chat.Button{ID: string(rune('a' + i)), Title: "Opción " + string(rune('A'+i))})
		}
		m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Text: "Elige", Buttons: bs})
		if m.Request.Type != "text" || !strings.Contains(m.Request.Text.Body, "11. Opción K") {
			t.Fatalf("request %+v", m.Request)
		}
	})
	t.Run("no buttons is text", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyButtons, Text: "Nada que elegir"})
		if m.Request.Type != "text" || m.Request.Text.Body != "Nada que elegir" {
			t.Fatalf("request %+v", m.Request)
		}
	})
}

func TestSendList(t *testing.T) {
	m := sendOne(t, chat.Reply{Kind: chat.ReplyList, Header: "Disponibilidad", Text: "Habitaciones del 5 al 7 de noviembre", Footer: "Precios con IVA", ListButton: "Ver habitaciones",
		Sections: []chat.Section{
			{Title: "Dobles", Rows: []chat.Row{{ID: "dbl", Title: "Doble estándar", Description: "120 € / noche"}, {ID: "dblsea", Title: "Doble vista mar", Description: "150 € / noche"}}},
			{Title: "Suites", Rows: []chat.Row{{ID: "suite", Title: "Suite junior", Description: "220 € / noche"}}},
		}})
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+34600111222","type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"Disponibilidad"},"body":{"text":"Habitaciones del 5 al 7 de noviembre"},"footer":{"text":"Precios con IVA"},"action":{"button":"Ver habitaciones","sections":[{"title":"Dobles","rows":[{"id":"dbl","title":"Doble estándar","description":"120 € / noche"},{"id":"dblsea","title":"Doble vista mar","description":"150 € / noche"}]},{"title":"Suites","rows":[{"id":"suite","title":"Suite junior","description":"220 € / noche"}]}]}}}`
	if string(m.Raw) != want {
		t.Fatalf("body\n%s\nwant\n%s", m.Raw, want)
	}
}

func TestSendListLimits(t *testing.T) {
	t.Run("long texts cut", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyList, Text: "Elige", ListButton: "Ver todas las habitaciones",
			Sections: []chat.Section{
				{Title: "Habitaciones con vistas al mar", Rows: []chat.Row{{ID: "a", Title: "Doble", Description: strings.Repeat("d", 80)}}},
				{Title: "Suites", Rows: []chat.Row{{ID: "b", Title: "Suite"}}},
			}})
		a := m.Request.Interactive.Action
		if utf8.RuneCountInString(a.Button) != 20 || utf8.RuneCountInString(a.Sections[0].Title) != 24 || utf8.RuneCountInString(a.Sections[0].Rows[0].Description) != 72 {
			t.Fatalf("action %+v", a)
		}
	})
	t.Run("untitled sections merge", func(t *testing.T) {
		m := sendOne(t, chat.Reply{Kind: chat.ReplyList, Text: "Elige",
			Sections: []chat.Section{{Rows: []chat.Row{{ID: "a", Title: "A"}}}, {Title: "B", Rows: []chat.Row{{ID: "b", Title: "B"}}}, {Title: "vacía"}}})
		a := m.Request.Interactive.Action
		if len(a.Sections) != 1 || len(a.Sections[0].Rows) != 2 || a.Sections[0].Title != DefaultListButton {
			t.Fatalf("sections %+v", a.Sections)
		}
	})
	t.Run("more than 10 rows become numbered text", func(t *testing.T) {
		var rows []chat.Row
		for i := 0; i < 12; i++ {
			rows = append(rows, chat.Row{ID: string(rune('a' + i)), Title: "Fila"})
		}
		m := sendOne(t, chat.Reply{Kind: chat.ReplyList, Text: "Elige", Sections: []chat.Section{{Title: "S", Rows: rows}}})
		if m.Request.Type != "text" || !strings.Contains(m.Request.Text.Body, "12. Fila") {
			t.Fatalf("request %+v", m.Request)
		}
	})
}

func TestSendImage(t *testing.T) {
	m := sendOne(t, chat.Reply{Kind: chat.ReplyImage, Text: strings.Repeat("c", 1100), ImageURL: "https://hotel.example/piscina.jpg"})
	if m.Request.Type != "image" || m.Request.Image.Link != "https://hotel.example/piscina.jpg" || utf8.RuneCountInString(m.Request.Image.Caption) != 1024 {
		t.Fatalf("image %+v", m.Request.Image)
	}
}

func TestSendInvalidReplies(t *testing.T) {
	g, c := newFake(t)
	cases := []struct {
		name string
		to   string
		r    chat.Reply
	}{
		{"empty text", guest, chat.Reply{Kind: chat.ReplyText, Text: "  "}},
		{"bad recipient", "guest@example.com", chat.Reply{Kind: chat.ReplyText, Text: "hola"}},
		{"button id too long", guest, chat.Reply{Kind: chat.ReplyButtons, Text: "x", Buttons: []chat.Button{{ID: strings.Repeat("i", 257), Title: "t"}}}},
		{"repeated button id", guest, chat.Reply{Kind: chat.ReplyButtons, Text: "x", Buttons: []chat.Button{{ID: "a", Title: "1"}, {ID: "a", Title: "2"}}}},
		{"empty button id", guest, chat.Reply{Kind: chat.ReplyButtons, Text: "x", Buttons: []chat.Button{{Title: "1"}}}},
		{"buttons without body", guest, chat.Reply{Kind: chat.ReplyButtons, Buttons: []chat.Button{{ID: "a", Title: "1"}}}},
		{"row id too long", guest, chat.Reply{Kind: chat.ReplyList, Text: "x", Sections: []chat.Section{{Rows: []chat.Row{{ID: strings.Repeat("i", 201), Title: "t"}}}}}},
		{"image without URL", guest, chat.Reply{Kind: chat.ReplyImage, Text: "x"}},
		{"image with a file URL", guest, chat.Reply{Kind: chat.ReplyImage, ImageURL: "file:///etc/passwd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Send(context.Background(), testPhoneNumberID, tc.to, tc.r)
			var se *SendError
			if !errors.As(err, &se) || se.Retryable || !errors.Is(err, ErrInvalidReply) {
				t.Fatalf("err = %v, want a permanent ErrInvalidReply", err)
			}
		})
	}
	if g.Calls() != 0 {
		t.Fatalf("invalid replies reached the API: %d calls", g.Calls())
	}
}

func TestSendErrorClasses(t *testing.T) {
	text := chat.Reply{Kind: chat.ReplyText, Text: "hola"}
	cases := []struct {
		name       string
		fail       func(g *fakegraph.Server)
		status     int
		code       int
		retryable  bool
		retryAfter time.Duration
	}{
		{"throughput 130429", func(g *fakegraph.Server) { g.FailNext(1, 130429) }, 429, 130429, true, time.Second},
		{"pair rate 131056", func(g *fakegraph.Server) { g.FailNext(1, 131056) }, 429, 131056, true, 6 * time.Second},
		{"Retry-After wins when longer", func(g *fakegraph.Server) {
			g.FailNextWith(1, fakegraph.Failure{Code: 130429, RetryAfter: 10})
		}, 429, 130429, true, 10 * time.Second},
		{"24-hour window 131047", func(g *fakegraph.Server) { g.FailNext(1, 131047) }, 400, 131047, false, 0},
		{"24-hour window even as 5xx", func(g *fakegraph.Server) {
			g.FailNextWith(1, fakegraph.Failure{HTTPStatus: 500, Code: 131047})
		}, 500, 131047, false, 0},
		{"server error 500", func(g *fakegraph.Server) { g.FailNext(1, 500) }, 500, 2, true, 0},
		{"bad gateway without Meta body", nil, 502, 0, true, 0},
		{"maintenance 131057", func(g *fakegraph.Server) { g.FailNext(1, 131057) }, 400, 131057, true, 30 * time.Second},
		{"other 4xx", func(g *fakegraph.Server) { g.FailNext(1, 131026) }, 400, 131026, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, c := newFake(t)
			if tc.fail != nil {
				tc.fail(g)
			} else {
				// A proxy in front of Meta answering HTML.
				srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusBadGateway)
					w.Write([]byte("<html>bad gateway</html>"))
				})}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				go srv.Serve(ln)
				t.Cleanup(func() { srv.Close() })
				c.BaseURL = "http://" + ln.Addr().String() + "/v21.0"
			}
			_, err := c.Send(context.Background(), testPhoneNumberID, guest, text)
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v", err)
			}
			if se.Status != tc.status || se.Code != tc.code || se.Retryable != tc.retryable || se.RetryAfter != tc.retryAfter {
				t.Fatalf("got %+v, want status %d code %d retryable %v after %s", se, tc.status, tc.code, tc.retryable, tc.retryAfter)
			}
			// The failure is consumed: the next call goes through.
			if tc.fail != nil {
				if _, err := c.Send(context.Background(), testPhoneNumberID, guest, text); err != nil {
					t.Fatalf("second send: %v", err)
				}
			}
		})
	}
}

func TestSendAuthAndTransportErrors(t *testing.T) {
	t.Run("wrong token is permanent", func(t *testing.T) {
		_, c := newFake(t)
		c.Token = "wrong"
		_, err := c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Text: "hola"})
		var se *SendError
		if !errors.As(err, &se) || se.Status != 401 || se.Code != CodeInvalidToken || se.Retryable {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("unknown phone number id is permanent", func(t *testing.T) {
		_, c := newFake(t)
		_, err := c.Send(context.Background(), "999", guest, chat.Reply{Text: "hola"})
		var se *SendError
		if !errors.As(err, &se) || se.Status != 400 || se.Code != CodeInvalidParam || se.Retryable {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("connection refused is retryable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := &Client{BaseURL: "http://" + addr + "/v21.0", Token: testToken}
		_, err = c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Text: "hola"})
		var se *SendError
		if !errors.As(err, &se) || !se.Retryable || se.Status != 0 || se.Err == nil {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("deadline is respected and retryable", func(t *testing.T) {
		g, c := newFake(t)
		g.SetDelay(10 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, testPhoneNumberID, guest, chat.Reply{Text: "hola"})
		var se *SendError
		if !errors.As(err, &se) || !se.Retryable || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("success without message id is not retried", func(t *testing.T) {
		srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp"})
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		c := &Client{BaseURL: "http://" + ln.Addr().String() + "/v21.0", Token: testToken}
		_, err = c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Text: "hola"})
		var se *SendError
		if !errors.As(err, &se) || se.Retryable || se.Status != 200 {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestRenderAlwaysPassesTheFake(t *testing.T) {
	// Every reply Render accepts, however oversized, is one Meta (the fake)
	// accepts.
	g, c := newFake(t)
	long := strings.Repeat("palabra ", 700)
	replies := []chat.Reply{
		{Kind: chat.ReplyButtons, Header: long, Text: long, Footer: long, Buttons: []chat.Button{{ID: "a", Title: long}, {ID: "b", Title: "b"}}},
		{Kind: chat.ReplyList, Header: long, Text: long, Footer: long, ListButton: long, Sections: []chat.Section{{Title: long, Rows: []chat.Row{{ID: "a", Title: long, Description: long}}}, {Title: long, Rows: []chat.Row{{ID: "b", Title: "b"}}}}},
		{Kind: chat.ReplyImage, Text: long, ImageURL: "http://hotel.example/a.png"},
		{Kind: chat.ReplyText, Text: long + long},
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

// Sends one after another share one connection: the answer is read to its
// end, which is what lets net/http keep the connection.
func TestSendsReuseTheConnection(t *testing.T) {
	var dials atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"34600000000","wa_id":"34600000000"}],"messages":[{"id":"wamid.reuse"}]}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: testToken}
	for range 20 {
		if _, err := c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Text: "hola"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("20 sends opened %d connections, want 1", n)
	}
}

// The posts' headers are built once per token: a client given another
// token sends that one, and an answer of no declared length (chunked) is
// read whole.
func TestSendsFollowTheTokenAndReadChunkedAnswers(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp",`)
		w.(http.Flusher).Flush() // no Content-Length from here on
		_, _ = io.WriteString(w, `"messages":[{"id":"wamid.chunked"}]}`)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: "first"}
	for _, token := range []string{"first", "first", "second"} {
		c.Token = token
		id, err := c.Send(context.Background(), testPhoneNumberID, guest, chat.Reply{Text: "hola"})
		if err != nil || id != "wamid.chunked" {
			t.Fatalf("token %s: %q, %v", token, id, err)
		}
		if got := auth.Load(); got != "Bearer "+token {
			t.Fatalf("token %s: sent Authorization %q", token, got)
		}
	}
}
