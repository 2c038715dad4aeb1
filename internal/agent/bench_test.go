package agent

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// referenceNs is one demo PMS availability call, measured in the same run:
// the benchmarks below report their cost as a multiple of it.
var referenceNs = sync.OnceValue(func() float64 {
	d := demo.New(demo.WithClock(func() time.Time { return morning }))
	h := pms.Hotel{TenantID: "tenant_hotel_madrid"}
	s := pms.Stay{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Adults: 2}
	// testing.Benchmark cannot nest in a running benchmark; a timed loop can.
	const n = 20000
	start := time.Now()
	for range n {
		if _, err := d.Availability(context.Background(), h, s); err != nil {
			panic(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / n
})

func benchEnv(b *testing.B, s SessionStore) (*Orchestrator, HotelContext) {
	plenty := func(string) demo.Property {
		p := demo.DefaultProperty("Hotel Madrid Central")
		for i := range p.Rooms {
			p.Rooms[i].Count = 1 << 30
		}
		return p
	}
	clock := func() time.Time { return morning }
	analyze := func(text string, now time.Time) nlp.Result { return corpus[text] }
	o, err := New(analyze, demo.New(demo.WithClock(clock), demo.WithProperty(plenty)), s, WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	return o, HotelContext{TenantID: "tenant_hotel_madrid", Name: "Hotel Madrid Central", Location: madridTZ}
}

// BenchmarkBookingConversation is a guest booking in three messages
// (availability, room, yes): one op is the whole conversation.
func BenchmarkBookingConversation(b *testing.B) {
	for _, sf := range []struct {
		name string
		new  func(*testing.B) SessionStore
	}{
		{"memory", func(*testing.B) SessionStore { return NewMemorySessions() }},
		{"postgres", func(b *testing.B) SessionStore {
			pool, err := maybePostgres(b)
			testservices.Require(b, "Postgres", err)
			return NewPostgresSessions(pool)
		}},
	} {
		b.Run(sf.name, func(b *testing.B) {
			o, h := benchEnv(b, sf.new(b))
			ctx := context.Background()
			texts := []string{"hola, tienen habitación doble del 5 al 7 de diciembre para 2?", "la doble", "sí"}
			n := 0
			start := time.Now()
			for b.Loop() {
				n++
				from := fmt.Sprintf("3469%08d", n)
				for i, text := range texts {
					replies, err := o.Handle(ctx, chat.Message{TenantID: h.TenantID, Channel: chat.WhatsApp,
						ID: fmt.Sprintf("wamid.%s.%d", from, i), From: from, Kind: chat.KindText, Text: text}, h)
					if err != nil || len(replies) != 1 {
						b.Fatalf("%q: %v, %d replies", text, err, len(replies))
					}
				}
			}
			perConv := float64(time.Since(start).Nanoseconds()) / float64(n)
			b.ReportMetric(3*1e9/perConv, "msgs/s")
			b.ReportMetric(perConv/3/referenceNs(), "x_pms_call/msg")
		})
	}
}

// helloSession is the session of a guest who wrote "hola" six times, as
// the staircase's guests do: five recent turns with their replies, in the
// store that holds it.
func helloSession(b *testing.B) (*MemorySessions, *Session) {
	s := NewMemorySessions()
	o, err := New(nlp.Analyze, demo.New(demo.WithClock(func() time.Time { return morning })), s, WithClock(func() time.Time { return morning }))
	if err != nil {
		b.Fatal(err)
	}
	h := HotelContext{TenantID: "tenant_hotel_madrid", Name: "Hotel Madrid Central", Location: madridTZ}
	for i := range 6 {
		if _, err := o.Handle(context.Background(), chat.Message{TenantID: h.TenantID, Channel: chat.WhatsApp,
			ID: fmt.Sprintf("wamid.hello.%d", i), From: "34620000001", Kind: chat.KindText, Text: "hola"}, h); err != nil {
			b.Fatal(err)
		}
	}
	sess, err := s.Load(context.Background(), KeyFor(h.TenantID, chat.WhatsApp, "34620000001"), morning)
	if err != nil || sess.New {
		b.Fatalf("no session: %v", err)
	}
	return s, sess
}

// BenchmarkMemorySessions is one turn's Load and Save of a guest's session
// in the memory store. (Saved into a store that did not hold it, the
// session was not stored: it had been loaded from a row, and Save keeps
// no row deleted since.)
func BenchmarkMemorySessions(b *testing.B) {
	s, sess := helloSession(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Load(ctx, sess.Key, morning)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Save(ctx, got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHelloTurn is one "hola" from one of 256 guests who keep
// writing it, through the real analysis, the demo PMS and the memory
// sessions: the work of the staircase's inbox workers per message.
func BenchmarkHelloTurn(b *testing.B) {
	o, err := New(nlp.Analyze, demo.New(demo.WithClock(func() time.Time { return morning })), NewMemorySessions(),
		WithClock(func() time.Time { return morning }))
	if err != nil {
		b.Fatal(err)
	}
	h := HotelContext{TenantID: "tenant_hotel_madrid", Name: "Hotel Madrid Central", Location: madridTZ}
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		if _, err := o.Handle(ctx, chat.Message{TenantID: h.TenantID, Channel: chat.WhatsApp, ID: fmt.Sprintf("wamid.hello.%d", n),
			From: fmt.Sprintf("346200%05d", n%256), Kind: chat.KindText, Text: "hola"}, h); err != nil {
			b.Fatal(err)
		}
	}
}
