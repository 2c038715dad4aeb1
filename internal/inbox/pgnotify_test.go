package inbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// TestWakeOwnStaysInTheProcessThatHasWorkers: replies a process's own
// completions queued wake its own senders and no other process's; a
// process without senders (an edge) wakes the others with a NOTIFY.
func TestWakeOwnStaysInTheProcessThatHasWorkers(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	listener, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	const channel = "agente_wake_own_test"
	if _, err := listener.Exec(ctx, "LISTEN "+channel); err != nil {
		t.Fatal(err)
	}
	notified := func(within time.Duration) bool {
		wctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		_, err := listener.WaitForNotification(wctx)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting for a notification: %v", err)
		}
		return err == nil
	}

	n := newPGNotifier(pool, channel)
	local := wakeup.New()
	unsubscribe := n.subscribe(local)
	n.wakeOwn()
	select {
	case <-local.C():
	default:
		t.Fatal("the process's own senders were not woken")
	}
	if notified(300 * time.Millisecond) {
		t.Fatal("a process with senders of its own woke the other processes' too")
	}

	unsubscribe()
	n.wakeOwn()
	if !notified(5 * time.Second) {
		t.Fatal("a process without senders did not wake the others")
	}
}
