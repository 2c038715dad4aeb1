// Package demo is the PMS behind PMS_TYPE=demo: a property per hotel (the
// sample hotels of SampleProperties by PMS id, DefaultProperty for a tenant
// with none) with room types, nightly rates, inventory per night and
// bookings that really take rooms out of that inventory. It lets the agent
// run end to end without QloApps, and it behaves like a PMS where it matters
// to the agent: two guests cannot book the last room, a retried booking
// request with the same Reference books once, and a cancellation frees the
// rooms again.
//
// Inventory and bookings live in memory, lost on restart (that is the point
// of a demo), or with WithPostgres in the database, where every instance
// sharing it sees the same rooms and bookings. Each tenant has its own
// inventory of its property.
package demo

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Language is the language the demo's hotels keep their records in: a
// booking's RoomName is the room type's name in it.
const Language = "es"

// MaxNights bounds a stay the demo accepts, so a typo cannot make it walk
// years of calendar.
const MaxNights = 30

// Room is one room type the property sells: how many rooms of it there are
// and what a night costs on weekdays and on weekend nights (Friday and
// Saturday).
type Room struct {
	Type        pms.RoomType
	Count       int
	WeekdayRate float64
	WeekendRate float64
}

// Property is a hotel of the demo.
type Property struct {
	Name         string
	Address      string
	City         string
	Phone        string
	Email        string
	CheckInTime  string
	CheckOutTime string
	Amenities    []string
	// AmenitiesEN are Amenities in English, item for item.
	AmenitiesEN []string
	TimeZone    string // IANA name
	Currency    string
	Rooms       []Room
}

// Option configures a demo PMS.
type Option func(*PMS)

// WithName names the default property, the one of a tenant with no PMS id.
func WithName(name string) Option { return func(p *PMS) { p.name = name } }

// WithProperty decides the property of each tenant, whatever its PMS id; it
// is called once per tenant and PMS id, the first time they are used.
func WithProperty(f func(tenantID string) Property) Option {
	return func(p *PMS) {
		p.propertyFor = func(h pms.Hotel) (Property, error) { return f(h.TenantID), nil }
	}
}

// WithClock replaces time.Now, for tests ("today" decides which check-in
// dates are in the past).
func WithClock(now func() time.Time) Option { return func(p *PMS) { p.now = now } }

// WithPostgres keeps inventory and bookings in pool (the demo_pms_ tables
// of internal/store's migrations) instead of memory, so that instances
// sharing the database sell the same rooms. The pool stays the caller's.
func WithPostgres(pool *pgxpool.Pool) Option {
	return func(p *PMS) { p.ledger = postgresLedger{pool: pool} }
}

// PMS is the demo property-management system. Safe for concurrent use.
type PMS struct {
	name        string
	propertyFor func(pms.Hotel) (Property, error)
	now         func() time.Time
	ledger      ledger

	mu     sync.Mutex
	hotels map[hotelKey]*hotel
}

// New returns a demo PMS with no bookings (in memory, unless WithPostgres).
func New(opts ...Option) *PMS {
	p := &PMS{now: time.Now, hotels: map[hotelKey]*hotel{}}
	for _, o := range opts {
		o(p)
	}
	if p.propertyFor == nil {
		p.propertyFor = p.sampleProperty
	}
	if p.ledger == nil {
		p.ledger = newMemoryLedger()
	}
	return p
}

// sampleProperty is the hotel of SampleProperties with h's PMS id, or the
// default property when h has none.
func (p *PMS) sampleProperty(h pms.Hotel) (Property, error) {
	if h.PMSID <= 0 {
		return DefaultProperty(p.name), nil
	}
	prop, ok := SampleProperties()[h.PMSID]
	if !ok {
		return Property{}, fmt.Errorf("%w: the demo has no hotel %d (its hotels are %d, %d and %d)", pms.ErrNotFound, h.PMSID, MadridCentral, BarcelonaBeach, SevillaPlaza)
	}
	return prop, nil
}

// hotelKey is whose inventory a call is about: a tenant's copy of one
// property (PropertyID 0 is the default property).
type hotelKey struct {
	TenantID   string
	PropertyID int
}

