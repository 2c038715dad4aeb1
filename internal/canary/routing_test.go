package canary

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestKeyHashSpreads(t *testing.T) {
	// Sequential phone numbers fill [0, 1) evenly: 10 deciles of 10,000 keys.
	var dec [10]int
	for i := 0; i < 10000; i++ {
		h := keyHash(fmt.Sprintf("+3460%07d", i)) >> 1
		dec[int(float64(h)/float64(uint64(1)<<63)*10)]++
	}
	for i, c := range dec {
		if c < 900 || c > 1100 {
			t.Fatalf("decile %d holds %d of 10000 keys: %v", i, c, dec)
		}
	}
}

func newTestTable(b testing.TB, weights ...int) *RouteTable {
	names := []string{"baseline", "canary", "other"}
	routes := make([]Route, len(weights))
	for i, w := range weights {
		routes[i] = Route{arm: &armState{name: names[i]}, armVar: names[i], weight: w}
	}
	t, err := newRouteTable(routes)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func BenchmarkPickSticky(b *testing.B) {
	t := newTestTable(b, 90, 10)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("+3460%07d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = t.ByKey(keys[i&1023])
		i++
	}
}

func BenchmarkPickKeyless(b *testing.B) {
	t := newTestTable(b, 90, 10)
	b.ReportAllocs()
	for b.Loop() {
		_ = t.Keyless(nil)
	}
}

func BenchmarkPickKeylessSeeded(b *testing.B) {
	t := newTestTable(b, 90, 10)
	rnd := rand.New(rand.NewSource(1))
	b.ReportAllocs()
	for b.Loop() {
		_ = t.Keyless(rnd)
	}
}
