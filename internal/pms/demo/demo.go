// Package demo is the in-process PMS behind PMS_TYPE=demo: one property per
// tenant with room types, nightly rates, inventory per night and bookings that
// really take rooms out of that inventory. It lets the agent run end to end
// without QloApps, and it behaves like a PMS where it matters to the agent:
// two guests cannot book the last room, a retried booking request with the
// same Reference books once, and a cancellation frees the rooms again.
//
// State lives in memory and is lost on restart; that is the point of a demo.
package demo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

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

// Property is the hotel a tenant gets in the demo.
type Property struct {
	Name         string
	Address      string
	City         string
	Phone        string
	Email        string
	CheckInTime  string
	CheckOutTime string
	Amenities    []string
	TimeZone     string // IANA name
	Currency     string
	Rooms        []Room
}

// DefaultProperty is the property every tenant gets unless WithProperty says
// otherwise: a city hotel in Madrid with five room types.
func DefaultProperty(name string) Property {
	if name == "" {
		name = "Hotel Demo"
	}
	return Property{
		Name:         name,
		Address:      "Calle Mayor 1",
		City:         "Madrid",
		Phone:        "+34 910 000 000",
		Email:        "recepcion@hotel-demo.example",
		CheckInTime:  "15:00",
		CheckOutTime: "12:00",
		Amenities:    []string{"WiFi gratis", "Desayuno buffet", "Parking", "Piscina", "Gimnasio", "Recepción 24 h"},
		TimeZone:     "Europe/Madrid",
		Currency:     "EUR",
		Rooms: []Room{
			{Type: pms.RoomType{ID: 1, Name: "Single", MaxAdults: 1, MaxChildren: 0, Description: "Habitación individual, cama de 105 cm"}, Count: 4, WeekdayRate: 70, WeekendRate: 85},
			{Type: pms.RoomType{ID: 2, Name: "Double", MaxAdults: 2, MaxChildren: 1, Description: "Habitación doble, cama de matrimonio"}, Count: 5, WeekdayRate: 100, WeekendRate: 130},
			{Type: pms.RoomType{ID: 3, Name: "Twin", MaxAdults: 2, MaxChildren: 1, Description: "Habitación con dos camas individuales"}, Count: 4, WeekdayRate: 95, WeekendRate: 120},
			{Type: pms.RoomType{ID: 4, Name: "Suite", MaxAdults: 2, MaxChildren: 2, Description: "Suite con salón y bañera"}, Count: 3, WeekdayRate: 180, WeekendRate: 230},
			{Type: pms.RoomType{ID: 5, Name: "Family", MaxAdults: 4, MaxChildren: 2, Description: "Habitación familiar, cama doble y literas"}, Count: 3, WeekdayRate: 150, WeekendRate: 190},
		},
	}
}

// Option configures a demo PMS.
type Option func(*PMS)

// WithName names the default property (the hotel's name in the config).
func WithName(name string) Option { return func(p *PMS) { p.name = name } }

// WithProperty decides the property of each tenant; it is called once per
// tenant, the first time the tenant is used.
func WithProperty(f func(tenantID string) Property) Option {
	return func(p *PMS) { p.propertyFor = f }
}

// WithClock replaces time.Now, for tests ("today" decides which check-in
// dates are in the past).
func WithClock(now func() time.Time) Option { return func(p *PMS) { p.now = now } }

// PMS is the demo property-management system. Safe for concurrent use.
type PMS struct {
	name        string
	propertyFor func(tenantID string) Property
	now         func() time.Time

	mu     sync.Mutex
	hotels map[pms.Hotel]*hotel
}

// New returns a demo PMS with no bookings.
func New(opts ...Option) *PMS {
	p := &PMS{now: time.Now, hotels: map[pms.Hotel]*hotel{}}
	for _, o := range opts {
		o(p)
	}
	if p.propertyFor == nil {
		name := p.name
		p.propertyFor = func(string) Property { return DefaultProperty(name) }
	}
	return p
}

