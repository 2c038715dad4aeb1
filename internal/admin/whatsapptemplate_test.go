package admin

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// templateOf is a tenant's whatsapp_template on the wire, nil when null.
func templateOf(t *testing.T, r reply) map[string]any {
	t.Helper()
	v, present := r.body["whatsapp_template"]
	if !present {
		t.Fatalf("no whatsapp_template in %s", r.raw)
	}
	m, _ := v.(map[string]any)
	return m
}

func params(m map[string]any) []string {
	var out []string
	for _, p := range m["body_parameters"].([]any) {
		out = append(out, p.(string))
	}
	return out
}

// checkWhatsAppTemplateAPI drives a hotel's template through the API: null
// until given, set on create or by PATCH, kept by patches that do not name
// it, replaced whole, refused when invalid, removed with null.
func checkWhatsAppTemplateAPI(t *testing.T, a *api, ts tenancy.Store) {
	r := a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_plain","name":"Hotel Sin Plantilla"}`, 201)
	if templateOf(t, r) != nil {
		t.Fatalf("created without a template: %s", r.raw)
	}
	r = a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_tpl","name":"Hotel Plantilla",`+
		`"whatsapp_template":{"name":"reanudar_conversacion","language":"es","body_parameters":["{guest_name}","{hotel_name}"]}}`, 201)
	if m := templateOf(t, r); m["name"] != "reanudar_conversacion" || m["language"] != "es" || !slices.Equal(params(m), []string{"{guest_name}", "{hotel_name}"}) {
		t.Fatalf("created with a template: %s", r.raw)
	}
	if got, _ := ts.Tenant("hotel_tpl"); got.WhatsAppTemplate.Name != "reanudar_conversacion" {
		t.Fatalf("directory: %+v", got.WhatsAppTemplate)
	}
	a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_bad","name":"Bad","whatsapp_template":{"name":"Bad Name","language":"es"}}`, 400)

	r = a.expect("PATCH", "/admin/tenants/hotel_plain", `{"whatsapp_template":{"name":"hello_world","language":"en_US","body_parameters":[]}}`, 200)
	if m := templateOf(t, r); m["name"] != "hello_world" || m["language"] != "en_US" || len(params(m)) != 0 {
		t.Fatalf("patched: %s", r.raw)
	}
	if m := templateOf(t, a.expect("PATCH", "/admin/tenants/hotel_plain", `{"name":"Hotel Con Plantilla"}`, 200)); m["name"] != "hello_world" {
		t.Fatal("a patch without whatsapp_template changed it")
	}
	// Without body_parameters: a template without variables.
	if m := templateOf(t, a.expect("PATCH", "/admin/tenants/hotel_plain", `{"whatsapp_template":{"name":"hola","language":"es"}}`, 200)); m["name"] != "hola" || len(params(m)) != 0 {
		t.Fatal("template without parameters")
	}
	for _, c := range []struct{ body, says string }{
		{`{"whatsapp_template":{"name":"x","language":"es","header":"y"}}`, "unknown field"},
		{`{"whatsapp_template":"hello_world"}`, "must be null or an object"},
		{`{"whatsapp_template":{"language":"es"}}`, "whatsapp_template.name"},
		{`{"whatsapp_template":{"name":"x","language":"es-ES"}}`, "whatsapp_template.language"},
		{`{"whatsapp_template":{"name":"x","language":"es","body_parameters":["{guest}"]}}`, "unknown placeholder {guest}"},
		{`{"whatsapp_template":{"name":"x","language":"es","body_parameters":[" "]}}`, "body_parameters[0] is blank"},
	} {
		r := a.expect("PATCH", "/admin/tenants/hotel_plain", c.body, 400)
		if !strings.Contains(r.body["error"].(string), c.says) {
			t.Errorf("%s: %s, want it to say %q", c.body, r.raw, c.says)
		}
	}
	if m := templateOf(t, a.expect("GET", "/admin/tenants/hotel_plain", "", 200)); m["name"] != "hola" {
		t.Fatal("a refused patch changed the template")
	}
	if r := a.expect("PATCH", "/admin/tenants/hotel_plain", `{"whatsapp_template":null}`, 200); templateOf(t, r) != nil {
		t.Fatalf("removed: %s", r.raw)
	}
	r = a.expect("GET", "/admin/tenants", "", 200)
	for _, x := range r.body["tenants"].([]any) {
		tenant := x.(map[string]any)
		if got, want := tenant["whatsapp_template"] != nil, tenant["tenant_id"] == "hotel_tpl"; got != want {
			t.Errorf("listed %v", tenant)
		}
	}
}

func TestWhatsAppTemplateAPIInMemory(t *testing.T) {
	a, ts, _ := memoryAPI(t)
	checkWhatsAppTemplateAPI(t, a, ts)
}

func TestWhatsAppTemplateAPIInPostgres(t *testing.T) {
	_, ts := postgresTenants(t)
	checkWhatsAppTemplateAPI(t, newAPI(t, Options{Tenants: ts}), ts)
}
