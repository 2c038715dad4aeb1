package pms_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
)

// A tenant without a PMS id gets ErrNotConfigured from every call, which
// callers take for the PMS being unreachable, never the first hotel's data.
func TestRequirePropertyIDRefusesHotelsWithoutOne(t *testing.T) {
	p := pms.RequirePropertyID(demo.New())
	ctx := context.Background()
	unmapped := pms.Hotel{TenantID: "tenant_new"}
	stay := pms.Stay{CheckIn: pms.Date{Year: 2100, Month: 1, Day: 1}, CheckOut: pms.Date{Year: 2100, Month: 1, Day: 2}, Adults: 1}
	for name, call := range map[string]func(h pms.Hotel) error{
		"Availability": func(h pms.Hotel) error { _, err := p.Availability(ctx, h, stay); return err },
		"HotelInfo":    func(h pms.Hotel) error { _, err := p.HotelInfo(ctx, h); return err },
		"RoomTypes":    func(h pms.Hotel) error { _, err := p.RoomTypes(ctx, h); return err },
		"CreateBooking": func(h pms.Hotel) error {
			_, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: h, RoomTypeID: 1, Stay: stay})
			return err
		},
		"GetBooking":    func(h pms.Hotel) error { _, err := p.GetBooking(ctx, h, "DEMO-000001"); return err },
		"CancelBooking": func(h pms.Hotel) error { _, err := p.CancelBooking(ctx, h, "DEMO-000001"); return err },
	} {
		err := call(unmapped)
		if !errors.Is(err, pms.ErrNotConfigured) || !errors.Is(err, pms.ErrUnavailable) || errors.Is(err, pms.ErrInvalid) || errors.Is(err, pms.ErrNotFound) {
			t.Errorf("%s without a PMS id: %v, want ErrNotConfigured (an ErrUnavailable)", name, err)
		}
		if err := call(pms.Hotel{TenantID: "tenant_hotel_madrid", PMSID: demo.MadridCentral}); errors.Is(err, pms.ErrNotConfigured) {
			t.Errorf("%s with a PMS id: %v", name, err)
		}
	}
	if err := p.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if got := pms.GuestRequirementsOf(p); got != pms.DefaultGuestFields {
		t.Errorf("GuestRequirements = %+v, want the wrapped PMS's", got)
	}
}
