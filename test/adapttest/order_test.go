package adapttest

import (
	"testing"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/agentehotel/agente-caddy"
)

// Every handler of ours registers its directive order, so each works in a
// site block without `route`, in the order the golden file shows.
func TestDirectiveOrder(t *testing.T) { Run(t, "testdata/*.caddyfiletest") }
