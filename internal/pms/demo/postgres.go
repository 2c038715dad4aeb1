package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/store"
)

// postgresLedger keeps the ledger in the demo_pms_ tables
// (0030_demo_pms.sql). A booking's nights are row-locked while it checks
// and takes them; what it reads after the locks is what the booking that
// held them committed.
type postgresLedger struct{ pool *pgxpool.Pool }

// unavailable makes a database failure the PMS being unreachable; the
// ledger's own answers (sold out, not found) pass as they are.
func unavailable(err error) error {
	if err == nil || errors.Is(err, pms.ErrSoldOut) || errors.Is(err, pms.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w: demo PMS database: %v", pms.ErrUnavailable, err)
}

// errReferenceTaken rolls back a booking whose reference another booking
// took between its first look and its insert.
var errReferenceTaken = errors.New("reference booked concurrently")

const bookingColumns = `id, COALESCE(reference, ''), status, room_type_id, room_name, check_in, check_out,
	adults, children, child_ages, guest_first_name, guest_last_name, guest_email, guest_phone, total_price, currency`

func scanBooking(row pgx.Row) (pms.Booking, error) {
	var (
		b       pms.Booking
		status  int
		in, out time.Time
		ages    []int
	)
	err := row.Scan(&b.ID, &b.Reference, &status, &b.RoomTypeID, &b.RoomName, &in, &out,
		&b.Stay.Adults, &b.Stay.Children, &ages, &b.Guest.FirstName, &b.Guest.LastName, &b.Guest.Email, &b.Guest.Phone,
		&b.TotalPrice, &b.Currency)
	if err != nil {
		return pms.Booking{}, err
	}
	b.Status = pms.BookingStatus(status)
	b.Stay.CheckIn, b.Stay.CheckOut = pms.DateOf(in), pms.DateOf(out)
	if len(ages) > 0 {
		b.Stay.ChildAges = ages
	}
	return b, nil
}

// queryBooking runs a query returning bookingColumns; found is false when
// it returned no row.
func queryBooking(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) (b pms.Booking, found bool, err error) {
	b, err = scanBooking(q.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return pms.Booking{}, false, nil
	}
	return b, err == nil, err
}

const byReference = `SELECT ` + bookingColumns + ` FROM demo_pms_bookings
	WHERE tenant_id = $1 AND property_id = $2 AND reference = $3`

func (l postgresLedger) taken(ctx context.Context, k hotelKey, s pms.Stay) (map[int]int, error) {
	rows, err := l.pool.Query(ctx, `SELECT room_type_id, max(rooms_taken) FROM demo_pms_nights
		WHERE tenant_id = $1 AND property_id = $2 AND night >= $3 AND night < $4
		GROUP BY room_type_id`, k.TenantID, k.PropertyID, s.CheckIn.Time(), s.CheckOut.Time())
	if err != nil {
		return nil, unavailable(err)
	}
	out := map[int]int{}
	var roomType, n int
	_, err = pgx.ForEachRow(rows, []any{&roomType, &n}, func() error { out[roomType] = n; return nil })
	return out, unavailable(err)
}

func (l postgresLedger) find(ctx context.Context, k hotelKey, reference string) (pms.Booking, bool, error) {
	b, ok, err := queryBooking(ctx, l.pool, byReference, k.TenantID, k.PropertyID, reference)
	return b, ok, unavailable(err)
}

func (l postgresLedger) book(ctx context.Context, k hotelKey, b pms.Booking, rooms int) (pms.Booking, error) {
	in, out := b.Stay.CheckIn.Time(), b.Stay.CheckOut.Time()
	var booked pms.Booking
	err := store.Tx(ctx, l.pool, func(tx pgx.Tx) error {
		// The rows of the stay's nights exist, then are locked in night
		// order: a concurrent booking of this room type waits here until
		// this one commits, then counts what it took.
		if _, err := tx.Exec(ctx, `INSERT INTO demo_pms_nights (tenant_id, property_id, room_type_id, night)
			SELECT $1, $2, $3, night::date FROM generate_series($4::date, $5::date - 1, interval '1 day') AS night
			ON CONFLICT DO NOTHING`, k.TenantID, k.PropertyID, b.RoomTypeID, in, out); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT rooms_taken FROM demo_pms_nights
			WHERE tenant_id = $1 AND property_id = $2 AND room_type_id = $3 AND night >= $4 AND night < $5
			ORDER BY night FOR UPDATE`, k.TenantID, k.PropertyID, b.RoomTypeID, in, out)
		if err != nil {
			return err
		}
		taken, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		if b.Reference != "" {
			// A retry of this request that held the locks first booked it.
			found, ok, err := queryBooking(ctx, tx, byReference, k.TenantID, k.PropertyID, b.Reference)
			if err != nil || ok {
				booked = found
				return err
			}
		}
		for _, n := range taken {
			if n >= rooms {
				return soldOut(b)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE demo_pms_nights SET rooms_taken = rooms_taken + 1
			WHERE tenant_id = $1 AND property_id = $2 AND room_type_id = $3 AND night >= $4 AND night < $5`,
			k.TenantID, k.PropertyID, b.RoomTypeID, in, out); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT nextval('demo_pms_booking_seq')`).Scan(&n); err != nil {
			return err
		}
		booked = b
		booked.ID = bookingID(n)
		var reference *string
		if b.Reference != "" {
			reference = &b.Reference
		}
		ages := b.Stay.ChildAges
		if ages == nil {
			ages = []int{}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO demo_pms_bookings (id, tenant_id, property_id, reference, status,
				room_type_id, room_name, check_in, check_out, adults, children, child_ages,
				guest_first_name, guest_last_name, guest_email, guest_phone, total_price, currency)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (tenant_id, property_id, reference) DO NOTHING`,
			booked.ID, k.TenantID, k.PropertyID, reference, int(b.Status), b.RoomTypeID, b.RoomName, in, out,
			b.Stay.Adults, b.Stay.Children, ages, b.Guest.FirstName, b.Guest.LastName, b.Guest.Email, b.Guest.Phone,
			b.TotalPrice, b.Currency)
		if err == nil && tag.RowsAffected() == 0 {
			return errReferenceTaken
		}
		return err
	})
	if errors.Is(err, errReferenceTaken) {
		found, ok, err := l.find(ctx, k, b.Reference)
		if err == nil && !ok {
			err = fmt.Errorf("%w: demo PMS database: booking %q vanished", pms.ErrUnavailable, b.Reference)
		}
		return found, err
	}
	if err != nil {
		return pms.Booking{}, unavailable(err)
	}
	return booked, nil
}

