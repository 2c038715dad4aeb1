package pms

import (
	"context"
	"fmt"
)

// RequirePropertyID wraps p so that a call about a hotel without a PMS id
// (Hotel.PMSID unset) fails with ErrNotConfigured instead of reaching p.
// A PMS hosting several hotels must not answer such a call with its first
// hotel's rooms, address or bookings. Ping and GuestRequirements are p's.
func RequirePropertyID(p PMS) PMS { return propertyIDRequired{p} }

type propertyIDRequired struct{ PMS }

func requireID(h Hotel) error {
	if h.PMSID <= 0 {
		return fmt.Errorf("%w: tenant %q", ErrNotConfigured, h.TenantID)
	}
	return nil
}

func (r propertyIDRequired) Availability(ctx context.Context, h Hotel, s Stay) (Availability, error) {
	if err := requireID(h); err != nil {
		return Availability{}, err
	}
	return r.PMS.Availability(ctx, h, s)
}

func (r propertyIDRequired) HotelInfo(ctx context.Context, h Hotel) (HotelInfo, error) {
	if err := requireID(h); err != nil {
		return HotelInfo{}, err
	}
	return r.PMS.HotelInfo(ctx, h)
}

func (r propertyIDRequired) RoomTypes(ctx context.Context, h Hotel) ([]RoomType, error) {
	if err := requireID(h); err != nil {
		return nil, err
	}
	return r.PMS.RoomTypes(ctx, h)
}

func (r propertyIDRequired) CreateBooking(ctx context.Context, req BookingRequest) (Booking, error) {
	if err := requireID(req.Hotel); err != nil {
		return Booking{}, err
	}
	return r.PMS.CreateBooking(ctx, req)
}

func (r propertyIDRequired) GetBooking(ctx context.Context, h Hotel, id string) (Booking, error) {
	if err := requireID(h); err != nil {
		return Booking{}, err
	}
	return r.PMS.GetBooking(ctx, h, id)
}

func (r propertyIDRequired) CancelBooking(ctx context.Context, h Hotel, id string) (Booking, error) {
	if err := requireID(h); err != nil {
		return Booking{}, err
	}
	return r.PMS.CancelBooking(ctx, h, id)
}

// GuestRequirements are the wrapped PMS's.
func (r propertyIDRequired) GuestRequirements() GuestFields { return GuestRequirementsOf(r.PMS) }
