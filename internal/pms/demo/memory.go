package demo

import (
	"context"
	"slices"
	"sync"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// memoryLedger keeps the ledger in process; one lock makes each booking's
// check and take atomic.
type memoryLedger struct {
	mu     sync.Mutex
	hotels map[hotelKey]*memoryHotel
	seq    int64
}

// memoryHotel is one tenant's inventory and bookings.
type memoryHotel struct {
	taken    map[int]map[pms.Date]int // room type id → night → rooms taken
	bookings map[string]*pms.Booking
	byRef    map[string]string // Reference → booking id
}

func newMemoryLedger() *memoryLedger { return &memoryLedger{hotels: map[hotelKey]*memoryHotel{}} }

// hotel returns k's state, creating it on first use; l.mu must be held.
func (l *memoryLedger) hotel(k hotelKey) *memoryHotel {
	h, ok := l.hotels[k]
	if !ok {
		h = &memoryHotel{taken: map[int]map[pms.Date]int{}, bookings: map[string]*pms.Booking{}, byRef: map[string]string{}}
		l.hotels[k] = h
	}
	return h
}

// copyOf is b as callers get it: they may change it, the ledger's stays.
func copyOf(b *pms.Booking) pms.Booking {
	c := *b
	c.Stay.ChildAges = slices.Clone(b.Stay.ChildAges)
	return c
}

func (l *memoryLedger) taken(_ context.Context, k hotelKey, s pms.Stay) (map[int]int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for roomType, nights := range l.hotel(k).taken {
		for d := s.CheckIn; d.Before(s.CheckOut); d = d.AddDays(1) {
			out[roomType] = max(out[roomType], nights[d])
		}
	}
	return out, nil
}

func (l *memoryLedger) find(_ context.Context, k hotelKey, reference string) (pms.Booking, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hotel(k)
	id, ok := h.byRef[reference]
	if !ok {
		return pms.Booking{}, false, nil
	}
	return copyOf(h.bookings[id]), true, nil
}

func (l *memoryLedger) book(_ context.Context, k hotelKey, b pms.Booking, rooms int) (pms.Booking, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hotel(k)
	if id, ok := h.byRef[b.Reference]; ok && b.Reference != "" {
		return copyOf(h.bookings[id]), nil
	}
	nights := h.taken[b.RoomTypeID]
	if nights == nil {
		nights = map[pms.Date]int{}
		h.taken[b.RoomTypeID] = nights
	}
	for d := b.Stay.CheckIn; d.Before(b.Stay.CheckOut); d = d.AddDays(1) {
		if nights[d] >= rooms {
			return pms.Booking{}, soldOut(b)
		}
	}
	for d := b.Stay.CheckIn; d.Before(b.Stay.CheckOut); d = d.AddDays(1) {
		nights[d]++
	}
	l.seq++
	b.ID = bookingID(l.seq)
	stored := copyOf(&b)
	h.bookings[b.ID] = &stored
	if b.Reference != "" {
		h.byRef[b.Reference] = b.ID
	}
	return b, nil
}

func (l *memoryLedger) get(_ context.Context, k hotelKey, id string) (pms.Booking, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.hotel(k).bookings[id]
	if !ok {
		return pms.Booking{}, bookingNotFound(id)
	}
	return copyOf(b), nil
}

func (l *memoryLedger) cancel(_ context.Context, k hotelKey, id string) (pms.Booking, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hotel(k)
	b, ok := h.bookings[id]
	if !ok {
		return pms.Booking{}, bookingNotFound(id)
	}
	if b.Status != pms.BookingCancelled {
		for d := b.Stay.CheckIn; d.Before(b.Stay.CheckOut); d = d.AddDays(1) {
			h.taken[b.RoomTypeID][d]--
		}
		b.Status = pms.BookingCancelled
	}
	return copyOf(b), nil
}

func (l *memoryLedger) ping(context.Context) error { return nil }
