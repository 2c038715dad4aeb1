package canary

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/test/adapttest"
)

func TestVarsExposeArmAndUpstream(t *testing.T) {
	h := provision(t, twoArms(t.Name(), 0, 1)) // all canary
	r := request("192.0.2.1:1", nil)
	var arm, upstream string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		arm = repl.ReplaceAll("{http.vars.canary_arm}", "")
		upstream = repl.ReplaceAll("{http.vars.canary_upstream}", "")
		return nil
	})
	if err := h.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
		t.Fatal(err)
	}
	if arm != "canary" || upstream != "127.0.0.1:9002" {
		t.Fatalf("placeholders: arm %q upstream %q", arm, upstream)
	}
}

func TestMeasurement(t *testing.T) {
	h := provision(t, twoArms(t.Name(), 1, 0)) // all baseline
	errUpstream := errors.New("dial tcp 127.0.0.1:9: connection refused")
	cases := []struct {
		name    string
		serve   func(w http.ResponseWriter) error
		failed  bool
		wantErr bool
	}{
		{"200", func(w http.ResponseWriter) error { _, err := w.Write([]byte("ok")); return err }, false, false},
		{"nothing written", func(w http.ResponseWriter) error { return nil }, false, false},
		{"404", func(w http.ResponseWriter) error { w.WriteHeader(404); return nil }, false, false},
		{"503", func(w http.ResponseWriter) error { w.WriteHeader(503); return nil }, true, false},
		{"1xx then 500", func(w http.ResponseWriter) error { w.WriteHeader(103); w.WriteHeader(500); return nil }, true, false},
		{"transport error", func(w http.ResponseWriter) error { return caddyhttp.Error(http.StatusBadGateway, errUpstream) }, true, true},
		{"plain error", func(w http.ResponseWriter) error { return errUpstream }, true, true},
		{"client error", func(w http.ResponseWriter) error { return caddyhttp.Error(http.StatusNotFound, errors.New("no file")) }, false, true},
	}
	arm := func() canary.ArmView { return h.state.View().Arms["baseline"] } // its window now
	for _, c := range cases {
		req0 := metric(t, "canary_requests_total", t.Name(), "baseline")
		err0 := metric(t, "canary_errors_total", t.Name(), "baseline")
		snap0 := arm()
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			time.Sleep(2 * time.Millisecond)
			return c.serve(w)
		})
		err := h.ServeHTTP(httptest.NewRecorder(), request("192.0.2.1:1", nil), next)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: error %v, want error %v", c.name, err, c.wantErr)
		}
		snap := arm()
		var wantErrs uint64
		if c.failed {
			wantErrs = 1
		}
		if snap.Requests-snap0.Requests != 1 || snap.Errors-snap0.Errors != wantErrs {
			t.Errorf("%s: window +%d requests +%d errors, want +1 +%d", c.name, snap.Requests-snap0.Requests, snap.Errors-snap0.Errors, wantErrs)
		}
		if d := metric(t, "canary_requests_total", t.Name(), "baseline") - req0; d != 1 {
			t.Errorf("%s: canary_requests_total +%v", c.name, d)
		}
		if d := metric(t, "canary_errors_total", t.Name(), "baseline") - err0; d != float64(wantErrs) {
			t.Errorf("%s: canary_errors_total +%v", c.name, d)
		}
	}
	// Latency is the rest of the route's: every request above slept 2 ms.
	if p50 := arm().P50Seconds; p50 < 0.002 || p50 > 0.5 {
		t.Errorf("median latency %v s, want ≥ 2 ms", p50)
	}
	if n, err := testutil.GatherAndCount(collectors(), "canary_request_duration_seconds"); err != nil || n == 0 {
		t.Error("no duration histogram series")
	}
}

