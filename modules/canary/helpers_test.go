package canary

import (
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/canary"
)

// shown stands in for the agente app's dashboard, which a bare caddy.Context
// cannot load: what the handlers the tests provision show there.
var shown testDashboard

type testDashboard struct {
	mu       sync.Mutex
	items    map[[2]string]func(context.Context) any // by section and name
	canaries map[string]*canary.State
}

func (d *testDashboard) AddCanary(st *canary.State) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.canaries == nil {
		d.canaries = map[string]*canary.State{}
	}
	d.canaries[st.Name()] = st
}

func (d *testDashboard) AddDashboardItem(section, name string, report func(context.Context) any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.items == nil {
		d.items = map[[2]string]func(context.Context) any{}
	}
	d.items[[2]string{section, name}] = report
}

// report is what the item name of section reports now.
func (d *testDashboard) report(section, name string) (any, bool) {
	d.mu.Lock()
	report, ok := d.items[[2]string{section, name}]
	d.mu.Unlock()
	if !ok {
		return nil, false
	}
	return report(context.Background()), true
}

// provision provisions h the way Caddy does (Provision, then Validate), with
// shown for the app's dashboard, with a context that is cancelled, and the
// handler cleaned up, when the test ends.
func provision(t testing.TB, h *Handler) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	err := h.resolve()
	if err == nil {
		err = h.start(ctx, &shown)
	}
	if err != nil {
		cancel()
		t.Fatalf("provision: %v", err)
	}
	if err := h.Validate(); err != nil {
		cancel()
		_ = h.Cleanup()
		t.Fatalf("validate: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = h.Cleanup()
	})
	return h
}

// twoArms is a handler named name with baseline/canary weights.
func twoArms(name string, baseline, canary int) *Handler {
	return &Handler{
		Name: name,
		Arms: []Arm{
			{Name: "baseline", Weight: baseline, Upstream: "127.0.0.1:9001"},
			{Name: "canary", Weight: canary, Upstream: "127.0.0.1:9002"},
		},
		Interval: caddy.Duration(time.Hour), // tests drive the judge themselves
	}
}

// seeded makes h's keyless draws deterministic (single goroutine only).
func seeded(h *Handler, seed int64) *Handler {
	h.rnd = rand.New(rand.NewSource(seed))
	return h
}

// request is a request prepared like Caddy's server does for handlers: vars
// table and a replacer with the HTTP placeholders.
func request(remote string, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for k, v := range header {
		r.Header[k] = v
	}
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
	caddyhttp.NewTestReplacer(r)
	return r
}

// armOf serves r through h to a handler answering status and returns the arm
// the rest of the route saw.
func armOf(t testing.TB, h *Handler, r *http.Request, status int) string {
	t.Helper()
	var arm string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		arm, _ = caddyhttp.GetVar(r.Context(), VarArm).(string)
		w.WriteHeader(status)
		return nil
	})
	if err := h.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	return arm
}

// collectors is a registry of the canary collectors alone.
func collectors() *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(canary.Collectors()...)
	return reg
}

// metric is the value of the counter family{name, arm} as a scrape reads
// it; a series not there yet is 0.
func metric(t testing.TB, family, name, arm string) float64 {
	t.Helper()
	mfs, err := collectors().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["name"] == name && labels["arm"] == arm {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
