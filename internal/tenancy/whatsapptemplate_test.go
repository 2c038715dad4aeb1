package tenancy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

var resumeTemplate = tenancy.WhatsAppTemplate{Name: "reanudar_conversacion", Language: "es",
	BodyParameters: []string{tenancy.TemplateGuestName, "el equipo de " + tenancy.TemplateHotelName}}

func sameTemplate(a, b tenancy.WhatsAppTemplate) bool {
	return a.Name == b.Name && a.Language == b.Language && slices.Equal(a.BodyParameters, b.BodyParameters)
}

// A hotel's WhatsApp template is created, read from the cache, replaced,
// kept by patches that do not name it, and removed; invalid ones are
// refused whole.
func checkWhatsAppTemplate(t *testing.T, s tenancy.Store) {
	t.Helper()
	ctx := context.Background()
	created, err := s.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "hotel_tpl", Name: "Hotel Plantilla", WhatsAppTemplate: resumeTemplate})
	if err != nil {
		t.Fatal(err)
	}
	cached, _ := s.Tenant("hotel_tpl")
	if !sameTemplate(created.WhatsAppTemplate, resumeTemplate) || !sameTemplate(cached.WhatsAppTemplate, resumeTemplate) {
		t.Fatalf("created %+v, cached %+v", created.WhatsAppTemplate, cached.WhatsAppTemplate)
	}
	plain, err := s.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "hotel_plain", Name: "Hotel Sin Plantilla"})
	if err != nil || plain.WhatsAppTemplate.Configured() {
		t.Fatalf("a hotel created without a template: %+v %v", plain.WhatsAppTemplate, err)
	}

	name := "Hotel Plantilla Centro"
	if got, err := s.UpdateTenant(ctx, "ops", "hotel_tpl", tenancy.TenantPatch{Name: &name}); err != nil || !sameTemplate(got.WhatsAppTemplate, resumeTemplate) {
		t.Fatalf("a patch without the template changed it: %+v %v", got.WhatsAppTemplate, err)
	}
	other := tenancy.WhatsAppTemplate{Name: "hello_world", Language: "en_US"}
	if got, err := s.UpdateTenant(ctx, "ops", "hotel_tpl", tenancy.TenantPatch{WhatsAppTemplate: &other}); err != nil || !sameTemplate(got.WhatsAppTemplate, other) || len(got.WhatsAppTemplate.BodyParameters) != 0 {
		t.Fatalf("replaced: %+v %v", got.WhatsAppTemplate, err)
	}
	for name, bad := range map[string]tenancy.WhatsAppTemplate{
		"capitals in the name":   {Name: "Reanudar", Language: "es"},
		"no name":                {Language: "es"},
		"no language":            {Name: "reanudar"},
		"BCP 47 language":        {Name: "reanudar", Language: "en-US"},
		"blank parameter":        {Name: "reanudar", Language: "es", BodyParameters: []string{"Ana", " "}},
		"unknown placeholder":    {Name: "reanudar", Language: "es", BodyParameters: []string{"{guest}"}},
		"too many parameters":    {Name: "reanudar", Language: "es", BodyParameters: slices.Repeat([]string{"x"}, tenancy.MaxTemplateBodyParameters+1)},
		"over-long parameter":    {Name: "reanudar", Language: "es", BodyParameters: []string{strings.Repeat("x", 1025)}},
		"name over 512":          {Name: strings.Repeat("a", 513), Language: "es"},
		"parameters but no name": {BodyParameters: []string{"x"}},
	} {
		if _, err := s.UpdateTenant(ctx, "ops", "hotel_tpl", tenancy.TenantPatch{WhatsAppTemplate: &bad}); !errors.Is(err, tenancy.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
		if _, err := s.CreateTenant(ctx, "ops", tenancy.Tenant{ID: "hotel_bad", Name: "Bad", WhatsAppTemplate: bad}); !errors.Is(err, tenancy.ErrInvalid) {
			t.Errorf("%s on create: %v, want ErrInvalid", name, err)
		}
	}
	if got, _ := s.Tenant("hotel_tpl"); !sameTemplate(got.WhatsAppTemplate, other) {
		t.Fatalf("refused patches changed the template: %+v", got.WhatsAppTemplate)
	}
	if got, err := s.UpdateTenant(ctx, "ops", "hotel_tpl", tenancy.TenantPatch{WhatsAppTemplate: &tenancy.WhatsAppTemplate{}}); err != nil || got.WhatsAppTemplate.Configured() {
		t.Fatalf("removed: %+v %v", got.WhatsAppTemplate, err)
	}
	if got, _ := s.Tenant("hotel_tpl"); got.WhatsAppTemplate.Configured() {
		t.Fatalf("cache after removal: %+v", got.WhatsAppTemplate)
	}
	log, err := s.AuditLog(ctx, 2)
	if err != nil || len(log) != 2 || log[0].Action != tenancy.ActionTenantUpdate || log[0].Detail["whatsapp_template"] != nil {
		t.Fatalf("audit of the removal: %+v %v", log, err)
	}
	if _, ok := log[0].Detail["whatsapp_template"]; !ok {
		t.Fatalf("the removal is not in the audit detail: %+v", log[0].Detail)
	}
}

