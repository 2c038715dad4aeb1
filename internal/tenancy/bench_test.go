package tenancy

import (
	"fmt"
	"testing"
)

const (
	benchTenants     = 10_000
	benchIdentifiers = 100_000
)

// benchTenants builds n tenants with 10 identifiers each (one business
// number, one WABA id, six guest phones, two guest emails).
func benchTenantList(n int) []Tenant {
	tenants := make([]Tenant, n)
	for i := range tenants {
		t := Tenant{ID: fmt.Sprintf("tenant_%05d", i), Name: "Hotel", Active: true, Timezone: DefaultTimezone, Language: DefaultLanguage, PMSHotelID: 1}
		t.Identifiers = append(t.Identifiers,
			Identifier{Type: PhoneNumberID, Value: fmt.Sprintf("1065403%08d", i)},
			Identifier{Type: WABAID, Value: fmt.Sprintf("1022901%08d", i)})
		for j := range 6 {
			t.Identifiers = append(t.Identifiers, Identifier{Type: Phone, Value: fmt.Sprintf("+346%05d%03d", i, j)})
		}
		for j := range 2 {
			t.Identifiers = append(t.Identifiers, Identifier{Type: Email, Value: fmt.Sprintf("guest%d@hotel%05d.example", j, i)})
		}
		tenants[i] = t
	}
	return tenants
}

// benchDirectory is 10,000 tenants with 100,000 identifiers.
func benchDirectory(b *testing.B) *MemoryStore {
	b.Helper()
	snap, dups := buildSnapshot(benchTenantList(benchTenants))
	if len(dups) > 0 || snap.stats.Identifiers != benchIdentifiers || snap.stats.Tenants != benchTenants {
		b.Fatalf("bench directory: %+v, %d duplicates", snap.stats, len(dups))
	}
	m := &MemoryStore{}
	m.publish(snap)
	return m
}

// BenchmarkNewMemoryStore is the start-up of a file-seeded directory at
// 1,000 / 10,000 and 10,000 / 100,000 tenants / identifiers; ns_per_identifier
// stays flat when the build is one pass (it grew tenfold with the size when
// every identifier copied the snapshot).
func BenchmarkNewMemoryStore(b *testing.B) {
	for _, n := range []int{1_000, benchTenants} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				tenants := benchTenantList(n)
				b.StartTimer()
				m, err := NewMemoryStore(tenants)
				if err != nil {
					b.Fatal(err)
				}
				if got := m.Stats().Identifiers; got != 10*n {
					b.Fatalf("%d identifiers, want %d", got, 10*n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(10*n), "ns_per_identifier")
		})
	}
}

// BenchmarkResolve reports ns/op, allocs/op and x_map_lookup (ns/op divided
// by the plain map lookup above, measured in the same run).
func BenchmarkResolve(b *testing.B) {
	m := benchDirectory(b)
	// The reference: a plain lookup in a map[string]string of 100,000
	// keys, measured in this run; x_map_lookup is Resolve's cost over it.
	plain := make(map[string]string, benchIdentifiers)
	keys := make([]string, 1024)
	for i := range benchIdentifiers {
		k := fmt.Sprintf("346%05d%03d", i/10, i%10)
		plain[k] = "t"
		keys[i%len(keys)] = k
	}
	var ref float64
	b.Run("reference_map_lookup", func(b *testing.B) {
		b.ReportAllocs()
		var sink string
		for i := 0; b.Loop(); i++ {
			sink = plain[keys[i&1023]]
		}
		_ = sink
		ref = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	inputs := func(f func(i int) ResolveInput) []ResolveInput {
		in := make([]ResolveInput, 1024)
		for j := range in {
			in[j] = f((j * 9973) % benchTenants)
		}
		return in
	}
	cases := []struct {
		name   string
		in     []ResolveInput
		result Result
	}{
		{"provided", inputs(func(i int) ResolveInput { return ResolveInput{Tenant: fmt.Sprintf("tenant_%05d", i)} }), ResultProvided},
		{"hit_phone_number_id", inputs(func(i int) ResolveInput {
			return ResolveInput{PhoneNumberID: fmt.Sprintf("1065403%08d", i), GuestPhone: fmt.Sprintf("346%05d000", i)}
		}), ResultHit},
		{"hit_guest_phone_digits", inputs(func(i int) ResolveInput {
			return ResolveInput{PhoneNumberID: "1", WABAID: "2", GuestPhone: fmt.Sprintf("346%05d003", i), Channel: "whatsapp"}
		}), ResultHit},
		{"hit_guest_phone_formatted", inputs(func(i int) ResolveInput {
			return ResolveInput{GuestPhone: fmt.Sprintf("+34 6%05d 003", i), Channel: "whatsapp"}
		}), ResultHit},
		{"hit_guest_email", inputs(func(i int) ResolveInput {
			return ResolveInput{GuestEmail: fmt.Sprintf("guest1@hotel%05d.example", i), Channel: "gmail"}
		}), ResultHit},
		{"default", inputs(func(i int) ResolveInput {
			return ResolveInput{PhoneNumberID: "1", GuestPhone: "34999999999", Default: "tenant_00001"}
		}), ResultDefault},
		{"miss_strict", inputs(func(i int) ResolveInput { return ResolveInput{GuestPhone: "34999999999", Strict: true} }), ResultMissStrict},
	}
	for _, c := range cases {
		if _, r := m.Resolve(c.in[0]); r != c.result {
			b.Fatalf("%s: fixture resolves to %s", c.name, r)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m.Resolve(c.in[i&1023])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ref, "x_map_lookup")
		})
	}
}

// BenchmarkResolveParallel is the hot path under contention: readers share
// one atomically loaded snapshot and never lock.
func BenchmarkResolveParallel(b *testing.B) {
	m := benchDirectory(b)
	in := make([]ResolveInput, 1024)
	for j := range in {
		in[j] = ResolveInput{GuestPhone: fmt.Sprintf("346%05d003", (j*9973)%benchTenants), Channel: "whatsapp"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Resolve(in[i&1023])
			i++
		}
	})
}
