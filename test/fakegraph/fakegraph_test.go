package fakegraph

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const token = "EAAfake"

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func post(t *testing.T, s *Server, path, auth, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return a
}

func errCode(a answer) int {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

const okText = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+34600111222","type":"text","text":{"preview_url":false,"body":"hola"}}`

func send(t *testing.T, s *Server, body string) answer {
	return post(t, s, "/v21.0/106540352242922/messages", "Bearer "+token, "application/json", body)
}

func TestAuth(t *testing.T) {
	s := Start(t, token)
	for _, tc := range []struct {
		auth string
		code int
	}{{"", 2500}, {"Bearer wrong", 190}, {"Basic " + token, 190}, {"Bearer", 190}} {
		a := post(t, s, "/v21.0/1/messages", tc.auth, "application/json", okText)
		e := a.body["error"].(map[string]any)
		if a.status != 401 || errCode(a) != tc.code || e["type"] != "OAuthException" || a.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("auth %q: %d %v", tc.auth, a.status, a.body)
		}
	}
	if len(s.Messages()) != 0 || s.Calls() != 4 {
		t.Fatalf("messages %d calls %d", len(s.Messages()), s.Calls())
	}
}

func TestPathAndMethod(t *testing.T) {
	s := Start(t, token)
	s.AllowPhoneNumberIDs("106540352242922")
	for _, p := range []string{"/106540352242922/messages", "/v21/106540352242922/messages", "/v21.0/abc/messages", "/v21.0/106540352242922/media", "/v21.0/106540352242922/messages/x"} {
		if a := post(t, s, p, "Bearer "+token, "application/json", okText); a.status != 400 {
			t.Fatalf("%s: %d", p, a.status)
		}
	}
	if a := post(t, s, "/v21.0/42/messages", "Bearer "+token, "application/json", okText); a.status != 400 || errCode(a) != 100 {
		t.Fatalf("unknown number: %d %v", a.status, a.body)
	}
	if a := post(t, s, "/v19.0/106540352242922/messages", "Bearer "+token, "application/json", okText); a.status != 200 {
		t.Fatalf("other version: %d %v", a.status, a.body)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v21.0/106540352242922/messages", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	if a := post(t, s, "/v21.0/106540352242922/messages", "Bearer "+token, "text/plain", okText); a.status != 400 {
		t.Fatalf("text/plain: %d", a.status)
	}
}

func TestSuccessShape(t *testing.T) {
	s := Start(t, token)
	a := send(t, s, okText)
	if a.status != 200 || a.body["messaging_product"] != "whatsapp" {
		t.Fatalf("%d %v", a.status, a.body)
	}
	contacts := a.body["contacts"].([]any)[0].(map[string]any)
	id := a.body["messages"].([]any)[0].(map[string]any)["id"].(string)
	if contacts["input"] != "+34600111222" || contacts["wa_id"] != "34600111222" || !strings.HasPrefix(id, "wamid.") {
		t.Fatalf("%v", a.body)
	}
	b := send(t, s, okText)
	if id2 := b.body["messages"].([]any)[0].(map[string]any)["id"]; id2 == id {
		t.Fatal("wamids repeat")
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].WAMID != id || msgs[0].Request.Text.Body != "hola" || string(msgs[0].Raw) != okText {
		t.Fatalf("%+v", msgs)
	}
}

func interactiveBody(in string) string {
	return `{"messaging_product":"whatsapp","to":"34600111222","type":"interactive","interactive":` + in + `}`
}

func buttons(n int, title string) string {
	var bs []string
	for i := 0; i < n; i++ {
		bs = append(bs, fmt.Sprintf(`{"type":"reply","reply":{"id":"id%d","title":"%s%d"}}`, i, title, i))
	}
	return `{"type":"button","body":{"text":"elige"},"action":{"buttons":[` + strings.Join(bs, ",") + `]}}`
}

func rows(n int) string {
	var rs []string
	for i := 0; i < n; i++ {
		rs = append(rs, fmt.Sprintf(`{"id":"r%d","title":"Fila %d"}`, i, i))
	}
	return strings.Join(rs, ",")
}

