package whatsapp

import (
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

// The metric names are the ones the dashboards and alerts under observability/
// query; a reload registers the same collectors again without error.
func TestCollectorsRegisterAndNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := 0; i < 2; i++ {
		if err := telemetry.Register(reg, Collectors()...); err != nil {
			t.Fatal(err)
		}
	}
	Normalize([]byte(`{}`), NormalizeOptions{})
	Normalize(readFixture(t, "seed_whatsapp_malicious_metadata.json"), NormalizeOptions{})
	chat.RecordNormalized(chat.WhatsApp, "tenant_hotel_madrid", 1)
	CheckChannel(chat.WhatsApp, readFixture(t, "seed_gmail_tenant_bcn.json"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	sort.Strings(names)
	want := []string{"channel_spoofing_detected_total", "message_normalization_errors_total", "message_normalization_latency_seconds",
		"message_normalized_total", "metadata_filtered_keys_total"}
	if len(names) != len(want) {
		t.Fatalf("names %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v", names, want)
		}
	}
}
