package admin

import (
	"context"
	"slices"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// warned reports whether a tenant's JSON carries the missing-pms_hotel_id warning.
func warned(tenant map[string]any) bool {
	ws, _ := tenant["warnings"].([]any)
	return slices.Contains(ws, any(WarningNoPMSHotelID))
}

// checkPMSHotelIDRequired drives a hotel registered before its PMS id is
// known through an API whose PMS needs one: created, listed and patched
// with a warning and a null pms_hotel_id, until the id is given.
func checkPMSHotelIDRequired(t *testing.T, a *api) {
	r := a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_new","name":"Hotel Nuevo"}`, 201)
	if r.body["pms_hotel_id"] != nil || !warned(r.body) {
		t.Fatalf("created without pms_hotel_id: %s", r.raw)
	}
	r = a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_mapped","name":"Hotel Mapeado","pms_hotel_id":2}`, 201)
	if r.body["pms_hotel_id"] != float64(2) || r.body["warnings"] != nil {
		t.Fatalf("created with pms_hotel_id: %s", r.raw)
	}
	r = a.expect("GET", "/admin/tenants", "", 200)
	for _, x := range r.body["tenants"].([]any) {
		tenant := x.(map[string]any)
		if want := tenant["tenant_id"] == "hotel_new"; warned(tenant) != want {
			t.Errorf("listed %v: warned %v, want %v", tenant, !want, want)
		}
	}
	if r = a.expect("PATCH", "/admin/tenants/hotel_new", `{"name":"Hotel Nuevo Centro"}`, 200); !warned(r.body) {
		t.Errorf("patched without pms_hotel_id: %s", r.raw)
	}
	if r = a.expect("PATCH", "/admin/tenants/hotel_new", `{"pms_hotel_id":0}`, 400); r.body["error"] != "pms_hotel_id must be a positive integer" {
		t.Errorf("pms_hotel_id 0: %s", r.raw)
	}
	// QloApps' first hotel is a hotel like any other once it is named.
	r = a.expect("PATCH", "/admin/tenants/hotel_new", `{"pms_hotel_id":1}`, 200)
	if r.body["pms_hotel_id"] != float64(1) || r.body["warnings"] != nil {
		t.Fatalf("patched with pms_hotel_id 1: %s", r.raw)
	}
	if r = a.expect("GET", "/admin/tenants/hotel_new", "", 200); r.body["warnings"] != nil {
		t.Errorf("read after the patch: %s", r.raw)
	}
}

func TestPMSHotelIDRequiredInMemory(t *testing.T) {
	ts, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPMSHotelIDRequired(t, newAPI(t, Options{Tenants: ts, PMSHotelIDRequired: true}))
}

func TestPMSHotelIDRequiredInPostgres(t *testing.T) {
	pool, ts := postgresTenants(t)
	a := newAPI(t, Options{Tenants: ts, PMSHotelIDRequired: true})
	checkPMSHotelIDRequired(t, a)
	// An id written by hand connects the hotel too.
	a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_by_hand","name":"Hotel a Mano"}`, 201)
	if _, err := pool.Exec(context.Background(), `UPDATE tenants SET pms_hotel_id = 7 WHERE id = 'hotel_by_hand'`); err != nil {
		t.Fatal(err)
	}
	a.expect("POST", "/admin/tenants/refresh", "", 200)
	if r := a.expect("GET", "/admin/tenants/hotel_by_hand", "", 200); r.body["pms_hotel_id"] != float64(7) || warned(r.body) {
		t.Errorf("id set by hand: %s", r.raw)
	}
}

// Where the PMS needs no id (the demo's default property), a tenant
// without one has a null pms_hotel_id and no warning.
func TestPMSHotelIDOptional(t *testing.T) {
	a, _, _ := memoryAPI(t)
	r := a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_demo","name":"Hotel Demo"}`, 201)
	if r.body["pms_hotel_id"] != nil || r.body["warnings"] != nil {
		t.Fatalf("created without pms_hotel_id: %s", r.raw)
	}
}
