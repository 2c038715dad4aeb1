// Command agente-caddy is Caddy with the agente-caddy modules compiled in: the
// edge and app server for conversational hotel agents. It takes every Caddy
// subcommand (run, adapt, validate, reload, list-modules, ...) plus ours
// (admin-token, migrate, canary-diff, slo-rules), which the module packages
// register themselves so an xcaddy build has them too.
package main

import (
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// agente-caddy's modules and subcommands.
	_ "github.com/agentehotel/agente-caddy"
	"github.com/agentehotel/agente-caddy/internal/config"
)

func main() {
	// The original system's DEBUG=true switch: the shipped Caddyfiles read
	// LOG_LEVEL when they are adapted, before any module runs, so it is set
	// here. (An xcaddy build has its own main: set LOG_LEVEL there.)
	config.ApplyLogLevel(os.LookupEnv, os.Setenv)
	// Likewise SITE_ADDRESS and INTERNAL_ADDRESS become the host and port
	// the Caddyfiles bind and listen on.
	config.ApplyListenAddresses(os.LookupEnv, os.Setenv)
	caddycmd.Main()
}
