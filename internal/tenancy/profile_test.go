package tenancy_test

import (
	"context"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// A tenant's profile is its Tenant's scalar settings, as the directory
// holds them now; an unknown tenant has none.
func checkTenantProfile(t *testing.T, s tenancy.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "hotel_profiled", Name: "Profiled", Timezone: "Atlantic/Canary",
		Language: "en", PMSHotelID: 4}); err != nil {
		t.Fatal(err)
	}
	name := "Renamed"
	if _, err := s.UpdateTenant(ctx, "ops", "hotel_profiled", tenancy.TenantPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	tn, _ := s.Tenant("hotel_profiled")
	got, ok := s.TenantProfile("hotel_profiled")
	want := tenancy.Profile{Name: tn.Name, Timezone: tn.Timezone, Language: tn.Language, PMSHotelID: tn.PMSHotelID, PMSHotelIDSet: tn.PMSHotelIDSet}
	if !ok || got != want || got.Name != "Renamed" || got.PMSHotelID != 4 || !got.PMSHotelIDSet {
		t.Errorf("profile %+v, %v; want %+v", got, ok, want)
	}
	if p, ok := s.TenantProfile("hotel_unknown"); ok {
		t.Errorf("an unknown tenant has a profile: %+v", p)
	}
}

func TestTenantProfileInMemory(t *testing.T) {
	s, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkTenantProfile(t, s)
}

func TestTenantProfileInPostgres(t *testing.T) {
	checkTenantProfile(t, newStore(t, migrated(t, testservices.Postgres(t)), tenancy.PostgresOptions{}))
}
