package canary

import (
	"fmt"
	"math"
	"net/http"
	"testing"
)

// Keyless assignment follows the weights: 90/10 over 20,000 requests lands
// within ±1.5 points.
func TestKeylessDistribution(t *testing.T) {
	h := provision(t, seeded(twoArms(t.Name(), 90, 10), 42))
	counts := map[string]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		counts[armOf(t, h, request("192.0.2.10:5000", nil), 200)]++
	}
	pct := 100 * float64(counts["canary"]) / n
	t.Logf("canary %.2f %% of %d keyless requests (baseline %d, canary %d)", pct, n, counts["baseline"], counts["canary"])
	if math.Abs(pct-10) > 1.5 {
		t.Fatalf("canary got %.2f %%, want 10 ± 1.5", pct)
	}
	if counts["baseline"]+counts["canary"] != n {
		t.Fatalf("arms %v", counts)
	}
	// The windows saw the same split.
	arms := h.state.View().Arms
	if b, c := arms["baseline"].Requests, arms["canary"].Requests; int(b) != counts["baseline"] || int(c) != counts["canary"] {
		t.Fatalf("windows %d/%d, served %v", b, c, counts)
	}
}

// With a sticky key, a key's arm never goes from canary back to baseline
// while the canary's weight rises 10 → 50, and the share of keys on the
// canary follows the weight.
func TestStickyKeyNeverLeavesCanary(t *testing.T) {
	h := twoArms(t.Name(), 90, 10)
	h.Key = "{http.request.header.X-Guest-Phone}"
	provision(t, h)
	const keys = 5000
	phone := func(i int) string { return fmt.Sprintf("+3460%07d", i) }
	prev := make([]string, keys)
	for _, w := range []int{10, 20, 30, 40, 50} {
		if err := h.state.SetWeights(map[string]int{"baseline": 100 - w, "canary": w}); err != nil {
			t.Fatal(err)
		}
		onCanary := 0
		for i := 0; i < keys; i++ {
			arm := armOf(t, h, request("192.0.2.10:5000", http.Header{"X-Guest-Phone": {phone(i)}}), 200)
			if prev[i] == "canary" && arm != "canary" {
				t.Fatalf("key %s went from canary to %s when the canary weight rose to %d", phone(i), arm, w)
			}
			// Same key, same weights: same arm.
			if again := armOf(t, h, request("192.0.2.10:5000", http.Header{"X-Guest-Phone": {phone(i)}}), 200); again != arm {
				t.Fatalf("key %s: %s then %s", phone(i), arm, again)
			}
			if arm == "canary" {
				onCanary++
			}
			prev[i] = arm
		}
		pct := 100 * float64(onCanary) / keys
		t.Logf("canary weight %d: %.2f %% of %d keys on the canary", w, pct, keys)
		if math.Abs(pct-float64(w)) > 2 {
			t.Errorf("canary weight %d: %.2f %% of keys on the canary, want ± 2 points", w, pct)
		}
	}
}

// Keys from the canary's bucket stay when more arms share the rest.
func TestStickyWithThreeArms(t *testing.T) {
	h := &Handler{Name: t.Name(), Key: "{http.request.header.K}", Arms: []Arm{
		{Name: "baseline", Weight: 80}, {Name: "experiment", Weight: 10}, {Name: "canary", Weight: 10},
	}}
	provision(t, h)
	onCanary := map[string]bool{}
	for i := 0; i < 2000; i++ {
		k := fmt.Sprint("k", i)
		if armOf(t, h, request("192.0.2.1:1", http.Header{"K": {k}}), 200) == "canary" {
			onCanary[k] = true
		}
	}
	if err := h.state.SetWeights(map[string]int{"baseline": 50, "experiment": 10, "canary": 40}); err != nil {
		t.Fatal(err)
	}
	for k := range onCanary {
		if arm := armOf(t, h, request("192.0.2.1:1", http.Header{"K": {k}}), 200); arm != "canary" {
			t.Fatalf("key %s left the canary for %s", k, arm)
		}
	}
}

func TestOverrideHeaderOnlyFromTrustedSources(t *testing.T) {
	h := twoArms(t.Name(), 100, 0) // without an override, everything is baseline
	h.TrustedSources = []string{"10.0.0.0/8", "2001:db8::1"}
	provision(t, h)
	cases := []struct {
		remote, value, want string
	}{
		{"10.1.2.3:4000", "always", "canary"},
		{"10.1.2.3:4000", "ALWAYS", "canary"},
		{"[::ffff:10.1.2.3]:4000", "always", "canary"},
		{"[2001:db8::1]:4000", "canary", "canary"}, // an arm's name
		{"10.1.2.3:4000", "never", "baseline"},
		{"10.1.2.3:4000", "bogus", "baseline"},
		{"192.0.2.7:4000", "always", "baseline"}, // untrusted: ignored
		{"[2001:db8::2]:4000", "always", "baseline"},
		{"not-an-address", "always", "baseline"},
	}
	for _, c := range cases {
		r := request(c.remote, http.Header{"X-Canary": {c.value}})
		// A forwarded client IP does not make an untrusted peer trusted.
		r.Header.Set("X-Forwarded-For", "10.9.9.9")
		if got := armOf(t, h, r, 200); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.remote, c.value, got, c.want)
		}
	}

	// Without trusted sources the header is never honoured.
	h2 := provision(t, twoArms(t.Name()+"-untrusting", 100, 0))
	if got := armOf(t, h2, request("127.0.0.1:1", http.Header{"X-Canary": {"always"}}), 200); got != "baseline" {
		t.Errorf("override honoured without trusted_sources: %s", got)
	}
}