func TestValidation(t *testing.T) {
	s := Start(t, token)
	long := func(n int) string { return strings.Repeat("ñ", n) }
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"text", okText, true},
		{"text body at 4096", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + long(4096) + `"}}`, true},
		{"text body at 4097", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + long(4097) + `"}}`, false},
		{"empty text", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":""}}`, false},
		{"no messaging_product", `{"to":"1","type":"text","text":{"body":"x"}}`, false},
		{"bad to", `{"messaging_product":"whatsapp","to":"guest@x","type":"text","text":{"body":"x"}}`, false},
		{"unknown field", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x","bold":true}}`, false},
		{"type without object", `{"messaging_product":"whatsapp","to":"1","type":"image","text":{"body":"x"}}`, false},
		{"not JSON", `{"messaging_product":`, false},
		{"3 buttons", interactiveBody(buttons(3, "b")), true},
		{"4 buttons", interactiveBody(buttons(4, "b")), false},
		{"0 buttons", interactiveBody(buttons(0, "b")), false},
		{"title of 20", interactiveBody(buttons(1, long(19))), true},
		{"title of 21", interactiveBody(buttons(1, long(20))), false},
		{"repeated titles", interactiveBody(`{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"T"}},{"type":"reply","reply":{"id":"b","title":"T"}}]}}`), false},
		{"repeated ids", interactiveBody(`{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"T"}},{"type":"reply","reply":{"id":"a","title":"U"}}]}}`), false},
		{"button body 1025", interactiveBody(`{"type":"button","body":{"text":"` + long(1025) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"T"}}]}}`), false},
		{"button header 61", interactiveBody(`{"type":"button","header":{"type":"text","text":"` + long(61) + `"},"body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"T"}}]}}`), false},
		{"button image header", interactiveBody(`{"type":"button","header":{"type":"image","image":{"link":"https://h.example/a.jpg"}},"body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"T"}}]}}`), true},
		{"button footer 61", interactiveBody(`{"type":"button","body":{"text":"x"},"footer":{"text":"` + long(61) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"T"}}]}}`), false},
		{"button id 257", interactiveBody(`{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"` + long(257) + `","title":"T"}}]}}`), false},
		{"list of 10", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"title":"A","rows":[` + rows(5) + `]},{"title":"B","rows":[` + strings.ReplaceAll(rows(5), `"r`, `"s`) + `]}]}}`), true},
		{"list of 11", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[` + rows(11) + `]}]}}`), false},
		{"list without button", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"sections":[{"rows":[` + rows(1) + `]}]}}`), false},
		{"list button 21", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"` + long(21) + `","sections":[{"rows":[` + rows(1) + `]}]}}`), false},
		{"untitled section among several", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[{"id":"a","title":"a"}]},{"title":"B","rows":[{"id":"b","title":"b"}]}]}}`), false},
		{"lone untitled section", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[` + rows(1) + `]}]}}`), false},
		{"lone titled section", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"title":"Habitaciones","rows":[` + rows(1) + `]}]}}`), true},
		{"emoji title of 20 units", interactiveBody(buttons(1, strings.Repeat("😀", 9)+"a")), true},
		{"emoji title of 21 units", interactiveBody(buttons(1, strings.Repeat("😀", 10))), false},
		{"section title 25", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"title":"` + long(25) + `","rows":[` + rows(1) + `]}]}}`), false},
		{"row title 25", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[{"id":"a","title":"` + long(25) + `"}]}]}}`), false},
		{"row description 73", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[{"id":"a","title":"a","description":"` + long(73) + `"}]}]}}`), false},
		{"row id 201", interactiveBody(`{"type":"list","body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[{"id":"` + long(201) + `","title":"a"}]}]}}`), false},
		{"list image header", interactiveBody(`{"type":"list","header":{"type":"image","image":{"link":"https://h.example/a.jpg"}},"body":{"text":"x"},"action":{"button":"Ver","sections":[{"rows":[` + rows(1) + `]}]}}`), false},
		{"image by link", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"link":"https://h.example/a.jpg","caption":"` + long(1024) + `"}}`, true},
		{"image caption 1025", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"link":"https://h.example/a.jpg","caption":"` + long(1025) + `"}}`, false},
		{"image without link or id", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"caption":"x"}}`, false},
		{"image with a ftp link", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"link":"ftp://h.example/a.jpg"}}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, s, tc.body)
			if tc.ok != (a.status == 200) {
				t.Fatalf("status %d %v", a.status, a.body)
			}
			if !tc.ok {
				e := a.body["error"].(map[string]any)
				if errCode(a) != 100 || a.status != 400 || e["error_data"].(map[string]any)["details"] == "" {
					t.Fatalf("error %v", a.body)
				}
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	s := Start(t, token)
	s.FailNext(2, 130429)
	s.FailNext(1, 500)
	s.FailNext(1, 131047)
	s.FailNextWith(1, Failure{Code: 131056, RetryAfter: 7})
	want := []struct{ status, code int }{{429, 130429}, {429, 130429}, {500, 2}, {400, 131047}, {429, 131056}, {200, 0}}
	for i, w := range want {
		a := send(t, s, okText)
		if a.status != w.status || errCode(a) != w.code {
			t.Fatalf("call %d: %d %v, want %d code %d", i, a.status, a.body, w.status, w.code)
		}
		if i == 4 && a.header.Get("Retry-After") != "7" {
			t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
		}
	}
	if len(s.Messages()) != 1 || s.Calls() != 6 {
		t.Fatalf("messages %d calls %d", len(s.Messages()), s.Calls())
	}
	// Failures are not consumed by unauthenticated calls.
	s.FailNext(1, 131047)
	post(t, s, "/v21.0/1/messages", "Bearer nope", "application/json", okText)
	if a := send(t, s, okText); errCode(a) != 131047 {
		t.Fatalf("%v", a.body)
	}
	s.Reset()
	if s.Calls() != 0 || len(s.Messages()) != 0 {
		t.Fatal("Reset")
	}
}

func TestWaitForMessages(t *testing.T) {
	s := Start(t, token)
	if _, err := s.WaitForMessages(1, 20*time.Millisecond); err == nil {
		t.Fatal("no timeout")
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, s.BaseURL()+"/106540352242922/messages", strings.NewReader(okText))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	msgs, err := s.WaitForMessages(20, 10*time.Second)
	if err != nil || len(msgs) != 20 {
		t.Fatalf("%d %v", len(msgs), err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.WAMID] {
			t.Fatalf("repeated wamid %s", m.WAMID)
		}
		seen[m.WAMID] = true
	}
	wg.Wait()
}

const readReceipt = `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA","typing_indicator":{"type":"text"}}`

