package whatsapptest

import (
	"regexp"
	"testing"
)

// stamp is where JSON writes the current time.
var stamp = regexp.MustCompile(`"timestamp":"\d+"`)

func TestJSONIsMetasEnvelope(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"text", Message{PhoneNumberID: "106540352242922", From: "16505551234", ID: "wamid.1", Name: "Sheena", Text: "Hola"},
			`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"Hola"}}]}}]}]}`},
		{"no metadata, contacts or entry id of its own", Message{EntryID: "7", From: "34600111222", ID: "wamid.2", Text: "¿Hay sitio?"},
			`{"object":"whatsapp_business_account","entry":[{"id":"7","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"34600111222","id":"wamid.2","timestamp":"1","type":"text","text":{"body":"¿Hay sitio?"}}]}}]}]}`},
		{"button reply with message metadata", Message{From: "1", ID: "wamid.3", Interactive: ButtonReply("confirm_booking", "Confirmar"), Metadata: map[string]any{"k": "v"}},
			`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"1","id":"wamid.3","timestamp":"1","type":"interactive","interactive":{"button_reply":{"id":"confirm_booking","title":"Confirmar"},"type":"button_reply"},"metadata":{"k":"v"}}]}}]}]}`},
		{"list reply", Message{From: "1", ID: "wamid.4", Interactive: ListReply("room_2", "Doble")},
			`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"1","id":"wamid.4","timestamp":"1","type":"interactive","interactive":{"list_reply":{"id":"room_2","title":"Doble"},"type":"list_reply"}}]}}]}]}`},
	}
	for _, c := range cases {
		got := c.m.JSON()
		if !stamp.MatchString(got) {
			t.Errorf("%s: no unix timestamp in %s", c.name, got)
		}
		if got = stamp.ReplaceAllString(got, `"timestamp":"1"`); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestJSONOfBatchesMessagesInOneChange(t *testing.T) {
	got := stamp.ReplaceAllString(JSONOf(
		Message{PhoneNumberID: "106540352242922", From: "1", ID: "wamid.a", Name: "Ana", Text: "Hola"},
		Message{From: "2", ID: "wamid.b", Text: "Buenas"},
		Message{From: "3", ID: "wamid.c", Name: "Eva", Text: "¿Hay sitio?"},
	), `"timestamp":"1"`)
	want := `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},` +
		`"contacts":[{"profile":{"name":"Ana"},"wa_id":"1"},{"profile":{"name":"Eva"},"wa_id":"3"}],` +
		`"messages":[{"from":"1","id":"wamid.a","timestamp":"1","type":"text","text":{"body":"Hola"}},{"from":"2","id":"wamid.b","timestamp":"1","type":"text","text":{"body":"Buenas"}},{"from":"3","id":"wamid.c","timestamp":"1","type":"text","text":{"body":"¿Hay sitio?"}}]}}]}]}`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
