package demo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// backend opens demo PMSs on one ledger backend.
type backend struct {
	// shared is set when two PMSs opened share their inventory and
	// bookings, as two instances on one Postgres do.
	shared bool
	open   func(opts ...Option) *PMS
}

// instances returns two demo PMSs selling the same rooms: two instances
// sharing the database on Postgres, the one PMS twice in memory.
func (b backend) instances(opts ...Option) (*PMS, *PMS) {
	first := b.open(opts...)
	if !b.shared {
		return first, first
	}
	return first, b.open(opts...)
}

// forEachBackend runs f on the memory ledger and on Postgres (a fresh,
// migrated database; each open is a new pool, as a new instance has).
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("memory", func(t *testing.T) { f(t, backend{open: func(opts ...Option) *PMS { return New(opts...) }}) })
	t.Run("postgres", func(t *testing.T) {
		url := testservices.Postgres(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		open := func(opts ...Option) *PMS {
			pool, err := store.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return New(append(opts, WithPostgres(pool))...)
		}
		first := open()
		if _, err := store.Migrate(ctx, first.ledger.(postgresLedger).pool); err != nil {
			t.Fatal(err)
		}
		f(t, backend{shared: true, open: open})
	})
}

var (
	barcelona = pms.Hotel{TenantID: "tenant_hotel_bcn", PMSID: BarcelonaBeach}
	sevilla   = pms.Hotel{TenantID: "tenant_hotel_sevilla", PMSID: SevillaPlaza}
)

// freeRooms is how many rooms of roomTypeID Availability offers for s.
func freeRooms(t *testing.T, p *PMS, h pms.Hotel, s pms.Stay, roomTypeID int) int {
	t.Helper()
	av, err := p.Availability(context.Background(), h, s)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := offerFor(t, av, roomTypeID)
	return o.Available
}

func TestSampleHotelsHaveTheirOwnProperty(t *testing.T) {
	p := New(WithClock(fixedClock))
	ctx := context.Background()
	// Thursday (weekday) and Friday (weekend) nights, for two adults.
	stay := pms.Stay{CheckIn: d("2025-12-04"), CheckOut: d("2025-12-06"), Adults: 2}
	for _, c := range []struct {
		hotel               pms.Hotel
		name, address, city string
		room                pms.Text
		roomTypes, roomID   int
		price               float64
	}{
		{madrid, "Hotel Madrid Central", "Calle Mayor 1", "Madrid", pms.Text{"es": "Habitación doble", "en": "Double room"}, 5, 2, 100 + 130},
		{barcelona, "Hotel Barcelona Beach", "Passeig Marítim de la Barceloneta 32", "Barcelona", pms.Text{"es": "Doble Vista Ciudad", "en": "Double City View"}, 4, 1, 110 + 140},
		{sevilla, "Hotel Sevilla Plaza", "Plaza Nueva 7", "Sevilla", pms.Text{"es": "Doble Patio", "en": "Double Courtyard"}, 4, 2, 90 + 115},
		{pms.Hotel{TenantID: "tenant_without_pms_id"}, "Hotel Demo", "Calle del Ejemplo 1", "Madrid", pms.Text{"es": "Habitación doble", "en": "Double room"}, 5, 2, 100 + 130},
	} {
		info, err := p.HotelInfo(ctx, c.hotel)
		if err != nil || info.Name.In("es") != c.name || info.Name.In("en") != c.name || info.Address != c.address || info.City != c.city || info.TimeZone != "Europe/Madrid" {
			t.Errorf("%s: HotelInfo = %+v, %v", c.hotel.TenantID, info, err)
		}
		rts, err := p.RoomTypes(ctx, c.hotel)
		if err != nil || len(rts) != c.roomTypes {
			t.Errorf("%s: RoomTypes = %+v, %v", c.hotel.TenantID, rts, err)
		}
		for _, rt := range rts {
			if rt.MaxAdults < 1 || rt.MaxGuests < rt.MaxAdults || rt.MaxGuests > rt.MaxAdults+rt.MaxChildren {
				t.Errorf("%s: room type %+v has no coherent capacity", c.hotel.TenantID, rt)
			}
		}
		av, err := p.Availability(ctx, c.hotel, stay)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offerFor(t, av, c.roomID); !ok || !maps.Equal(o.RoomType.Name, c.room) || o.TotalPrice != c.price {
			t.Errorf("%s: offer of room type %d = %+v, want %s at %v", c.hotel.TenantID, c.roomID, o, c.room, c.price)
		}
	}
	// Barcelona has its own hours and amenities.
	bcn, _ := p.HotelInfo(ctx, barcelona)
	if bcn.CheckInTime != "14:00" || bcn.CheckOutTime != "11:00" || reflect.DeepEqual(bcn.Amenities, DefaultProperty("").Amenities) {
		t.Errorf("Barcelona = %+v", bcn)
	}
	if _, err := p.HotelInfo(ctx, pms.Hotel{TenantID: "t", PMSID: 9}); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("hotel 9: %v, want ErrNotFound", err)
	}
}

