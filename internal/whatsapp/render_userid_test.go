package whatsapp

import (
	"encoding/json"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// A guest known only by a user id is addressed by `recipient`, without `to`.
func TestRenderToUserID(t *testing.T) {
	b, err := Render("US.13491208655302741918", chat.Reply{Kind: chat.ReplyText, Text: "hola"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if _, has := got["to"]; has || got["recipient"] != "US.13491208655302741918" {
		t.Fatalf("body %s", b)
	}
	got = nil
	if b, err = Render("+34 600 111 222", chat.Reply{Kind: chat.ReplyText, Text: "hola"}); err != nil || json.Unmarshal(b, &got) != nil || got["to"] != "+34600111222" {
		t.Fatalf("phone: %s %v", b, err)
	}
	if _, has := got["recipient"]; has {
		t.Fatalf("phone body names a recipient: %s", b)
	}
	if _, err := Render("guest@example.com", chat.Reply{Kind: chat.ReplyText, Text: "hola"}); err == nil {
		t.Fatal("an email address rendered")
	}
}
