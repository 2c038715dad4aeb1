package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// today is a Wednesday; every stay in these tests is after it.
var today = time.Date(2025, 11, 19, 10, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return today }

func d(s string) pms.Date {
	v, err := pms.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

var madrid = pms.Hotel{TenantID: "tenant_hotel_madrid", PMSID: 1}

func offerFor(t *testing.T, av pms.Availability, roomTypeID int) (pms.Offer, bool) {
	t.Helper()
	for _, o := range av.Offers {
		if o.RoomType.ID == roomTypeID {
			return o, true
		}
	}
	return pms.Offer{}, false
}

func TestAvailabilityPricesWeekendsAndFiltersByParty(t *testing.T) {
	p := New(WithName("Hotel Madrid Central"), WithClock(fixedClock))
	ctx := context.Background()
	// Thu 4 Dec → Sun 7 Dec: Thursday (weekday), Friday and Saturday (weekend).
	av, err := p.Availability(ctx, madrid, pms.Stay{CheckIn: d("2025-12-04"), CheckOut: d("2025-12-07"), Adults: 2})
	if err != nil {
		t.Fatal(err)
	}
	double, ok := offerFor(t, av, 2)
	if !ok {
		t.Fatalf("no double offered: %+v", av.Offers)
	}
	if want := 100.0 + 130 + 130; double.TotalPrice != want {
		t.Errorf("double total = %v, want %v", double.TotalPrice, want)
	}
	if double.Available != 5 {
		t.Errorf("double available = %d, want 5", double.Available)
	}
	if _, ok := offerFor(t, av, 1); ok {
		t.Error("a single was offered to two adults")
	}
	if av.Currency != "EUR" || av.Stale {
		t.Errorf("currency %q stale %v", av.Currency, av.Stale)
	}

	av, err = p.Availability(ctx, madrid, pms.Stay{CheckIn: d("2025-12-04"), CheckOut: d("2025-12-05"), Adults: 3, Children: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(av.Offers) != 1 || av.Offers[0].RoomType.Name["es"] != "Habitación familiar" {
		t.Errorf("three adults and two children: offers %+v, want only Family", av.Offers)
	}
}

func TestAvailabilityRejectsBadStays(t *testing.T) {
	p := New(WithClock(fixedClock))
	ctx := context.Background()
	for name, s := range map[string]pms.Stay{
		"no dates":      {Adults: 2},
		"reversed":      {CheckIn: d("2025-12-07"), CheckOut: d("2025-12-05"), Adults: 2},
		"no adults":     {CheckIn: d("2025-12-05"), CheckOut: d("2025-12-07")},
		"in the past":   {CheckIn: d("2025-11-18"), CheckOut: d("2025-11-20"), Adults: 1},
		"too many days": {CheckIn: d("2025-12-01"), CheckOut: d("2026-02-01"), Adults: 1},
	} {
		if _, err := p.Availability(ctx, madrid, s); !errors.Is(err, pms.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := p.Availability(ctx, pms.Hotel{}, pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-07"), Adults: 1}); !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("no tenant: err = %v, want ErrInvalid", err)
	}
	// Today itself is bookable.
	if _, err := p.Availability(ctx, madrid, pms.Stay{CheckIn: d("2025-11-19"), CheckOut: d("2025-11-20"), Adults: 1}); err != nil {
		t.Errorf("check-in today: %v", err)
	}
}

func TestBookingTakesEveryNightAndCancelGivesItBack(t *testing.T) {
	p := New(WithClock(fixedClock))
	ctx := context.Background()
	stay := pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-08"), Adults: 2}
	b, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 4, Stay: stay, Reference: "r1",
		Guest: pms.Guest{FirstName: "Ana", Phone: "34600111222"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == "" || b.Status != pms.BookingNew || b.RoomName != "Suite" || b.TotalPrice != 230+230+180 || b.Currency != "EUR" {
		t.Fatalf("booking = %+v", b)
	}
	// Each night of the stay lost a suite; the nights around it did not.
	for _, c := range []struct {
		in, out string
		want    int
	}{
		{"2025-12-05", "2025-12-06", 2},
		{"2025-12-07", "2025-12-08", 2},
		{"2025-12-04", "2025-12-05", 3},
		{"2025-12-08", "2025-12-09", 3},
		{"2025-12-01", "2025-12-10", 2},
	} {
		av, err := p.Availability(ctx, madrid, pms.Stay{CheckIn: d(c.in), CheckOut: d(c.out), Adults: 2})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offerFor(t, av, 4)
		if o.Available != c.want {
			t.Errorf("suites free %s..%s = %d, want %d", c.in, c.out, o.Available, c.want)
		}
	}

	got, err := p.GetBooking(ctx, madrid, b.ID)
	if err != nil || got.Guest.FirstName != "Ana" {
		t.Fatalf("GetBooking = %+v, %v", got, err)
	}
	cancelled, err := p.CancelBooking(ctx, madrid, b.ID)
	if err != nil || cancelled.Status != pms.BookingCancelled {
		t.Fatalf("CancelBooking = %+v, %v", cancelled, err)
	}
	// Cancelling twice gives back the rooms once.
	if _, err := p.CancelBooking(ctx, madrid, b.ID); err != nil {
		t.Fatal(err)
	}
	av, _ := p.Availability(ctx, madrid, stay)
	if o, _ := offerFor(t, av, 4); o.Available != 3 {
		t.Errorf("after cancel, suites free = %d, want 3", o.Available)
	}
	if _, err := p.GetBooking(ctx, madrid, "DEMO-999999"); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("unknown booking: %v", err)
	}
	if _, err := p.CancelBooking(ctx, madrid, "DEMO-999999"); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("cancel unknown booking: %v", err)
	}
}

func TestBookingIsIdempotentByReference(t *testing.T) {
	p := New(WithClock(fixedClock))
	ctx := context.Background()
	req := pms.BookingRequest{Hotel: madrid, RoomTypeID: 2, Reference: "msg-42",
		Stay: pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-07"), Adults: 2}}
	first, err := p.CreateBooking(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.CreateBooking(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != second.ID {
		t.Fatalf("same reference booked twice: %s and %s", first.ID, second.ID)
	}
	av, _ := p.Availability(ctx, madrid, req.Stay)
	if o, _ := offerFor(t, av, 2); o.Available != 4 {
		t.Errorf("doubles free = %d, want 4 (one booking)", o.Available)
	}
	req.Reference = "msg-43"
	third, err := p.CreateBooking(ctx, req)
	if err != nil || third.ID == first.ID {
		t.Fatalf("a new reference must book again: %+v, %v", third, err)
	}
}

func TestBookingRejections(t *testing.T) {
	p := New(WithClock(fixedClock))
	ctx := context.Background()
	stay := pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-07"), Adults: 2}
	if _, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 99, Stay: stay}); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("unknown room type: %v", err)
	}
	if _, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 1, Stay: stay}); !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("two adults in a single: %v", err)
	}
	b, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 2, Stay: stay})
	if err != nil {
		t.Fatal(err)
	}
	// Every call answers a done context as a remote PMS would: unavailable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for name, call := range map[string]func() error{
		"Availability": func() error { _, err := p.Availability(cctx, madrid, stay); return err },
		"HotelInfo":    func() error { _, err := p.HotelInfo(cctx, madrid); return err },
		"RoomTypes":    func() error { _, err := p.RoomTypes(cctx, madrid); return err },
		"CreateBooking": func() error {
			_, err := p.CreateBooking(cctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 2, Stay: stay})
			return err
		},
		"GetBooking":    func() error { _, err := p.GetBooking(cctx, madrid, b.ID); return err },
		"CancelBooking": func() error { _, err := p.CancelBooking(cctx, madrid, b.ID); return err },
	} {
		if err := call(); !errors.Is(err, pms.ErrUnavailable) {
			t.Errorf("%s with a cancelled context: %v", name, err)
		}
	}
	if got, _ := p.GetBooking(ctx, madrid, b.ID); got.Status != pms.BookingNew {
		t.Errorf("a cancelled-context CancelBooking changed the booking: %+v", got)
	}
}

