// Package adapttest runs golden Caddyfile→JSON adapt tests, the format of
// Caddy's own caddytest/integration/caddyfile_adapt: each file holds a
// Caddyfile, a line of ten dashes, and the JSON it must adapt to.
package adapttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// Separator divides a golden file's Caddyfile from its JSON.
const Separator = "----------"

// Split returns the Caddyfile and JSON halves of a golden file.
func Split(t testing.TB, file string) (caddyfile, json string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(string(data), Separator, 2)
	if len(parts) != 2 {
		t.Fatalf("%s: missing the %s separator", file, Separator)
	}
	return parts[0], strings.TrimSpace(parts[1])
}

// Run compares every file matching pattern (e.g. testdata/*.caddyfiletest)
// with what the Caddyfile adapter makes of its Caddyfile.
func Run(t *testing.T, pattern string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files match %s (%v)", pattern, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cf, want := Split(t, f)
			// CompareAdapt only logs the adapter's warnings (e.g. a
			// directive without an order); a golden file must have none.
			if _, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil); err == nil && len(warnings) > 0 {
				t.Errorf("%s: adapter warnings: %v", f, warnings)
			}
			if !caddytest.CompareAdapt(t, f, cf, "caddyfile", want) {
				t.Errorf("%s: adapted JSON differs from the golden file (diff above)", f)
			}
		})
	}
}
