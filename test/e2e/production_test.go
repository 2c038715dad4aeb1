package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestProductionTraffic: the binary as it runs in production
// (ENVIRONMENT=production with real secrets, Postgres, Redis, no default
// hotel, the shipped Caddyfile and its rate limits), each hotel registered
// by its phone_number_id alone, as the README says. Meta gets a 2xx for
// every payload of the corpus; a hotel's receipts do not use up its guests'
// budget; a NUL in one message of a batch costs nothing.
func TestProductionTraffic(t *testing.T) {
	appSecret, jwtSecret, token := randomSecret(t), randomSecret(t), "EAAG"+randomSecret(t)
	graph := fakegraph.Start(t, token)
	pgURL := testservices.Postgres(t)
	redisURL, prefix := testservices.Redis(t)
	in := Start(t, Options{ReadyPath: "/health/ready", Env: map[string]string{
		"ENVIRONMENT":           "production",
		"SECRET_KEY":            randomSecret(t),
		"JWT_SECRET_KEY":        jwtSecret,
		"WHATSAPP_APP_SECRET":   appSecret,
		"WHATSAPP_VERIFY_TOKEN": randomSecret(t),
		"WHATSAPP_ACCESS_TOKEN": token,
		"WHATSAPP_API_BASE":     graph.BaseURL(),
		"GMAIL_WEBHOOK_SECRET":  randomSecret(t),
		"POSTGRES_URL":          pgURL,
		"REDIS_URL":             redisURL,
		"REDIS_KEY_PREFIX":      prefix,
	}})
	db, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	s := &agentStack{t: t, in: in, graph: graph, db: db}
	admin := mintAdminToken(t, jwtSecret, "ops", "10m")
	man := readCorpus(t)
	numbers := slices.Clone(man.ExtraPhoneNumberIDs) // Meta knows them; no hotel registered them
	register := func(tenant, name, pnid string) {
		t.Helper()
		if status, got := adminCall(t, in, admin, "POST", "/admin/tenants", fmt.Sprintf(`{"tenant_id":%q,"name":%q}`, tenant, name)); status != 201 {
			t.Fatalf("create %s: %d %s", tenant, status, got)
		}
		if status, got := adminCall(t, in, admin, "POST", "/admin/tenants/"+tenant+"/identifiers", fmt.Sprintf(`{"identifier":%q,"type":"phone_number_id"}`, pnid)); status != 201 {
			t.Fatalf("register %s's phone_number_id: %d %s", tenant, status, got)
		}
		numbers = append(numbers, pnid)
		graph.AllowPhoneNumberIDs(numbers...)
	}
	var tenants int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM tenants`).Scan(&tenants); err != nil || tenants != 0 {
		t.Fatalf("a production start created %d tenants (%v), want none", tenants, err)
	}
	for _, h := range man.Hotels {
		register(h.Tenant, h.Name, h.PhoneNumberID)
	}
	w := newWebhookClient(4)
	w.secret = appSecret

	t.Run("every corpus payload is acknowledged", func(t *testing.T) {
		payloads := make([][]byte, len(man.Payloads))
		for i, p := range man.Payloads {
			if payloads[i], err = os.ReadFile(filepath.Join(corpusDir, p.File)); err != nil {
				t.Fatal(err)
			}
		}
		shift := time.Now().Unix() - latestTimestamp(payloads)
		var refused []string
		for i, p := range man.Payloads {
			status, got, err := w.post(in.URL("/webhooks/whatsapp"), shiftTimestamps(payloads[i], shift))
			if err != nil || status/100 != 2 {
				refused = append(refused, fmt.Sprintf("%s: %d %s %v", p.File, status, got, err))
			}
		}
		s.waitQuiet(90 * time.Second)
		var unrouted int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM webhook_unrouted`).Scan(&unrouted); err != nil {
			t.Fatal(err)
		}
		t.Logf("corpus in production: %d payloads, %d not 2xx; %d replies sent; %d events kept unrouted",
			len(man.Payloads), len(refused), len(graph.Messages()), unrouted)
		if len(refused) > 0 {
			t.Errorf("payloads not acknowledged 2xx:\n%s", strings.Join(refused, "\n"))
		}
		if unrouted == 0 {
			t.Error("nothing kept unrouted: the corpus has events for no registered hotel")
		}
	})

	t.Run("receipts do not use up the guests' budget", func(t *testing.T) {
		const pnid = "108880000000130"
		register("hotel_receipts", "Hotel Recibos", pnid)
		guest := newGuestPhone()
		for i := range 130 {
			body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"108880000000001","changes":[{"field":"messages","value":{
				"messaging_product":"whatsapp","metadata":{"display_phone_number":"34910000130","phone_number_id":%q},
				"statuses":[{"id":"wamid.receipt-%d","status":%q,"timestamp":"%d","recipient_id":%q}]}}]}]}`,
				pnid, i/3, []string{"sent", "delivered", "read"}[i%3], time.Now().Unix(), guest)
			if status, got, err := w.post(in.URL("/webhooks/whatsapp"), []byte(body)); err != nil || status != http.StatusOK {
				t.Fatalf("receipt %d: %d %s %v", i+1, status, got, err)
			}
		}
		m := fromGuest(guest, "wamid.after-receipts")
		m.PhoneNumberID, m.Text = pnid, "Hola"
		if status, got, err := w.post(in.URL("/webhooks/whatsapp"), []byte(m.JSON())); err != nil || status != http.StatusOK {
			t.Fatalf("the guest's text after 130 receipts: %d %s %v, want 200", status, got, err)
		}
		if r := s.waitReplies(guest, 1, 30*time.Second); !strings.Contains(string(r[0].Raw), "Hotel Recibos") {
			t.Errorf("reply to the guest: %s", r[0].Raw)
		}
	})

	t.Run("a NUL in one message of a batch", func(t *testing.T) {
		pnid := man.Hotels[0].PhoneNumberID
		a, b, c := newGuestPhone(), newGuestPhone(), newGuestPhone()
		now := time.Now().Unix()
		body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
			"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},
			"contacts":[{"profile":{"name":"Ana"},"wa_id":%q},{"profile":{"name":"Nul\u0000l"},"wa_id":%q},{"profile":{"name":"Carmen"},"wa_id":%q}],
			"messages":[
				{"from":%q,"id":"wamid.batch-a","timestamp":"%d","type":"text","text":{"body":"Hola"}},
				{"from":%q,"id":"wamid.batch-\u0000b","timestamp":"%d","type":"text","text":{"body":"Ho\u0000la\u0000"}},
				{"from":%q,"id":"wamid.batch-c","timestamp":"%d","type":"text","text":{"body":"Buenas tardes"}}]}}]}]}`,
			pnid, a, b, c, a, now, b, now, c, now)
		if status, got, err := w.post(in.URL("/webhooks/whatsapp"), []byte(body)); err != nil || status != http.StatusOK {
			t.Fatalf("batch with a NUL: %d %s %v, want 200", status, got, err)
		}
		for _, g := range []string{a, b, c} {
			s.waitReplies(g, 1, 30*time.Second)
		}
		var text string
		if err := db.QueryRow(context.Background(), `SELECT payload->>'text' FROM inbox_messages WHERE message_id = 'wamid.batch-b'`).Scan(&text); err != nil || text != "Hola" {
			t.Errorf("the NUL message stored as %q (%v), want its text without the NULs", text, err)
		}
	})
}
