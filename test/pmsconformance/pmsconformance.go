// Package pmsconformance is the contract every pms.PMS must keep, as one
// suite run against each implementation: the real QloApps, the QloApps fake
// (so it cannot drift from the real one) and the demo PMS on both its
// backends. It asks only what
// any hotel's data answers (it discovers the room types and their prices),
// so the same assertions hold whatever the target holds.
package pmsconformance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Target is one implementation under test.
type Target struct {
	// PMS is the implementation, connected to a hotel that sells at least
	// one room type with at least two rooms and takes 2 adults and a child.
	PMS pms.PMS
	// Hotel is that hotel.
	Hotel pms.Hotel
	// HotelName is its name as the PMS keeps it (in every language).
	HotelName string
	// Languages are the language codes the PMS keeps its texts in, its
	// default first: every room type must be named in each of them, and
	// when there are several, at least one room type's names must differ
	// (a translation, not one text under several codes).
	Languages []string
	// UnknownHotel is a hotel id the PMS does not have.
	UnknownHotel pms.Hotel
	// Today is the date in the hotels' time zone (past stays are refused).
	Today pms.Date
	// WithBadCredentials is the same PMS with credentials it refuses; nil
	// when the implementation has none.
	WithBadCredentials func() pms.PMS
	// Check runs after each case: e.g. the real QloApps' PHP error log must
	// have stayed empty.
	Check func(t *testing.T)
}

// Run runs the contract against target. Stays are far in the future and
// differ from run to run, so runs against a shared server do not meet.
func Run(t *testing.T, target Target) {
	t.Helper()
	c := &contract{Target: target, base: target.Today.AddDays(400 + rand.IntN(3000))}
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"ping", c.ping},
		{"hotel info", c.hotelInfo},
		{"room types", c.roomTypes},
		{"availability", c.availability},
		{"book adults, a child and its age, at the quoted price", c.book},
		{"a repeated booking books once", c.idempotent},
		{"read back", c.readBack},
		{"cancel", c.cancel},
		{"sold out", c.soldOut},
		{"unknown ids", c.unknownIDs},
		{"past stays and parties no room holds", c.refusals},
		{"bad credentials", c.badCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t)
			if target.Check != nil {
				target.Check(t)
			}
		})
	}
}

