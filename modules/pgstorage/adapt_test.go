package pgstorage

import (
	"testing"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/agentehotel/agente-caddy/test/adapttest"
)

func TestCaddyfileAdapt(t *testing.T) { adapttest.Run(t, "testdata/*.caddyfiletest") }
