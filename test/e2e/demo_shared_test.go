package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// Two instances share one Postgres with the demo PMS: a guest books through
// one, and the booking is visible and cancellable through the other (the
// demo keeps its inventory and bookings in Postgres, and the conversation
// its session).
func TestDemoPMSSharedByTwoInstances(t *testing.T) {
	pgURL := testservices.Postgres(t)
	env := map[string]string{"ENVIRONMENT": "test", "POSTGRES_URL": pgURL, "PMS_TYPE": "demo", "RATE_LIMIT_ENABLED": "false"}
	a, b := Start(t, Options{Env: env}), Start(t, Options{Env: env})

	out, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, "admin-token", "--sub", "e2e-shared", "--ttl", "10m")
	if code != 0 {
		t.Fatalf("admin-token: exit %d\n%s", code, out)
	}
	hdr := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(out), "Content-Type": "application/json"}
	for _, call := range []struct{ path, body string }{
		{"/admin/tenants", `{"tenant_id":"tenant_hotel_bcn","name":"Hotel Barcelona Beach","pms_hotel_id":2}`},
		{"/admin/tenants/tenant_hotel_bcn/identifiers", `{"identifier":"` + madridPNID + `","type":"phone_number_id"}`},
	} {
		if status, _, got := Do(t, http.MethodPost, a.URL(call.path), []byte(call.body), hdr); status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", call.path, status, got)
		}
	}
	// The other instance learns the hotel from Postgres.
	testservices.Eventually(t, 5*time.Second, "instance b resolves the hotel", func() bool {
		status, _, got := Do(t, http.MethodGet, b.URL("/admin/tenants/tenant_hotel_bcn"), nil, hdr)
		return status == http.StatusOK && strings.Contains(got, madridPNID)
	})

	throughA := newPMSGuest(t, a)
	throughA.transcript = true
	throughB := *throughA
	throughB.in = b
	throughB.n = 100 // its messages' ids must not repeat a's (a repeated id is a redelivery)
	offers, _ := throughA.say("hola, ¿tenéis habitación " + stayPhrase(time.Now()) + " para 2?")
	if !strings.Contains(offers, "Hotel Barcelona Beach") || !strings.Contains(offers, "Doble Vista Mar") {
		t.Fatalf("offers %q: want the Barcelona hotel's own rooms", offers)
	}
	throughA.say("Doble Vista Mar, mi correo es ana.garcia@example.com")
	done, _ := throughA.say("sí")
	ref := regexp.MustCompile(`DEMO-\d+`).FindString(done)
	if ref == "" || !strings.Contains(done, "¡Reserva confirmada!") {
		t.Fatalf("booking through a: %q", done)
	}

	// Through b: the booking is there, and cancelling it frees the room.
	prompt, _ := throughB.say("quiero cancelar la reserva " + ref)
	if !strings.Contains(prompt, "Vas a cancelar la reserva "+ref) || !strings.Contains(prompt, "Doble Vista Mar") {
		t.Fatalf("cancel through b: %q, want the booking made through a", prompt)
	}
	if r, _ := throughB.say("sí"); !strings.Contains(r, "Reserva "+ref+" cancelada") {
		t.Fatalf("cancellation through b: %q", r)
	}
	db, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var status int
	if err := db.QueryRow(context.Background(), `SELECT status FROM demo_pms_bookings WHERE id = $1`, ref).Scan(&status); err != nil || status != 3 {
		t.Fatalf("demo_pms_bookings %s: status %d, %v; want 3 (cancelled)", ref, status, err)
	}
	// And through a, the cancellation is known too.
	if r, _ := throughA.say("quiero cancelar la reserva " + ref); !strings.Contains(r, "ya estaba cancelada") && !strings.Contains(r, "already") {
		t.Fatalf("cancel again through a: %q, want it already cancelled", r)
	}
}
