package qloapps_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/qloapps"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
)

const key = "TESTKEY0123456789ABCDEFGHIJKLMNO"

var hotel1 = pms.Hotel{TenantID: "t1", PMSID: 1}

// generalRooms are the fake's room type 1's names, by the ISO codes of its
// languages.
var generalRooms = pms.Text{"en": "General Rooms", "es": "Habitaciones generales"}

// A key that may not read the shop's languages (made before the client
// read them) still gets names: the first language's, untranslated; and
// the languages are asked again later, not on every call.
func TestNamesWithoutLanguages(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	fake.Inject(fakeqloapps.Languages, 1, fakeqloapps.Unauthorized, 0)
	c := newClient(t, fake)
	rts, err := c.RoomTypes(ctxT(t), hotel1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rts) != 2 || !maps.Equal(rts[0].Name, pms.Untranslated("General Rooms")) {
		t.Fatalf("room types without languages: %+v", rts)
	}
	if info, err := c.HotelInfo(ctxT(t), hotel1); err != nil || info.Name.In("es") != "The Hotel Prime" {
		t.Fatalf("hotel info without languages: %+v, %v", info, err)
	}
	if n := fake.Calls(fakeqloapps.Languages); n != 1 {
		t.Errorf("languages asked %d times, want once", n)
	}
}

// An answer that breaks the languages' shape is the PMS failing, not a
// shop with no languages.
func TestMalformedLanguages(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	fake.Inject(fakeqloapps.Languages, 1, fakeqloapps.MalformedJSON, 0)
	c := newClient(t, fake)
	if _, err := c.RoomTypes(ctxT(t), hotel1); !errors.Is(err, pms.ErrMalformed) || !errors.Is(err, pms.ErrUnavailable) {
		t.Fatalf("malformed languages: %v, want ErrMalformed and ErrUnavailable", err)
	}
	if rts, err := c.RoomTypes(ctxT(t), hotel1); err != nil || !maps.Equal(rts[0].Name, generalRooms) {
		t.Fatalf("after the fault: %+v, %v", rts, err)
	}
}

