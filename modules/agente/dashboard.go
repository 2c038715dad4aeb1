package agente

import (
	"context"
	"sort"
	"sync"

	"github.com/agentehotel/agente-caddy/internal/canary"
)

// dashboard holds the live figures other modules add to GET /admin/dashboard
// (a canary handler adds its state there). It belongs to one config's app:
// a reload builds a new app, and with it a new dashboard that only the new
// config's modules fill, so nothing stale is ever shown.
type dashboard struct {
	mu       sync.Mutex
	sections map[string]map[string]func(context.Context) any
	canaries map[string]*canary.State // canaries.go
}

// AddDashboardItem shows what report returns, under section, on
// GET /admin/dashboard: the section is a list of every item added to it,
// sorted by name. Adding a name again replaces the earlier item (handlers
// that share state under one name show it once). report must answer quickly.
func (a *App) AddDashboardItem(section, name string, report func(context.Context) any) {
	d := a.dashboard
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sections == nil {
		d.sections = map[string]map[string]func(context.Context) any{}
	}
	if d.sections[section] == nil {
		d.sections[section] = map[string]func(context.Context) any{}
	}
	d.sections[section][name] = report
}

// dashboardItems is every section with its items' reports, sorted by name.
func (a *App) dashboardItems(ctx context.Context) map[string]any {
	d := a.dashboard
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]any, len(d.sections))
	for section, items := range d.sections {
		names := make([]string, 0, len(items))
		for name := range items {
			names = append(names, name)
		}
		sort.Strings(names)
		list := make([]any, 0, len(names))
		for _, name := range names {
			list = append(list, items[name](ctx))
		}
		out[section] = list
	}
	return out
}
