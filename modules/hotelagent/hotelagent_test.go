package hotelagent

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/agentehotel/agente-caddy/modules/adminauth"
	_ "github.com/agentehotel/agente-caddy/modules/jsonerror"
	_ "github.com/agentehotel/agente-caddy/modules/requestmetrics"
	"github.com/agentehotel/agente-caddy/test/adapttest"
)

func TestCaddyfileAdapt(t *testing.T) { adapttest.Run(t, "testdata/*.caddyfiletest") }

func TestUnmarshalCaddyfileRejectsUnknownOptions(t *testing.T) {
	for _, bad := range []string{
		"hotel_agent extra",
		"hotel_agent {\n verify_tokn x\n}",
		"hotel_agent {\n ready_timeout soon\n}",
		"hotel_agent {\n inbox_lease soon\n}",
		"hotel_agent {\n inbox_lease 10s 20s\n}",
		"hotel_agent {\n metadata_allow\n}",
		"hotel_agent {\n pms demo {\n colour blue\n }\n}",
		"hotel_agent {\n pms demo {\n timeout never\n }\n}",
		"hotel_agent {\n pms demo extra\n}",
	} {
		var h HotelAgent
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	h := HotelAgent{}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "verify_token") {
		t.Fatalf("empty verify token: %v", err)
	}
	h = HotelAgent{verifyToken: []byte("x"), InboxLease: caddy.Duration(100 * time.Millisecond)}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "inbox_lease") {
		t.Fatalf("100ms inbox lease: %v", err)
	}
	h.InboxLease = caddy.Duration(time.Second)
	if err := h.Validate(); err != nil {
		t.Fatalf("1s inbox lease: %v", err)
	}
}
