package inbox

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgNotifier wakes the workers after a commit that gave them work: at once
// those of this process, and the others (an edge's accepts, a worker
// process's replies) with a NOTIFY, coalesced: while one is in flight, any
// number of wakes make one more after it. Postgres serialises the commits
// of every transaction that sent a NOTIFY (one lock for the whole
// notification queue), so a NOTIFY inside each accept and completion made
// them commit one at a time; now at most one notifying transaction per
// channel and process is open. Each NOTIFY is sent in or after the commit
// that made the work visible, so a woken worker finds it; polling still
// covers a lost notification.
//
// A NOTIFY assigns a transaction id, so its commit is a WAL flush; one per
// completion cost a flush per message. The next NOTIFY of a busy channel
// therefore waits until notifyGap after the one before (a lone wake still
// goes at once), which bounds them to 1/notifyGap per channel and process
// at the price of that much latency for the other processes under load.
// And an accept group whose statement runs when a NOTIFY may go (carry)
// sends it in its own transaction, where it costs no commit of its own:
// under a steady load the edge's wakes ride on its accepts, and a
// transaction of its own (notify) is left for the wakes no accept carried.
type pgNotifier struct {
	pool    *pgxpool.Pool
	channel string

	mu    sync.Mutex
	local map[chan<- struct{}]struct{}
	// inflight: a NOTIFY is being sent, by notify or in a carrying
	// statement; again: a wake came meanwhile, owed one more after it.
	inflight bool
	again    bool
	// last is when the latest NOTIFY went.
	last time.Time
}

// notifyGap is the least time between two NOTIFYs of one channel from one
// process.
const notifyGap = 20 * time.Millisecond

func newPGNotifier(pool *pgxpool.Pool, channel string) *pgNotifier {
	return &pgNotifier{pool: pool, channel: channel, local: map[chan<- struct{}]struct{}{}}
}

// subscribe makes wake receive this process's wakes; the returned function
// ends that.
func (n *pgNotifier) subscribe(wake chan<- struct{}) func() {
	n.mu.Lock()
	n.local[wake] = struct{}{}
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.local, wake)
		n.mu.Unlock()
	}
}

func (n *pgNotifier) wake() {
	n.mu.Lock()
	n.signalLocked()
	if n.inflight {
		n.again = true
		n.mu.Unlock()
		return
	}
	n.inflight = true
	n.mu.Unlock()
	go n.notify()
}

func (n *pgNotifier) signalLocked() {
	for w := range n.local {
		signal(w)
	}
}

// carry says whether the statement about to run should send the NOTIFY
// in its own transaction (none in flight, notifyGap since the last); when
// it says so, the caller must call carried once the statement has ended.
func (n *pgNotifier) carry() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.inflight || time.Since(n.last) < notifyGap {
		return false
	}
	n.inflight = true
	return true
}

// carried ends a carry: sent, the statement committed with its NOTIFY (it
// gave work: this process's workers are signalled too). A wake that came
// meanwhile gets a NOTIFY of its own after the gap.
func (n *pgNotifier) carried(sent bool) {
	n.mu.Lock()
	if sent {
		n.last = time.Now()
		n.signalLocked()
	}
	if !n.again {
		n.inflight = false
		n.mu.Unlock()
		return
	}
	n.again = false
	n.mu.Unlock()
	go n.notify()
}

// notify sends NOTIFYs, notifyGap apart, until no wake is owed.
func (n *pgNotifier) notify() {
	for {
		n.mu.Lock()
		wait := notifyGap - time.Since(n.last)
		n.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = n.pool.Exec(ctx, "SELECT pg_notify($1, '')", n.channel) // lost: polling covers it
		cancel()
		n.mu.Lock()
		n.last = time.Now()
		if !n.again {
			n.inflight = false
			n.mu.Unlock()
			return
		}
		n.again = false
		n.mu.Unlock()
	}
}