// hotel is a tenant's property as the calls need it.
type hotel struct {
	key   hotelKey
	prop  Property
	loc   *time.Location
	rooms map[int]*Room
	types []pms.RoomType // in the property's order
}

// hotelFor returns the tenant's property, resolving it on first use, or
// ErrUnavailable once ctx is done (as a remote PMS would).
func (p *PMS) hotelFor(ctx context.Context, h pms.Hotel) (*hotel, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", pms.ErrUnavailable, err)
	}
	if h.TenantID == "" {
		return nil, fmt.Errorf("%w: hotel has no tenant id", pms.ErrInvalid)
	}
	h.PMSID = max(h.PMSID, 0)
	key := hotelKey{TenantID: h.TenantID, PropertyID: h.PMSID}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ht, ok := p.hotels[key]; ok {
		return ht, nil
	}
	prop, err := p.propertyFor(h)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(prop.TimeZone)
	if err != nil || prop.TimeZone == "" {
		loc = time.UTC
	}
	ht := &hotel{key: key, prop: prop, loc: loc, rooms: map[int]*Room{}}
	for i := range prop.Rooms {
		r := &prop.Rooms[i]
		ht.rooms[r.Type.ID] = r
		ht.types = append(ht.types, r.Type)
	}
	p.hotels[key] = ht
	return ht, nil
}

// checkStay rejects stays the hotel cannot sell: invalid ones, ones
// starting before today in the property's time zone, parties no room type
// holds (pms.Stay.CheckBookable), and too long ones.
func (ht *hotel) checkStay(s pms.Stay, now time.Time) error {
	if err := s.CheckBookable(pms.DateOf(now.In(ht.loc)), ht.types); err != nil {
		return err
	}
	if n := s.Nights(); n > MaxNights {
		return fmt.Errorf("%w: %d nights is more than the %d the demo sells", pms.ErrInvalid, n, MaxNights)
	}
	return nil
}

// price is the stay's total: weekend rate for Friday and Saturday nights.
func price(r *Room, s pms.Stay) float64 {
	var total float64
	for d := s.CheckIn; d.Before(s.CheckOut); d = d.AddDays(1) {
		switch d.Time().Weekday() {
		case time.Friday, time.Saturday:
			total += r.WeekendRate
		default:
			total += r.WeekdayRate
		}
	}
	return total
}

// Availability lists the room types that hold the party and have a room
// free on every night of the stay, in the property's order.
func (p *PMS) Availability(ctx context.Context, h pms.Hotel, s pms.Stay) (pms.Availability, error) {
	now := p.now()
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return pms.Availability{}, err
	}
	if err := ht.checkStay(s, now); err != nil {
		return pms.Availability{}, err
	}
	taken, err := p.ledger.taken(ctx, ht.key, s)
	if err != nil {
		return pms.Availability{}, err
	}
	av := pms.Availability{Stay: s, Currency: ht.prop.Currency, AsOf: now, Offers: []pms.Offer{}}
	for i := range ht.prop.Rooms {
		r := &ht.prop.Rooms[i]
		if !r.Type.Holds(s) {
			continue
		}
		if n := r.Count - taken[r.Type.ID]; n > 0 {
			av.Offers = append(av.Offers, pms.Offer{RoomType: r.Type, Available: n, TotalPrice: price(r, s)})
		}
	}
	return av, nil
}

// HotelInfo describes the tenant's property.
func (p *PMS) HotelInfo(ctx context.Context, h pms.Hotel) (pms.HotelInfo, error) {
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return pms.HotelInfo{}, err
	}
	pr := ht.prop
	return pms.HotelInfo{
		Name:         pms.Untranslated(pr.Name),
		Address:      pr.Address,
		City:         pr.City,
		Phone:        pr.Phone,
		Email:        pr.Email,
		CheckInTime:  pr.CheckInTime,
		CheckOutTime: pr.CheckOutTime,
		Amenities:    slices.Clone(pr.Amenities),
		AmenitiesIn:  map[string][]string{"en": slices.Clone(pr.AmenitiesEN)},
		TimeZone:     pr.TimeZone,
	}, nil
}