func TestTenantsHaveSeparateProperties(t *testing.T) {
	p := New(WithClock(fixedClock), WithProperty(func(tenant string) Property {
		return DefaultProperty("Hotel " + tenant)
	}))
	ctx := context.Background()
	bcn := pms.Hotel{TenantID: "tenant_hotel_bcn"}
	stay := pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-06"), Adults: 2}
	b, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 2, Stay: stay, Reference: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetBooking(ctx, bcn, b.ID); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("tenant bcn sees madrid's booking: %v", err)
	}
	if _, err := p.CancelBooking(ctx, bcn, b.ID); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("tenant bcn cancels madrid's booking: %v", err)
	}
	av, _ := p.Availability(ctx, bcn, stay)
	if o, _ := offerFor(t, av, 2); o.Available != 5 {
		t.Errorf("bcn doubles = %d, want 5 (madrid's booking is not bcn's)", o.Available)
	}
	info, err := p.HotelInfo(ctx, bcn)
	if err != nil || info.Name.In("es") != "Hotel tenant_hotel_bcn" || info.CheckInTime != "15:00" || info.CheckOutTime != "12:00" || info.TimeZone != "Europe/Madrid" {
		t.Errorf("HotelInfo = %+v, %v", info, err)
	}
	rts, err := p.RoomTypes(ctx, bcn)
	if err != nil || len(rts) != 5 {
		t.Errorf("RoomTypes = %+v, %v", rts, err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// Fifty guests race for the last three rooms: exactly three get one, the
// others are told it is sold out, and the inventory ends at zero, not below.
func TestConcurrentBookingsCannotOversell(t *testing.T) {
	p := New(WithClock(fixedClock), WithProperty(func(string) Property {
		pr := DefaultProperty("Tiny")
		pr.Rooms = []Room{{Type: pms.RoomType{ID: 7, Name: pms.Untranslated("Double"), MaxAdults: 2}, Count: 3, WeekdayRate: 100, WeekendRate: 100}}
		return pr
	}))
	ctx := context.Background()
	stay := pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-08"), Adults: 2}
	const guests = 50
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		booked, soldOut int
		other           []error
	)
	start := make(chan struct{})
	for i := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 7, Stay: stay, Reference: fmt.Sprintf("guest-%d", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				booked++
			case errors.Is(err, pms.ErrSoldOut):
				soldOut++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if booked != 3 || soldOut != guests-3 || len(other) != 0 {
		t.Fatalf("booked %d, sold out %d, other errors %v; want 3, %d, none", booked, soldOut, other, guests-3)
	}
	av, err := p.Availability(ctx, madrid, stay)
	if err != nil {
		t.Fatal(err)
	}
	if len(av.Offers) != 0 {
		t.Fatalf("offers after selling out: %+v", av.Offers)
	}
}
