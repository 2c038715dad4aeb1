package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// guardedSessions is the memory store with a check around every call: no
// stored state changed since the store saved it. Load hands the stored
// lists and maps out without copying them, and Save keeps lists of strings
// as given, so a caller that wrote into one (rather than replacing it)
// would change what the store keeps; every suite that runs over stores(t)
// runs its conversations through this.
type guardedSessions struct {
	*MemorySessions
	t     testing.TB
	mu    sync.Mutex            // one call at a time: check, call, record
	saved map[SessionKey]string // each row's state as the store left it
}

func newGuardedSessions(t testing.TB) *guardedSessions {
	g := &guardedSessions{MemorySessions: NewMemorySessions(), t: t, saved: map[SessionKey]string{}}
	t.Cleanup(func() { g.mu.Lock(); defer g.mu.Unlock(); g.check("after the test") })
	return g
}

// rows is every stored state as JSON.
func (g *guardedSessions) rows() map[SessionKey]string {
	m := g.MemorySessions
	m.mu.Lock()
	defer m.mu.Unlock()
	states := make(map[SessionKey]string, len(m.rows))
	for k, r := range m.rows {
		b, err := json.Marshal(r.state)
		if err != nil {
			g.t.Errorf("stored state of %v does not encode: %v", k, err)
		}
		states[k] = string(b)
	}
	return states
}

// check reports a stored state that changed since the store left it; the
// caller holds g.mu.
func (g *guardedSessions) check(when string) {
	g.t.Helper()
	for k, s := range g.rows() {
		if s != g.saved[k] {
			g.t.Errorf("%s: the stored state of %v changed outside the store (a caller wrote into a loaded or saved list or map):\nsaved %s\nnow   %s",
				when, k, g.saved[k], s)
		}
	}
}

// around runs a store call between a check and a record of what it left.
func (g *guardedSessions) around(name string, call func()) {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.check("before " + name)
	call()
	g.saved = g.rows()
}

func (g *guardedSessions) Load(ctx context.Context, key SessionKey, now time.Time) (s *Session, err error) {
	g.around("Load", func() { s, err = g.MemorySessions.Load(ctx, key, now) })
	return s, err
}

func (g *guardedSessions) Save(ctx context.Context, s *Session) (err error) {
	g.around("Save", func() { err = g.MemorySessions.Save(ctx, s) })
	return err
}

func (g *guardedSessions) ClearHandoff(ctx context.Context, key SessionKey, now, expires time.Time) (ok bool, err error) {
	g.around("ClearHandoff", func() { ok, err = g.MemorySessions.ClearHandoff(ctx, key, now, expires) })
	return ok, err
}

func (g *guardedSessions) Delete(ctx context.Context, key SessionKey) (err error) {
	g.around("Delete", func() { err = g.MemorySessions.Delete(ctx, key) })
	return err
}

func (g *guardedSessions) Prune(ctx context.Context, before time.Time) (n int, err error) {
	g.around("Prune", func() { n, err = g.MemorySessions.Prune(ctx, before) })
	return n, err
}

// A redelivered message is answered with the replies remembered for it:
// the caller's copy, so writing into them changes neither the store nor
// the next redelivery's answer.
func TestRedeliveredRepliesAreTheCallersOwn(t *testing.T) {
	e := newEnv(t, newGuardedSessions(t), withInteractive())
	c := e.guest()
	m := c.message(chat.KindText, "hola", "")
	first := c.deliver(m)
	want := fmt.Sprintf("%#v", first)
	for range 2 {
		again := c.deliver(m)
		if got := fmt.Sprintf("%#v", again); got != want {
			t.Fatalf("redelivery answered\n%s\nwant\n%s", got, want)
		}
		for i := range again {
			again[i].Text += " (changed)"
			for j := range again[i].Buttons {
				again[i].Buttons[j].Title += " (changed)"
			}
		}
	}
}
