package health

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfileRejectsUnknownOptions(t *testing.T) {
	for _, bad := range []string{
		"health",
		"health live ready",
		"health ready {\n timeout soon\n}",
		"health ready {\n timeout 1s 2s\n}",
		"health ready {\n colour blue\n}",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for field, h := range map[string]Handler{
		"check":   {Check: "dead"},
		"timeout": {Check: "ready", Timeout: -1},
	} {
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}
