// Package agentecaddy plugs every agente-caddy module into Caddy. Importing it
// (as cmd/agente-caddy does, and as xcaddy's `--with
// github.com/agentehotel/agente-caddy` does) registers the modules, their
// Caddyfile directives and our subcommands.
package agentecaddy

import (
	_ "github.com/agentehotel/agente-caddy/internal/config"
	_ "github.com/agentehotel/agente-caddy/modules/canary"
)
