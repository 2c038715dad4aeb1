// Package pms is the hotel agent's view of a property-management system: one
// interface (PMS) with the demo and QloApps implementations behind it, and a
// resilience layer (breaker, retries, cache) that wraps any of them.
package pms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Hotel names the property a call is about: the tenant it belongs to in
// agente-caddy and its id in the PMS (QloApps id_hotel; 0 when the tenant
// has none yet).
type Hotel struct {
	TenantID string
	PMSID    int
}

// PropertyID is PMSID, or 1 when it is unset: the id a PMS is asked about.
// A PMS hosting several hotels is wrapped by RequirePropertyID, so that a
// tenant with no PMS id never reaches it and is never answered with hotel
// 1's data.
func (h Hotel) PropertyID() int {
	if h.PMSID <= 0 {
		return 1
	}
	return h.PMSID
}

// Date is a calendar day with no time zone; stays are counted in nights
// between two Dates.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date { y, m, d := t.Date(); return Date{y, m, d} }

// ParseDate reads an ISO date (2006-01-02).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return DateOf(t), nil
}

// String formats the date as ISO 2006-01-02.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// Time is midnight UTC of the date, for arithmetic.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays returns the date n days later (earlier when n < 0).
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d == Date{} }

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

// Stay is a request for rooms: check-in day, check-out day (exclusive) and the party.
type Stay struct {
	CheckIn  Date
	CheckOut Date
	Adults   int
	Children int
	// ChildAges are the children's ages in years, when known: empty, or
	// one per child. A PMS that prices or places children by age reads them.
	ChildAges []int
}

// MaxChildAge is the oldest a child can be; older guests are adults.
const MaxChildAge = 17

// Guests is the size of the party.
func (s Stay) Guests() int { return s.Adults + s.Children }

// Nights is the number of nights of the stay.
func (s Stay) Nights() int { return int(s.CheckOut.Time().Sub(s.CheckIn.Time()).Hours() / 24) }

// Validate rejects stays a PMS cannot answer.
func (s Stay) Validate() error {
	switch {
	case s.CheckIn.IsZero() || s.CheckOut.IsZero():
		return errors.New("stay needs check-in and check-out dates")
	case !s.CheckIn.Before(s.CheckOut):
		return errors.New("check-out must be after check-in")
	case s.Adults < 1:
		return errors.New("stay needs at least one adult")
	case s.Children < 0:
		return errors.New("children cannot be negative")
	case len(s.ChildAges) != 0 && len(s.ChildAges) != s.Children:
		return fmt.Errorf("%d child ages for %d children", len(s.ChildAges), s.Children)
	}
	for _, age := range s.ChildAges {
		if age < 0 || age > MaxChildAge {
			return fmt.Errorf("a child's age must be 0 to %d, not %d", MaxChildAge, age)
		}
	}
	return nil
}

// CheckBookable refuses what a PMS may accept but no hotel can honour: a
// stay that starts before today (in the hotel's time zone), and a party
// larger than every room type the hotel sells (roomTypes, when known).
// Implementations call it before asking the PMS.
func (s Stay) CheckBookable(today Date, roomTypes []RoomType) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if s.CheckIn.Before(today) {
		return &PastStayError{Today: today}
	}
	if len(roomTypes) == 0 {
		return nil
	}
	biggest := &PartyTooLargeError{}
	for _, rt := range roomTypes {
		if rt.Holds(s) {
			return nil
		}
		biggest.MaxAdults = max(biggest.MaxAdults, rt.MaxAdults)
		biggest.MaxGuests = max(biggest.MaxGuests, rt.Capacity())
	}
	return biggest
}

// PastStayError is a stay that starts before today. It matches ErrInvalid.
type PastStayError struct{ Today Date }

func (e *PastStayError) Error() string {
	return "pms: the stay starts before today (" + e.Today.String() + ")"
}
func (e *PastStayError) Unwrap() error { return ErrInvalid }

// PartyTooLargeError is a party no single room of the hotel holds: the
// guest can be told the largest room's size. It matches ErrInvalid.
type PartyTooLargeError struct {
	MaxAdults int // the most adults any room type takes
	MaxGuests int // the most guests any room type takes
}

