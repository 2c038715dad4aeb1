package inbox

import "github.com/agentehotel/agente-caddy/internal/tracing"

// SharedMemory returns a second Inbox on ib's backend with other options:
// tests use it as "another instance" of a memory inbox.
func SharedMemory(ib *Inbox, opts Options) *Inbox {
	opts = opts.withDefaults()
	return &Inbox{b: ib.b, unrouted: ib.unrouted, opts: opts, tracer: tracing.NewTracer(opts.TracerProvider)}
}

// UnroutedTotal is webhook_unrouted_total.
var UnroutedTotal = unroutedTotal