func (l postgresLedger) get(ctx context.Context, k hotelKey, id string) (pms.Booking, error) {
	b, ok, err := queryBooking(ctx, l.pool, `SELECT `+bookingColumns+` FROM demo_pms_bookings
		WHERE tenant_id = $1 AND property_id = $2 AND id = $3`, k.TenantID, k.PropertyID, id)
	if err == nil && !ok {
		err = bookingNotFound(id)
	}
	return b, unavailable(err)
}

func (l postgresLedger) cancel(ctx context.Context, k hotelKey, id string) (pms.Booking, error) {
	var b pms.Booking
	err := store.Tx(ctx, l.pool, func(tx pgx.Tx) error {
		found, ok, err := queryBooking(ctx, tx, `SELECT `+bookingColumns+` FROM demo_pms_bookings
			WHERE tenant_id = $1 AND property_id = $2 AND id = $3 FOR UPDATE`, k.TenantID, k.PropertyID, id)
		switch {
		case err != nil:
			return err
		case !ok:
			return bookingNotFound(id)
		}
		b = found
		if b.Status == pms.BookingCancelled {
			return nil
		}
		b.Status = pms.BookingCancelled
		if _, err := tx.Exec(ctx, `UPDATE demo_pms_bookings SET status = $2 WHERE id = $1`, id, int(b.Status)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE demo_pms_nights SET rooms_taken = rooms_taken - 1
			WHERE tenant_id = $1 AND property_id = $2 AND room_type_id = $3 AND night >= $4 AND night < $5`,
			k.TenantID, k.PropertyID, b.RoomTypeID, b.Stay.CheckIn.Time(), b.Stay.CheckOut.Time())
		return err
	})
	if err != nil {
		return pms.Booking{}, unavailable(err)
	}
	return b, nil
}

func (l postgresLedger) ping(ctx context.Context) error { return unavailable(l.pool.Ping(ctx)) }
