package whatsappwebhook

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfileRejectsUnknownOptions(t *testing.T) {
	for _, bad := range []string{
		"whatsapp_webhook extra",
		"whatsapp_webhook {\n verify_tokn x\n}",
		"whatsapp_webhook {\n verify_token\n}",
		"whatsapp_webhook {\n verify_token a b\n}",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	h := Handler{}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "verify_token") {
		t.Fatalf("empty verify token: %v", err)
	}
	h.verifyToken = []byte("x")
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
}
