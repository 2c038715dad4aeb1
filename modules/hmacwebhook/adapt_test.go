package hmacwebhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// TestCaddyfileAdapt compares each testdata/*.caddyfiletest (a Caddyfile,
// a line of dashes, the JSON it must adapt to) with the adapter's output.
// Run with -update to rewrite the JSON halves after an intended change.
func TestCaddyfileAdapt(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.SplitN(string(data), "----------", 2)
		if len(parts) != 2 {
			t.Fatalf("%s: missing the ---------- separator", f)
		}
		if !caddytest.CompareAdapt(t, f, parts[0], "caddyfile", strings.TrimSpace(parts[1])) {
			t.Errorf("%s: adapted JSON differs", f)
		}
	}
}