func TestReadReceipts(t *testing.T) {
	s := Start(t, token)
	a := send(t, s, readReceipt)
	if a.status != 200 || a.body["success"] != true || len(a.body) != 1 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	if a := send(t, s, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.2"}`); a.status != 200 {
		t.Fatalf("without typing indicator: %d %v", a.status, a.body)
	}
	reads := s.Reads()
	if len(reads) != 2 || !reads[0].Typing || reads[1].Typing || reads[0].PhoneNumberID != "106540352242922" ||
		reads[0].MessageID != "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA" || string(reads[0].Raw) != readReceipt {
		t.Fatalf("reads %+v", reads)
	}
	if len(s.Messages()) != 0 {
		t.Fatal("a read receipt was taken for a message")
	}
	for name, body := range map[string]string{
		"no message_id":         `{"messaging_product":"whatsapp","status":"read"}`,
		"blank message_id":      `{"messaging_product":"whatsapp","status":"read","message_id":" "}`,
		"other status":          `{"messaging_product":"whatsapp","status":"delivered","message_id":"wamid.1"}`,
		"no status":             `{"messaging_product":"whatsapp","message_id":"wamid.1"}`,
		"no messaging_product":  `{"status":"read","message_id":"wamid.1"}`,
		"other typing type":     `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.1","typing_indicator":{"type":"audio"}}`,
		"with a recipient":      `{"messaging_product":"whatsapp","to":"34600111222","status":"read","message_id":"wamid.1"}`,
		"unknown field":         `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.1","typing_indicator":{"type":"text","seconds":5}}`,
		"typing without status": `{"messaging_product":"whatsapp","message_id":"wamid.1","typing_indicator":{"type":"text"}}`,
	} {
		if a := send(t, s, body); a.status != 400 || errCode(a) != 100 {
			t.Errorf("%s: %d %v", name, a.status, a.body)
		}
	}
	if len(s.Reads()) != 2 {
		t.Fatalf("%d reads after the refused ones", len(s.Reads()))
	}
}

