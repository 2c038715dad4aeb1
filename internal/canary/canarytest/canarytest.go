// Package canarytest holds the checks that the tests of every package
// running canary-diff share.
package canarytest

import (
	"encoding/json"
	"os"
	"testing"
)

// ReadReport reads the canary-diff report at path, failing t unless it is a
// JSON object with exactly the report's keys: status, fail_reasons,
// baseline, canary and limits.
func ReadReport(t testing.TB, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "fail_reasons", "baseline", "canary", "limits"} {
		if _, ok := doc[k]; !ok {
			t.Fatalf("report lacks %q: %s", k, raw)
		}
	}
	if len(doc) != 5 {
		t.Fatalf("report has extra keys: %s", raw)
	}
	return doc
}
