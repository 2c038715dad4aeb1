package canary

import (
	"math/bits"
	"math/rand"
	"strings"

	"github.com/mroth/weightedrand/v2"
)

// Arm names with a role: the judge compares canaryArm against baselineArm.
const (
	baselineArm = "baseline"
	canaryArm   = "canary"
)

// route is one arm as the request path sees it. The values are stored as
// `any` once so that putting them in the request's vars does not allocate.
type route struct {
	arm         *armState
	armVar      any // arm name
	upstreamVar any // dial address, "" when none
}

// routeTable is an immutable snapshot of the assignment rules; the state
// swaps in a new one whenever weights or arms change.
type routeTable struct {
	routes   []route // config order
	weights  []int   // parallel to routes
	baseline int     // index of the baseline arm
	canary   int     // index of the canary arm

	// Sticky assignment: a key's 63-bit hash h goes to hashOrder[k] for the
	// first k with h < bounds[k]. The canary arm is first and the baseline
	// last, so as the canary's weight grows its interval [0, w_c/W) only
	// grows: a key on the canary stays there.
	hashOrder []int
	bounds    []uint64

	// Keyless assignment.
	chooser *weightedrand.Chooser[int, int]
}

// newRouteTable builds the table for routes with weights (same order). The
// weights are non-negative with a positive sum (checked by the caller).
func newRouteTable(routes []route, weights []int) (*routeTable, error) {
	t := &routeTable{routes: routes, weights: weights, baseline: -1, canary: -1}
	for i, r := range routes {
		switch r.arm.name {
		case baselineArm:
			t.baseline = i
		case canaryArm:
			t.canary = i
		}
	}
	t.hashOrder = append(t.hashOrder, t.canary)
	for i := range routes {
		if i != t.canary && i != t.baseline {
			t.hashOrder = append(t.hashOrder, i)
		}
	}
	t.hashOrder = append(t.hashOrder, t.baseline)

	var total uint64
	for _, w := range weights {
		total += uint64(w)
	}
	t.bounds = make([]uint64, len(t.hashOrder))
	var cum uint64
	for k, i := range t.hashOrder {
		cum += uint64(weights[i])
		// cum/total of 2^63, exactly: (cum·2^63)/total fits because cum ≤ total.
		hi, lo := bits.Mul64(cum, 1<<63)
		t.bounds[k], _ = bits.Div64(hi, lo, total)
	}

	choices := make([]weightedrand.Choice[int, int], len(routes))
	for i := range routes {
		choices[i] = weightedrand.NewChoice(i, weights[i])
	}
	c, err := weightedrand.NewChooser(choices...)
	if err != nil {
		return nil, err
	}
	t.chooser = c
	return t, nil
}

// byKey is the arm of a non-empty sticky key.
func (t *routeTable) byKey(key string) int {
	h := keyHash(key) >> 1
	for k, b := range t.bounds {
		if h < b {
			return t.hashOrder[k]
		}
	}
	return t.baseline // unreachable: the last bound is 2^63
}

// keyless picks an arm at random by weight; rnd nil uses the global source.
func (t *routeTable) keyless(rnd *rand.Rand) int {
	if rnd != nil {
		return t.chooser.PickSource(rnd) //nolint:staticcheck // seeded source for deterministic tests
	}
	return t.chooser.Pick()
}

// byOverride is the arm an override header value asks for: "always" the
// canary, "never" the baseline, or an arm's name; -1 for anything else.
func (t *routeTable) byOverride(v string) int {
	switch {
	case strings.EqualFold(v, "always"):
		return t.canary
	case strings.EqualFold(v, "never"):
		return t.baseline
	}
	for i, r := range t.routes {
		if r.arm.name == v {
			return i
		}
	}
	return -1
}

// keyHash is FNV-1a 64 followed by MurmurHash3's 64-bit finalizer: FNV-1a is
// allocation-free on a string and the finalizer spreads keys that differ only
// in their last characters (phone numbers) over the high bits we compare.
func keyHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
