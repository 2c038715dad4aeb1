package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// TestAcceptsWakeAnotherInstancesWorkers: an edge's accepts wake the
// workers of another process at once, a lone accept and accepts close
// together (coalesced, the next NOTIFY after the gap) alike. The workers'
// polling is an hour apart here, so only the NOTIFYs can bring a message
// to them.
func TestAcceptsWakeAnotherInstancesWorkers(t *testing.T) {
	t.Parallel()
	e := openPostgres(t)
	edge := e.instance(t, e.options("edge"))
	wopts := e.options("worker")
	wopts.PollInterval = time.Hour
	worker, pool := e.instanceWithPool(t, wopts)
	var mu sync.Mutex
	handled := map[string]bool{}
	runInbox(t, worker, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
		mu.Lock()
		handled[m.ID] = true
		mu.Unlock()
		return nil, nil
	})
	// Accepted before the worker listens, a message would be found by the
	// claim it makes once it does; so the accepts below wait for LISTEN.
	waitFor(t, "the worker listening", func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %agente_inbox%' AND state = 'idle'`).Scan(&n)
		return err == nil && n > 0
	})
	done := func(ids ...string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if !handled[id] {
					return false
				}
			}
			return true
		}
	}
	if _, err := edge.Accept(ctxT(t), []chat.Message{guestMsg("34600000001", "lone", 0)}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lone message handled", done("lone"))
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("close-%d", i)
		ids = append(ids, id)
		if _, err := edge.Accept(ctxT(t), []chat.Message{guestMsg(fmt.Sprintf("346000001%02d", i), id, i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every message accepted close together handled", done(ids...))
}
