package conversation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestPostgresFoldedWrites: the writes an inbox message's handling defers
// (the guest's message, the replies, a booking) fold into fewer statements,
// and leave each conversation as the same writes made one by one do,
// whatever the row held before (none, older, newer, closed, waiting) and
// whichever of the message and the replies is later.
func TestPostgresFoldedWrites(t *testing.T) {
	pool := testservices.MigratedPostgres(t)
	s := conversation.NewPostgres(pool)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	type write func(ctx context.Context, k conversation.Key) error
	in := func(name, text string, at time.Time) write {
		return func(ctx context.Context, k conversation.Key) error { return s.Inbound(ctx, k, name, text, at) }
	}
	out := func(text string, at time.Time) write {
		return func(ctx context.Context, k conversation.Key) error { return s.Outbound(ctx, k, text, at) }
	}
	booking := func(ref string) write {
		return func(ctx context.Context, k conversation.Key) error { return s.SetBookingRef(ctx, k, ref) }
	}
	befores := map[string]func(k conversation.Key) error{
		"none": func(conversation.Key) error { return nil },
		"older": func(k conversation.Key) error {
			return s.Inbound(ctx, k, "Ana", "antes", t0.Add(-time.Hour))
		},
		"newer": func(k conversation.Key) error {
			return s.Inbound(ctx, k, "Ana", "después", t0.Add(time.Hour))
		},
		"between": func(k conversation.Key) error {
			return s.Inbound(ctx, k, "", "entre", t0.Add(30*time.Second))
		},
		"closed": func(k conversation.Key) error {
			if err := s.Inbound(ctx, k, "Ana", "antes", t0.Add(-time.Hour)); err != nil {
				return err
			}
			_, err := s.SetState(ctx, k, conversation.Closed)
			return err
		},
		"waiting": func(k conversation.Key) error {
			_, err := s.HandOff(ctx, k, t0.Add(-time.Minute))
			return err
		},
	}
	units := []struct {
		name       string
		writes     []write
		statements int // queued after folding
	}{
		{"message then later reply", []write{in("Ana", "hola", t0), out("bienvenida", t0.Add(time.Minute))}, 1},
		{"message then earlier reply", []write{in("Ana", "hola", t0), out("bienvenida", t0.Add(-time.Minute))}, 1},
		{"message and reply at once", []write{in("", "hola", t0), out("bienvenida", t0)}, 1},
		{"two replies", []write{in("Ana", "hola", t0), out("uno", t0.Add(time.Minute)), out("dos", t0.Add(time.Minute))}, 1},
		{"a reply earlier than the one before", []write{in("Ana", "hola", t0), out("uno", t0.Add(time.Minute)), out("dos", t0)}, 2},
		{"replies alone", []write{out("uno", t0), out("dos", t0.Add(time.Second))}, 1},
		{"booking between replies", []write{in("Ana", "hola", t0), out("uno", t0.Add(time.Minute)), booking("B-1"), out("dos", t0.Add(time.Minute))}, 3},
	}
	n := 0
	for _, u := range units {
		for name, before := range befores {
			n++
			direct := conversation.Key{TenantID: "hotel-f", Channel: "whatsapp", Guest: fmt.Sprintf("d%d", n)}
			folded := conversation.Key{TenantID: "hotel-f", Channel: "whatsapp", Guest: fmt.Sprintf("f%d", n)}
			for _, k := range []conversation.Key{direct, folded} {
				if err := before(k); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range u.writes {
				if err := w(ctx, direct); err != nil {
					t.Fatal(err)
				}
			}
			dctx, d := store.WithDeferred(ctx)
			for _, w := range u.writes {
				if err := w(dctx, folded); err != nil {
					t.Fatal(err)
				}
			}
			stmts := d.Take()
			if len(stmts) != u.statements {
				t.Errorf("%s, row %s: %d statements queued, want %d", u.name, name, len(stmts), u.statements)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range stmts {
				if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
					t.Fatalf("%s, row %s: %v", u.name, name, err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			want, err := s.Get(ctx, direct)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, folded)
			if err != nil {
				t.Fatal(err)
			}
			got.Key, want.Key = conversation.Key{}, conversation.Key{}
			if !got.LastMessageAt.Equal(want.LastMessageAt) || !got.WaitingSince.Equal(want.WaitingSince) {
				t.Errorf("%s, row %s: folded %+v, one by one %+v", u.name, name, got, want)
			}
			got.LastMessageAt, want.LastMessageAt, got.WaitingSince, want.WaitingSince = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != want {
				t.Errorf("%s, row %s: folded %+v, one by one %+v", u.name, name, got, want)
			}
		}
	}
}
