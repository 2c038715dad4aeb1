// Package provisiontest provisions Caddy modules in unit tests the way a
// loaded config does: inside a real, empty configuration, so that a module
// asking for the `agente` app (as every module of ours does) gets one, in
// memory and with the development environment.
package provisiontest

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Context is a provisioning context of an empty config. The agente app it
// creates on demand runs in memory: the test's POSTGRES_URL and REDIS_URL
// are cleared for the test, so no shared database is migrated or used.
func Context(t testing.TB) caddy.Context {
	t.Helper()
	for _, k := range []string{"POSTGRES_URL", "REDIS_URL", "ENVIRONMENT", "TENANTS_FILE"} {
		t.Setenv(k, "")
	}
	ctx, err := caddy.ProvisionContext(&caddy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}
