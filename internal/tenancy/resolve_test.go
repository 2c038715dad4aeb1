package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// directory is a small fixture: Madrid (guest phone, email, business number),
// Barcelona (WABA id), Sevilla inactive (guest phone).
func directory(t *testing.T) *MemoryStore {
	t.Helper()
	tenants, err := LoadSeed(strings.NewReader(`
tenants:
  - tenant_id: tenant_hotel_madrid
    name: Hotel Madrid Central
    identifiers:
      - "+34600111222"
      - guest1@madrid.com
      - {identifier: "106540352242922", type: phone_number_id}
  - tenant_id: tenant_hotel_bcn
    name: Hotel Barcelona Beach
    identifiers:
      - "+34600222333"
      - waba:102290129340398
  - tenant_id: tenant_hotel_sevilla
    name: Hotel Sevilla Plaza
    status: inactive
    identifiers: ["+34600333444", "pnid:999000111"]
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMemoryStore(tenants)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResolveEveryResult(t *testing.T) {
	m := directory(t)
	cases := []struct {
		name   string
		in     ResolveInput
		want   string
		result Result
	}{
		{"explicit tenant wins over identifiers", ResolveInput{Tenant: "tenant_hotel_bcn", GuestPhone: "34600111222"}, "tenant_hotel_bcn", ResultProvided},
		{"explicit tenant unknown to the directory is trusted", ResolveInput{Tenant: "tenant_static"}, "tenant_static", ResultProvided},
		{"explicit inactive tenant falls through", ResolveInput{Tenant: "tenant_hotel_sevilla", Default: "d"}, "d", ResultDefault},
		{"business phone_number_id", ResolveInput{PhoneNumberID: "106540352242922", GuestPhone: "34600222333"}, "tenant_hotel_madrid", ResultHit},
		{"unknown phone_number_id falls back to entry id", ResolveInput{PhoneNumberID: "1", WABAID: "102290129340398"}, "tenant_hotel_bcn", ResultHit},
		{"WhatsApp digits match the E.164 seed row", ResolveInput{GuestPhone: "34600111222", Channel: "whatsapp"}, "tenant_hotel_madrid", ResultHit},
		{"formatted guest phone", ResolveInput{GuestPhone: "+34 600 222 333"}, "tenant_hotel_bcn", ResultHit},
		{"gmail guest email with display name", ResolveInput{GuestEmail: "Guest <GUEST1@madrid.com>", Channel: "gmail"}, "tenant_hotel_madrid", ResultHit},
		{"gmail channel ignores the phone", ResolveInput{GuestPhone: "34600111222", Channel: "gmail", Default: "d"}, "d", ResultDefault},
		{"whatsapp channel ignores the email", ResolveInput{GuestEmail: "guest1@madrid.com", Channel: "whatsapp", Default: "d"}, "d", ResultDefault},
		{"inactive tenant's guest goes to default", ResolveInput{GuestPhone: "34600333444", Default: "d"}, "d", ResultDefault},
		{"inactive tenant's business number goes to default", ResolveInput{PhoneNumberID: "999000111", Default: "d"}, "d", ResultDefault},
		{"unknown guest, default", ResolveInput{GuestPhone: "34999999999", Default: "tenant_hotel_madrid"}, "tenant_hotel_madrid", ResultDefault},
		{"unknown guest, strict", ResolveInput{GuestPhone: "34999999999", Default: "tenant_hotel_madrid", Strict: true}, "", ResultMissStrict},
		{"unknown guest, no default configured", ResolveInput{GuestPhone: "34999999999"}, "", ResultMissStrict},
		{"inactive default does not resolve", ResolveInput{Default: "tenant_hotel_sevilla"}, "", ResultMissStrict},
		{"strict still resolves hits", ResolveInput{GuestPhone: "34600111222", Strict: true}, "tenant_hotel_madrid", ResultHit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.ToFloat64(Resolutions.WithLabelValues(string(c.result)))
			id, r := m.Resolve(c.in)
			if id != c.want || r != c.result {
				t.Fatalf("Resolve(%+v) = %q, %s; want %q, %s", c.in, id, r, c.want, c.result)
			}
			if got := testutil.ToFloat64(Resolutions.WithLabelValues(string(c.result))) - before; got != 1 {
				t.Fatalf("tenant_resolution_total{result=%q} grew by %v, want 1", c.result, got)
			}
		})
	}
}

func TestMemoryStoreWrites(t *testing.T) {
	ctx := context.Background()
	m := directory(t)
	if _, err := m.CreateTenant(ctx, "ops", Tenant{ID: "tenant_hotel_madrid", Name: "again"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := m.CreateTenant(ctx, "ops", Tenant{ID: "tenant_new", Name: "New", Active: true}); err != nil {
		t.Fatal(err)
	}
	// Taken by another tenant in another format: still a conflict.
	id, _ := ParseIdentifier("0034 600 111 222", "")
	if _, err := m.AddIdentifier(ctx, "ops", "tenant_new", id); !errors.Is(err, ErrConflict) {
		t.Fatalf("taken identifier: %v", err)
	}
	// Taken by an inactive tenant: still a conflict.
	id, _ = ParseIdentifier("+34600333444", "")
	if _, err := m.AddIdentifier(ctx, "ops", "tenant_new", id); !errors.Is(err, ErrConflict) {
		t.Fatalf("identifier of inactive tenant: %v", err)
	}
	id, _ = ParseIdentifier("+44 7700 900123", "")
	if _, err := m.AddIdentifier(ctx, "ops", "tenant_nope", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := m.AddIdentifier(ctx, "ops", "tenant_new", id); err != nil {
		t.Fatal(err)
	}
	if got, r := m.Resolve(ResolveInput{GuestPhone: "447700900123"}); got != "tenant_new" || r != ResultHit {
		t.Fatalf("new identifier resolves to %q %s", got, r)
	}

	inactive := false
	if _, err := m.UpdateTenant(ctx, "ops", "tenant_new", TenantPatch{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	if _, r := m.Resolve(ResolveInput{GuestPhone: "447700900123"}); r != ResultMissStrict {
		t.Fatalf("deactivated tenant still resolves: %s", r)
	}
	if _, err := m.UpdateTenant(ctx, "ops", "tenant_nope", TenantPatch{Active: &inactive}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}

	// Bare digits delete a business number registered with its type.
	bare, _ := ParseIdentifier("106540352242922", "")
	gone, err := m.DeleteIdentifier(ctx, "ops", "tenant_hotel_madrid", bare)
	if err != nil || len(gone) != 1 || gone[0].Type != PhoneNumberID {
		t.Fatalf("delete by bare digits: %v %+v", err, gone)
	}
	if _, err := m.DeleteIdentifier(ctx, "ops", "tenant_hotel_madrid", bare); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// An identifier of another tenant is not this tenant's to delete.
	other, _ := ParseIdentifier("+34600222333", "")
	if _, err := m.DeleteIdentifier(ctx, "ops", "tenant_hotel_madrid", other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of another tenant's identifier: %v", err)
	}
	if got, _ := m.Resolve(ResolveInput{GuestPhone: "34600222333"}); got != "tenant_hotel_bcn" {
		t.Fatalf("cross-tenant delete removed bcn's identifier")
	}

	log, _ := m.AuditLog(ctx, 0)
	var actions []string
	for _, e := range log {
		if e.Actor != "ops" {
			t.Errorf("audit actor %q", e.Actor)
		}
		actions = append(actions, e.Action)
	}
	want := []string{ActionIdentifierDelete, ActionTenantUpdate, ActionIdentifierAdd, ActionTenantCreate}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
	st := m.Stats()
	if st.Tenants != 4 || st.Active != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLoadSeedRejects(t *testing.T) {
	bad := map[string]string{
		"unknown field":     "tenants:\n  - tenant_id: a\n    name: A\n    colour: red\n",
		"bad status":        "tenants:\n  - tenant_id: a\n    name: A\n    status: paused\n",
		"bad identifier":    "tenants:\n  - tenant_id: a\n    name: A\n    identifiers: [hello]\n",
		"not yaml":          "tenants: [",
		"duplicate tenant":  "tenants:\n  - {tenant_id: a, name: A}\n  - {tenant_id: a, name: B}\n",
		"shared identifier": "tenants:\n  - {tenant_id: a, name: A, identifiers: ['+34600111222']}\n  - {tenant_id: b, name: B, identifiers: ['34600111222']}\n",
		"invalid tenant id": "tenants:\n  - {tenant_id: 'a b', name: A}\n",
	}
	for name, doc := range bad {
		ts, err := LoadSeed(strings.NewReader(doc))
		if err == nil {
			_, err = NewMemoryStore(ts)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// JSON is YAML.
	ts, err := LoadSeed(strings.NewReader(`{"tenants":[{"tenant_id":"a","name":"A","identifiers":["a@b.com",{"identifier":"1","type":"waba_id"}]}]}`))
	if err != nil || len(ts) != 1 || len(ts[0].Identifiers) != 2 || ts[0].Identifiers[1].Type != WABAID {
		t.Fatalf("JSON seed: %v %+v", err, ts)
	}
}

func TestOpenDevelopmentSeed(t *testing.T) {
	s, err := Open(context.Background(), nil, "../../caddy/dev-tenants.yaml", PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[ResolveInput]string{
		{GuestPhone: "34600111222", Channel: "whatsapp"}:       "tenant_hotel_madrid",
		{PhoneNumberID: "106540352242922", GuestPhone: "1"}:    "tenant_hotel_madrid",
		{GuestEmail: "guest1@barcelona.com", Channel: "gmail"}: "tenant_hotel_bcn",
		{GuestPhone: "34600333444", Channel: "whatsapp"}:       "tenant_hotel_sevilla",
	} {
		if got, r := s.Resolve(in); got != want || r != ResultHit {
			t.Errorf("Resolve(%+v) = %q %s, want %q", in, got, r, want)
		}
	}
	if _, err := Open(context.Background(), nil, "does-not-exist.yaml", PostgresOptions{}); err == nil {
		t.Fatal("missing seed file accepted")
	}
	empty, err := Open(context.Background(), nil, "", PostgresOptions{})
	if err != nil || empty.Stats().Tenants != 0 {
		t.Fatalf("empty memory store: %v", err)
	}
}

// TestResolveDuringWrites runs readers against a writer (meaningful under -race).
func TestResolveDuringWrites(t *testing.T) {
	m := directory(t)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			id, _ := ParseIdentifier(fmt.Sprintf("+3461100%04d", i), "")
			if _, err := m.AddIdentifier(ctx, "ops", "tenant_hotel_bcn", id); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			if got, _ := m.Resolve(ResolveInput{GuestPhone: "34611000199"}); got != "tenant_hotel_bcn" {
				t.Fatalf("last write not visible: %q", got)
			}
			return
		default:
			if got, r := m.Resolve(ResolveInput{GuestPhone: "34600111222"}); got != "tenant_hotel_madrid" || r != ResultHit {
				t.Fatalf("reader saw %q %s during writes", got, r)
			}
			_ = m.Tenants()
		}
	}
}

// An identifier registered as bare digits matches the hotel's business
// number (value.metadata.phone_number_id) and account as well as a guest's
// phone.
func TestBareDigitsMatchBusinessNumbers(t *testing.T) {
	ts, err := LoadSeed(strings.NewReader(`
tenants:
  - tenant_id: hotel_digits
    name: Hotel Digits
    identifiers: ["109876543210987"]
`))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := NewMemoryStore(ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []ResolveInput{
		{Channel: "whatsapp", PhoneNumberID: "109876543210987"},
		{Channel: "whatsapp", WABAID: "109876543210987"},
		{Channel: "whatsapp", GuestPhone: "+109876543210987"},
	} {
		if id, r := dir.Resolve(in); id != "hotel_digits" || r != ResultHit {
			t.Errorf("%+v: %q %s", in, id, r)
		}
	}
	if id, r := dir.Resolve(ResolveInput{Channel: "whatsapp", PhoneNumberID: "209876543210987"}); r != ResultMissStrict {
		t.Errorf("other digits resolved to %q", id)
	}
}
