package inbox

import (
	"context"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// acceptedAsNew accepts m on b and reports whether it was taken as a new
// message (false: a redelivery).
func acceptedAsNew(t *testing.T, b *memBackend, m chat.Message) bool {
	t.Helper()
	res, _, err := b.accept(context.Background(), memEpoch, []chat.Message{m}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return res.New == 1
}

// TestMemoryDedupRecognisesRedeliveries: the same (tenant, channel, id) is a
// redelivery; the same id of another tenant or channel, or fields that only
// concatenate alike, are new messages.
func TestMemoryDedupRecognisesRedeliveries(t *testing.T) {
	b := newMemBackend(Options{}.withDefaults())
	m := chat.Message{TenantID: "h1", Channel: chat.WhatsApp, ID: "wamid.1", From: "111", Kind: chat.KindText}
	if !acceptedAsNew(t, b, m) {
		t.Fatal("a first message was taken for a redelivery")
	}
	if acceptedAsNew(t, b, m) {
		t.Fatal("a redelivery was accepted again")
	}
	for _, other := range []chat.Message{
		{TenantID: "h2", Channel: chat.WhatsApp, ID: "wamid.1", From: "111"},
		{TenantID: "h1", Channel: chat.Gmail, ID: "wamid.1", From: "111"},
		{TenantID: "h1", Channel: chat.WhatsApp, ID: "wamid.2", From: "111"},
		// The same bytes split otherwise between the three.
		{TenantID: "h1whatsapp", Channel: "", ID: "wamid.1", From: "111"},
		{TenantID: "h1", Channel: "", ID: "whatsappwamid.1", From: "111"},
	} {
		if !acceptedAsNew(t, b, other) {
			t.Errorf("(%q, %q, %q) was taken for a redelivery of (%q, %q, %q)", other.TenantID, other.Channel, other.ID, m.TenantID, m.Channel, m.ID)
		}
	}
}

// TestMemoryDedupForgetsPrunedAndErasedIDs: an id whose message was pruned
// or erased is accepted again, as Prune and EraseGuest document.
func TestMemoryDedupForgetsPrunedAndErasedIDs(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"prune", "erase"} {
		t.Run(how, func(t *testing.T) {
			b := newMemBackend(Options{}.withDefaults())
			m := memMsg("h", "111", 1)
			keep := memMsg("h", "222", 2)
			acceptedAsNew(t, b, m)
			acceptedAsNew(t, b, keep)
			for range 2 {
				claimOne(t, b, memEpoch)
			}
			switch how {
			case "prune":
				// keep finished later than the cutoff: only m goes.
				b.in.bySeq[2].doneAt = memEpoch.Add(time.Hour)
				if n, err := b.prune(ctx, memEpoch.Add(time.Minute)); err != nil || n != 1 {
					t.Fatalf("pruned %d, %v; want 1", n, err)
				}
			case "erase":
				if got, err := b.eraseConversation(ctx, guestRef{"h", chat.WhatsApp, "111"}); err != nil || got.Messages != 1 {
					t.Fatalf("erased %+v, %v; want 1 message", got, err)
				}
			}
			if !acceptedAsNew(t, b, m) {
				t.Errorf("after the %s, the id was still taken for a redelivery", how)
			}
			if acceptedAsNew(t, b, keep) {
				t.Errorf("the %s forgot another message's id", how)
			}
		})
	}
}

// TestMemoryDedupKeepsTheNewest: beyond MemoryKeepDedup ids the oldest is
// forgotten and the newest are still recognised, including an id that was
// forgotten (erased) and accepted again while its first slot waits in the
// ring: that old slot's turn must not forget the new one.
func TestMemoryDedupKeepsTheNewest(t *testing.T) {
	b := newMemBackend(Options{MemoryKeepDedup: 3}.withDefaults())
	msg := func(i int) chat.Message {
		return chat.Message{TenantID: "h", Channel: chat.WhatsApp, ID: "id-" + strconv.Itoa(i), From: "111"}
	}
	for i := range 3 {
		acceptedAsNew(t, b, msg(i))
	}
	// id-0 forgotten (as an erasure does) and accepted again: the ring now
	// holds id-0's first slot, id-1, id-2, id-0's second slot.
	b.dedup.forget(msg(0))
	if !acceptedAsNew(t, b, msg(0)) {
		t.Fatal("a forgotten id was taken for a redelivery")
	}
	if acceptedAsNew(t, b, msg(0)) {
		t.Fatal("the first slot's turn forgot the id accepted again")
	}
	// id-3 pushes id-1 out.
	if !acceptedAsNew(t, b, msg(3)) {
		t.Fatal("a fresh id was taken for a redelivery")
	}
	if !acceptedAsNew(t, b, msg(1)) {
		t.Error("the oldest id beyond MemoryKeepDedup is still remembered")
	}
	if len(b.dedup.seen) > 3 || b.dedup.order.len() > 3 {
		t.Errorf("%d keys, %d slots kept; want at most 3", len(b.dedup.seen), b.dedup.order.len())
	}
}

// TestMemoryDedupHoldsNoPointers: the dedup's map and ring hold no
// pointers, so the collector never scans them, however many keys they keep.
func TestMemoryDedupHoldsNoPointers(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[memDedupKey](),
		reflect.TypeFor[memDedupSlot](),
		reflect.TypeOf(memDedup{}.seen).Elem(),
		reflect.TypeOf(memDedup{}.order.buf).Elem(),
	} {
		if hasPointers(typ) {
			t.Errorf("%v holds pointers: the collector scans every key", typ)
		}
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}

// BenchmarkMemoryDedup is one add to a full dedup of the default 200,000
// keys (so each add also forgets the oldest). It reports the scannable heap
// the full dedup adds (scan-bytes, from runtime/metrics: what each
// collection's mark phase must scan) and its whole heap (heap-bytes).
func BenchmarkMemoryDedup(b *testing.B) {
	const keep = 200_000
	msg := func(i int) chat.Message {
		return chat.Message{TenantID: "hotel-" + strconv.Itoa(i%100), Channel: chat.WhatsApp,
			ID: "wamid.HBgLMzQ2MDAwMDAwMDAVAgASGBQzQTg" + strconv.Itoa(i), From: "34600000000"}
	}
	heap := func() (scan, inuse uint64) {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64()
	}
	msgs := make([]chat.Message, keep+b.N)
	for i := range msgs {
		msgs[i] = msg(i)
	}
	scan0, heap0 := heap()
	d := newMemDedup(keep)
	for _, m := range msgs[:keep] {
		d.add(m)
	}
	scan1, heap1 := heap()
	b.ReportAllocs()
	b.ResetTimer()
	for _, m := range msgs[keep:] {
		if !d.add(m) {
			b.Fatal("a fresh id was taken for a redelivery")
		}
	}
	b.StopTimer()
	// After ResetTimer, which clears reported metrics.
	b.ReportMetric(float64(int64(scan1-scan0)), "scan-bytes")
	b.ReportMetric(float64(int64(heap1-heap0)), "heap-bytes")
	runtime.KeepAlive(msgs)
}
