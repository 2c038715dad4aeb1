package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// The PMS through the real binary: PMS_TYPE=qloapps against the fake
// QloApps, the resilience layer's breaker, stale answers and timeout, and a
// booking retried after a timeout.

const (
	qloappsKey = "E2EQLOAPPSWEBSERVICEKEY0123456789"
	// pmsTimeout is the `pms { timeout }` of testdata/pms.Caddyfile (whose
	// breaker_open is 2s).
	pmsTimeout = time.Second
	// requestSlack is what a request may add to the PMS budget (the
	// orchestrator, the inbox, loopback HTTP) on a busy machine.
	requestSlack = 750 * time.Millisecond
	madridPNID   = "106540352242922" // caddy/dev-tenants.yaml
	staleCaveat  = "no he podido actualizar los datos"
)

// pmsGuest is a guest of the Madrid hotel writing through the binary.
type pmsGuest struct {
	t     *testing.T
	in    *Instance
	phone string
	name  string // WhatsApp profile name
	n     int
	// transcript logs every exchange (go test -v shows the conversation).
	transcript bool
}

var pmsGuestSeq int

func newPMSGuest(t *testing.T, in *Instance) *pmsGuest {
	pmsGuestSeq++
	return &pmsGuest{t: t, in: in, phone: fmt.Sprintf("4479333%05d", pmsGuestSeq), name: "Pablo García"}
}

// say sends text and returns the reply and how long the request took.
func (g *pmsGuest) say(text string) (string, time.Duration) {
	g.t.Helper()
	g.n++
	body := whatsapptest.Message{PhoneNumberID: madridPNID, From: g.phone, ID: fmt.Sprintf("wamid.%s-%d", g.phone, g.n), Text: text, Name: g.name}.JSON()
	start := time.Now()
	status, got := postWhatsApp(g.t, g.in, "/webhooks/whatsapp", body, nil)
	took := time.Since(start)
	if status != 200 {
		g.t.Fatalf("%q: %d %s", text, status, got)
	}
	reply := replyText(g.t, got)
	if g.transcript {
		g.t.Logf("guest: %s\nagent: %s", text, reply)
	}
	return reply, took
}

const askAvailability = "hola, ¿tenéis habitación del 5 al 7 de diciembre para 2?"

func startQloAppsInstance(t *testing.T) (*Instance, *fakeqloapps.Server) {
	fake := fakeqloapps.Start(t, qloappsKey)
	in := Start(t, Options{Config: "test/e2e/testdata/pms.Caddyfile", Env: map[string]string{
		"ENVIRONMENT": "test", "PMS_TYPE": "qloapps", "PMS_BASE_URL": fake.URL, "PMS_API_KEY": qloappsKey,
		"JWT_SECRET_KEY": adminSecret, "RATE_LIMIT_ENABLED": "false",
	}})
	return in, fake
}

// breakerState reads pms_circuit_breaker_state (0 closed, 1 open, 2 half-open).
func breakerState(t *testing.T, in *Instance) float64 {
	t.Helper()
	v, ok := scrape(t, in.URL("/metrics")).value("pms_circuit_breaker_state")
	if !ok {
		t.Fatal("/metrics lacks pms_circuit_breaker_state")
	}
	return v
}

