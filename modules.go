// Package agentecaddy plugs every agente-caddy module into Caddy. Importing it
// (as cmd/agente-caddy does, and as xcaddy's `--with
// github.com/agentehotel/agente-caddy` does) registers the modules, their
// Caddyfile directives and our subcommands.
package agentecaddy

import (
	_ "github.com/agentehotel/agente-caddy/modules/adminapi"
	_ "github.com/agentehotel/agente-caddy/modules/adminauth"
	_ "github.com/agentehotel/agente-caddy/modules/agente"
	_ "github.com/agentehotel/agente-caddy/modules/canary"
	_ "github.com/agentehotel/agente-caddy/modules/console"
	_ "github.com/agentehotel/agente-caddy/modules/emailinbound"
	_ "github.com/agentehotel/agente-caddy/modules/health"
	_ "github.com/agentehotel/agente-caddy/modules/hmacwebhook"
	_ "github.com/agentehotel/agente-caddy/modules/jsonerror"
	_ "github.com/agentehotel/agente-caddy/modules/pgstorage"
	_ "github.com/agentehotel/agente-caddy/modules/ratelimit"
	_ "github.com/agentehotel/agente-caddy/modules/requestmetrics"
	_ "github.com/agentehotel/agente-caddy/modules/tenantresolve"
	_ "github.com/agentehotel/agente-caddy/modules/whatsappwebhook"
)
