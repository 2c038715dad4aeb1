package chat

import "encoding/json"

// DefaultAllowedMetadata is the original system's metadata allowlist.
var DefaultAllowedMetadata = []string{
	"user_context",
	"custom_fields",
	"source",
	"external_request_id",
	"language_hint",
	"subject",
	"from_full",
}

var defaultAllowed = NewMetadataFilter(DefaultAllowedMetadata).Allowed

// MetadataFilter decides which keys of a message's client-supplied metadata
// reach the agent. Metadata arrives inside the payload, so anything in it is
// attacker-controlled (the original system's staging payload
// whatsapp_malicious_metadata carries an "x_tenant_override" key): only
// allow-listed keys survive.
//
// The zero value (Allowed == nil) applies DefaultAllowedMetadata; a non-nil
// empty map drops every key.
type MetadataFilter struct {
	Allowed map[string]bool
}

// NewMetadataFilter returns a filter that keeps exactly keys.
func NewMetadataFilter(keys []string) MetadataFilter {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return MetadataFilter{Allowed: m}
}

// Allows reports whether key survives the filter.
func (f MetadataFilter) Allows(key string) bool {
	if f.Allowed == nil {
		return defaultAllowed[key]
	}
	return f.Allowed[key]
}

// Filter returns the allow-listed part of md (nil when nothing survives) and
// how many keys it dropped. md is not modified. Callers normally use Apply,
// which also counts the dropped keys.
func (f MetadataFilter) Filter(md map[string]any) (kept map[string]any, dropped int) {
	for k, v := range md {
		if !f.Allows(k) {
			dropped++
			continue
		}
		if kept == nil {
			kept = make(map[string]any, len(md))
		}
		kept[k] = v
	}
	return kept, dropped
}

// Apply is Filter plus counting each dropped key in
// metadata_filtered_keys_total.
func (f MetadataFilter) Apply(md map[string]any) map[string]any {
	kept, dropped := f.Filter(md)
	if dropped > 0 {
		MetadataFilteredKeys.Add(float64(dropped))
	}
	return kept
}

// DecodeMetadata reads the client-supplied metadata of a payload, before
// filtering. Absent or null is nil. A JSON value that is not an object has
// no key that could be allow-listed: it is dropped and counted as one key in
// metadata_filtered_keys_total.
func DecodeMetadata(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	var md map[string]any
	if err := json.Unmarshal(raw, &md); err != nil {
		MetadataFilteredKeys.Inc()
		return nil
	}
	return md
}