// A reload provisions the new handler before cleaning up the old one: the
// state (counts, runtime weights) is the same object throughout; config
// weights that change are adopted.
func TestReloadKeepsCountsAndWeights(t *testing.T) {
	name := t.Name()
	old := provision(t, seeded(twoArms(name, 90, 10), 1))
	for i := 0; i < 200; i++ {
		armOf(t, old, request("192.0.2.1:1", nil), 200)
	}
	if err := old.state.SetWeights(map[string]int{"baseline": 70, "canary": 30}); err != nil {
		t.Fatal(err)
	}
	before := old.state.View()

	// Reload with the same config.
	reloaded := provision(t, twoArms(name, 90, 10))
	if reloaded.state != old.state {
		t.Fatal("the reloaded handler has a different state")
	}
	if err := old.Cleanup(); err != nil { // the old config stops
		t.Fatal(err)
	}
	after := reloaded.state.View()
	for _, a := range []string{"baseline", "canary"} {
		if after.Arms[a].Requests != before.Arms[a].Requests {
			t.Errorf("%s: %d requests after reload, %d before", a, after.Arms[a].Requests, before.Arms[a].Requests)
		}
	}
	if after.Weights["baseline"] != 70 || after.Weights["canary"] != 30 {
		t.Errorf("runtime weights lost: %v", after.Weights)
	}
	if lookup(name) == nil {
		t.Fatal("state gone while a config still uses it")
	}

	// A config whose weights changed wins over the runtime weights.
	changed := provision(t, twoArms(name, 80, 20))
	if w := changed.state.View().Weights; w["baseline"] != 80 || w["canary"] != 20 {
		t.Errorf("changed config weights not adopted: %v", w)
	}
	if got := changed.state.View().Arms["baseline"].Requests; got != before.Arms["baseline"].Requests {
		t.Errorf("counts lost on weight change: %d, want %d", got, before.Arms["baseline"].Requests)
	}

	// A different window length restarts the windows.
	resized := twoArms(name, 80, 20)
	resized.Window = caddy.Duration(time.Minute)
	provision(t, resized)
	if got := resized.state.View().Arms["baseline"].Requests; got != 0 {
		t.Errorf("window resized but %d requests kept", got)
	}

	_ = reloaded.Cleanup()
	_ = changed.Cleanup()
	_ = resized.Cleanup()
	if lookup(name) != nil {
		t.Error("state still pooled after the last config left")
	}
}

// Requests, admin writes, judge rounds and a reload at the same time (run
// with -race): every request is still measured exactly once.
func TestConcurrentTrafficAndControl(t *testing.T) {
	h := twoArms(t.Name(), 90, 10)
	h.Steps = []int{20, 50}
	h.Interval = 10_000_000 // 10ms
	provision(t, h)
	measured := func() float64 {
		return metric(t, "canary_requests_total", t.Name(), "baseline") +
			metric(t, "canary_requests_total", t.Name(), "canary")
	}
	before := measured()
	var served atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				r := request("192.0.2.1:1", http.Header{"X-Guest-Phone": {fmt.Sprint(i)}})
				if err := h.ServeHTTP(httptest.NewRecorder(), r, terminal); err != nil {
					t.Error(err)
					return
				}
				served.Add(1)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		switch i % 5 {
		case 0:
			_ = h.state.SetWeights(map[string]int{"baseline": 100 - i%100, "canary": i % 100})
		case 1:
			h.state.Tick(time.Now().Add(time.Duration(i) * time.Second))
		case 2:
			_ = h.state.View()
		case 3:
			_ = h.state.Rollback()
		case 4:
			again := provision(t, twoArms(t.Name(), 90, 10))
			_ = again.Cleanup()
		}
	}
	close(done)
	wg.Wait()
	if d := measured() - before; d != float64(served.Load()) {
		t.Fatalf("canary_requests_total +%v for %d requests served", d, served.Load())
	}
}

// The canary shows its view on the app's dashboard, under "canaries" by its
// name; handlers that share the name report the one shared state.
func TestDashboardShowsTheView(t *testing.T) {
	h := provision(t, twoArms(t.Name(), 90, 10))
	provision(t, twoArms(t.Name(), 90, 10))
	armOf(t, h, request("192.0.2.1:1", nil), 200)
	got, ok := shown.report("canaries", t.Name())
	v, isView := got.(canary.View)
	if !ok || !isView || v.Name != t.Name() || v.Weights["canary"] != 10 || v.Arms["baseline"].Requests+v.Arms["canary"].Requests != 1 {
		t.Fatalf("dashboard item %v %#v", ok, got)
	}
	// The admin API's /admin/canaries steers the same shared state.
	shown.mu.Lock()
	st := shown.canaries[t.Name()]
	shown.mu.Unlock()
	if st == nil || st != h.state {
		t.Fatalf("canary state handed to the app: %p, handler's %p", st, h.state)
	}
}