type contract struct {
	Target
	base pms.Date // first check-in of this run
	slot int      // stays of this run don't overlap
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextStay is a two-night stay no other case of the run uses.
func (c *contract) nextStay(adults int, childAges ...int) pms.Stay {
	in := c.base.AddDays(c.slot * 3)
	c.slot++
	return pms.Stay{CheckIn: in, CheckOut: in.AddDays(2), Adults: adults, Children: len(childAges), ChildAges: childAges}
}

func (c *contract) guest(tag string) pms.Guest {
	return pms.Guest{FirstName: "Conformance", LastName: "Guest " + tag, Email: "conformance+" + tag + "@example.com", Phone: "+34600000000"}
}

func reference(tag string) string {
	return fmt.Sprintf("conf-%s-%d", tag, time.Now().UnixNano())
}

// family is the party every booking case uses: 2 adults and a child of 7.
func (c *contract) familyStay() pms.Stay { return c.nextStay(2, 7) }

// offerFor is the first offer of a for a room type holding the stay's party
// with at least n rooms free.
func offerFor(t *testing.T, a pms.Availability, n int) pms.Offer {
	t.Helper()
	for _, o := range a.Offers {
		if o.Available >= n && o.RoomType.Holds(a.Stay) {
			return o
		}
	}
	t.Fatalf("no room type with %d rooms free for %+v: %+v", n, a.Stay, a.Offers)
	return pms.Offer{}
}

func (c *contract) ping(t *testing.T) {
	if err := c.PMS.Ping(ctxOf(t)); err != nil {
		t.Fatal(err)
	}
}

func (c *contract) hotelInfo(t *testing.T) {
	info, err := c.PMS.HotelInfo(ctxOf(t), c.Hotel)
	if err != nil {
		t.Fatal(err)
	}
	if info.Address == "" || info.City == "" {
		t.Fatalf("hotel info %+v, want an address and a city", info)
	}
	for _, l := range append([]string{""}, c.Languages...) {
		if got := info.Name.In(l); got != c.HotelName {
			t.Errorf("hotel name in %q is %q, want %q", l, got, c.HotelName)
		}
	}
}

func (c *contract) roomTypes(t *testing.T) {
	types, err := c.PMS.RoomTypes(ctxOf(t), c.Hotel)
	if err != nil {
		t.Fatal(err)
	}
	if len(types) == 0 {
		t.Fatal("no room types")
	}
	translated := false
	for _, rt := range types {
		if rt.ID <= 0 || rt.Name.Empty() || rt.MaxAdults < 1 || rt.Capacity() < rt.MaxAdults {
			t.Errorf("room type %+v: want an id, the PMS's name and a capacity", rt)
		}
		for _, l := range c.Languages {
			if rt.Name[l] == "" {
				t.Errorf("room type %d is named %v: no name in %q", rt.ID, rt.Name, l)
			}
		}
		if len(c.Languages) > 1 && rt.Name[c.Languages[0]] != rt.Name[c.Languages[1]] {
			translated = true
		}
	}
	if len(c.Languages) > 1 && !translated {
		t.Errorf("no room type has a name in %q different from its name in %q", c.Languages[1], c.Languages[0])
	}
}

func (c *contract) availability(t *testing.T) {
	ctx := ctxOf(t)
	types, err := c.PMS.RoomTypes(ctx, c.Hotel)
	if err != nil {
		t.Fatal(err)
	}
	names := map[int]pms.Text{}
	for _, rt := range types {
		names[rt.ID] = rt.Name
	}
	s := c.nextStay(2)
	a, err := c.PMS.Availability(ctx, c.Hotel, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Offers) == 0 || a.Currency == "" {
		t.Fatalf("availability %+v: want offers and a currency", a)
	}
	for _, o := range a.Offers {
		if o.Available < 1 || o.TotalPrice <= 0 || !maps.Equal(names[o.RoomType.ID], o.RoomType.Name) || !o.RoomType.Holds(s) {
			t.Errorf("offer %+v: want rooms, a price, the room type's own names %v and room for the party", o, names[o.RoomType.ID])
		}
	}
}

// book makes one booking of the family's stay and checks it against the quote.
func (c *contract) bookFamily(t *testing.T, tag string) (pms.Booking, pms.Offer, pms.BookingRequest) {
	t.Helper()
	ctx := ctxOf(t)
	s := c.familyStay()
	a, err := c.PMS.Availability(ctx, c.Hotel, s)
	if err != nil {
		t.Fatal(err)
	}
	o := offerFor(t, a, 2)
	req := pms.BookingRequest{Hotel: c.Hotel, RoomTypeID: o.RoomType.ID, Stay: s, Guest: c.guest(tag), Reference: reference(tag)}
	b, err := c.PMS.CreateBooking(ctx, req)
	if err != nil {
		t.Fatalf("booking %+v: %v", req, err)
	}
	return b, o, req
}

func (c *contract) book(t *testing.T) {
	b, o, req := c.bookFamily(t, "book")
	if b.ID == "" || b.Reference != req.Reference || b.Status != pms.BookingNew || b.RoomTypeID != o.RoomType.ID {
		t.Errorf("booking %+v: want an id, the reference, status new and the room type", b)
	}
	if b.Stay.CheckIn != req.Stay.CheckIn || b.Stay.CheckOut != req.Stay.CheckOut || b.Stay.Adults != 2 || b.Stay.Children != 1 {
		t.Errorf("booked stay %+v, want %s-%s for 2 adults and 1 child", b.Stay, req.Stay.CheckIn, req.Stay.CheckOut)
	}
	if b.TotalPrice != o.TotalPrice {
		t.Errorf("booked at %.2f, quoted %.2f: the guest must be booked at the price quoted", b.TotalPrice, o.TotalPrice)
	}
}

func (c *contract) idempotent(t *testing.T) {
	ctx := ctxOf(t)
	first, o, req := c.bookFamily(t, "retry")
	after, err := c.PMS.Availability(ctx, c.Hotel, req.Stay)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.PMS.CreateBooking(ctx, req)
	if err != nil || again.ID != first.ID {
		t.Fatalf("repeated booking: %+v, %v; want booking %s again", again, err, first.ID)
	}
	final, err := c.PMS.Availability(ctx, c.Hotel, req.Stay)
	if err != nil {
		t.Fatal(err)
	}
	if free(after, o.RoomType.ID) != free(final, o.RoomType.ID) {
		t.Fatalf("the repeat took another room: %d free, then %d", free(after, o.RoomType.ID), free(final, o.RoomType.ID))
	}
}

func free(a pms.Availability, roomType int) int {
	for _, o := range a.Offers {
		if o.RoomType.ID == roomType {
			return o.Available
		}
	}
	return 0
}

func (c *contract) readBack(t *testing.T) {
	b, _, req := c.bookFamily(t, "read")
	got, err := c.PMS.GetBooking(ctxOf(t), c.Hotel, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.Status != pms.BookingNew || got.RoomTypeID != b.RoomTypeID || got.TotalPrice != b.TotalPrice ||
		got.Stay.CheckIn != req.Stay.CheckIn || got.Stay.CheckOut != req.Stay.CheckOut || got.Stay.Adults != 2 || got.Stay.Children != 1 ||
		got.Guest.Email != req.Guest.Email || got.Guest.LastName != req.Guest.LastName {
		t.Fatalf("read back %+v\nbooked    %+v", got, b)
	}
}

func (c *contract) cancel(t *testing.T) {
	ctx := ctxOf(t)
	b, o, req := c.bookFamily(t, "cancel")
	before, err := c.PMS.Availability(ctx, c.Hotel, req.Stay)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := c.PMS.CancelBooking(ctx, c.Hotel, b.ID)
	if err != nil || cancelled.Status != pms.BookingCancelled {
		t.Fatalf("cancel: %+v, %v", cancelled, err)
	}
	got, err := c.PMS.GetBooking(ctx, c.Hotel, b.ID)
	if err != nil || got.Status != pms.BookingCancelled {
		t.Fatalf("read after cancel: %+v, %v", got, err)
	}
	after, err := c.PMS.Availability(ctx, c.Hotel, req.Stay)
	if err != nil {
		t.Fatal(err)
	}
	if free(after, o.RoomType.ID) != free(before, o.RoomType.ID)+1 {
		t.Fatalf("cancelling freed no room: %d free before, %d after", free(before, o.RoomType.ID), free(after, o.RoomType.ID))
	}
	// Cancelling again changes nothing and is no error.
	if again, err := c.PMS.CancelBooking(ctx, c.Hotel, b.ID); err != nil || again.Status != pms.BookingCancelled {
		t.Fatalf("second cancel: %+v, %v", again, err)
	}
}

func (c *contract) soldOut(t *testing.T) {
	ctx := ctxOf(t)
	s := c.nextStay(1)
	a, err := c.PMS.Availability(ctx, c.Hotel, s)
	if err != nil {
		t.Fatal(err)
	}
	o := offerFor(t, a, 1)
	for i := range o.Available {
		req := pms.BookingRequest{Hotel: c.Hotel, RoomTypeID: o.RoomType.ID, Stay: s, Guest: c.guest("full"), Reference: reference(fmt.Sprint("full", i))}
		if _, err := c.PMS.CreateBooking(ctx, req); err != nil {
			t.Fatalf("booking room %d of %d: %v", i+1, o.Available, err)
		}
	}
	req := pms.BookingRequest{Hotel: c.Hotel, RoomTypeID: o.RoomType.ID, Stay: s, Guest: c.guest("full"), Reference: reference("over")}
	if _, err := c.PMS.CreateBooking(ctx, req); !errors.Is(err, pms.ErrSoldOut) {
		t.Fatalf("booking a sold-out room type: %v, want ErrSoldOut", err)
	}
	a, err = c.PMS.Availability(ctx, c.Hotel, s)
	if err != nil {
		t.Fatal(err)
	}
	if n := free(a, o.RoomType.ID); n != 0 {
		t.Fatalf("a sold-out room type is offered with %d rooms", n)
	}
}

func (c *contract) unknownIDs(t *testing.T) {
	ctx := ctxOf(t)
	for _, id := range []string{"987654", "abc", ""} {
		if _, err := c.PMS.GetBooking(ctx, c.Hotel, id); !errors.Is(err, pms.ErrNotFound) {
			t.Errorf("GetBooking(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := c.PMS.CancelBooking(ctx, c.Hotel, id); !errors.Is(err, pms.ErrNotFound) {
			t.Errorf("CancelBooking(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := c.PMS.HotelInfo(ctx, c.UnknownHotel); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("HotelInfo of an unknown hotel: %v, want ErrNotFound", err)
	}
	types, err := c.PMS.RoomTypes(ctx, c.Hotel)
	if err != nil {
		t.Fatal(err)
	}
	unknown := 1
	for slices.ContainsFunc(types, func(rt pms.RoomType) bool { return rt.ID == unknown }) {
		unknown++
	}
	req := pms.BookingRequest{Hotel: c.Hotel, RoomTypeID: unknown, Stay: c.nextStay(1), Guest: c.guest("unknown"), Reference: reference("unknown")}
	if _, err := c.PMS.CreateBooking(ctx, req); !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("booking room type %d the hotel does not sell: %v, want ErrInvalid", unknown, err)
	}
	// A booking of one hotel is not found through another.
	b, _, _ := c.bookFamily(t, "other-hotel")
	if _, err := c.PMS.GetBooking(ctx, c.UnknownHotel, b.ID); !errors.Is(err, pms.ErrNotFound) {
		t.Errorf("another hotel's booking: %v, want ErrNotFound", err)
	}
}

func (c *contract) refusals(t *testing.T) {
	ctx := ctxOf(t)
	past := pms.Stay{CheckIn: c.Today.AddDays(-3), CheckOut: c.Today.AddDays(-1), Adults: 1}
	var ps *pms.PastStayError
	if _, err := c.PMS.Availability(ctx, c.Hotel, past); !errors.As(err, &ps) || !errors.Is(err, pms.ErrInvalid) {
		t.Errorf("availability of a past stay: %v, want a PastStayError", err)
	}
	types, err := c.PMS.RoomTypes(ctx, c.Hotel)
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for _, rt := range types {
		most = max(most, rt.Capacity())
	}
	crowd := c.nextStay(most + 1)
	var big *pms.PartyTooLargeError
	if _, err := c.PMS.Availability(ctx, c.Hotel, crowd); !errors.As(err, &big) || big.MaxGuests != most {
		t.Errorf("availability for %d guests: %v, want a PartyTooLargeError saying %d", most+1, err, most)
	}
	req := pms.BookingRequest{Hotel: c.Hotel, RoomTypeID: types[0].ID, Stay: past, Guest: c.guest("past"), Reference: reference("past")}
	if _, err := c.PMS.CreateBooking(ctx, req); !errors.As(err, &ps) {
		t.Errorf("booking a past stay: %v, want a PastStayError", err)
	}
	req.Stay, req.Reference = crowd, reference("crowd")
	if _, err := c.PMS.CreateBooking(ctx, req); !errors.As(err, &big) {
		t.Errorf("booking for %d guests: %v, want a PartyTooLargeError", most+1, err)
	}
}

func (c *contract) badCredentials(t *testing.T) {
	if c.WithBadCredentials == nil {
		t.Skip("the implementation takes no credentials")
	}
	if err := c.WithBadCredentials().Ping(ctxOf(t)); !errors.Is(err, pms.ErrUnauthorized) {
		t.Fatalf("ping with bad credentials: %v, want ErrUnauthorized", err)
	}
}