func templateBody(template string) string {
	return `{"messaging_product":"whatsapp","to":"+34600111222","type":"template","template":` + template + `}`
}

func TestTemplates(t *testing.T) {
	s := Start(t, token)
	ok := templateBody(`{"name":"reanudar_conversacion","language":{"code":"es"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"Hotel Madrid Central"}]}]}`)
	a := send(t, s, ok)
	if a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	m := s.Messages()[0]
	tpl := m.Request.Template
	if m.Request.Type != "template" || tpl.Name != "reanudar_conversacion" || tpl.Language.Code != "es" ||
		tpl.Components[0].Parameters[1].Text != "Hotel Madrid Central" || string(m.Raw) != ok {
		t.Fatalf("recorded %+v", m.Request)
	}
	for name, c := range map[string]struct {
		body string
		ok   bool
	}{
		"no components":        {templateBody(`{"name":"hello_world","language":{"code":"en_US"}}`), true},
		"deterministic policy": {templateBody(`{"name":"hello_world","language":{"policy":"deterministic","code":"en_US"}}`), true},
		"no name":              {templateBody(`{"language":{"code":"es"}}`), false},
		"name with capitals":   {templateBody(`{"name":"Hello","language":{"code":"es"}}`), false},
		"no language":          {templateBody(`{"name":"hello_world"}`), false},
		"no language code":     {templateBody(`{"name":"hello_world","language":{}}`), false},
		"template missing":     {`{"messaging_product":"whatsapp","to":"1","type":"template"}`, false},
		"template and text":    {`{"messaging_product":"whatsapp","to":"1","type":"template","text":{"body":"x"},"template":{"name":"a","language":{"code":"es"}}}`, false},
		"empty parameter":      {templateBody(`{"name":"a","language":{"code":"es"},"components":[{"type":"body","parameters":[{"type":"text","text":""}]}]}`), false},
		"new line parameter":   {templateBody(`{"name":"a","language":{"code":"es"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana\nGarcía"}]}]}`), false},
		"five spaces":          {templateBody(`{"name":"a","language":{"code":"es"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana     García"}]}]}`), false},
		"no parameters":        {templateBody(`{"name":"a","language":{"code":"es"},"components":[{"type":"body","parameters":[]}]}`), false},
		"unknown component":    {templateBody(`{"name":"a","language":{"code":"es"},"components":[{"type":"carousel","parameters":[{"type":"text","text":"x"}]}]}`), false},
	} {
		if a := send(t, s, c.body); c.ok != (a.status == 200) {
			t.Errorf("%s: %d %v", name, a.status, a.body)
		}
	}
}

func TestOutsideTheWindow(t *testing.T) {
	s := Start(t, token)
	s.CloseWindow("+34600111222")
	a := send(t, s, okText)
	if e, _ := a.body["error"].(map[string]any); a.status != 400 || errCode(a) != 131047 || !strings.Contains(e["message"].(string), "Re-engagement message") {
		t.Fatalf("free-form outside the window: %d %v", a.status, a.body)
	}
	if a := send(t, s, templateBody(`{"name":"hello_world","language":{"code":"en_US"}}`)); a.status != 200 {
		t.Fatalf("template outside the window: %d %v", a.status, a.body)
	}
	if a := send(t, s, readReceipt); a.status != 200 {
		t.Fatalf("read receipt: %d %v", a.status, a.body)
	}
	other := `{"messaging_product":"whatsapp","to":"34600999000","type":"text","text":{"body":"hola"}}`
	if a := send(t, s, other); a.status != 200 {
		t.Fatalf("another guest: %d %v", a.status, a.body)
	}
	s.OpenWindow("34600111222")
	if a := send(t, s, okText); a.status != 200 {
		t.Fatalf("window open again: %d %v", a.status, a.body)
	}
	if n := len(s.Messages()); n != 3 {
		t.Fatalf("%d messages accepted, want 3", n)
	}
}
