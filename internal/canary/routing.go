package canary

import (
	"math/bits"
	"math/rand"
	"strings"
	"time"

	"github.com/mroth/weightedrand/v2"
)

// Arm names with a role: the judge compares CanaryArm against BaselineArm.
const (
	BaselineArm = "baseline"
	CanaryArm   = "canary"
)

// Route is one arm as the request path sees it.
type Route struct {
	arm *armState
	// The values are stored as `any` once so that putting them in the
	// request's vars does not allocate.
	armVar      any // arm name
	upstreamVar any // dial address, "" when none
	weight      int
}

// ArmVar is the arm's name, as a value for the request's vars.
func (r *Route) ArmVar() any { return r.armVar }

// UpstreamVar is the arm's dial address ("" when it has none), as a value
// for the request's vars.
func (r *Route) UpstreamVar() any { return r.upstreamVar }

// Weight is the arm's weight in the table the route belongs to.
func (r *Route) Weight() int { return r.weight }

// Record adds one finished request to the arm's window and metrics.
func (r *Route) Record(end time.Time, latency time.Duration, failed bool) {
	r.arm.record(end, latency, failed)
}

// RouteTable is an immutable snapshot of the assignment rules; the state
// swaps in a new one whenever weights or arms change.
type RouteTable struct {
	routes   []Route // config order
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

// newRouteTable builds the table for routes, whose weights are
// non-negative with a positive sum (checked by the caller).
func newRouteTable(routes []Route) (*RouteTable, error) {
	t := &RouteTable{routes: routes, baseline: -1, canary: -1}
	for i, r := range routes {
		switch r.arm.name {
		case BaselineArm:
			t.baseline = i
		case CanaryArm:
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
	for _, r := range routes {
		total += uint64(r.weight)
	}
	t.bounds = make([]uint64, len(t.hashOrder))
	var cum uint64
	for k, i := range t.hashOrder {
		cum += uint64(routes[i].weight)
		// cum/total of 2^63, exactly: (cum·2^63)/total fits because cum ≤ total.
		hi, lo := bits.Mul64(cum, 1<<63)
		t.bounds[k], _ = bits.Div64(hi, lo, total)
	}

	choices := make([]weightedrand.Choice[int, int], len(routes))
	for i, r := range routes {
		choices[i] = weightedrand.NewChoice(i, r.weight)
	}
	c, err := weightedrand.NewChooser(choices...)
	if err != nil {
		return nil, err
	}
	t.chooser = c
	return t, nil
}

// ByKey is the route of a non-empty sticky key.
func (t *RouteTable) ByKey(key string) *Route {
	h := keyHash(key) >> 1
	for k, b := range t.bounds {
		if h < b {
			return &t.routes[t.hashOrder[k]]
		}
	}
	return &t.routes[t.baseline] // unreachable: the last bound is 2^63
}

// Keyless picks a route at random by weight; rnd nil uses the global source.
func (t *RouteTable) Keyless(rnd *rand.Rand) *Route {
	if rnd != nil {
		return &t.routes[t.chooser.PickSource(rnd)] //nolint:staticcheck // seeded source for deterministic tests
	}
	return &t.routes[t.chooser.Pick()]
}

// ByOverride is the route an override header value asks for: "always" the
// canary, "never" the baseline, or an arm's name; nil for anything else.
func (t *RouteTable) ByOverride(v string) *Route {
	switch {
	case strings.EqualFold(v, "always"):
		return &t.routes[t.canary]
	case strings.EqualFold(v, "never"):
		return &t.routes[t.baseline]
	}
	for i := range t.routes {
		if t.routes[i].arm.name == v {
			return &t.routes[i]
		}
	}
	return nil
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
