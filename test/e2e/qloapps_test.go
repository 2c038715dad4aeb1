package e2e

import (
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// A Spanish and an English guest book and cancel through the binary against
// a real QloApps 1.6.1: ask, pick a room by its name, book for 2 adults and
// a child of 7, and QloApps' own tables hold the booking on the dates asked,
// for that party, at the total the guest was quoted; cancelled, QloApps
// shows it cancelled. No call makes QloApps log a PHP warning.
func TestRealQloAppsBookingAndCancellation(t *testing.T) {
	q := testservices.QloApps(t)
	mark := q.ErrorLogMark()
	// The shipped Caddyfile, so the PMS has the shipped time budget (5 s an
	// operation), not the fault tests' 1 s: a real QloApps on a loaded
	// machine takes over a second to book.
	in := Start(t, Options{Env: map[string]string{
		"ENVIRONMENT": "test", "PMS_TYPE": "qloapps", "PMS_BASE_URL": q.BaseURL, "PMS_API_KEY": q.WebserviceKey,
		"TENANTS_FILE": "test/e2e/testdata/qloapps-tenants.yaml", "RATE_LIMIT_ENABLED": "false",
	}})
	// Two months ahead: in the future whatever today is, and far from the
	// stays the PMS contract tests book on the same QloApps.
	stay := time.Now().AddDate(0, 2, 0)
	checkIn := time.Date(stay.Year(), stay.Month(), 10, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, profile, email string
		ask, pick, confirm   string
		cancel               func(ref string) string
		quoted, booked       *regexp.Regexp
		room, cancelled      string // room: how the confirmation names the room
	}{{
		name: "spanish", profile: "Ana García", email: "ana.garcia@example.com",
		ask: fmt.Sprintf("Hola, ¿tenéis habitación del 10 al 12 de %s para 2 adultos y un niño de 7 años?", monthsES[checkIn.Month()-1]),
		// The room by its English name; shown in Spanish, as QloApps has it.
		pick: "Quiero la General Rooms", confirm: "sí",
		cancel: func(ref string) string { return "quiero cancelar la reserva " + ref },
		quoted: regexp.MustCompile(`Habitaciones generales: ([\d.,]+) USD`), booked: regexp.MustCompile(`Número de reserva: (\d+)`),
		room: "Habitación: Habitaciones generales", cancelled: "cancelada",
	}, {
		name: "english", profile: "John Smith", email: "john.smith@example.com",
		ask:  fmt.Sprintf("Hi, do you have a room from %s 10 to %s 12 for 2 adults and a 7-year-old?", checkIn.Month(), checkIn.Month()),
		pick: "I'd like the delux", confirm: "yes",
		cancel: func(ref string) string { return "I want to cancel booking " + ref },
		quoted: regexp.MustCompile(`Delux Rooms: (?:USD\s?)?([\d.,]+)`), booked: regexp.MustCompile(`Booking number: (\d+)`),
		room: "Room: Delux Rooms", cancelled: "cancelled",
	}} {
		t.Run(c.name, func(t *testing.T) {
			g := newPMSGuest(t, in)
			g.name = c.profile
			g.transcript = true
			offers, _ := g.say(c.ask)
			m := c.quoted.FindStringSubmatch(offers)
			if m == nil {
				t.Fatalf("%q: %q, want the room types by their QloApps names with prices", c.ask, offers)
			}
			quoted := amount(t, m[1])
			if r, _ := g.say(c.pick); !strings.Contains(r, "@") && !strings.Contains(strings.ToLower(r), "mail") && !strings.Contains(r, "correo") {
				t.Fatalf("%q: %q, want the email asked", c.pick, r)
			}
			summary, _ := g.say(c.email)
			if !strings.Contains(summary, "7") {
				t.Fatalf("summary %q does not show the child's age", summary)
			}
			done, _ := g.say(c.confirm)
			ref := c.booked.FindStringSubmatch(done)
			if ref == nil || !strings.Contains(done, c.room) {
				t.Fatalf("%q: %q, want the booking number and %q; PHP: %q", c.confirm, done, c.room, q.ErrorLogSince(mark))
			}
			id, _ := strconv.Atoi(ref[1])
			row := qloappsBooking(t, q.DB(), id)
			wantIn, wantOut := checkIn.Format(time.DateOnly), checkIn.AddDate(0, 0, 2).Format(time.DateOnly)
			if row.adults != 2 || row.children != 1 || !strings.Contains(row.childAges, "7") ||
				!strings.HasPrefix(row.from, wantIn) || !strings.HasPrefix(row.to, wantOut) || row.rooms != 1 {
				t.Fatalf("QloApps holds %+v; want one room for 2 adults and 1 child (7) from %s to %s", row, wantIn, wantOut)
			}
			if math.Abs(row.total-quoted) > 0.005 {
				t.Fatalf("QloApps booked %.2f; the guest was quoted %.2f", row.total, quoted)
			}
			if row.state == 4 {
				t.Fatal("booked as cancelled")
			}
			if r, _ := g.say(c.cancel(ref[1])); !strings.Contains(r, ref[1]) {
				t.Fatalf("cancel request: %q", r)
			}
			if r, _ := g.say(c.confirm); !strings.Contains(strings.ToLower(r), c.cancelled) {
				t.Fatalf("cancel confirmation: %q, want the guest told it is %s", r, c.cancelled)
			}
			if row := qloappsBooking(t, q.DB(), id); row.state != 4 || row.cancelledRooms != 1 {
				t.Fatalf("QloApps after the cancellation: %+v; want order state 4 (cancelled) and the room freed", row)
			}
		})
	}
	if lines := q.ErrorLogSince(mark); len(lines) > 0 {
		t.Fatalf("QloApps logged PHP errors:\n%s", strings.Join(lines, "\n"))
	}
}

// amount reads a price as the agent writes it: "2.600,00" or "2,600.00".
func amount(t *testing.T, s string) float64 {
	t.Helper()
	if i := strings.LastIndexAny(s, ".,"); i >= 0 && len(s)-i == 3 {
		s = strings.NewReplacer(".", "", ",", "").Replace(s[:i]) + "." + s[i+1:]
	} else {
		s = strings.NewReplacer(".", "", ",", "").Replace(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("price %q: %v", s, err)
	}
	return f
}

type qloappsRow struct {
	rooms, adults, children, state, cancelledRooms int
	childAges, from, to                            string
	total                                          float64
}

// qloappsBooking reads booking id from QloApps' tables: the order and its
// booked rooms.
func qloappsBooking(t *testing.T, db *sql.DB, id int) qloappsRow {
	t.Helper()
	var r qloappsRow
	err := db.QueryRow(`SELECT o.total_paid_tax_incl, o.current_state FROM qlo_orders o WHERE o.id_order = ?`, id).Scan(&r.total, &r.state)
	if err != nil {
		t.Fatalf("order %d: %v", id, err)
	}
	rows, err := db.Query(`SELECT adults, children, COALESCE(child_ages, ''), date_from, date_to, is_cancelled FROM qlo_htl_booking_detail WHERE id_order = ?`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var cancelled int
		if err := rows.Scan(&r.adults, &r.children, &r.childAges, &r.from, &r.to, &cancelled); err != nil {
			t.Fatal(err)
		}
		r.rooms++
		r.cancelledRooms += cancelled
	}
	return r
}
