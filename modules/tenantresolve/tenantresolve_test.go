package tenantresolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/modules/agente"
	"github.com/agentehotel/agente-caddy/test/adapttest"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	wa "github.com/agentehotel/agente-caddy/internal/whatsapp"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// directory: Madrid owns the business number, a WABA id, a guest phone and
// email; Sevilla is inactive.
func directory(t *testing.T) *tenancy.MemoryStore {
	t.Helper()
	ts, err := tenancy.LoadSeed(strings.NewReader(`
tenants:
  - tenant_id: tenant_hotel_madrid
    name: Hotel Madrid Central
    identifiers: ["+34600111222", "guest1@madrid.com", "pnid:106540352242922", "waba:102290129340398"]
  - tenant_id: tenant_hotel_bcn
    name: Hotel Barcelona Beach
    identifiers: ["+34600222333", "guest1@barcelona.com"]
  - tenant_id: tenant_hotel_sevilla
    name: Hotel Sevilla Plaza
    status: inactive
    identifiers: ["+34600333444"]
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewMemoryStore(ts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// provisioned provisions m with the directory as its resolver.
func provisioned(t *testing.T, m *TenantResolve, dir tenancy.Resolver) *TenantResolve {
	t.Helper()
	m.resolver = dir
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// seen is what the next handler observed.
type seen struct {
	called         bool
	tenant, result string
	header         []string
	body           string
	rateKey        string // {http.vars.rate_key}
	guests         string // {http.vars.guest_messages}
}

func serve(t *testing.T, m *TenantResolve, body string, hdr ...string) (*httptest.ResponseRecorder, seen) {
	t.Helper()
	req := httptest.NewRequest("POST", "/webhooks/whatsapp", strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
	var s seen
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		s.called = true
		s.tenant, _ = caddyhttp.GetVar(r.Context(), VarTenantID).(string)
		s.result, _ = caddyhttp.GetVar(r.Context(), VarResult).(string)
		s.rateKey, _ = caddyhttp.GetVar(r.Context(), agente.VarRateKey).(string)
		s.guests, _ = caddyhttp.GetVar(r.Context(), agente.VarGuestMessages).(string)
		s.header = r.Header.Values(Header)
		b, _ := io.ReadAll(r.Body)
		s.body = string(b)
		w.WriteHeader(200)
		return nil
	})
	rec := httptest.NewRecorder()
	if err := m.ServeHTTP(rec, req, next); err != nil {
		// Rendered as json_error renders it in handle_errors.
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) {
			t.Fatalf("ServeHTTP returned %v, not a caddyhttp error", err)
		}
		httpjson.Error(rec, he.StatusCode, he.Err.Error())
	}
	return rec, s
}

// whatsapp is a guest's text message to the business number pnid of the
// WhatsApp Business Account waba.
func whatsapp(pnid, waba, from string) string {
	return whatsapptest.Message{EntryID: waba, PhoneNumberID: pnid, From: from, ID: "wamid.X", Name: "Guest", Text: "Hola"}.JSON()
}

func TestEveryResolutionResult(t *testing.T) {
	dir := directory(t)
	status := `{"entry":[{"id":"1","changes":[{"value":{"metadata":{"phone_number_id":"2"},"statuses":[{"id":"wamid.X","status":"read","recipient_id":"34600222333"}]}}]}]}`
	cases := []struct {
		name         string
		mod          TenantResolve
		body         string
		wantTenant   string
		wantResult   tenancy.Result
		wantStatus   int
		nextIsCalled bool
	}{
		{"provided", TenantResolve{Tenant: "tenant_hotel_bcn"}, whatsapp("106540352242922", "1", "34600111222"), "tenant_hotel_bcn", tenancy.ResultProvided, 200, true},
		{"hit by phone_number_id", TenantResolve{Default: "tenant_hotel_bcn"}, whatsapp("106540352242922", "1", "34600222333"), "tenant_hotel_madrid", tenancy.ResultHit, 200, true},
		{"hit by entry id", TenantResolve{}, whatsapp("999", "102290129340398", "34699999999"), "tenant_hotel_madrid", tenancy.ResultHit, 200, true},
		{"hit by guest phone", TenantResolve{}, whatsapp("999", "1", "34600222333"), "tenant_hotel_bcn", tenancy.ResultHit, 200, true},
		{"hit by status recipient", TenantResolve{}, status, "tenant_hotel_bcn", tenancy.ResultHit, 200, true},
		{"hit by gmail from", TenantResolve{Channel: "gmail"}, `{"from":"Guest <guest1@barcelona.com>","subject":"s","body":"b","timestamp":"2025-10-22T10:30:00Z"}`, "tenant_hotel_bcn", tenancy.ResultHit, 200, true},
		{"default", TenantResolve{Default: "tenant_hotel_bcn"}, whatsapp("999", "1", "34699999999"), "tenant_hotel_bcn", tenancy.ResultDefault, 200, true},
		{"default for an inactive tenant's guest", TenantResolve{Default: "tenant_hotel_bcn"}, whatsapp("999", "1", "34600333444"), "tenant_hotel_bcn", tenancy.ResultDefault, 200, true},
		{"default for an empty body", TenantResolve{Default: "tenant_hotel_bcn"}, "", "tenant_hotel_bcn", tenancy.ResultDefault, 200, true},
		// A signed WhatsApp event no hotel is found for still reaches the
		// webhook handler (which keeps it as unrouted): Meta gets a 2xx.
		{"miss_strict", TenantResolve{Strict: true}, whatsapp("999", "1", "34699999999"), "", tenancy.ResultMissStrict, 200, true},
		{"miss without any default", TenantResolve{}, whatsapp("999", "1", "34699999999"), "", tenancy.ResultMissStrict, 200, true},
		{"gmail route ignores WhatsApp phone", TenantResolve{Channel: "gmail", Strict: true}, `{"from":"34600111222"}`, "", tenancy.ResultMissStrict, 403, false},
	}
	t.Setenv("DEFAULT_TENANT_ID", "")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := provisioned(t, &c.mod, dir)
			before := testutil.ToFloat64(tenancy.Resolutions.WithLabelValues(string(c.wantResult)))
			rec, s := serve(t, m, c.body)
			if rec.Code != c.wantStatus || s.called != c.nextIsCalled {
				t.Fatalf("status %d (next called %v), want %d: %s", rec.Code, s.called, c.wantStatus, rec.Body)
			}
			if got := testutil.ToFloat64(tenancy.Resolutions.WithLabelValues(string(c.wantResult))) - before; got != 1 {
				t.Fatalf("tenant_resolution_total{result=%s} +%v", c.wantResult, got)
			}
			if !c.nextIsCalled {
				var e struct {
					Error  string
					Status int
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Status != 403 || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("403 body %q", rec.Body)
				}
				return
			}
			wantHeader := []string{c.wantTenant}
			if c.wantTenant == "" {
				wantHeader = nil // no tenant, no header
			}
			if s.tenant != c.wantTenant || s.result != string(c.wantResult) || !slices.Equal(s.header, wantHeader) {
				t.Fatalf("next saw %+v, want tenant %q result %s", s, c.wantTenant, c.wantResult)
			}
			if s.body != c.body {
				t.Fatalf("body not restored: %q", s.body)
			}
			// Limits key on the hotel; what has none, on the number it came for.
			wantKey := c.wantTenant
			if wantKey == "" {
				wantKey = "unrouted:999"
			}
			if s.rateKey != wantKey {
				t.Fatalf("rate_key %q, want %q", s.rateKey, wantKey)
			}
			// Guests' limits count only what a guest wrote.
			wantGuests := "yes"
			if c.body == status || c.body == "" {
				wantGuests = "no"
			}
			if c.mod.Channel != "gmail" && s.guests != wantGuests {
				t.Fatalf("guest_messages %q, want %q", s.guests, wantGuests)
			}
		})
	}
}

func TestDefaultComesFromEnvironment(t *testing.T) {
	t.Setenv("DEFAULT_TENANT_ID", "tenant_hotel_bcn")
	m := provisioned(t, &TenantResolve{}, directory(t))
	_, s := serve(t, m, whatsapp("999", "1", "34699999999"))
	if s.tenant != "tenant_hotel_bcn" || s.result != "default" {
		t.Fatalf("env default not used: %+v", s)
	}
	// Placeholders in tenant are resolved too.
	t.Setenv("ROUTE_TENANT", "tenant_hotel_madrid")
	m = provisioned(t, &TenantResolve{Tenant: "{env.ROUTE_TENANT}"}, directory(t))
	if _, s = serve(t, m, ""); s.tenant != "tenant_hotel_madrid" || s.result != "provided" {
		t.Fatalf("tenant placeholder: %+v", s)
	}
}

func TestClientTenantHeaderIsOverwrittenAndCounted(t *testing.T) {
	m := provisioned(t, &TenantResolve{Default: "tenant_hotel_bcn"}, directory(t))
	before := testutil.ToFloat64(tenancy.IsolationErrors)
	_, s := serve(t, m, whatsapp("106540352242922", "1", "34600111222"), "X-Tenant-ID", "tenant_hotel_bcn", "X-Tenant-ID", "tenant_hotel_madrid")
	if s.tenant != "tenant_hotel_madrid" || len(s.header) != 1 || s.header[0] != "tenant_hotel_madrid" {
		t.Fatalf("header not overwritten: %+v", s)
	}
	if d := testutil.ToFloat64(tenancy.IsolationErrors) - before; d != 1 {
		t.Fatalf("tenant_isolation_errors_total +%v, want 1", d)
	}
	// A matching claim is not an error.
	before = testutil.ToFloat64(tenancy.IsolationErrors)
	serve(t, m, whatsapp("106540352242922", "1", "34600111222"), "X-Tenant-ID", "tenant_hotel_madrid")
	if d := testutil.ToFloat64(tenancy.IsolationErrors) - before; d != 0 {
		t.Fatalf("matching X-Tenant-ID counted as an isolation error")
	}
	// A tenant override inside the message metadata decides nothing either.
	body := `{"entry":[{"id":"1","changes":[{"value":{"metadata":{"phone_number_id":"2","tenant_id":"tenant_hotel_madrid"},
		"messages":[{"from":"34600222333","metadata":{"x_tenant_override":"tenant_hotel_madrid"}}]}}]}]}`
	if _, s = serve(t, m, body); s.tenant != "tenant_hotel_bcn" || s.result != "hit" {
		t.Fatalf("metadata override decided the tenant: %+v", s)
	}
	// A request no hotel is found for carries no tenant header at all; the
	// claim still counts.
	strict := provisioned(t, &TenantResolve{Strict: true}, directory(t))
	before = testutil.ToFloat64(tenancy.IsolationErrors)
	_, s = serve(t, strict, whatsapp("9", "9", "34699999999"), "X-Tenant-ID", "tenant_hotel_madrid")
	if len(s.header) != 0 || s.tenant != "" || testutil.ToFloat64(tenancy.IsolationErrors)-before != 1 {
		t.Fatalf("strict miss with a claimed tenant: %+v", s)
	}
}

func TestBodyErrors(t *testing.T) {
	m := provisioned(t, &TenantResolve{Default: "tenant_hotel_bcn", MaxBody: 64}, directory(t))
	if rec, s := serve(t, m, `{"entry": [`); rec.Code != 400 || s.called {
		t.Fatalf("invalid JSON: %d", rec.Code)
	}
	if rec, s := serve(t, m, strings.Repeat(" ", 65)); rec.Code != 413 || s.called {
		t.Fatalf("oversize body: %d", rec.Code)
	}
	// Exactly the limit is accepted.
	exact := `{"entry":[{"id":"102290129340398"}]}`
	exact += strings.Repeat(" ", 64-len(exact))
	if rec, s := serve(t, m, exact); rec.Code != 200 || s.tenant != "tenant_hotel_madrid" || s.body != exact {
		t.Fatalf("body at the limit: %d %+v", rec.Code, s)
	}
	// A wrongly typed but valid JSON event is left to the normaliser.
	if rec, s := serve(t, m, `{"entry":"x"}`); rec.Code != 200 || s.result != "default" {
		t.Fatalf("type mismatch: %d %+v", rec.Code, s)
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]TenantResolve{
		"channel":          {Channel: "sms", tenant: "", fallback: ""},
		"strict+default":   {Strict: true, Default: "x"},
		"max_body":         {MaxBody: -1},
		"tenant":           {tenant: "bad id"},
		"default resolved": {fallback: "bad/id"},
	}
	for name, m := range bad {
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "tenant_resolve: ") {
			t.Errorf("%s: %v does not name the module", name, err)
		}
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	var m TenantResolve
	d := caddyfile.NewTestDispenser(`tenant_resolve gmail {
		tenant t1
		default {env.DEFAULT_TENANT_ID}
		max_body 512KiB
	}`)
	if err := m.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if m.Channel != "gmail" || m.Tenant != "t1" || m.Default != "{env.DEFAULT_TENANT_ID}" || m.MaxBody != 512<<10 {
		t.Fatalf("parsed %+v", m)
	}
	for _, bad := range []string{
		"tenant_resolve {\n colour red\n}",
		"tenant_resolve {\n strict yes\n}",
		"tenant_resolve {\n tenant\n}",
		"tenant_resolve {\n tenant a b\n}",
		"tenant_resolve {\n max_body lots\n}",
		"tenant_resolve whatsapp extra",
	} {
		var m TenantResolve
		if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCaddyfileAdapt(t *testing.T) { adapttest.Run(t, "testdata/*.caddyfiletest") }

// BenchmarkServeHTTP is the middleware's cost on a Meta sample message:
// body copy, identifier decode, lookup, header and vars. x_json_valid
// compares it with json.Valid over the same body (what the signature
// matcher's require_json already spends), measured in the same run.
func BenchmarkServeHTTP(b *testing.B) {
	body := []byte(whatsapp("106540352242922", "102290129340398", "34600111222"))
	var ref float64
	b.Run("reference_json_valid", func(b *testing.B) {
		for b.Loop() {
			json.Valid(body)
		}
		ref = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	t := &testing.T{}
	m := &TenantResolve{Default: "tenant_hotel_bcn", resolver: directory(t), tenant: "", fallback: "tenant_hotel_bcn", Channel: "whatsapp", MaxBody: DefaultMaxBody}
	m.logger = caddy.Log()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	b.Run("hit_phone_number_id", func(b *testing.B) {
		b.ReportAllocs()
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/webhooks/whatsapp", nil)
		req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
		rd := bytes.NewReader(body)
		for b.Loop() {
			rd.Reset(body)
			req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
			if err := m.ServeHTTP(w, req, next); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ref, "x_json_valid")
	})
}

// A payload of the other channel is refused (400) and counted as spoofing
// before it is resolved: on a strict route, or with no default, it would
// otherwise be a 403 no-tenant that no spoofing alert sees.
func TestOtherChannelsPayloadIsRefusedBeforeResolution(t *testing.T) {
	gmail := `{"from":"guest1@barcelona.com","subject":"Consulta","body":"Hola","timestamp":"2025-10-22T10:30:00Z"}`
	for _, c := range []struct {
		name string
		mod  TenantResolve
		body string
	}{
		{"gmail payload on a strict whatsapp route", TenantResolve{Strict: true}, gmail},
		{"gmail payload on a whatsapp route with a default", TenantResolve{Default: "tenant_hotel_bcn"}, gmail},
		{"whatsapp payload on a gmail route", TenantResolve{Channel: "gmail", Strict: true}, whatsapp("106540352242922", "1", "34600111222")},
		{"whatsapp payload claiming gmail", TenantResolve{Strict: true}, `{"object":"whatsapp_business_account","channel":"gmail","entry":[]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := provisioned(t, &c.mod, directory(t))
			spoofed := testutil.ToFloat64(wa.ChannelSpoofingDetected)
			var resolved float64
			for _, r := range []tenancy.Result{tenancy.ResultHit, tenancy.ResultDefault, tenancy.ResultMissStrict, tenancy.ResultProvided} {
				resolved += testutil.ToFloat64(tenancy.Resolutions.WithLabelValues(string(r)))
			}
			rec, s := serve(t, m, c.body)
			if rec.Code != 400 || s.called || !strings.Contains(rec.Body.String(), "channel spoofing") {
				t.Fatalf("%d (next called %v) %s, want 400 channel spoofing", rec.Code, s.called, rec.Body)
			}
			if d := testutil.ToFloat64(wa.ChannelSpoofingDetected) - spoofed; d != 1 {
				t.Fatalf("channel_spoofing_detected_total +%v, want +1", d)
			}
			var after float64
			for _, r := range []tenancy.Result{tenancy.ResultHit, tenancy.ResultDefault, tenancy.ResultMissStrict, tenancy.ResultProvided} {
				after += testutil.ToFloat64(tenancy.Resolutions.WithLabelValues(string(r)))
			}
			if after != resolved {
				t.Fatalf("a spoofed payload was resolved")
			}
		})
	}
}
