package hotel

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

var pmsGuestMessages int

// pmsGuestReply is what the service answers inline to a guest writing to
// the business number pnid.
func pmsGuestReply(t *testing.T, s *Service, pnid, text string) string {
	t.Helper()
	pmsGuestMessages++
	id := fmt.Sprintf("wamid.pms-%d", pmsGuestMessages)
	body := whatsapptest.Message{PhoneNumberID: pnid, From: "34699000111", ID: id, Text: text}.JSON()
	answer, err := accept(t, s, chat.WhatsApp, body, s.DefaultRoute())
	if err != nil {
		t.Fatal(err)
	}
	content, _ := answer["content"].(string)
	return content
}

// hotelsService answers inline from a directory where Madrid (business
// number madridPNID) is the PMS's hotel 1 and Barcelona (business number
// 222) has no pms_hotel_id, or, with bcnPMSID, that one.
func hotelsService(t *testing.T, pmsConfig PMSConfig, readiness *health.Checker, bcnPMSID int) *Service {
	t.Helper()
	ts, err := tenancy.NewMemoryStore([]tenancy.Tenant{
		{ID: "tenant_hotel_madrid", Name: "Hotel Madrid Central", Active: true, PMSHotelID: 1,
			Identifiers: []tenancy.Identifier{{Type: tenancy.PhoneNumberID, Value: madridPNID}}},
		{ID: "tenant_hotel_bcn", Name: "Hotel Barcelona Beach", Active: true, PMSHotelID: bcnPMSID,
			Identifiers: []tenancy.Identifier{{Type: tenancy.PhoneNumberID, Value: "222"}}},
		{ID: "tenant_hotel_closed", Name: "Hotel Cerrado"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{AnswerInline: true, PMS: pmsConfig},
		Deps{Tenants: ts, Flags: flags.New(flags.Options{}), Keeper: &mapKeeper{}, Readiness: readiness})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	askRooms   = "hola, ¿tenéis habitación del 10 al 12 de marzo para 2?"
	askAddress = "¿cuál es la dirección del hotel?"
	// The agent's pms_error reply (internal/agent/locales/es.yaml).
	bookingSystemUnreachable = "no puedo consultar el sistema de reservas"
)

// With QloApps, a hotel without pms_hotel_id is told the booking system
// cannot be reached and QloApps is not asked (it would answer for its
// hotel 1, another hotel); readiness names the hotel but stays up.
func TestQloAppsHotelWithoutPMSHotelIDIsNotServedHotelOne(t *testing.T) {
	const key = "HOTELTESTQLOAPPSWEBSERVICEKEY0123"
	fake := fakeqloapps.Start(t, key)
	readiness := new(health.Checker)
	s := hotelsService(t, PMSConfig{Type: "qloapps", BaseURL: fake.URL, APIKey: key}, readiness, 0)

	for _, ask := range []string{askRooms, askAddress} {
		if r := pmsGuestReply(t, s, "222", ask); !strings.Contains(r, bookingSystemUnreachable) || strings.Contains(r, "Monticello") {
			t.Errorf("Barcelona, %q: %q, want the booking system unreachable", ask, r)
		}
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Fatalf("QloApps was asked %d times about a hotel without pms_hotel_id", n)
	}
	if r := pmsGuestReply(t, s, madridPNID, askRooms); !strings.Contains(r, "Disponibilidad en Hotel Madrid Central") || !strings.Contains(r, "Habitaciones generales") {
		t.Errorf("Madrid: %q, want QloApps hotel 1's offers", r)
	}

	rep := readiness.Run(context.Background(), 5*time.Second)
	var ids health.Status
	for _, st := range rep.Dependencies {
		if st.Name == "pms_hotel_ids" {
			ids = st
		}
	}
	if !rep.Ready || ids.Up || !ids.Advisory || !strings.Contains(ids.Error, "tenant_hotel_bcn") ||
		strings.Contains(ids.Error, "tenant_hotel_madrid") || strings.Contains(ids.Error, "tenant_hotel_closed") {
		t.Fatalf("readiness %+v", rep)
	}

	// Once the hotel has its id, it is connected and readiness is clean.
	two := 2
	if _, err := s.deps.Tenants.UpdateTenant(context.Background(), "ops", "tenant_hotel_bcn", tenancy.TenantPatch{PMSHotelID: &two}); err != nil {
		t.Fatal(err)
	}
	fake.AddHotel(fakeqloapps.HotelData{ID: 2, Name: "Barcelona Beach", Address: "Passeig Marítim 32", City: "Barcelona"})
	if r := pmsGuestReply(t, s, "222", askAddress); !strings.Contains(r, "Passeig Marítim 32") {
		t.Errorf("Barcelona with its pms_hotel_id: %q", r)
	}
	for _, st := range readiness.Run(context.Background(), 5*time.Second).Dependencies {
		if st.Name == "pms_hotel_ids" && !st.Up {
			t.Errorf("pms_hotel_ids after the patch: %+v", st)
		}
	}
}

// In the demo every sample hotel answers with its own property, and a
// tenant without pms_hotel_id with the default one: nothing to report.
func TestDemoHotelsAnswerWithTheirOwnProperty(t *testing.T) {
	readiness := new(health.Checker)
	s := hotelsService(t, PMSConfig{}, readiness, 2)
	if r := pmsGuestReply(t, s, "222", askAddress); !strings.Contains(r, "Passeig Marítim de la Barceloneta 32") || strings.Contains(r, "Madrid") {
		t.Errorf("Barcelona's address: %q", r)
	}
	if r := pmsGuestReply(t, s, madridPNID, askAddress); !strings.Contains(r, "Calle Mayor 1") {
		t.Errorf("Madrid's address: %q", r)
	}
	for _, st := range readiness.Run(context.Background(), time.Second).Dependencies {
		if st.Name != "pms" {
			t.Errorf("demo readiness checks %s", st.Name)
		}
	}
}