// TestQloAppsBreakerStaleAndRecovery: the PMS fault test through the
// binary. Guests get QloApps offers; a PMS that hangs costs a guest no more
// than the configured timeout and the answer comes from the cache, marked
// stale; a PMS answering 500 opens the breaker after 5 consecutive
// failures, after which guests get the stale offers without the PMS being
// called; once the PMS is back the breaker goes half-open, and the next
// question closes it with a fresh answer.
func TestQloAppsBreakerStaleAndRecovery(t *testing.T) {
	in, fake := startQloAppsInstance(t)
	token := mintAdminToken(t, adminSecret, "ops", "5m")
	ask := func(what string) (string, time.Duration) {
		t.Helper()
		r, took := newPMSGuest(t, in).say(askAvailability)
		if took > pmsTimeout+requestSlack {
			t.Fatalf("%s: the guest waited %v, more than the PMS timeout %v (+%v)", what, took, pmsTimeout, requestSlack)
		}
		if !strings.Contains(r, "Disponibilidad en Hotel Madrid Central") || !strings.Contains(r, "Habitaciones generales: 220,00 USD") ||
			!strings.Contains(r, "Habitaciones de lujo: 330,00 USD") {
			t.Fatalf("%s: no QloApps offers in %q", what, r)
		}
		return r, took
	}
	counter := func(series string) float64 { return metric(t, in, series) }

	// 1. Fresh offers from QloApps (hotel_ari, room types 1 and 2 of hotel 1).
	if r, _ := ask("fresh"); strings.Contains(r, staleCaveat) {
		t.Fatalf("fresh answer marked stale: %q", r)
	}
	if n := fake.Calls(fakeqloapps.HotelARI); n != 1 {
		t.Fatalf("hotel_ari calls %d, want 1", n)
	}

	// 2. QloApps hangs: the guest waits the PMS timeout, not the PMS, and
	// gets the cached offers with the caveat.
	stale := counter("pms_stale_cache_hits_total")
	timeouts := counter(`pms_errors_total{error_type="timeout",operation="availability"}`)
	fake.Inject(fakeqloapps.HotelARI, 1, fakeqloapps.Hang, 30*time.Second)
	r, took := ask("PMS hangs")
	if !strings.Contains(r, staleCaveat) || took < pmsTimeout-100*time.Millisecond {
		t.Fatalf("PMS hangs: %v %q, want the stale offers after about %v", took, r, pmsTimeout)
	}
	t.Logf("hung PMS answered from the cache after %v", took)
	if counter("pms_stale_cache_hits_total") != stale+1 || counter(`pms_errors_total{error_type="timeout",operation="availability"}`) != timeouts+1 {
		t.Fatal("the timeout or the stale hit was not counted")
	}

	// 3. QloApps answers 500: one failure so far (the timeout), the next
	// 4 open the breaker. Every guest still gets the stale offers.
	fake.Inject(fakeqloapps.HotelARI, 1<<20, fakeqloapps.ServerError, 0)
	for i := 1; breakerState(t, in) != 1; i++ {
		if i > 3 {
			t.Fatalf("breaker still closed after %d guests and %d hotel_ari calls", i-1, fake.Calls(fakeqloapps.HotelARI))
		}
		if r, _ := ask(fmt.Sprintf("PMS 500, guest %d", i)); !strings.Contains(r, staleCaveat) {
			t.Fatalf("PMS 500: no caveat in %q", r)
		}
	}
	// 1 fresh call + 1 timed out + 4 answered 500: the 5th consecutive
	// failure opened the breaker and nothing more reached QloApps.
	if n := fake.Calls(fakeqloapps.HotelARI); n != 6 {
		t.Fatalf("hotel_ari calls %d when the breaker opened, want 6", n)
	}
	if v := counter("pms_circuit_breaker_failure_streak"); v != 5 {
		t.Fatalf("pms_circuit_breaker_failure_streak %v, want 5", v)
	}
	if counter(`pms_errors_total{error_type="http_5xx",operation="availability"}`) != 4 {
		t.Fatal("the 500s were not counted as http_5xx")
	}

	// 4. Open: guests get the stale offers at once, QloApps is not called.
	rejected := counter(`pms_circuit_breaker_calls_total{result="rejected",state="open"}`)
	calls := fake.Calls(fakeqloapps.HotelARI)
	r, took = ask("breaker open")
	if !strings.Contains(r, staleCaveat) || fake.Calls(fakeqloapps.HotelARI) != calls {
		t.Fatalf("breaker open: %q, hotel_ari calls %d → %d", r, calls, fake.Calls(fakeqloapps.HotelARI))
	}
	if counter(`pms_circuit_breaker_calls_total{result="rejected",state="open"}`) != rejected+1 {
		t.Fatal("the rejected call was not counted")
	}
	t.Logf("open breaker: stale answer in %v", took)

	// 5. QloApps is back; after breaker_open (2s) the breaker is half-open
	// (the dashboard and /metrics say so) and lets one probe through.
	fake.ClearFaults()
	testservices.Eventually(t, 5*time.Second, "the breaker goes half-open", func() bool {
		status, body := adminCall(t, in, token, "GET", "/admin/dashboard", "")
		return status == 200 && strings.Contains(body, `"pms_breaker_state":"half_open"`)
	})
	if v := breakerState(t, in); v != 2 {
		t.Fatalf("pms_circuit_breaker_state %v while half-open, want 2", v)
	}

	// 6. The next guest's question is the probe: fresh offers, breaker closed.
	probes := counter(`pms_circuit_breaker_calls_total{result="success",state="half_open"}`)
	if r, _ := ask("probe"); strings.Contains(r, staleCaveat) {
		t.Fatalf("answer after recovery still stale: %q", r)
	}
	if breakerState(t, in) != 0 || counter("pms_circuit_breaker_failure_streak") != 0 ||
		counter(`pms_circuit_breaker_calls_total{result="success",state="half_open"}`) != probes+1 {
		t.Fatal("the successful probe did not close the breaker")
	}
	if _, body := adminCall(t, in, token, "GET", "/admin/dashboard", ""); !strings.Contains(body, `"pms_breaker_state":"closed"`) {
		t.Fatalf("dashboard after recovery: %s", body)
	}
	if n := fake.Calls(fakeqloapps.HotelARI); n != calls+1 {
		t.Fatalf("hotel_ari calls %d after the probe, want %d", n, calls+1)
	}
}