// CheckBookable decides, with "today" in the hotel's own time zone.
func TestStaysAreCheckedInTheHotelsTimeZone(t *testing.T) {
	ctx := context.Background()
	// 05:00 UTC on Wednesday 19 November is Tuesday evening in Honolulu
	// (UTC-10) and Wednesday evening in Auckland (UTC+13).
	now := time.Date(2025, 11, 19, 5, 0, 0, 0, time.UTC)
	zoned := func(zone string) *PMS {
		return New(WithClock(func() time.Time { return now }), WithProperty(func(string) Property {
			pr := DefaultProperty("Zoned")
			pr.TimeZone = zone
			return pr
		}))
	}
	tuesday := pms.Stay{CheckIn: d("2025-11-18"), CheckOut: d("2025-11-20"), Adults: 1}
	if _, err := zoned("Pacific/Honolulu").Availability(ctx, madrid, tuesday); err != nil {
		t.Errorf("Tuesday is still today in Honolulu: %v", err)
	}
	var past *pms.PastStayError
	_, err := zoned("Pacific/Auckland").Availability(ctx, madrid, tuesday)
	if !errors.As(err, &past) || past.Today != d("2025-11-19") || !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("Tuesday in Auckland: %v, want a PastStayError of 2025-11-19", err)
	}
	_, err = zoned("Pacific/Auckland").CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 1, Stay: tuesday})
	if !errors.As(err, &past) {
		t.Errorf("booking Tuesday in Auckland: %v, want a PastStayError", err)
	}
}

func TestPartiesNoRoomHoldsAreRefused(t *testing.T) {
	p := New(WithClock(fixedClock))
	ctx := context.Background()
	five := pms.Stay{CheckIn: d("2025-12-04"), CheckOut: d("2025-12-06"), Adults: 3, Children: 2, ChildAges: []int{4, 9}}
	// Sevilla's largest room takes four; Madrid's family room takes five.
	var tooLarge *pms.PartyTooLargeError
	if _, err := p.Availability(ctx, sevilla, five); !errors.As(err, &tooLarge) || tooLarge.MaxGuests != 4 || tooLarge.MaxAdults != 2 || !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("five guests in Sevilla: %v, want a PartyTooLargeError of 4 guests, 2 adults", err)
	}
	if _, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: sevilla, RoomTypeID: 4, Stay: five}); !errors.As(err, &tooLarge) {
		t.Errorf("booking five guests in Sevilla: %v, want a PartyTooLargeError", err)
	}
	av, err := p.Availability(ctx, madrid, five)
	if err != nil || len(av.Offers) != 1 || av.Offers[0].RoomType.Name.In("en") != "Family room" {
		t.Errorf("five guests in Madrid: %+v, %v; want the family room", av.Offers, err)
	}
	// A party some room holds, but not the one asked for, is the guest's
	// choice to fix: invalid, not too large.
	if _, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 2, Stay: five}); !errors.Is(err, pms.ErrInvalid) || errors.As(err, &tooLarge) {
		t.Errorf("five guests in a double: %v", err)
	}
	if _, err := p.Availability(ctx, madrid, pms.Stay{CheckIn: d("2025-12-04"), CheckOut: d("2025-12-06"), Adults: 1, Children: 1, ChildAges: []int{18}}); !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("a child of 18: %v, want ErrInvalid", err)
	}
}

func TestBookingLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		p := b.open(WithClock(fixedClock))
		ctx := context.Background()
		stay := pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-08"), Adults: 2, Children: 1, ChildAges: []int{6}}
		req := pms.BookingRequest{Hotel: barcelona, RoomTypeID: 2, Stay: stay, Reference: "wamid.1",
			Guest: pms.Guest{FirstName: "Ana", LastName: "Puig", Email: "ana@example.com", Phone: "34600222333"}}
		booked, err := p.CreateBooking(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		want := pms.Booking{ID: booked.ID, Reference: "wamid.1", Status: pms.BookingNew, RoomTypeID: 2, RoomName: "Doble Vista Mar",
			Stay: stay, Guest: req.Guest, TotalPrice: 180 + 180 + 140, Currency: "EUR"}
		if booked.ID == "" || !reflect.DeepEqual(booked, want) {
			t.Fatalf("booked %+v\nwant   %+v", booked, want)
		}
		if got, err := p.GetBooking(ctx, barcelona, booked.ID); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetBooking = %+v, %v", got, err)
		}
		if n := freeRooms(t, p, barcelona, stay, 2); n != 5 {
			t.Errorf("sea-view doubles free = %d, want 5", n)
		}
		// Only the nights of the stay were taken.
		if n := freeRooms(t, p, barcelona, pms.Stay{CheckIn: d("2025-12-08"), CheckOut: d("2025-12-09"), Adults: 2}, 2); n != 6 {
			t.Errorf("sea-view doubles free the night after = %d, want 6", n)
		}
		// The same reference books once.
		again, err := p.CreateBooking(ctx, req)
		if err != nil || again.ID != booked.ID {
			t.Fatalf("retried booking = %+v, %v; want %s", again, err, booked.ID)
		}
		if n := freeRooms(t, p, barcelona, stay, 2); n != 5 {
			t.Errorf("after the retry, sea-view doubles free = %d, want 5", n)
		}
		// Another tenant, or another property of this one, does not see it.
		for _, other := range []pms.Hotel{{TenantID: "tenant_hotel_madrid", PMSID: BarcelonaBeach}, {TenantID: barcelona.TenantID, PMSID: SevillaPlaza}} {
			if _, err := p.GetBooking(ctx, other, booked.ID); !errors.Is(err, pms.ErrNotFound) {
				t.Errorf("%+v sees the booking: %v", other, err)
			}
			if _, err := p.CancelBooking(ctx, other, booked.ID); !errors.Is(err, pms.ErrNotFound) {
				t.Errorf("%+v cancels the booking: %v", other, err)
			}
		}
		for range 2 {
			cancelled, err := p.CancelBooking(ctx, barcelona, booked.ID)
			if err != nil || cancelled.Status != pms.BookingCancelled || !reflect.DeepEqual(cancelled.Stay, stay) {
				t.Fatalf("CancelBooking = %+v, %v", cancelled, err)
			}
		}
		if n := freeRooms(t, p, barcelona, stay, 2); n != 6 {
			t.Errorf("after cancelling (twice), sea-view doubles free = %d, want 6", n)
		}
		if _, err := p.GetBooking(ctx, barcelona, "DEMO-999999"); !errors.Is(err, pms.ErrNotFound) {
			t.Errorf("unknown booking: %v", err)
		}
		if err := p.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

