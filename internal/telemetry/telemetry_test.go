package telemetry

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEndpointTemplates(t *testing.T) {
	for path, want := range map[string]string{
		"/webhooks/whatsapp":                        "/webhooks/whatsapp",
		"/webhooks/whatsapp/":                       "/webhooks/whatsapp",
		"/admin/tenants":                            "/admin/tenants",
		"/admin/tenants/refresh":                    "/admin/tenants/refresh",
		"/admin/tenants/hotel_1":                    "/admin/tenants/{id}",
		"/admin/tenants/hotel_1/identifiers":        "/admin/tenants/{id}/identifiers",
		"/admin/tenants/hotel_1/identifiers/+34600": "/admin/tenants/{id}/identifiers/{identifier}",
		"/admin/feature-flags/features.interactive": "/admin/feature-flags/{flag}",
		"/":                  "other",
		"/admin/tenants//x":  "other",
		"/wp-login.php":      "other",
		"/health/live/extra": "other",
	} {
		if got := Endpoint(path); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestRegisterToleratesSecondConfig(t *testing.T) {
	first, second := prometheus.NewRegistry(), prometheus.NewRegistry()
	for _, reg := range []*prometheus.Registry{first, second, first} {
		if err := Register(reg, HTTPCollectors()...); err != nil {
			t.Fatal(err)
		}
	}
	HTTPRequests.WithLabelValues("GET", "/health/live", "200").Inc()
	mfs, err := second.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "http_requests_total" {
			found = true
		}
	}
	if !found {
		t.Fatal("http_requests_total not gathered from the second registry")
	}
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "http_requests_total", Help: "other"})
	if err := Register(first, clash); err == nil {
		t.Fatal("a different collector with a taken name must be an error")
	}
}

// BenchmarkObserveRequest is request_metrics' recording of one webhook
// request: the endpoint's template, then its two series.
func BenchmarkObserveRequest(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ObserveRequest("POST", Endpoint("/webhooks/whatsapp"), 200, 0.001)
		}
	})
	b.Run("label lookups", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			endpoint := matchEndpoint("/webhooks/whatsapp")
			HTTPRequests.WithLabelValues("POST", endpoint, strconv.Itoa(200)).Inc()
			RequestDuration.WithLabelValues("POST", endpoint).Observe(0.001)
		}
	})
}

func TestEndpointOfLiteralPathsIsTheTemplateMatch(t *testing.T) {
	for _, p := range append(slices.Clone(knownEndpoints), "/webhooks/whatsapp/", "/admin/tenants/x", "/nope") {
		trimmed := p
		if len(p) > 1 {
			trimmed = strings.TrimSuffix(p, "/")
		}
		if got, want := Endpoint(p), matchEndpoint(trimmed); got != want {
			t.Errorf("Endpoint(%q) = %q, matching gives %q", p, got, want)
		}
	}
}