func newClient(t *testing.T, fake *fakeqloapps.Server, mutate ...func(*qloapps.Config)) *qloapps.Client {
	t.Helper()
	cfg := qloapps.Config{BaseURL: fake.URL, APIKey: key, TimeZone: "Europe/Madrid"}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := qloapps.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func stay(in, out string, adults, children int) pms.Stay {
	a, _ := pms.ParseDate(in)
	b, _ := pms.ParseDate(out)
	return pms.Stay{CheckIn: a, CheckOut: b, Adults: adults, Children: children}
}

func guest() pms.Guest {
	return pms.Guest{FirstName: "Ana", LastName: "García", Email: "ana@example.com", Phone: "+34600000000"}
}

func TestAvailabilityMapsRoomTypesPricesAndCurrency(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	a, err := c.Availability(ctxT(t), hotel1, stay("2030-05-01", "2030-05-03", 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if a.Currency != "USD" || len(a.Offers) != 2 {
		t.Fatalf("got %+v", a)
	}
	g, d := a.Offers[0], a.Offers[1]
	if g.RoomType.ID != 1 || !maps.Equal(g.RoomType.Name, generalRooms) || g.Available != 3 || g.TotalPrice != 220 {
		t.Errorf("general offer = %+v, want id 1, 3 rooms, 220 (2 nights × 100 + 10%%)", g)
	}
	if d.RoomType.ID != 2 || d.Available != 2 || d.TotalPrice != 330 {
		t.Errorf("delux offer = %+v", d)
	}
	if a.AsOf.IsZero() || a.Stale {
		t.Errorf("AsOf/Stale = %v/%v", a.AsOf, a.Stale)
	}
	if fake.Calls(fakeqloapps.HotelARI) != 1 {
		t.Errorf("hotel_ari calls = %d", fake.Calls(fakeqloapps.HotelARI))
	}
}

func TestAvailabilitySendsOccupancy(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	a, err := c.Availability(ctxT(t), hotel1, stay("2030-05-01", "2030-05-02", 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Offers) != 1 || a.Offers[0].RoomType.ID != 2 {
		t.Fatalf("3 adults + 1 child should only fit Delux (max 3+2): %+v", a.Offers)
	}
}

func TestAvailabilityRejectsBadStayWithoutCalling(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	_, err := c.Availability(ctxT(t), hotel1, stay("2030-05-03", "2030-05-03", 2, 0))
	if !errors.Is(err, pms.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if fake.TotalCalls() != 0 {
		t.Fatalf("a request was sent for an invalid stay")
	}
}

func TestBaseURLWithAPISuffix(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake, func(c *qloapps.Config) { c.BaseURL = fake.URL + "/api/" })
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestHotelInfo(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	fake.AddHotel(fakeqloapps.HotelData{ID: 7, Name: "Hotel Siete", Address: "Calle Mayor 7", City: "Sevilla",
		Phone: "+34 954 000 000", Email: "info@siete.example", CheckIn: "02:00 PM", CheckOut: "11:30"})
	c := newClient(t, fake)
	info, err := c.HotelInfo(ctxT(t), pms.Hotel{TenantID: "t7", PMSID: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := pms.HotelInfo{Name: pms.Text{"en": "Hotel Siete", "es": "Hotel Siete"}, Address: "Calle Mayor 7", City: "Sevilla", Phone: "+34 954 000 000",
		Email: "info@siete.example", CheckInTime: "14:00", CheckOutTime: "11:30", TimeZone: "Europe/Madrid"}
	if !maps.Equal(info.Name, want.Name) || info.Address != want.Address || info.City != want.City || info.Phone != want.Phone ||
		info.Email != want.Email || info.CheckInTime != want.CheckInTime || info.CheckOutTime != want.CheckOutTime ||
		info.TimeZone != want.TimeZone {
		t.Fatalf("got %+v\nwant %+v", info, want)
	}
	if _, err := c.HotelInfo(ctxT(t), pms.Hotel{PMSID: 99}); !errors.Is(err, pms.ErrNotFound) {
		t.Fatalf("unknown hotel: err = %v, want ErrNotFound", err)
	}
}

func TestRoomTypes(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	rts, err := c.RoomTypes(ctxT(t), hotel1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rts) != 2 {
		t.Fatalf("got %+v", rts)
	}
	if rts[0].ID != 1 || !maps.Equal(rts[0].Name, generalRooms) || rts[0].MaxAdults != 2 || rts[0].MaxChildren != 1 ||
		!maps.Equal(rts[0].Description, pms.Text{"en": "Simple and quiet.", "es": "Simple and quiet."}) {
		t.Errorf("room type 1 = %+v", rts[0])
	}
	if rts[1].ID != 2 || rts[1].Name.In("es") != "Habitaciones de lujo" || rts[1].Name.In("en") != "Delux Rooms" || rts[1].MaxAdults != 3 {
		t.Errorf("room type 2 = %+v", rts[1])
	}
	// A hotel with no room types: PrestaShop answers a bare [].
	fake.AddHotel(fakeqloapps.HotelData{ID: 3, Name: "Empty"})
	rts, err = c.RoomTypes(ctxT(t), pms.Hotel{PMSID: 3})
	if err != nil || len(rts) != 0 {
		t.Fatalf("empty hotel: %v, %v", rts, err)
	}
}

func TestCreateBookingReducesAvailabilityAndIsIdempotent(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	ctx := ctxT(t)
	s := stay("2030-06-10", "2030-06-12", 2, 1)
	s.ChildAges = []int{5} // QloApps books no child without an age
	req := pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: s, Guest: guest(), Reference: "wa-abc.123"}
	b, err := c.CreateBooking(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == "" || b.Reference != "wa-abc.123" || b.Status != pms.BookingNew || b.RoomTypeID != 1 ||
		b.RoomName != "General Rooms" || b.Stay.CheckIn != s.CheckIn || b.Stay.CheckOut != s.CheckOut ||
		b.Stay.Adults != 2 || b.Stay.Children != 1 || b.TotalPrice != 220 || b.Currency != "USD" ||
		b.Guest.Email != "ana@example.com" {
		t.Fatalf("booking = %+v", b)
	}
	fb := fake.Bookings()
	if len(fb) != 1 || fb[0].Source != "wa-abc.123" || fb[0].Status != 1 || fb[0].PaymentStatus != 3 ||
		len(fb[0].Remarks) != 1 || !strings.Contains(fb[0].Remarks[0], "wa-abc.123") {
		t.Fatalf("fake bookings = %+v", fb)
	}
	if got := fake.FreeRooms(1, "2030-06-11", "2030-06-12"); got != 2 {
		t.Fatalf("free General rooms after booking = %d, want 2", got)
	}
	a, err := c.Availability(ctx, hotel1, s)
	if err != nil || a.Offers[0].Available != 2 {
		t.Fatalf("availability after booking: %+v, %v", a, err)
	}

	again, err := c.CreateBooking(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != b.ID || again.Status != pms.BookingNew {
		t.Fatalf("repeated reference booked %+v, want the existing %s", again, b.ID)
	}
	if n := len(fake.Bookings()); n != 1 {
		t.Fatalf("repeated reference made %d bookings", n)
	}
	if n := fake.Calls(fakeqloapps.CreateBooking); n != 1 {
		t.Fatalf("POST /api/bookings calls = %d, want 1", n)
	}
	// Orders: a lookup by reference before each attempt, and the status
	// read of the booking the second one found.
	if n := fake.Calls(fakeqloapps.Orders); n != 3 {
		t.Fatalf("orders calls = %d, want 3", n)
	}
}

func TestCreateBookingSoldOut(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake, func(c *qloapps.Config) { c.Currency = "usd" })
	ctx := ctxT(t)
	s := stay("2030-07-01", "2030-07-04", 2, 0)
	for i, ref := range []string{"r1", "r2"} {
		if _, err := c.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 2, Stay: s, Guest: guest(), Reference: ref}); err != nil {
			t.Fatalf("booking %d: %v", i, err)
		}
	}
	_, err := c.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 2, Stay: stay("2030-07-03", "2030-07-05", 2, 0), Guest: guest(), Reference: "r3"})
	if !errors.Is(err, pms.ErrSoldOut) {
		t.Fatalf("third Delux booking: err = %v, want ErrSoldOut", err)
	}
	// Without a learned currency the client asked nothing extra: Currency was configured.
	if n := fake.Calls(fakeqloapps.HotelARI); n != 0 {
		t.Fatalf("hotel_ari calls = %d with a configured currency", n)
	}
}

func TestCreateBookingLearnsCurrencyFromHotelARI(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	fake.Currency = "EUR"
	c := newClient(t, fake)
	b, err := c.CreateBooking(ctxT(t), pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: stay("2030-07-01", "2030-07-02", 1, 0), Guest: guest()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Currency != "EUR" || fake.Calls(fakeqloapps.HotelARI) != 1 || fake.Calls(fakeqloapps.Orders) != 0 {
		t.Fatalf("booking %+v; ari calls %d; lookups %d (no reference: none)", b, fake.Calls(fakeqloapps.HotelARI), fake.Calls(fakeqloapps.Orders))
	}
}

func TestCreateBookingValidation(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	ctx := ctxT(t)
	base := pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: stay("2030-07-01", "2030-07-02", 1, 0), Guest: guest(), Reference: "ok"}
	cases := map[string]func(*pms.BookingRequest){
		"no room type":   func(r *pms.BookingRequest) { r.RoomTypeID = 0 },
		"bad stay":       func(r *pms.BookingRequest) { r.Stay.Adults = 0 },
		"no name":        func(r *pms.BookingRequest) { r.Guest.LastName = " " },
		"no email":       func(r *pms.BookingRequest) { r.Guest.Email = "" },
		"bad reference":  func(r *pms.BookingRequest) { r.Reference = "a]|b" },
		"long reference": func(r *pms.BookingRequest) { r.Reference = strings.Repeat("x", 65) },
	}
	for name, mutate := range cases {
		r := base
		mutate(&r)
		if _, err := c.CreateBooking(ctx, r); !errors.Is(err, pms.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if fake.TotalCalls() != 0 {
		t.Fatalf("invalid requests reached QloApps")
	}
	// A missing guest detail names the detail.
	for want, mutate := range map[pms.GuestDetail]func(*pms.Guest){
		pms.GuestFirstName: func(g *pms.Guest) { g.FirstName = "" },
		pms.GuestLastName:  func(g *pms.Guest) { g.LastName = " " },
		pms.GuestEmail:     func(g *pms.Guest) { g.Email = "" },
	} {
		r := base
		mutate(&r.Guest)
		var ge *pms.InvalidGuestError
		if _, err := c.CreateBooking(ctx, r); !errors.As(err, &ge) || ge.Detail != want {
			t.Errorf("guest without %s: err = %v", want, err)
		}
	}
	if fake.TotalCalls() != 0 {
		t.Fatalf("invalid requests reached QloApps")
	}
	// QloApps' own refusal (no phone) is ErrInvalid too, naming the detail.
	r := base
	r.Guest.Phone = ""
	_, err := c.CreateBooking(ctx, r)
	var ge *pms.InvalidGuestError
	var ae *qloapps.APIError
	if !errors.Is(err, pms.ErrInvalid) || errors.Is(err, pms.ErrSoldOut) || !errors.As(err, &ge) || ge.Detail != pms.GuestPhone ||
		!errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("no phone: err = %v, want an InvalidGuestError for the phone wrapping QloApps' 400", err)
	}
	if got := c.GuestRequirements(); got != (pms.GuestFields{FirstName: true, LastName: true, Email: true, Phone: true}) {
		t.Errorf("GuestRequirements = %+v", got)
	}
}

func TestCreateBookingDoesNotPostWhenLookupFails(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	fake.Inject(fakeqloapps.Orders, 1, fakeqloapps.ServerError, 0)
	_, err := c.CreateBooking(ctxT(t), pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: stay("2030-07-01", "2030-07-02", 1, 0), Guest: guest(), Reference: "ref-1"})
	if !errors.Is(err, pms.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if fake.Calls(fakeqloapps.CreateBooking) != 0 {
		t.Fatal("booked although the reference could not be checked")
	}
}

func TestGetAndCancelBooking(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	ctx := ctxT(t)
	s := stay("2030-08-01", "2030-08-03", 2, 0)
	b, err := c.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 2, Stay: s, Guest: guest(), Reference: "cancel-me"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBooking(ctx, hotel1, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.Reference != "cancel-me" || got.RoomTypeID != 2 || !reflect.DeepEqual(got.Stay, b.Stay) || got.TotalPrice != 330 ||
		got.Guest != guest() {
		t.Fatalf("GetBooking = %+v", got)
	}
	// QloApps 1.6.1's bookings answer has no status: it is read from the order.
	if got.Status != pms.BookingNew {
		t.Fatalf("status %d, want new", got.Status)
	}
	if fake.FreeRooms(2, "2030-08-01", "2030-08-03") != 1 {
		t.Fatal("booking did not take a room")
	}

	cb, err := c.CancelBooking(ctx, hotel1, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Status != pms.BookingCancelled || cb.ID != b.ID {
		t.Fatalf("cancel = %+v", cb)
	}
	fb := fake.Bookings()[0]
	if fb.Status != 3 || len(fb.Lines) != 1 || len(fb.Lines[0].Rooms) != 1 {
		t.Fatalf("fake booking after cancel = %+v (rooms must be kept, status 3)", fb)
	}
	if fake.FreeRooms(2, "2030-08-01", "2030-08-03") != 2 {
		t.Fatal("cancelled booking still holds its room")
	}

	// Tenant isolation: hotel 2 cannot read or cancel hotel 1's booking.
	other := pms.Hotel{TenantID: "t2", PMSID: 2}
	if _, err := c.GetBooking(ctx, other, b.ID); !errors.Is(err, pms.ErrNotFound) {
		t.Fatalf("other hotel GetBooking: %v", err)
	}
	if _, err := c.CancelBooking(ctx, other, b.ID); !errors.Is(err, pms.ErrNotFound) {
		t.Fatalf("other hotel CancelBooking: %v", err)
	}
	if fake.Calls(fakeqloapps.UpdateBooking) != 1 {
		t.Fatalf("PUT calls = %d", fake.Calls(fakeqloapps.UpdateBooking))
	}
	for _, id := range []string{"999", "abc", "-1", ""} {
		if _, err := c.GetBooking(ctx, hotel1, id); !errors.Is(err, pms.ErrNotFound) {
			t.Errorf("GetBooking(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestErrorsMapToSentinels(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	ctx := ctxT(t)
	s := stay("2030-05-01", "2030-05-02", 1, 0)
	// The client reads the hotel's room types once and keeps them a while;
	// read them first so that each fault below hits the call named.
	if _, err := c.RoomTypes(ctx, hotel1); err != nil {
		t.Fatal(err)
	}

	fake.Inject("", 1, fakeqloapps.ServerError, 0)
	_, err := c.Availability(ctx, hotel1, s)
	var ae *qloapps.APIError
	if !errors.Is(err, pms.ErrUnavailable) || !errors.As(err, &ae) || ae.HTTPStatus() != 500 || ae.Endpoint != qloapps.EndpointHotelARI {
		t.Fatalf("500: err = %v", err)
	}

	fake.Inject("", 1, fakeqloapps.Unauthorized, 0)
	if _, err := c.HotelInfo(ctx, hotel1); !errors.Is(err, pms.ErrUnauthorized) {
		t.Fatalf("401: err = %v", err)
	}

	fake.Inject("", 1, fakeqloapps.MalformedJSON, 0)
	_, err = c.Availability(ctx, hotel1, s)
	if !errors.Is(err, pms.ErrMalformed) || !errors.Is(err, pms.ErrUnavailable) {
		t.Fatalf("malformed: err = %v", err)
	}

	wrongKey := newClient(t, fake, func(c *qloapps.Config) { c.APIKey = "WRONG" })
	if err := wrongKey.Ping(ctx); !errors.Is(err, pms.ErrUnauthorized) {
		t.Fatalf("wrong key: err = %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func TestTimeoutHonoursContextDeadline(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	fake.Inject(fakeqloapps.HotelARI, 1, fakeqloapps.Hang, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Availability(ctx, hotel1, stay("2030-05-01", "2030-05-02", 1, 0))
	if !errors.Is(err, pms.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	// The fake would hold the answer a minute; the call returned with its context.
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("call waited %v past a 50ms deadline", waited)
	}
}

func TestTransportFailureIsUnavailable(t *testing.T) {
	fake := fakeqloapps.New(key)
	c := newClient(t, fake)
	fake.Close()
	err := c.Ping(ctxT(t))
	var ae *qloapps.APIError
	if !errors.Is(err, pms.ErrUnavailable) || errors.As(err, &ae) {
		t.Fatalf("err = %v, want a transport ErrUnavailable", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]qloapps.Config{
		"no url":   {APIKey: "k"},
		"relative": {BaseURL: "hotel.example.com", APIKey: "k"},
		"ftp":      {BaseURL: "ftp://hotel.example.com", APIKey: "k"},
		"no key":   {BaseURL: "https://hotel.example.com"},
		"bad zone": {BaseURL: "https://hotel.example.com", APIKey: "k", TimeZone: "Mars/Base"},
	} {
		if _, err := qloapps.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// QloApps 1.6.1 may answer 500 after it made or cancelled the booking: the
// client reads the state back before reporting anything.
func TestWritesAnsweredWith500AreReadBack(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	c := newClient(t, fake)
	ctx := ctxT(t)
	s := stay("2030-09-01", "2030-09-03", 2, 1)
	s.ChildAges = []int{7}
	fake.Inject(fakeqloapps.CreateBooking, 1, fakeqloapps.FailAfterWrite, 0)
	b, err := c.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: s, Guest: guest(), Reference: "wa-500"})
	if err != nil || b.ID == "" || b.Status != pms.BookingNew || len(fake.Bookings()) != 1 {
		t.Fatalf("create answered 500 after booking: %+v, %v (fake holds %d)", b, err, len(fake.Bookings()))
	}
	fake.Inject(fakeqloapps.UpdateBooking, 1, fakeqloapps.FailAfterWrite, 0)
	cb, err := c.CancelBooking(ctx, hotel1, b.ID)
	if err != nil || cb.Status != pms.BookingCancelled {
		t.Fatalf("cancel answered 500 after cancelling: %+v, %v", cb, err)
	}
	// A 500 with nothing done is still an error.
	fake.Inject(fakeqloapps.CreateBooking, 1, fakeqloapps.ServerError, 0)
	if _, err := c.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: s, Guest: guest(), Reference: "wa-500-b"}); !errors.Is(err, pms.ErrUnavailable) {
		t.Fatalf("create failed for real: %v", err)
	}
}

// hotel_ari's totals include the services QloApps adds to the room's price;
// the booking names them, so the guest is booked at the price quoted. Fees
// QloApps keeps apart from the room's price are in neither.
func TestBookedAtTheQuotedPriceWithAutomaticServices(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	fake.AddService(fakeqloapps.ServiceData{ID: 5, Name: "Room Maintenance Fees", Price: 25, AutoAdd: true, WithRoom: true, PerNight: true})
	fake.AddService(fakeqloapps.ServiceData{ID: 6, Name: "Internet Handling Charges", Price: 30, AutoAdd: true})
	fake.AddService(fakeqloapps.ServiceData{ID: 7, Name: "Airport Shuttle", Price: 50, WithRoom: true})
	for _, sv := range []int{5, 6, 7} {
		fake.LinkService(1, sv)
	}
	c := newClient(t, fake)
	ctx := ctxT(t)
	s := stay("2030-10-01", "2030-10-03", 2, 0)
	a, err := c.Availability(ctx, hotel1, s)
	if err != nil {
		t.Fatal(err)
	}
	if a.Offers[0].TotalPrice != 275 { // (2 × 100 + 2 × 25) + 10%
		t.Fatalf("quote %v, want 275", a.Offers[0].TotalPrice)
	}
	b, err := c.CreateBooking(ctx, pms.BookingRequest{Hotel: hotel1, RoomTypeID: 1, Stay: s, Guest: guest(), Reference: "wa-fees"})
	if err != nil || b.TotalPrice != 275 {
		t.Fatalf("booked %+v, %v; want 275", b, err)
	}
}
