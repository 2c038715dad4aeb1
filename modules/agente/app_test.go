package agente

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/agentehotel/agente-caddy/test/adapttest"
)

func TestCaddyfileAdapt(t *testing.T) { adapttest.Run(t, "testdata/*.caddyfiletest") }

func TestGlobalOptionRejectsUnknown(t *testing.T) {
	for _, bad := range []string{
		"agente extra",
		"agente {\n postgress x\n}",
		"agente {\n migrate maybe\n}",
		"agente {\n tenant_refresh soon\n}",
		"agente {\n redis a b\n}",
		"agente {\n inbox_lease soon\n}",
		"agente {\n inbox_lease 10s 20s\n}",
		"agente {\n senders many\n}",
		"agente {\n inbox_workers 0\n}",
		"agente {\n metadata_allow\n}",
		"agente {\n pms demo {\n colour blue\n }\n}",
		"agente {\n pms demo {\n timeout never\n }\n}",
		"agente {\n pms demo {\n max_concurrent 0\n }\n}",
		"agente {\n pms demo {\n max_concurrent lots\n }\n}",
		"agente {\n pms demo extra\n}",
	} {
		if _, err := parseGlobalOption(caddyfile.NewTestDispenser(bad), nil); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
