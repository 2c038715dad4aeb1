package inbox

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// pgNotifier wakes the workers after a commit that gave them work: at once
// those of this process, and the others (an edge's accepts, a worker
// process's replies) with a NOTIFY of its own, coalesced: while one is in
// flight, any number of wakes make one more after it. Postgres serialises
// the commits of every transaction that sent a NOTIFY (one lock for the
// whole notification queue), so a NOTIFY inside each accept and completion
// made them commit one at a time; outside them, at most one notifying
// transaction per channel and process is open. Each NOTIFY is sent after
// the commit that made the work visible, so a woken worker finds it;
// polling still covers a lost notification.
//
// Each NOTIFY is a transaction of its own with a commit record to flush,
// so one per completion cost a WAL flush per message; the next NOTIFY of a
// busy channel therefore waits until notifyGap after the one before (a
// lone wake still goes at once), which bounds them to 1/notifyGap per
// channel and process at the price of that much latency for the other
// processes under load.
type pgNotifier struct {
	pool    *pgxpool.Pool
	channel string

	mu       sync.Mutex
	local    map[wakeup.Signal]struct{}
	inflight bool
	again    bool
}

// notifyGap is the least time between two NOTIFYs of one channel from one
// process.
const notifyGap = 20 * time.Millisecond

func newPGNotifier(pool *pgxpool.Pool, channel string) *pgNotifier {
	return &pgNotifier{pool: pool, channel: channel, local: map[wakeup.Signal]struct{}{}}
}

// subscribe makes wake receive this process's wakes; the returned function
// ends that.
func (n *pgNotifier) subscribe(wake wakeup.Signal) func() {
	n.mu.Lock()
	n.local[wake] = struct{}{}
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.local, wake)
		n.mu.Unlock()
	}
}

// wakeLocal wakes this process's workers only, and reports whether it has
// any: for work only they can have been waiting for (the next reply of a
// guest whose reply they just recorded; the others' polls cover it there).
func (n *pgNotifier) wakeLocal() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for w := range n.local {
		w.Wake()
	}
	return len(n.local) > 0
}

// wakeOwn wakes this process's workers when it has some, else the other
// processes' with a NOTIFY: for work this process made and can do itself
// (the replies its own completions queued). Woken too, the other
// processes' senders raced this one's for those replies, and each NOTIFY
// was a commit of its own. When this process's senders are all busy, the
// others still take its replies at their next claim or poll.
func (n *pgNotifier) wakeOwn() {
	if !n.wakeLocal() {
		n.wake()
	}
}

// wake wakes this process's workers and, with a NOTIFY, every other
// process's.
func (n *pgNotifier) wake() {
	n.wakeLocal()
	n.mu.Lock()
	if n.inflight {
		n.again = true
		n.mu.Unlock()
		return
	}
	n.inflight = true
	n.mu.Unlock()
	go n.notify()
}

func (n *pgNotifier) notify() {
	for first := true; ; first = false {
		if !first {
			time.Sleep(notifyGap)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = n.pool.Exec(ctx, "SELECT pg_notify($1, '')", n.channel) // lost: polling covers it
		cancel()
		n.mu.Lock()
		if !n.again {
			n.inflight = false
			n.mu.Unlock()
			return
		}
		n.again = false
		n.mu.Unlock()
	}
}