// RoomTypes lists the property's room types.
func (p *PMS) RoomTypes(ctx context.Context, h pms.Hotel) ([]pms.RoomType, error) {
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ht.types), nil
}

// CreateBooking books one room for every night of the stay, or none: the
// ledger checks and takes the nights atomically, so the last room goes to
// exactly one guest. A request whose Reference was already booked returns
// that booking and takes nothing more.
func (p *PMS) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	now := p.now()
	ht, err := p.hotelFor(ctx, req.Hotel)
	if err != nil {
		return pms.Booking{}, err
	}
	if req.Reference != "" {
		if b, ok, err := p.ledger.find(ctx, ht.key, req.Reference); err != nil || ok {
			return b, err
		}
	}
	r, ok := ht.rooms[req.RoomTypeID]
	if !ok {
		return pms.Booking{}, fmt.Errorf("%w: %w: room type %d is not one of the hotel's", pms.ErrInvalid, pms.ErrNotFound, req.RoomTypeID)
	}
	if err := ht.checkStay(req.Stay, now); err != nil {
		return pms.Booking{}, err
	}
	if !r.Type.Holds(req.Stay) {
		return pms.Booking{}, fmt.Errorf("%w: %s takes at most %d guests (%d adults, %d children)", pms.ErrInvalid, r.Type.Name.In(Language), r.Type.Capacity(), r.Type.MaxAdults, r.Type.MaxChildren)
	}
	stay := req.Stay
	stay.ChildAges = slices.Clone(stay.ChildAges)
	return p.ledger.book(ctx, ht.key, pms.Booking{
		Reference:  req.Reference,
		Status:     pms.BookingNew,
		RoomTypeID: r.Type.ID,
		RoomName:   r.Type.Name.In(Language),
		Stay:       stay,
		Guest:      req.Guest,
		TotalPrice: price(r, req.Stay),
		Currency:   ht.prop.Currency,
	}, r.Count)
}

// GetBooking returns one of the tenant's bookings.
func (p *PMS) GetBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, error) {
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return pms.Booking{}, err
	}
	return p.ledger.get(ctx, ht.key, id)
}

// CancelBooking cancels a booking and gives its rooms back to the inventory.
// Cancelling a cancelled booking changes nothing and returns it.
func (p *PMS) CancelBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, error) {
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return pms.Booking{}, err
	}
	return p.ledger.cancel(ctx, ht.key, id)
}

// Ping answers whether the inventory can be read: always in memory, the
// database's answer with WithPostgres.
func (p *PMS) Ping(ctx context.Context) error { return p.ledger.ping(ctx) }

var _ pms.PMS = (*PMS)(nil)

// ledger holds the inventory taken and the bookings of every tenant's
// property. Its errors are the pms ones (ErrSoldOut, ErrNotFound,
// ErrUnavailable when its store fails).
type ledger interface {
	// taken is, per room type, the most rooms taken on one night of s;
	// room types with none taken may be absent.
	taken(ctx context.Context, k hotelKey, s pms.Stay) (map[int]int, error)
	// find returns the booking made with reference, if any.
	find(ctx context.Context, k hotelKey, reference string) (pms.Booking, bool, error)
	// book records b with a new ID and takes one room of its type on every
	// night of its stay, when fewer than rooms are taken on each; else
	// ErrSoldOut. A booking already made with b.Reference is returned
	// instead, and nothing is taken.
	book(ctx context.Context, k hotelKey, b pms.Booking, rooms int) (pms.Booking, error)
	get(ctx context.Context, k hotelKey, id string) (pms.Booking, error)
	// cancel marks a booking cancelled and gives its nights back, once.
	cancel(ctx context.Context, k hotelKey, id string) (pms.Booking, error)
	ping(ctx context.Context) error
}

func soldOut(b pms.Booking) error {
	return fmt.Errorf("%w: %s from %s to %s", pms.ErrSoldOut, b.RoomName, b.Stay.CheckIn, b.Stay.CheckOut)
}

func bookingNotFound(id string) error {
	return fmt.Errorf("%w: booking %q", pms.ErrNotFound, id)
}

// bookingID is the ID of the n-th booking.
func bookingID(n int64) string { return fmt.Sprintf("DEMO-%06d", n) }
