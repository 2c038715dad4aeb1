package resilient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
)

// flaky fails CreateBooking's first answer after the inner PMS booked: the
// demo PMS's "answer lost" case, which only its Reference dedupe makes safe.
type flaky struct {
	*demo.PMS
	lost int
}

func (f *flaky) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	b, err := f.PMS.CreateBooking(ctx, req)
	if err == nil && f.lost > 0 {
		f.lost--
		return pms.Booking{}, pms.ErrUnavailable
	}
	return b, err
}

func TestWrapsTheDemoPMS(t *testing.T) {
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	inner := &flaky{PMS: demo.New(demo.WithClock(func() time.Time { return now })), lost: 1}
	p := Wrap(inner, NewBreaker(BreakerSettings{}), NewMemoryCache(MemoryCacheOptions{}), Options{BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	ctx := bg(t)
	h := pms.Hotel{TenantID: "demo", PMSID: 1}
	s := stay("2030-02-02", "2030-02-04", 2)
	before, err := p.Availability(ctx, h, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.CreateBooking(ctx, pms.BookingRequest{Hotel: h, RoomTypeID: 2, Stay: s, Guest: guest(), Reference: "demo-1"})
	if err != nil {
		t.Fatalf("retried booking: %v", err)
	}
	after, err := p.Availability(ctx, h, s)
	if err != nil {
		t.Fatal(err)
	}
	free := func(a pms.Availability) int {
		for _, o := range a.Offers {
			if o.RoomType.ID == 2 {
				return o.Available
			}
		}
		return 0
	}
	if free(before)-free(after) != 1 {
		t.Fatalf("Double rooms free %d → %d: the retry must book exactly one (booking %s)", free(before), free(after), b.ID)
	}
	if _, err := p.GetBooking(ctx, h, "nope"); !errors.Is(err, pms.ErrNotFound) {
		t.Fatalf("GetBooking unknown: %v", err)
	}
}
