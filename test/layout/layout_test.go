// Package layout checks the repository's import rules, which keep the
// application out of the Caddy adapters: nothing under internal/ depends on
// Caddy or on a module, and a module depends on no other module but the
// agente app, whose package holds the contracts they share.
package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/agentehotel/agente-caddy"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// list runs `go list -deps`-style queries from the repository root.
func list(t *testing.T, patterns ...string) []pkg {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)...)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", patterns, err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %v: no packages", patterns)
	}
	return pkgs
}

func TestInternalDependsOnNoCaddyAndNoModule(t *testing.T) {
	for _, p := range list(t, "./internal/...") {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/caddyserver/") || strings.HasPrefix(d, module+"/modules/") {
				t.Errorf("%s depends on %s", p.ImportPath, d)
			}
		}
	}
}

func TestModulesImportOnlyTheApp(t *testing.T) {
	for _, p := range list(t, "./modules/...") {
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/modules/") && imp != module+"/modules/agente" {
				t.Errorf("%s imports %s", p.ImportPath, imp)
			}
		}
	}
}
