package inbox

// SharedMemory returns a second Inbox on ib's backend with other options:
// tests use it as "another instance" of a memory inbox.
func SharedMemory(ib *Inbox, opts Options) *Inbox {
	return &Inbox{b: ib.b, unrouted: ib.unrouted, opts: opts.withDefaults()}
}

// UnroutedTotal is webhook_unrouted_total.
var UnroutedTotal = unroutedTotal
