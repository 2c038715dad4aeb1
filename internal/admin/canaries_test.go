package admin

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/judge"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

func TestCanaryRoutes(t *testing.T) {
	store, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	limits, err := canary.LimitOverrides{}.Limits(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st := canary.NewState("checkout", zap.NewNop())
	if err := st.Apply(canary.Config{Arms: []canary.Arm{{Name: "baseline", Weight: 90}, {Name: "canary", Weight: 10}},
		Limits: limits, AutoRollback: true, Window: time.Minute, Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, Options{Tenants: store, Canaries: func() []*canary.State { return []*canary.State{st} }})

	r := a.expect("GET", "/admin/canaries", "", 200)
	list := r.body["canaries"].([]any)
	if len(list) != 1 {
		t.Fatalf("canaries %s", r.raw)
	}
	c := list[0].(map[string]any)
	series := c["series"].(map[string]any)
	if c["name"] != "checkout" || c["weights"].(map[string]any)["canary"] != float64(10) || len(series["canary"].([]any)) != judge.WindowSlots {
		t.Fatalf("canary %s", r.raw)
	}

	r = a.expect("POST", "/admin/canaries/checkout/promote", "", 200)
	if r.body["status"] != "promoted" || r.body["weights"].(map[string]any)["canary"] != float64(100) {
		t.Fatalf("after promote %s", r.raw)
	}
	if st.View().Weights["canary"] != 100 {
		t.Fatalf("state not promoted: %v", st.View().Weights)
	}
	a.expect("POST", "/admin/canaries/checkout/pause", "", 200)
	if st.View().Status != "paused" {
		t.Fatalf("state %s after pause", st.View().Status)
	}
	r = a.expect("POST", "/admin/canaries/checkout/rollback", "", 200)
	if r.body["weights"].(map[string]any)["canary"] != float64(0) {
		t.Fatalf("after rollback %s", r.raw)
	}
	a.expect("POST", "/admin/canaries/checkout/resume", "", 200)
	a.expect("GET", "/admin/canaries/checkout", "", 200)

	a.expect("POST", "/admin/canaries/nope/promote", "", 404)
	a.expect("POST", "/admin/canaries/checkout/explode", "", 404)
	a.expect("GET", "/admin/canaries/checkout/promote", "", 405)
	a.expect("DELETE", "/admin/canaries", "", 405)

	log, _ := store.AuditLog(context.Background(), 0)
	var actions []string
	for _, e := range log {
		if e.Target == "checkout" && e.Actor == "ops@hotel" {
			actions = append(actions, e.Action)
		}
	}
	if len(actions) != 4 || actions[0] != "canary.resume" || actions[3] != "canary.promote" {
		t.Fatalf("audited %v", actions)
	}

	// Without canaries the list is empty, not absent.
	b := newAPI(t, Options{Tenants: store})
	if r := b.expect("GET", "/admin/canaries", "", 200); len(r.body["canaries"].([]any)) != 0 {
		t.Fatalf("no canaries: %s", r.raw)
	}
}
