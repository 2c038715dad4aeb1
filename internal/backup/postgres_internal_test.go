package backup

import (
	"slices"
	"strings"
	"testing"
)

// pg_dump gets the URL without its password (which goes in PGPASSWORD,
// out of the process list) and without the pool settings libpq refuses.
func TestLibpqTargetMovesThePasswordAndDropsPoolSettings(t *testing.T) {
	dbname, env, err := libpqTarget("postgres://agente:p%40ss%2Fw0rd@postgres:5432/agente?sslmode=disable&pool_max_conns=40&statement_cache_capacity=0&application_name=x")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://agente@postgres:5432/agente?application_name=x&sslmode=disable"; dbname != want {
		t.Errorf("dbname %q, want %q", dbname, want)
	}
	if !slices.Contains(env, "PGPASSWORD=p@ss/w0rd") {
		t.Errorf("PGPASSWORD not in the environment (decoded)")
	}
	if strings.Contains(dbname, "w0rd") {
		t.Errorf("the password is still in %q", dbname)
	}
	if _, _, err := libpqTarget("host=127.0.0.1 user=postgres"); err == nil {
		t.Error("a key=value string was taken for a URL")
	}
}
