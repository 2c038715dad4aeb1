package inbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// A text with NUL characters is stored without them, with the rest of its
// batch, on both backends (Postgres refuses NUL in text and jsonb).
func TestNULIsRemovedNotRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("a"))
		bad := guestMsg("34600000001", "wamid.nul", 1)
		bad.Text, bad.Name = "hola\x00 qué tal\x00", "Ana\x00"
		bad.Metadata = map[string]any{"k\x00": "v\x00"}
		good := guestMsg("34600000002", "wamid.ok", 2)
		res := mustAccept(t, ib, bad, good)
		if res.New != 2 {
			t.Fatalf("accepted %+v, want both messages", res)
		}
		got := messages(t, ib)["wamid.nul"].Message
		if got.Text != "hola qué tal" || got.Name != "Ana" || got.Metadata["k"] != "v" {
			t.Fatalf("stored %q %q %v", got.Text, got.Name, got.Metadata)
		}
		if _, ok := messages(t, ib)["wamid.ok"]; !ok {
			t.Fatal("the other message of the batch was not stored")
		}
	})
}

// Events no hotel could be found for are kept once each and counted.
func TestUnroutedEventsAreKeptOnceAndCounted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, e.options("a"))
		ctx := ctxT(t)
		msg := guestMsg("34600000003", "wamid.lost", 1)
		msg.Text = "nul\x00"
		events := []inbox.UnroutedEvent{
			{Channel: chat.WhatsApp, Field: "messages", Kind: inbox.UnroutedMessage, PhoneNumberID: "999", Guest: msg.From, ItemID: msg.ID, Payload: msg},
			{Channel: chat.WhatsApp, Field: "account_update", Kind: inbox.UnroutedField, WABAID: "12345", Payload: map[string]string{"field": "account_update"}},
		}
		before := testutil.ToFloat64(unroutedCounter("account_update"))
		if n, err := ib.AcceptUnrouted(ctx, events); err != nil || n != 2 {
			t.Fatalf("first delivery: %d, %v", n, err)
		}
		if n, err := ib.AcceptUnrouted(ctx, events); err != nil || n != 0 {
			t.Fatalf("redelivery kept %d again (%v)", n, err)
		}
		if d := testutil.ToFloat64(unroutedCounter("account_update")) - before; d != 1 {
			t.Fatalf("webhook_unrouted_total{field=account_update} +%v, want +1", d)
		}
		got, err := ib.Unrouted(ctx, 10)
		if err != nil || len(got) != 2 {
			t.Fatalf("kept %d (%v)", len(got), err)
		}
		if got[1].Kind != inbox.UnroutedMessage || got[1].ItemID != "wamid.lost" || strings.Contains(string(got[1].Payload), `\u0000`) {
			t.Fatalf("kept message %+v %s", got[1].UnroutedEvent, got[1].Payload)
		}

		// Pruning forgets them with the rest of the finished work.
		e.clock.Advance(time.Hour)
		later := []inbox.UnroutedEvent{{Channel: chat.WhatsApp, Field: "security", Kind: inbox.UnroutedField, WABAID: "12345", Payload: map[string]string{"event": "PIN_CHANGED"}}}
		if n, err := ib.AcceptUnrouted(ctx, later); err != nil || n != 1 {
			t.Fatalf("a later event: %d, %v", n, err)
		}
		if _, err := ib.Prune(ctx, e.clock.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := ib.Unrouted(ctx, 10); err != nil || len(got) != 1 || got[0].Field != "security" {
			t.Fatalf("after pruning the first hour: %+v (%v), want the later event only", got, err)
		}
		if n, err := ib.AcceptUnrouted(ctx, events); err != nil || n != 2 {
			t.Fatalf("a pruned event delivered again is kept again: %d, %v", n, err)
		}
	})
}

// unroutedCounter is webhook_unrouted_total{field}.
func unroutedCounter(field string) prometheus.Counter {
	return inbox.UnroutedTotal.WithLabelValues(field)
}