func TestWhatsAppTemplateInMemory(t *testing.T) {
	s, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWhatsAppTemplate(t, s)
}

func TestWhatsAppTemplateInPostgres(t *testing.T) {
	pool := migrated(t, testservices.Postgres(t))
	s := newStore(t, pool, tenancy.PostgresOptions{})
	checkWhatsAppTemplate(t, s)

	// Existing rows and rows written by hand have none until it is set;
	// one set by hand reaches the cache.
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO tenants (id, name) VALUES ('hand_plain', 'By hand'), ('hand_tpl', 'By hand')`,
		`UPDATE tenants SET whatsapp_template_name = 'hello_world', whatsapp_template_language = 'en_US',
			whatsapp_template_body_parameters = ARRAY['{hotel_name}'] WHERE id = 'hand_tpl'`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	want := tenancy.WhatsAppTemplate{Name: "hello_world", Language: "en_US", BodyParameters: []string{tenancy.TemplateHotelName}}
	testservices.Eventually(t, 2*time.Second, "hand-written templates in the cache", func() bool {
		plain, ok1 := s.Tenant("hand_plain")
		tpl, ok2 := s.Tenant("hand_tpl")
		return ok1 && ok2 && !plain.WhatsAppTemplate.Configured() && sameTemplate(tpl.WhatsAppTemplate, want)
	})
	// A fresh store reads the template back from the table.
	fresh := newStore(t, pool, tenancy.PostgresOptions{})
	if got, _ := fresh.Tenant("hand_tpl"); !sameTemplate(got.WhatsAppTemplate, want) {
		t.Fatalf("reloaded %+v", got.WhatsAppTemplate)
	}
}

func TestWhatsAppTemplateBodyTexts(t *testing.T) {
	got := resumeTemplate.BodyTexts("Ana García", "Hotel Madrid Central")
	if !slices.Equal(got, []string{"Ana García", "el equipo de Hotel Madrid Central"}) {
		t.Fatalf("%q", got)
	}
	// A name that looks like a placeholder is not replaced again.
	if got := resumeTemplate.BodyTexts("{hotel_name}", "H"); got[0] != "{hotel_name}" {
		t.Fatalf("%q", got)
	}
}

func TestSeedWhatsAppTemplate(t *testing.T) {
	ts, err := tenancy.LoadSeed(strings.NewReader(`
tenants:
  - tenant_id: tenant_hotel_madrid
    name: Hotel Madrid Central
    whatsapp_template:
      name: reanudar_conversacion
      language: es
      body_parameters: ["{guest_name}", "el equipo de {hotel_name}"]
  - tenant_id: tenant_hotel_bcn
    name: Hotel Barcelona Beach
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tenancy.NewMemoryStore(ts)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tenant("tenant_hotel_madrid"); !sameTemplate(got.WhatsAppTemplate, resumeTemplate) {
		t.Fatalf("madrid %+v", got.WhatsAppTemplate)
	}
	if got, _ := s.Tenant("tenant_hotel_bcn"); got.WhatsAppTemplate.Configured() {
		t.Fatalf("bcn %+v", got.WhatsAppTemplate)
	}
	for _, bad := range []string{
		"tenants:\n  - tenant_id: h\n    name: H\n    whatsapp_template: {name: x, language: es, header: y}\n",
		"tenants:\n  - tenant_id: h\n    name: H\n    whatsapp_template: {name: Bad Name, language: es}\n",
	} {
		ts, err := tenancy.LoadSeed(strings.NewReader(bad))
		if err == nil {
			_, err = tenancy.NewMemoryStore(ts)
		}
		if err == nil {
			t.Errorf("seed accepted:\n%s", bad)
		}
	}
}
