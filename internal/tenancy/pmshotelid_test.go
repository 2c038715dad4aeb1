package tenancy_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// A tenant registered without pms_hotel_id holds the default id but says
// it has none, until an id is given, whatever it is.
func checkPMSHotelIDSet(t *testing.T, s tenancy.Store) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []struct {
		tenant tenancy.Tenant
		id     int
		set    bool
	}{
		{tenancy.Tenant{ID: "hotel_unmapped", Name: "Unmapped"}, tenancy.DefaultPMSHotelID, false},
		{tenancy.Tenant{ID: "hotel_first", Name: "First", PMSHotelID: 1}, 1, true},
		{tenancy.Tenant{ID: "hotel_third", Name: "Third", PMSHotelID: 3}, 3, true},
	} {
		got, err := s.CreateTenant(ctx, "ops", c.tenant)
		if err != nil {
			t.Fatal(err)
		}
		cached, _ := s.Tenant(c.tenant.ID)
		if got.PMSHotelID != c.id || got.PMSHotelIDSet != c.set || cached.PMSHotelIDSet != c.set {
			t.Errorf("%s: created %d set %v (cached set %v), want %d set %v", c.tenant.ID, got.PMSHotelID, got.PMSHotelIDSet, cached.PMSHotelIDSet, c.id, c.set)
		}
	}
	name := "Renamed"
	if got, err := s.UpdateTenant(ctx, "ops", "hotel_unmapped", tenancy.TenantPatch{Name: &name}); err != nil || got.PMSHotelIDSet {
		t.Errorf("a patch without pms_hotel_id: %+v, %v", got, err)
	}
	one := 1
	if got, err := s.UpdateTenant(ctx, "ops", "hotel_unmapped", tenancy.TenantPatch{PMSHotelID: &one}); err != nil || !got.PMSHotelIDSet || got.PMSHotelID != 1 {
		t.Errorf("pms_hotel_id patched to 1: %+v, %v", got, err)
	}
}

func TestPMSHotelIDSetInMemory(t *testing.T) {
	s, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPMSHotelIDSet(t, s)
}

func TestPMSHotelIDSetInPostgres(t *testing.T) {
	pool := migrated(t, testservices.Postgres(t))
	s := newStore(t, pool, tenancy.PostgresOptions{})
	checkPMSHotelIDSet(t, s)

	// By hand: a row inserted without an id has none; an id written by
	// hand (on insert or update) counts as given.
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO tenants (id, name) VALUES ('hand_unmapped', 'By hand'), ('hand_inserted', 'By hand')`,
		`UPDATE tenants SET pms_hotel_id = 4 WHERE id = 'hand_inserted'`,
		`INSERT INTO tenants (id, name, pms_hotel_id) VALUES ('hand_with_id', 'By hand', 5)`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	want := map[string]bool{"hand_unmapped": false, "hand_inserted": true, "hand_with_id": true}
	testservices.Eventually(t, 2*time.Second, "hand-written tenants in the cache", func() bool {
		for id, set := range want {
			if got, ok := s.Tenant(id); !ok || got.PMSHotelIDSet != set {
				return false
			}
		}
		return true
	})
}
