package agent

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
)

// countedLoads counts the loads of its store.
type countedLoads struct {
	SessionStore
	loads atomic.Int64
}

func (c *countedLoads) Load(ctx context.Context, key SessionKey, now time.Time) (*Session, error) {
	c.loads.Add(1)
	return c.SessionStore.Load(ctx, key, now)
}

// A session read in the caller's batch (QueueLoad) is the one the turn
// runs on, with no load of its own: a message delivered again gets the
// replies the session remembers. One read for another guest is ignored
// and the session loaded.
func TestHandleTurnFromRunsOnTheSessionReadInTheCallersBatch(t *testing.T) {
	pool := postgresPool(t)
	pg := NewPostgresSessions(pool)
	sessions := &countedLoads{SessionStore: pg}
	clock := func() time.Time { return morning }
	o, err := New(nlp.Analyze, demo.New(demo.WithClock(clock)), sessions, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := HotelContext{TenantID: "tenant_hotel_madrid", Name: "Hotel Madrid Central", Location: madridTZ}
	m := chat.Message{TenantID: h.TenantID, Channel: chat.WhatsApp, ID: "wamid.batch.1", From: "34620000009", Kind: chat.KindText, Text: "hola"}
	first, err := o.Handle(ctx, m, h)
	if err != nil || len(first) == 0 {
		t.Fatalf("first answer %v, %v", first, err)
	}
	read := func(from string) *StoredSession {
		t.Helper()
		b := &pgx.Batch{}
		st := pg.QueueLoad(b, KeyFor(h.TenantID, chat.WhatsApp, from))
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			t.Fatal(err)
		}
		return st
	}

	before := sessions.loads.Load()
	again, err := o.HandleTurnFrom(ctx, m, h, read(m.From))
	if err != nil || len(again.Replies) != len(first) || again.Replies[0].Text != first[0].Text {
		t.Fatalf("redelivery on the batch's session answered %+v, %v; want the remembered %+v", again.Replies, err, first)
	}
	if n := sessions.loads.Load() - before; n != 0 {
		t.Errorf("the turn loaded the session %d times, though the batch had read it", n)
	}

	before = sessions.loads.Load()
	if _, err := o.HandleTurnFrom(ctx, m, h, read("34620000010")); err != nil {
		t.Fatal(err)
	}
	if n := sessions.loads.Load() - before; n != 1 {
		t.Errorf("with another guest's session read, the turn loaded %d times, want 1", n)
	}
}