func (e *PartyTooLargeError) Error() string {
	return fmt.Sprintf("pms: no room holds the party (at most %d guests, %d adults)", e.MaxGuests, e.MaxAdults)
}
func (e *PartyTooLargeError) Unwrap() error { return ErrInvalid }

// RoomType is a kind of room the hotel sells.
type RoomType struct {
	ID int
	// Name is the PMS's own name, in every language the PMS has it in;
	// a guest is shown the one of their language (Text.In).
	Name        Text
	MaxAdults   int
	MaxChildren int
	// MaxGuests is the most people the room takes in all; 0 when the PMS
	// sets no total (then MaxAdults + MaxChildren).
	MaxGuests   int
	Description Text
}

// Capacity is the most people the room takes.
func (rt RoomType) Capacity() int {
	if rt.MaxGuests > 0 {
		return rt.MaxGuests
	}
	return rt.MaxAdults + rt.MaxChildren
}

// Holds reports whether one room of the type takes the stay's party. A
// room type with no limits set (MaxAdults 0) is taken to hold anyone.
func (rt RoomType) Holds(s Stay) bool {
	if rt.MaxAdults <= 0 {
		return true
	}
	return s.Adults <= rt.MaxAdults && s.Children <= rt.MaxChildren+(rt.MaxAdults-s.Adults) && s.Guests() <= rt.Capacity()
}

// Offer is a room type that can be booked for a stay, with its price for the whole stay.
type Offer struct {
	RoomType   RoomType
	Available  int     // rooms of this type free for every night of the stay
	TotalPrice float64 // whole stay, taxes included, in Availability.Currency
}

// Availability answers "what can I book for this stay".
type Availability struct {
	Stay     Stay
	Currency string
	Offers   []Offer
	// Stale is set by the resilience layer when the PMS could not be asked and
	// this is the last answer it gave, kept past its freshness: the guest is
	// told the figures may be out of date.
	Stale bool
	AsOf  time.Time // when the PMS gave this answer
}

// HotelInfo is what a guest asks about the property itself.
type HotelInfo struct {
	Name         Text // in the languages the PMS has it in
	Address      string
	City         string
	Phone        string
	Email        string
	CheckInTime  string // "15:00"
	CheckOutTime string // "12:00"
	Amenities    []string
	// AmenitiesIn are Amenities written in other languages, by language
	// code ("en"), item for item; a language it lacks gets Amenities.
	AmenitiesIn map[string][]string
	TimeZone    string // IANA name; relative dates resolve in it
	Stale       bool   // see Availability.Stale
}

// Guest is who a booking is for.
type Guest struct {
	FirstName string
	LastName  string
	Email     string
	Phone     string
}

// BookingRequest asks the PMS to book one room of a type for a stay.
// Reference is the caller's idempotency key: the same Reference never books twice.
type BookingRequest struct {
	Hotel      Hotel
	RoomTypeID int
	Stay       Stay
	Guest      Guest
	Reference  string
}

// BookingStatus follows QloApps' booking_status codes.
type BookingStatus int

const (
	BookingNew       BookingStatus = 1
	BookingCompleted BookingStatus = 2
	BookingCancelled BookingStatus = 3
	BookingRefunded  BookingStatus = 4
)

// Booking is a reservation the PMS holds.
type Booking struct {
	ID         string
	Reference  string
	Status     BookingStatus
	RoomTypeID int
	// RoomName is the room type's name as the PMS recorded it with the
	// booking, in one language (the PMS's); RoomType.Name has them all.
	RoomName   string
	Stay       Stay
	Guest      Guest
	TotalPrice float64
	Currency   string
}

// PMS is the property-management system as the agent uses it. Implementations
// must be safe for concurrent use and honour ctx's deadline.
type PMS interface {
	Availability(ctx context.Context, h Hotel, s Stay) (Availability, error)
	HotelInfo(ctx context.Context, h Hotel) (HotelInfo, error)
	RoomTypes(ctx context.Context, h Hotel) ([]RoomType, error)
	CreateBooking(ctx context.Context, req BookingRequest) (Booking, error)
	GetBooking(ctx context.Context, h Hotel, id string) (Booking, error)
	CancelBooking(ctx context.Context, h Hotel, id string) (Booking, error)
	// Ping answers whether the PMS is reachable, for /health/ready.
	Ping(ctx context.Context) error
}

