// Command agente-caddy is Caddy with the agente-caddy modules compiled in: the
// edge and app server for conversational hotel agents. It takes every Caddy
// subcommand (run, adapt, validate, reload, list-modules, ...) plus ours
// (admin-token, migrate, canary-diff, slo-rules), which the module packages
// register themselves so an xcaddy build has them too.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// agente-caddy's modules and subcommands.
	_ "github.com/agentehotel/agente-caddy"
)

func main() {
	caddycmd.Main()
}