// TestQloAppsBookingRetriedAfterTimeoutBooksOnce: QloApps makes the booking
// but its answer never comes back; the guest is told to try again, and the
// guest's second "sí" returns that booking instead of booking twice (the
// booking reference is looked up first).
func TestQloAppsBookingRetriedAfterTimeoutBooksOnce(t *testing.T) {
	in, fake := startQloAppsInstance(t)
	g := newPMSGuest(t, in)
	// QloApps needs the guest's full name, email and phone: the name is the
	// WhatsApp profile's, the phone the sender's, and the email is asked
	// before the confirmation.
	for _, step := range []struct{ say, want string }{
		{askAvailability, "1. Habitaciones generales: 220,00 USD"},
		{"1", "¿A qué correo electrónico te enviamos la confirmación"},
		{"pablo@example.com", "Titular: Pablo García (pablo@example.com, +" + g.phone + ")"},
	} {
		if r, _ := g.say(step.say); !strings.Contains(r, step.want) {
			t.Fatalf("%q: %q, want %q", step.say, r, step.want)
		}
	}
	fake.Inject(fakeqloapps.CreateBooking, 1, fakeqloapps.Hang, 30*time.Second)
	r, took := g.say("sí")
	if took > pmsTimeout+requestSlack || !strings.Contains(r, "no puedo consultar el sistema de reservas") {
		t.Fatalf("booking whose answer is lost: %v %q", took, r)
	}
	if b := fake.Bookings(); len(b) != 1 {
		t.Fatalf("QloApps holds %d bookings after the lost answer, want 1", len(b))
	}
	r, _ = g.say("sí")
	b := fake.Bookings()
	if len(b) != 1 || fake.Calls(fakeqloapps.CreateBooking) != 1 {
		t.Fatalf("retried booking: %d bookings, %d POST /api/bookings; want 1 and 1", len(b), fake.Calls(fakeqloapps.CreateBooking))
	}
	if !strings.Contains(r, "¡Reserva confirmada!") || !strings.Contains(r, fmt.Sprintf("Número de reserva: %d\n", b[0].ID)) {
		t.Fatalf("retry answer %q, want the confirmation of booking %d", r, b[0].ID)
	}
	c := b[0].Customer
	if c.Firstname != "Pablo" || c.Lastname != "García" || c.Email != "pablo@example.com" || c.Phone != g.phone ||
		len(b[0].Lines) != 1 || !strings.HasSuffix(b[0].Lines[0].From, "-12-05") || !strings.HasSuffix(b[0].Lines[0].To, "-12-07") || b[0].Lines[0].RoomTypeID != 1 {
		t.Fatalf("booking %+v", b[0])
	}
}

// TestQloAppsGuestWithOneWordProfileNameBooks: the end-to-end bug behind the
// guest-details step. QloApps refuses a booking without the guest's last
// name and email; a WhatsApp guest whose profile name is one word is asked
// for the surname, then the email, and books.
func TestQloAppsGuestWithOneWordProfileNameBooks(t *testing.T) {
	in, fake := startQloAppsInstance(t)
	g := newPMSGuest(t, in)
	g.name = "Pablo"
	for _, step := range []struct{ say, want string }{
		{askAvailability, "1. Habitaciones generales: 220,00 USD"},
		// A one-word profile name is a nickname: the holder is asked.
		{"1", "¿A nombre de quién la hago?"},
		{"Pablo García Ruiz", "¿A qué correo electrónico"},
		{"pablo@example.com", "Titular: Pablo García Ruiz (pablo@example.com, +" + g.phone + ")"},
		{"sí", "¡Reserva confirmada!"},
	} {
		if r, _ := g.say(step.say); !strings.Contains(r, step.want) {
			t.Fatalf("%q: %q, want %q", step.say, r, step.want)
		}
	}
	b := fake.Bookings()
	if len(b) != 1 {
		t.Fatalf("QloApps holds %d bookings, want 1", len(b))
	}
	if c := b[0].Customer; c.Firstname != "Pablo" || c.Lastname != "García Ruiz" || c.Email != "pablo@example.com" || c.Phone != g.phone {
		t.Fatalf("customer_detail %+v", c)
	}
}