func TestValidateErrors(t *testing.T) {
	neg := -0.1
	cases := []struct {
		field string
		edit  func(h *Handler)
	}{
		{"name", func(h *Handler) { h.Name = "" }},
		{"arms", func(h *Handler) { h.Arms = h.Arms[:1] }},
		{"arms", func(h *Handler) { h.Arms[1].Name = "green" }},
		{"arms[1].name", func(h *Handler) { h.Arms[1].Name = "baseline" }},
		{"arms[0].name", func(h *Handler) { h.Arms[0].Name = "" }},
		{"arms[0].weight", func(h *Handler) { h.Arms[0].Weight = -1 }},
		{"arms", func(h *Handler) { h.Arms[0].Weight, h.Arms[1].Weight = 0, 0 }},
		{"arms[1].upstream", func(h *Handler) { h.Arms[1].Upstream = "no-port" }},
		{"window", func(h *Handler) { h.Window = caddy.Duration(time.Millisecond) }},
		{"interval", func(h *Handler) { h.Interval = caddy.Duration(time.Microsecond) }},
		{"min_samples", func(h *Handler) { h.MinSamples = -5 }},
		{"steps[2]", func(h *Handler) { h.Steps = []int{1, 5, 5} }},
		{"steps[0]", func(h *Handler) { h.Steps = []int{0, 5} }},
		{"steps[1]", func(h *Handler) { h.Steps = []int{50, 101} }},
		{"p95_increase_limit", func(h *Handler) { h.P95IncreaseLimit = -1 }},
		{"err_increase_limit", func(h *Handler) { h.ErrIncreaseLimit = -1 }},
		{"err_abs_min", func(h *Handler) { h.ErrAbsMin = &neg }},
		{"alpha", func(h *Handler) { h.Alpha = 1.5 }},
		{"trusted_sources", func(h *Handler) { h.TrustedSources = []string{"10.0.0.0/33"} }},
	}
	for _, c := range cases {
		h := twoArms("v", 90, 10)
		c.edit(h)
		err := h.Validate()
		if err == nil {
			// Provision resolves first; it must refuse too, touching nothing.
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			err = h.Provision(ctx)
			cancel()
			_ = h.Cleanup()
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("%s: error %v, want it to start with the field name", c.field, err)
		}
	}
	// Env limits that do not parse are named.
	t.Setenv("P95_INCREASE_LIMIT", "slow")
	h := twoArms(t.Name(), 90, 10)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), "P95_INCREASE_LIMIT") {
		t.Errorf("bad env: %v", err)
	}
	_ = h.Cleanup()
}

func TestLimitsFromEnvAndConfig(t *testing.T) {
	t.Setenv("P95_INCREASE_LIMIT", "1.3")
	t.Setenv("ERR_ABS_MIN", "0.02")
	h := twoArms(t.Name(), 90, 10)
	h.ErrIncreaseLimit = 3
	h.MinSamples = 10
	provision(t, h)
	l := h.limits
	if l.P95IncreaseLimit != 1.3 || l.ErrAbsMin != 0.02 || l.ErrIncreaseLimit != 3 || l.MinSamples != 10 || l.Alpha != 0.05 {
		t.Fatalf("limits %+v", l)
	}
}

const exampleCaddyfile = `canary checkout {
	arm baseline 90 upstream 127.0.0.1:9001
	arm canary 10 upstream 127.0.0.1:9002
	key {http.request.header.X-Guest-Phone}
	override_header X-Canary
	trusted_sources 127.0.0.1/32 10.0.0.0/8
	window 5m
	min_samples 50
	interval 30s
	steps 1 5 25 50 100
	p95_increase_limit 1.10
	err_increase_limit 1.50
	err_abs_min 0.005
	alpha 0.05
	auto_rollback off
}`

func TestUnmarshalCaddyfile(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(exampleCaddyfile)); err != nil {
		t.Fatal(err)
	}
	if h.Name != "checkout" || len(h.Arms) != 2 || h.Arms[1] != (Arm{"canary", 10, "127.0.0.1:9002"}) ||
		h.Key != "{http.request.header.X-Guest-Phone}" || len(h.TrustedSources) != 2 ||
		time.Duration(h.Window) != 5*time.Minute || time.Duration(h.Interval) != 30*time.Second ||
		h.MinSamples != 50 || len(h.Steps) != 5 || h.Steps[4] != 100 || h.P95IncreaseLimit != 1.1 ||
		h.ErrIncreaseLimit != 1.5 || *h.ErrAbsMin != 0.005 || h.Alpha != 0.05 || *h.AutoRollback {
		t.Fatalf("parsed %+v", h)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}

	for input, want := range map[string]string{
		"canary":                                  "a name is required",
		"canary a b":                              "unexpected argument",
		"canary a {\n bogus 1\n}":                 "unrecognized subdirective",
		"canary a {\n arm baseline\n}":            "arm: expected",
		"canary a {\n arm baseline x\n}":          "not an integer",
		"canary a {\n arm b 1 via x\n}":           "arm: expected",
		"canary a {\n window soon\n}":             "window",
		"canary a {\n key\n}":                     "key: expected one value",
		"canary a {\n steps 1 x\n}":               "steps",
		"canary a {\n alpha maybe\n}":             "alpha",
		"canary a {\n auto_rollback sometimes\n}": "auto_rollback",
		"canary a {\n trusted_sources\n}":         "trusted_sources",
		"canary a {\n min_samples many\n}":        "min_samples",
		"canary a {\n err_abs_min 0.1 0.2\n}":     "err_abs_min",
		"canary a {\n p95_increase_limit big\n}":  "p95_increase_limit",
		"canary a {\n interval 5m 6m\n}":          "interval",
		"canary a {\n override_header A B\n}":     "override_header",
		"canary a {\n err_increase_limit none\n}": "err_increase_limit",
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", input, err, want)
		}
	}
}

// Golden Caddyfile → JSON adaptation (testdata/*.caddyfiletest).
func TestCaddyfileAdapt(t *testing.T) { adapttest.Run(t, "testdata/*.caddyfiletest") }