// hotel is one tenant's property and its mutable state, guarded by PMS.mu.
type hotel struct {
	prop     Property
	loc      *time.Location
	rooms    map[int]*Room
	order    []int                    // room type ids in the property's order
	booked   map[int]map[pms.Date]int // room type id → night → rooms taken
	bookings map[string]*pms.Booking
	byRef    map[string]string // Reference → booking id
	seq      int
}

// hotelFor returns the tenant's property, creating it on first use, or
// ErrUnavailable once ctx is done (as a remote PMS would). p.mu must be held.
func (p *PMS) hotelFor(ctx context.Context, h pms.Hotel) (*hotel, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", pms.ErrUnavailable, err)
	}
	if h.TenantID == "" {
		return nil, fmt.Errorf("%w: hotel has no tenant id", pms.ErrInvalid)
	}
	if h.PMSID == 0 {
		h.PMSID = 1
	}
	if ht, ok := p.hotels[h]; ok {
		return ht, nil
	}
	prop := p.propertyFor(h.TenantID)
	loc, err := time.LoadLocation(prop.TimeZone)
	if err != nil || prop.TimeZone == "" {
		loc = time.UTC
	}
	ht := &hotel{
		prop:     prop,
		loc:      loc,
		rooms:    map[int]*Room{},
		booked:   map[int]map[pms.Date]int{},
		bookings: map[string]*pms.Booking{},
		byRef:    map[string]string{},
	}
	for i := range prop.Rooms {
		r := &prop.Rooms[i]
		ht.rooms[r.Type.ID] = r
		ht.order = append(ht.order, r.Type.ID)
		ht.booked[r.Type.ID] = map[pms.Date]int{}
	}
	p.hotels[h] = ht
	return ht, nil
}

// checkStay rejects stays the demo cannot sell: invalid ones, too long ones,
// and ones starting before today in the property's time zone.
func (ht *hotel) checkStay(s pms.Stay, now time.Time) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %v", pms.ErrInvalid, err)
	}
	if n := s.Nights(); n > MaxNights {
		return fmt.Errorf("%w: %d nights is more than the %d the demo sells", pms.ErrInvalid, n, MaxNights)
	}
	if today := pms.DateOf(now.In(ht.loc)); s.CheckIn.Before(today) {
		return fmt.Errorf("%w: check-in %s is before today (%s)", pms.ErrInvalid, s.CheckIn, today)
	}
	return nil
}

func fits(r *Room, s pms.Stay) bool {
	return s.Adults <= r.Type.MaxAdults && s.Children <= r.Type.MaxChildren
}

// free is how many rooms of r are free on every night of s.
func (ht *hotel) free(r *Room, s pms.Stay) int {
	n := r.Count
	for d := s.CheckIn; d.Before(s.CheckOut); d = d.AddDays(1) {
		if left := r.Count - ht.booked[r.Type.ID][d]; left < n {
			n = left
		}
	}
	return max(n, 0)
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

// Availability lists the room types that fit the party and have a room free
// on every night of the stay, in the property's order.
func (p *PMS) Availability(ctx context.Context, h pms.Hotel, s pms.Stay) (pms.Availability, error) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return pms.Availability{}, err
	}
	if err := ht.checkStay(s, now); err != nil {
		return pms.Availability{}, err
	}
	av := pms.Availability{Stay: s, Currency: ht.prop.Currency, AsOf: now, Offers: []pms.Offer{}}
	for _, id := range ht.order {
		r := ht.rooms[id]
		if !fits(r, s) {
			continue
		}
		if n := ht.free(r, s); n > 0 {
			av.Offers = append(av.Offers, pms.Offer{RoomType: r.Type, Available: n, TotalPrice: price(r, s)})
		}
	}
	return av, nil
}

// HotelInfo describes the tenant's property.
func (p *PMS) HotelInfo(ctx context.Context, h pms.Hotel) (pms.HotelInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return pms.HotelInfo{}, err
	}
	pr := ht.prop
	return pms.HotelInfo{
		Name:         pr.Name,
		Address:      pr.Address,
		City:         pr.City,
		Phone:        pr.Phone,
		Email:        pr.Email,
		CheckInTime:  pr.CheckInTime,
		CheckOutTime: pr.CheckOutTime,
		Amenities:    append([]string(nil), pr.Amenities...),
		TimeZone:     pr.TimeZone,
	}, nil
}

