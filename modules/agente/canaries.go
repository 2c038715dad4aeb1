package agente

import (
	"sort"

	"github.com/agentehotel/agente-caddy/internal/canary"
)

// AddCanary lets the admin API list and steer a canary of this config
// (GET /admin/canaries, POST /admin/canaries/{name}/{action}). The canary
// handler calls it in Provision with its shared state; adding a name again
// replaces the earlier state (handlers sharing a name share the state).
// Like the dashboard, the list belongs to one config's app, so a reload
// shows only the new config's canaries.
func (a *App) AddCanary(st *canary.State) {
	d := a.dashboard
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.canaries == nil {
		d.canaries = map[string]*canary.State{}
	}
	d.canaries[st.Name()] = st
}

// Canaries are the canaries of this config, sorted by name.
func (a *App) Canaries() []*canary.State {
	d := a.dashboard
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*canary.State, 0, len(d.canaries))
	for _, st := range d.canaries {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}
