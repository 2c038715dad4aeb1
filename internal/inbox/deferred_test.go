package inbox

import (
	"context"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestCompletionRunsDeferredWrites: a completion on Postgres runs the
// handler's deferred writes in its transaction, with or without replies;
// a completion whose lease was taken over runs none of them, queues no
// reply and reports errLeaseLost.
func TestCompletionRunsDeferredWrites(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE deferred_probe (id text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	b := newPGBackend(pool)
	now := time.Now().UTC()
	write := func(id string) []store.Statement {
		return []store.Statement{{SQL: `INSERT INTO deferred_probe (id) VALUES ($1)`, Args: []any{id}},
			{SQL: `UPDATE deferred_probe SET id = id || '-2' WHERE id = $1`, Args: []any{id}}}
	}
	probes := func() map[string]bool {
		rows, err := pool.Query(ctx, `SELECT id FROM deferred_probe`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out[id] = true
		}
		return out
	}
	queuedReplies := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_replies`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	msgs := []chat.Message{memMsg("h", "g1", 1), memMsg("h", "g2", 2), memMsg("h", "g3", 3)}
	if _, _, err := b.accept(ctx, now, msgs, nil, false); err != nil {
		t.Fatal(err)
	}
	cs, err := b.in.claim(ctx, nil, now, "w", 3, now.Add(time.Minute))
	if err != nil || len(cs) != 3 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	reply := AddressReplies(cs[0].item, []OutboundReply{{Reply: chat.Reply{Kind: chat.ReplyText, Text: "ok"}}})
	if err := b.completeMessage(ctx, now, cs[0], reply, write("with-reply")); err != nil {
		t.Fatal(err)
	}
	if err := b.completeMessage(ctx, now, cs[1], nil, write("without-reply")); err != nil {
		t.Fatal(err)
	}
	// Another worker took the third conversation over after its lease expired.
	later := now.Add(2 * time.Minute)
	if _, err := pool.Exec(ctx, `UPDATE inbox_leases SET lease_until = $1`, now); err != nil {
		t.Fatal(err)
	}
	if over, err := b.in.claim(ctx, nil, later, "other", 1, later.Add(time.Minute)); err != nil || len(over) != 1 || over[0].seq != cs[2].seq {
		t.Fatalf("take-over claim: %v, %v", over, err)
	}
	stale := AddressReplies(cs[2].item, []OutboundReply{{Reply: chat.Reply{Kind: chat.ReplyText, Text: "stale"}}})
	if err := b.completeMessage(ctx, now, cs[2], stale, write("stale")); err != errLeaseLost {
		t.Fatalf("completion after the lease was lost: %v, want errLeaseLost", err)
	}
	got := probes()
	if !got["with-reply-2"] || !got["without-reply-2"] || len(got) != 2 {
		t.Errorf("deferred writes committed: %v, want with-reply-2 and without-reply-2 only", got)
	}
	if n := queuedReplies(); n != 1 {
		t.Errorf("%d replies queued, want 1 (none from the stale completion)", n)
	}
}

// TestClaimsAndCompletionsUseGenericPlans: claims and completions are
// planned generically (not re-planned at each execution), and the setting
// ends with their transaction, so the connection's other queries keep the
// server's default.
func TestClaimsAndCompletionsUseGenericPlans(t *testing.T) {
	ctx := context.Background()
	url := testservices.Postgres(t)
	pool, err := store.Connect(ctx, url+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	b := newPGBackend(pool)
	now := time.Now().UTC()
	for i := range 3 {
		if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("h", "g", i)}, nil, false); err != nil {
			t.Fatal(err)
		}
		cs, err := b.in.claim(ctx, nil, now, "w", 1, now.Add(time.Minute))
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim: %d, %v", len(cs), err)
		}
		if err := b.completeMessage(ctx, now, cs[0], nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// One connection: these run where the claims and completions ran.
	var mode string
	if err := pool.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "auto" {
		t.Errorf("plan_cache_mode after the batches: %q, want the default auto", mode)
	}
	for _, stmt := range []string{"WITH cand AS", "WITH msg AS"} {
		var generic, custom int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			FROM pg_prepared_statements WHERE statement LIKE $1`, stmt+"%").Scan(&generic, &custom); err != nil {
			t.Fatal(err)
		}
		if generic < 3 || custom != 0 {
			t.Errorf("%s…: %d generic and %d custom plans, want 3 generic and none custom", stmt, generic, custom)
		}
	}
}
