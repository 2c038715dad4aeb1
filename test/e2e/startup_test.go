package e2e

// Start-up with a big tenant directory: 10,000 hotels and 100,000
// identifiers, from the tenants file and from Postgres. The test prints
// exec → serving, exec → first answer of a webhook for the last hotel, and
// the idle RSS; it holds the RSS to the 150 MB (memory, not a clock).

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

const (
	bigTenants     = 10000
	bigIdentifiers = 10          // per hotel: a business number and nine guests
	idleRSSLimit   = 150_000_000 // the 150 MB
)

// bigPNID is hotel i's WhatsApp business number.
func bigPNID(i int) string { return fmt.Sprintf("1065%011d", i) }

// bigGuest is guest j of hotel i.
func bigGuest(i, j int) string { return fmt.Sprintf("+3469%04d%04d", i, j) }

func TestStartupWithABigDirectory(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("tenants:\n")
		for i := range bigTenants {
			fmt.Fprintf(&b, "  - tenant_id: t%05d\n    name: Hotel %d\n    identifiers:\n      - {identifier: %q, type: phone_number_id}\n", i, i, bigPNID(i))
			for j := 1; j < bigIdentifiers; j++ {
				fmt.Fprintf(&b, "      - %q\n", bigGuest(i, j))
			}
		}
		path := filepath.Join(t.TempDir(), "tenants.yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		measureStartup(t, map[string]string{"TENANTS_FILE": path})
	})
	t.Run("postgres", func(t *testing.T) {
		url := testservices.Postgres(t)
		ctx := context.Background()
		pool, err := store.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := store.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		tenants := make([][]any, 0, bigTenants)
		ids := make([][]any, 0, bigTenants*bigIdentifiers)
		for i := range bigTenants {
			id := fmt.Sprintf("t%05d", i)
			tenants = append(tenants, []any{id, fmt.Sprintf("Hotel %d", i)})
			ids = append(ids, []any{id, "phone_number_id", bigPNID(i), "whatsapp"})
			for j := 1; j < bigIdentifiers; j++ {
				ids = append(ids, []any{id, "phone", bigGuest(i, j), "whatsapp"})
			}
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"tenants"}, []string{"id", "name"}, pgx.CopyFromRows(tenants)); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"tenant_user_identifiers"}, []string{"tenant_id", "identifier_type", "identifier_value", "channel"},
			pgx.CopyFromRows(ids)); err != nil {
			t.Fatal(err)
		}
		// No default tenant: creating it on a fresh database is a write
		// whose NOTIFY reloads the whole directory once more at start,
		// which a deployment does once in its life, not at every start.
		measureStartup(t, map[string]string{"POSTGRES_URL": url, "DEFAULT_TENANT_ID": ""})
	})
}

// measureStartup starts the binary in test mode (the webhook answers
// inline) and prints what it took to serve, to answer the last hotel's
// guest, and how much memory it holds idle.
func measureStartup(t *testing.T, env map[string]string) {
	env["ENVIRONMENT"] = "test"
	exec := time.Now()
	in := Start(t, Options{Env: env})
	serving := time.Since(exec)
	last := bigTenants - 1
	body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":%q},"contacts":[{"profile":{"name":"Ana"},"wa_id":%q}],"messages":[{"from":%q,"id":"wamid.big-1","timestamp":"%d","type":"text","text":{"body":"Hola"}}]}}]}]}`,
		bigPNID(last), strings.TrimPrefix(bigGuest(last, 1), "+"), strings.TrimPrefix(bigGuest(last, 1), "+"), time.Now().Unix())
	status, _, got := Do(t, http.MethodPost, in.URL("/webhooks/whatsapp"), []byte(body), signedBy(devSecret, body, nil))
	answered := time.Since(exec)
	if status != http.StatusOK {
		t.Fatalf("webhook for the last hotel: %d %s", status, got)
	}
	// The directory has the last hotel, with every identifier.
	tenant := callJSON(t, in, http.MethodGet, "/admin/tenants/"+fmt.Sprintf("t%05d", last), "", adminJSONHeader(t, "e2e-startup"), http.StatusOK)
	if ids, _ := tenant["identifiers"].([]any); len(ids) != bigIdentifiers {
		t.Fatalf("the last hotel has %d identifiers, want %d: %v", len(ids), bigIdentifiers, tenant)
	}
	time.Sleep(time.Second) // idle: the start's garbage collected
	idle := rss(t, in.cmd.Process.Pid)
	t.Logf("%d hotels, %d identifiers: exec → serving %s, exec → first webhook answered %s; idle RSS %s (limit %s)",
		bigTenants, bigTenants*bigIdentifiers, serving.Round(time.Millisecond), answered.Round(time.Millisecond), mb(idle), mb(idleRSSLimit))
	if idle > idleRSSLimit {
		t.Errorf("idle RSS %s over %s", mb(idle), mb(idleRSSLimit))
	}
}