// RoomTypes lists the property's room types.
func (p *PMS) RoomTypes(ctx context.Context, h pms.Hotel) ([]pms.RoomType, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return nil, err
	}
	out := make([]pms.RoomType, 0, len(ht.order))
	for _, id := range ht.order {
		out = append(out, ht.rooms[id].Type)
	}
	return out, nil
}

// CreateBooking books one room for every night of the stay, or none: the
// check and the decrement happen under one lock, so the last room goes to
// exactly one guest. A request whose Reference was already booked returns
// that booking and takes nothing more.
func (p *PMS) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	ht, err := p.hotelFor(ctx, req.Hotel)
	if err != nil {
		return pms.Booking{}, err
	}
	if req.Reference != "" {
		if id, ok := ht.byRef[req.Reference]; ok {
			return *ht.bookings[id], nil
		}
	}
	r, ok := ht.rooms[req.RoomTypeID]
	if !ok {
		return pms.Booking{}, fmt.Errorf("%w: room type %d", pms.ErrNotFound, req.RoomTypeID)
	}
	if err := ht.checkStay(req.Stay, now); err != nil {
		return pms.Booking{}, err
	}
	if !fits(r, req.Stay) {
		return pms.Booking{}, fmt.Errorf("%w: %s takes at most %d adults and %d children", pms.ErrInvalid, r.Type.Name, r.Type.MaxAdults, r.Type.MaxChildren)
	}
	if ht.free(r, req.Stay) < 1 {
		return pms.Booking{}, fmt.Errorf("%w: %s from %s to %s", pms.ErrSoldOut, r.Type.Name, req.Stay.CheckIn, req.Stay.CheckOut)
	}
	for d := req.Stay.CheckIn; d.Before(req.Stay.CheckOut); d = d.AddDays(1) {
		ht.booked[r.Type.ID][d]++
	}
	ht.seq++
	b := &pms.Booking{
		ID:         fmt.Sprintf("DEMO-%06d", ht.seq),
		Reference:  req.Reference,
		Status:     pms.BookingNew,
		RoomTypeID: r.Type.ID,
		RoomName:   r.Type.Name,
		Stay:       req.Stay,
		Guest:      req.Guest,
		TotalPrice: price(r, req.Stay),
		Currency:   ht.prop.Currency,
	}
	ht.bookings[b.ID] = b
	if req.Reference != "" {
		ht.byRef[req.Reference] = b.ID
	}
	return *b, nil
}

// GetBooking returns one of the tenant's bookings.
func (p *PMS) GetBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, b, err := p.booking(ctx, h, id)
	if err != nil {
		return pms.Booking{}, err
	}
	return *b, nil
}

// CancelBooking cancels a booking and gives its rooms back to the inventory.
// Cancelling a cancelled booking changes nothing and returns it.
func (p *PMS) CancelBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ht, b, err := p.booking(ctx, h, id)
	if err != nil {
		return pms.Booking{}, err
	}
	if b.Status == pms.BookingCancelled {
		return *b, nil
	}
	for d := b.Stay.CheckIn; d.Before(b.Stay.CheckOut); d = d.AddDays(1) {
		ht.booked[b.RoomTypeID][d]--
	}
	b.Status = pms.BookingCancelled
	return *b, nil
}

// booking finds one of the tenant's bookings; p.mu must be held.
func (p *PMS) booking(ctx context.Context, h pms.Hotel, id string) (*hotel, *pms.Booking, error) {
	ht, err := p.hotelFor(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	b, ok := ht.bookings[id]
	if !ok {
		return nil, nil, fmt.Errorf("%w: booking %q", pms.ErrNotFound, id)
	}
	return ht, b, nil
}

// Ping always answers: the demo is in the process.
func (p *PMS) Ping(context.Context) error { return nil }

var _ pms.PMS = (*PMS)(nil)