// Two instances sharing Postgres are one PMS: a booking made through one is
// seen, retried and cancelled through the other.
func TestInstancesSharingPostgresShareBookings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if !b.shared {
			t.Skip("instances share bookings only through Postgres")
		}
		one, other := b.instances(WithClock(fixedClock))
		ctx := context.Background()
		stay := pms.Stay{CheckIn: d("2025-12-10"), CheckOut: d("2025-12-12"), Adults: 2}
		req := pms.BookingRequest{Hotel: sevilla, RoomTypeID: 4, Stay: stay, Reference: "wamid.shared", Guest: pms.Guest{FirstName: "Luis"}}
		booked, err := one.CreateBooking(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := other.GetBooking(ctx, sevilla, booked.ID); err != nil || got.Guest.FirstName != "Luis" || got.RoomName != "Suite Giralda" {
			t.Fatalf("the other instance reads %+v, %v", got, err)
		}
		if n := freeRooms(t, other, sevilla, stay, 4); n != 1 {
			t.Errorf("the other instance offers %d suites, want 1", n)
		}
		if retried, err := other.CreateBooking(ctx, req); err != nil || retried.ID != booked.ID {
			t.Fatalf("the request retried on the other instance: %+v, %v; want %s", retried, err, booked.ID)
		}
		if _, err := other.CancelBooking(ctx, sevilla, booked.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := one.GetBooking(ctx, sevilla, booked.ID); err != nil || got.Status != pms.BookingCancelled {
			t.Fatalf("after the other instance cancelled: %+v, %v", got, err)
		}
		if n := freeRooms(t, one, sevilla, stay, 4); n != 2 {
			t.Errorf("after the cancellation, %d suites free, want 2", n)
		}
	})
}

// Guests on two instances race for the last room: exactly one gets it.
// Retries of one request racing book it once.
func TestConcurrentBookingsOfTheLastRoom(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		lastRoom := WithProperty(func(string) Property {
			pr := DefaultProperty("Tiny")
			pr.Rooms = []Room{{Type: pms.RoomType{ID: 7, Name: pms.Untranslated("Double"), MaxAdults: 2, MaxGuests: 2}, Count: 1, WeekdayRate: 100, WeekendRate: 100}}
			return pr
		})
		one, other := b.instances(WithClock(fixedClock), lastRoom)
		ctx := context.Background()
		race := func(stay pms.Stay, reference func(i int) string) (booked []pms.Booking, soldOut int) {
			const guests = 16
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				start = make(chan struct{})
			)
			for i := range guests {
				p := one
				if i%2 == 1 {
					p = other
				}
				wg.Go(func() {
					<-start
					bk, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 7, Stay: stay, Reference: reference(i)})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						booked = append(booked, bk)
					case errors.Is(err, pms.ErrSoldOut):
						soldOut++
					default:
						t.Errorf("guest %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			return booked, soldOut
		}

		stay := pms.Stay{CheckIn: d("2025-12-05"), CheckOut: d("2025-12-08"), Adults: 2}
		// A booking made and cancelled before: the nights are in the
		// inventory already, so nothing but the ledger's locks orders the race.
		earlier, err := one.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 7, Stay: pms.Stay{CheckIn: d("2025-12-04"), CheckOut: d("2025-12-10"), Adults: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := one.CancelBooking(ctx, madrid, earlier.ID); err != nil {
			t.Fatal(err)
		}
		booked, soldOut := race(stay, func(i int) string { return fmt.Sprintf("guest-%d", i) })
		if len(booked) != 1 || soldOut != 15 {
			t.Fatalf("%d booked, %d sold out; want 1 and 15", len(booked), soldOut)
		}
		for _, p := range []*PMS{one, other} {
			if n := freeRooms(t, p, madrid, stay, 7); n != 0 {
				t.Errorf("%d rooms offered after the last was sold", n)
			}
		}

		// An overlapping stay is sold out; one retried request is one booking.
		later := pms.Stay{CheckIn: d("2025-12-08"), CheckOut: d("2025-12-10"), Adults: 2}
		booked, soldOut = race(later, func(int) string { return "the-same-request" })
		if len(booked) != 16 || soldOut != 0 {
			t.Fatalf("retries: %d booked, %d sold out; want 16 answers of one booking", len(booked), soldOut)
		}
		for _, bk := range booked {
			if bk.ID != booked[0].ID {
				t.Fatalf("one request booked twice: %s and %s", booked[0].ID, bk.ID)
			}
		}
		if _, err := other.CreateBooking(ctx, pms.BookingRequest{Hotel: madrid, RoomTypeID: 7, Stay: pms.Stay{CheckIn: d("2025-12-07"), CheckOut: d("2025-12-09"), Adults: 2}}); !errors.Is(err, pms.ErrSoldOut) {
			t.Errorf("a stay overlapping both bookings: %v, want ErrSoldOut", err)
		}
	})
}
