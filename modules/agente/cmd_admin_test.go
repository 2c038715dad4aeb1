package agente

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/pflag"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// runCommand runs a registered subcommand's function with args and returns
// its exit code, error and stdout.
func runCommand(t *testing.T, name string, args ...string) (int, error, string) {
	t.Helper()
	if _, ok := caddycmd.Commands()[name]; !ok {
		t.Fatalf("subcommand %s not registered", name)
	}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	switch name {
	case "admin-token":
		fs.String("sub", "", "")
		fs.Duration("ttl", time.Hour, "")
		fs.String("role", "admin", "")
		fs.StringSlice("tenant", nil, "")
	case "migrate":
		fs.String("url", "", "")
		fs.Duration("timeout", time.Minute, "")
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	fn := map[string]caddycmd.CommandFunc{"admin-token": cmdAdminToken, "migrate": cmdMigrate}[name]

	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	code, err := fn(caddycmd.Flags{FlagSet: fs})
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return code, err, string(out)
}

func TestAdminToken(t *testing.T) {
	secret := "a-test-secret-of-at-least-32-bytes!!"
	t.Setenv("JWT_SECRET_KEY", secret)
	code, err, out := runCommand(t, "admin-token", "--sub", "ops@hotel", "--ttl", "10m")
	if code != 0 || err != nil {
		t.Fatalf("admin-token: %d %v", code, err)
	}
	claims, err := adminauth.Verify("Bearer "+strings.TrimSpace(out), []byte(secret), time.Now())
	if err != nil || claims.Subject != "ops@hotel" || time.Until(claims.ExpiresAt) > 10*time.Minute {
		t.Fatalf("minted token: %+v %v", claims, err)
	}
	if code, err, _ := runCommand(t, "admin-token"); code == 0 || err == nil || !strings.Contains(err.Error(), "--sub") {
		t.Fatalf("without --sub: %d %v", code, err)
	}
	if code, err, _ := runCommand(t, "admin-token", "--sub", "x", "--ttl", "-1m"); code == 0 || err == nil {
		t.Fatalf("negative ttl: %d %v", code, err)
	}
	// Development and test mint with the documented development key; where
	// real secrets are required there is no fallback.
	t.Setenv("JWT_SECRET_KEY", "")
	t.Setenv("ENVIRONMENT", "production")
	if code, err, _ := runCommand(t, "admin-token", "--sub", "x"); code == 0 || err == nil || !strings.Contains(err.Error(), "JWT_SECRET_KEY") {
		t.Fatalf("without secret: %d %v", code, err)
	}
}

func TestMigrateCommand(t *testing.T) {
	url := testservices.Postgres(t)
	t.Setenv("POSTGRES_URL", url)
	code, err, out := runCommand(t, "migrate")
	if code != 0 || err != nil || !strings.Contains(out, "applied 0001_core") || !strings.Contains(out, "applied 0005_tenancy") {
		t.Fatalf("migrate: %d %v %q", code, err, out)
	}
	code, err, out = runCommand(t, "migrate", "--url", url)
	if code != 0 || err != nil || strings.TrimSpace(out) != "schema up to date" {
		t.Fatalf("second migrate: %d %v %q", code, err, out)
	}
	t.Setenv("POSTGRES_URL", "")
	if code, err, _ := runCommand(t, "migrate"); code == 0 || err == nil {
		t.Fatalf("without POSTGRES_URL: %d %v", code, err)
	}
}
