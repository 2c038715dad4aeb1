package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	internalhealth "github.com/agentehotel/agente-caddy/internal/health"
)

func TestUnmarshalCaddyfileRejectsUnknownOptions(t *testing.T) {
	for _, bad := range []string{
		"health",
		"health live ready",
		"health ready {\n timeout soon\n}",
		"health ready {\n timeout 1s 2s\n}",
		"health ready {\n colour blue\n}",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for field, h := range map[string]Handler{
		"check":   {Check: "dead"},
		"timeout": {Check: "ready", Timeout: -1},
		"errors":  {Check: "ready", Errors: "some"},
	} {
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestReadyShowsAFailingAdvisoryCheckAndStaysReady(t *testing.T) {
	checks := new(internalhealth.Checker)
	checks.Add("database", func(context.Context) error { return nil })
	checks.AddAdvisory("pms_hotel_ids", func(context.Context) error { return errors.New("hotel_new has no pms_hotel_id") })
	h := &Handler{Check: "ready", Timeout: caddy.Duration(time.Second), readiness: checks, showErrors: true}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, httptest.NewRequest("GET", "/health/ready", nil), nil); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Ready        bool                      `json:"ready"`
		Dependencies map[string]map[string]any `json:"dependencies"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	ids := body.Dependencies["pms_hotel_ids"]
	if rec.Code != 200 || !body.Ready || ids["up"] != false || ids["advisory"] != true || ids["error"] != "hotel_new has no pms_hotel_id" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if _, ok := body.Dependencies["database"]["advisory"]; ok {
		t.Errorf("a required check is marked advisory: %s", rec.Body)
	}
}

func TestReadyHidesErrorTextUnlessShown(t *testing.T) {
	checks := new(internalhealth.Checker)
	checks.Add("database", func(context.Context) error { return errors.New("dial tcp 10.0.0.7:5432: connect: connection refused") })
	checks.Add("redis", func(context.Context) error { return nil })
	for _, show := range []bool{false, true} {
		h := &Handler{Check: "ready", Timeout: caddy.Duration(time.Second), readiness: checks, showErrors: show}
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, httptest.NewRequest("GET", "/health/ready", nil), nil); err != nil {
			t.Fatal(err)
		}
		body := rec.Body.String()
		if rec.Code != 503 || !strings.Contains(body, `"up":false`) || !strings.Contains(body, `"redis":{"up":true}`) {
			t.Fatalf("show=%v: %d %s", show, rec.Code, body)
		}
		if strings.Contains(body, "10.0.0.7") != show {
			t.Fatalf("show=%v: error text shown=%v: %s", show, !show, body)
		}
	}
}
