package canary

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/canary/canarytest"
	"github.com/agentehotel/agente-caddy/internal/judge"
)

func TestCanaryDiffFromAdmin(t *testing.T) {
	name := "diff-admin"
	h := provision(t, twoArms(name, 50, 50))
	srv := adminServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	out := filepath.Join(t.TempDir(), ".playbook", "canary_diff_report.json")
	o := diffOptions{admin: addr, Diff: canary.Diff{Name: name, Out: out}}

	// No traffic yet: INCONCLUSIVE.
	v, err := o.run(t.Context())
	if err != nil || v.Status != judge.Inconclusive || exitCode(v.Status) != ExitInconclusive {
		t.Fatalf("%s %v", v.Status, err)
	}
	if doc := canarytest.ReadReport(t, out); doc["status"] != "INCONCLUSIVE" {
		t.Fatalf("report %v", doc)
	}

	// A slower canary: FAIL, exit 1.
	fill(h.state, time.Now(), 200, 10*time.Millisecond, 60*time.Millisecond, 0)
	v, err = o.run(t.Context())
	if err != nil || v.Status != judge.Fail || exitCode(v.Status) != ExitFail {
		t.Fatalf("%s %v", v.Status, err)
	}
	doc := canarytest.ReadReport(t, out)
	if doc["status"] != "FAIL" || len(doc["fail_reasons"].([]any)) != 1 || doc["canary"].(map[string]any)["requests"] != 200.0 {
		t.Fatalf("report %v", doc)
	}

	// Without --name, the only canary is chosen — unless there are several.
	o.Name = ""
	if _, err := o.run(t.Context()); err != nil {
		t.Fatalf("sole canary: %v", err)
	}
	provision(t, twoArms("diff-admin-2", 50, 50))
	if _, err := o.run(t.Context()); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("two canaries, no name: %v", err)
	}

	// Unknown canary and unreachable admin API are source errors.
	o.Name = "nope"
	if _, err := o.run(t.Context()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown canary: %v", err)
	}
	o.admin = "127.0.0.1:1"
	o.Timeout = time.Second
	if _, err := o.run(t.Context()); err == nil {
		t.Fatal("unreachable admin API gave no error")
	}
}

// fill records n requests per arm at `at`: baseline at base latency, canary
// at canaryLat with canaryErrs of them failed.
func fill(s *canary.State, at time.Time, n int, base, canaryLat time.Duration, canaryErrs int) {
	routes := s.Routes()
	b, c := routes.ByOverride("baseline"), routes.ByOverride("canary")
	for i := 0; i < n; i++ {
		// A little spread so that ranks are not all tied.
		jitter := time.Duration(i%17) * 100 * time.Microsecond
		b.Record(at, base+jitter, false)
		c.Record(at, canaryLat+jitter, i < canaryErrs)
	}
}
