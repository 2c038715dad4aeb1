package inbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// A claim stamps its items without changing an indexed column, so each
// item's new version stays on its page with no new index entries (a
// heap-only update), provided the page has room: the queues' tables keep
// it (migration 0152). Postgres puts an updated row on its own page
// whenever it fits there, so a claimed item still on the block it was
// inserted into was updated heap-only.
func TestClaimsStampItemsOnTheirOwnPage(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	b := newPGBackend(pool)
	now := time.Now().UTC()
	const n = 200 // many pages' worth of rows
	var msgs []chat.Message
	var replies []OutboundReply
	for i := range n {
		guest := fmt.Sprintf("g%03d", i)
		msgs = append(msgs, memMsg("h", guest, i))
		replies = append(replies, OutboundReply{TenantID: "h", Channel: chat.WhatsApp, To: guest, Reply: chat.Reply{Kind: chat.ReplyText, Text: "a reply of some length to " + guest}})
	}
	if _, _, err := b.accept(ctx, now, msgs, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := b.enqueue(ctx, now, replies); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		table string
		claim func() (int, error)
	}{
		{"inbox_messages", func() (int, error) {
			cs, err := b.in.claim(ctx, nil, now, "w", n, now.Add(time.Minute))
			return len(cs), err
		}},
		{"outbox_replies", func() (int, error) {
			cs, err := b.out.claim(ctx, nil, now, "w", n, now.Add(time.Minute))
			return len(cs), err
		}},
	} {
		blocks := func() (map[int64]int64, int64) {
			rows, err := pool.Query(ctx, `SELECT seq, (ctid::text::point)[0]::bigint FROM `+q.table)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			at := map[int64]int64{}
			var last int64
			for rows.Next() {
				var seq, block int64
				if err := rows.Scan(&seq, &block); err != nil {
					t.Fatal(err)
				}
				at[seq], last = block, max(last, block)
			}
			return at, last
		}
		before, lastBlock := blocks()
		if lastBlock < 3 {
			t.Fatalf("%s: %d rows fill %d blocks; the test needs several", q.table, len(before), lastBlock+1)
		}
		if got, err := q.claim(); err != nil || got != n {
			t.Fatalf("%s: claimed %d of %d: %v", q.table, got, n, err)
		}
		after, _ := blocks()
		moved := 0
		for seq, block := range before {
			if after[seq] != block {
				moved++
			}
		}
		if moved > n/4 {
			t.Errorf("%s: %d of %d claimed rows moved to another page (not heap-only updates)", q.table, moved, n)
		}
	}
}
