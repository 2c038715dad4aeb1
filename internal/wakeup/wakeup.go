// Package wakeup is the signal a background loop waits on between rounds:
// others ask it to look again now rather than at its next tick.
//
// Asking never blocks, and asks that arrive while the loop is busy (or
// before it first waits) leave exactly one wake-up pending. The loop then
// looks once and sees everything the asks were about, because each ask
// follows the change it announces: one pending wake-up is enough, and a
// burst of changes costs the loop one round, not one per change.
package wakeup

// Signal is a coalescing wake-up. The zero Signal is not usable; make one
// with New. A Signal is shared by copying it.
type Signal struct{ c chan struct{} }

// New returns a Signal with nothing pending.
func New() Signal { return Signal{c: make(chan struct{}, 1)} }

// Wake leaves a wake-up pending unless one already is. It never blocks.
func (s Signal) Wake() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// C is received from by the waiting loop; a receive takes the pending
// wake-up.
func (s Signal) C() <-chan struct{} { return s.c }
