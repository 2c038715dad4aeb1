package chat

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetadataFilterSeedCase(t *testing.T) {
	// The metadata of the staging payload whatsapp_malicious_metadata
	// (internal/whatsapp/testdata/seed_whatsapp_malicious_metadata.json).
	md := map[string]any{
		"malicious_key":     "should_be_filtered",
		"x_tenant_override": "tenant_hotel_bcn",
		"safe_key":          "should_pass",
	}

	t.Run("default allowlist drops all three", func(t *testing.T) {
		kept, dropped := MetadataFilter{}.Filter(md)
		if kept != nil || dropped != 3 {
			t.Fatalf("kept=%v dropped=%d, want nil, 3", kept, dropped)
		}
	})
	t.Run("allowlist extended with safe_key keeps it", func(t *testing.T) {
		f := NewMetadataFilter(append(append([]string{}, DefaultAllowedMetadata...), "safe_key"))
		before := testutil.ToFloat64(MetadataFilteredKeys)
		kept := f.Apply(md)
		if len(kept) != 1 || kept["safe_key"] != "should_pass" {
			t.Fatalf("kept=%v, want only safe_key", kept)
		}
		if got := testutil.ToFloat64(MetadataFilteredKeys) - before; got != 2 {
			t.Fatalf("metadata_filtered_keys_total grew by %v, want 2", got)
		}
		if len(md) != 3 {
			t.Fatal("Apply modified its input")
		}
	})
}

func TestMetadataFilterAllowlist(t *testing.T) {
	md := map[string]any{"user_context": map[string]any{"a": 1.0}, "language_hint": "es", "tenant_id": "x"}
	kept, dropped := MetadataFilter{}.Filter(md)
	if dropped != 1 || len(kept) != 2 || kept["language_hint"] != "es" {
		t.Fatalf("kept=%v dropped=%d", kept, dropped)
	}
	kept, dropped = MetadataFilter{Allowed: map[string]bool{}}.Filter(md)
	if kept != nil || dropped != 3 {
		t.Fatalf("empty allowlist: kept=%v dropped=%d", kept, dropped)
	}
	if kept, dropped = (MetadataFilter{}).Filter(nil); kept != nil || dropped != 0 {
		t.Fatalf("nil metadata: kept=%v dropped=%d", kept, dropped)
	}
}

func TestRecordNormalized(t *testing.T) {
	c := MessagesNormalized.WithLabelValues("whatsapp", "tenant_test_record")
	before := testutil.ToFloat64(c)
	RecordNormalized(WhatsApp, "tenant_test_record", 3)
	RecordNormalized(WhatsApp, "tenant_test_record", 0)
	if got := testutil.ToFloat64(c) - before; got != 3 {
		t.Fatalf("grew by %v, want 3", got)
	}
}

func TestDecodeMetadata(t *testing.T) {
	before := testutil.ToFloat64(MetadataFilteredKeys)
	for _, raw := range []string{"", "null"} {
		if md := DecodeMetadata([]byte(raw)); md != nil {
			t.Errorf("%q: %v, want nil", raw, md)
		}
	}
	if md := DecodeMetadata([]byte(`{"source":"web","x":1}`)); len(md) != 2 || md["source"] != "web" {
		t.Errorf("object: %v", md)
	}
	if got := testutil.ToFloat64(MetadataFilteredKeys) - before; got != 0 {
		t.Fatalf("counted %v for absent, null and an object", got)
	}
	for _, raw := range []string{`["x_tenant_override"]`, `"x"`, `5`} {
		if md := DecodeMetadata([]byte(raw)); md != nil {
			t.Errorf("%s: %v, want nil", raw, md)
		}
	}
	if got := testutil.ToFloat64(MetadataFilteredKeys) - before; got != 3 {
		t.Fatalf("non-objects counted %v, want one each (3)", got)
	}
}
