package tenancy

import (
	"errors"
	"runtime"
	"testing"
)

// TestNewMemoryStoreIsOnePass: building the directory allocates about the
// same per identifier at 10,000 as at 100,000 identifiers. Copying the
// snapshot once per identifier (the old seeding) made it grow with the size.
// Bytes allocated are counted, not time, so the machine's load cannot sway it.
func TestNewMemoryStoreIsOnePass(t *testing.T) {
	perIdentifier := func(n int) float64 {
		tenants := benchTenantList(n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := NewMemoryStore(tenants)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Stats(); got.Tenants != n || got.Identifiers != 10*n {
			t.Fatalf("built %+v, want %d tenants and %d identifiers", got, n, 10*n)
		}
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(10*n)
	}
	small, large := perIdentifier(1_000), perIdentifier(10_000)
	t.Logf("bytes allocated per identifier: %.0f at 10,000, %.0f at 100,000", small, large)
	if large > 2*small {
		t.Fatalf("building allocates %.0f bytes per identifier at 100,000 against %.0f at 10,000: not one pass", large, small)
	}
}

// TestNewMemoryStoreRefusesConflicts: the one-pass build refuses what the
// admin writes refuse.
func TestNewMemoryStoreRefusesConflicts(t *testing.T) {
	a := Tenant{ID: "tenant_a", Name: "A", Active: true, Identifiers: []Identifier{{Type: Phone, Value: "+34600111222"}}}
	b := Tenant{ID: "tenant_b", Name: "B", Identifiers: []Identifier{{Type: Phone, Value: "34600111222"}}}
	if _, err := NewMemoryStore([]Tenant{a, b}); !errors.Is(err, ErrConflict) {
		t.Fatalf("one phone for two tenants: %v, want ErrConflict", err)
	}
	if _, err := NewMemoryStore([]Tenant{a, {ID: "tenant_a", Name: "A2"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a tenant twice: %v, want ErrConflict", err)
	}
	if _, err := NewMemoryStore([]Tenant{{ID: "tenant_c", Name: "C", Identifiers: []Identifier{{Type: "fax", Value: "1"}}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown identifier type: %v, want ErrInvalid", err)
	}
	m, err := NewMemoryStore([]Tenant{a})
	if err != nil {
		t.Fatal(err)
	}
	if id, r := m.Resolve(ResolveInput{GuestPhone: "34600111222", Channel: "whatsapp"}); id != "tenant_a" || r != ResultHit {
		t.Fatalf("resolved %q %s", id, r)
	}
}