// Errors an implementation returns (wrapped) so callers can tell the cases apart.
var (
	ErrNotFound     = errors.New("pms: not found")
	ErrSoldOut      = errors.New("pms: no room of that type is free for the whole stay")
	ErrInvalid      = errors.New("pms: request rejected as invalid")
	ErrUnavailable  = errors.New("pms: unavailable") // transport failure, 5xx, timeout
	ErrCircuitOpen  = errors.New("pms: circuit breaker open")
	ErrUnauthorized = errors.New("pms: credentials rejected")
	// ErrMalformed marks an answer the PMS sent but that could not be read
	// (bad JSON, missing fields). Implementations wrap it together with
	// ErrUnavailable: to the guest it is the PMS failing.
	ErrMalformed = errors.New("pms: malformed answer")
	// ErrNotConfigured marks a call about a hotel that has no id in the PMS
	// yet (the tenant has no pms_hotel_id). It matches ErrUnavailable: to
	// the guest the hotel's booking system cannot be reached, which is true
	// until someone connects it.
	ErrNotConfigured = fmt.Errorf("%w: the hotel is not connected to its booking system (no pms_hotel_id)", ErrUnavailable)
)

// GuestDetail names one detail of a Guest.
type GuestDetail string

const (
	GuestFirstName GuestDetail = "first_name"
	GuestLastName  GuestDetail = "last_name"
	GuestEmail     GuestDetail = "email"
	GuestPhone     GuestDetail = "phone"
)

// GuestFields says which guest details CreateBooking needs.
type GuestFields struct {
	FirstName bool
	LastName  bool
	Email     bool
	Phone     bool
}

// DefaultGuestFields is what a PMS that does not say needs: a first name,
// so that the booking is for someone.
var DefaultGuestFields = GuestFields{FirstName: true}

// GuestRequirer is implemented by a PMS that says which guest details
// CreateBooking needs (the caller collects them before booking); wrappers
// delegate to the PMS they wrap.
type GuestRequirer interface {
	GuestRequirements() GuestFields
}

// GuestRequirementsOf is p's requirements when it says, else DefaultGuestFields.
func GuestRequirementsOf(p PMS) GuestFields {
	if r, ok := p.(GuestRequirer); ok {
		return r.GuestRequirements()
	}
	return DefaultGuestFields
}

// Missing lists the details f needs that g lacks (blank counts as
// missing), in the order first name, last name, email, phone.
func (f GuestFields) Missing(g Guest) []GuestDetail {
	var out []GuestDetail
	for _, d := range []struct {
		need  bool
		value string
		name  GuestDetail
	}{
		{f.FirstName, g.FirstName, GuestFirstName},
		{f.LastName, g.LastName, GuestLastName},
		{f.Email, g.Email, GuestEmail},
		{f.Phone, g.Phone, GuestPhone},
	} {
		if d.need && strings.TrimSpace(d.value) == "" {
			out = append(out, d.name)
		}
	}
	return out
}

// InvalidGuestError is a booking refused because of one guest detail,
// missing or not accepted by the PMS. It matches ErrInvalid, and Err (the
// PMS's own answer, when there was one) too.
type InvalidGuestError struct {
	Detail GuestDetail
	Reason string // the PMS's words, or ours
	Err    error
}

func (e *InvalidGuestError) Error() string {
	msg := "pms: guest " + string(e.Detail) + " rejected"
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrInvalid) hold, and reach Err.
func (e *InvalidGuestError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// AmenitiesFor is the hotel's amenities in lang when it has them written in
// it, else as the PMS gives them.
func (h HotelInfo) AmenitiesFor(lang string) []string {
	if l := h.AmenitiesIn[lang]; len(l) == len(h.Amenities) {
		return l
	}
	return h.Amenities
}
