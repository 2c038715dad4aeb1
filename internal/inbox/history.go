package inbox

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// History is one guest's conversation with a hotel on a channel: the
// guest's messages and the replies to them (with their delivery state),
// each oldest first, at most limit of each (the newest; a negative limit: all).
func (ib *Inbox) History(ctx context.Context, tenantID string, channel chat.Channel, guest string, limit int) ([]MessageRecord, []ReplyRecord, error) {
	switch {
	case limit < 0: // all of it (a guest's data export)
		limit = math.MaxInt32
	case limit == 0 || limit > 1000:
		limit = 200
	}
	var msgs []MessageRecord
	if pg, ok := ib.b.(*pgBackend); ok {
		var err error
		if msgs, err = pgConversationMessages(ctx, pg, chat.Message{TenantID: tenantID, Channel: channel, From: guest}.ConversationKey(), limit); err != nil {
			return nil, nil, err
		}
	} else {
		msgs = newest(ib.b.(*memBackend).guestMessages(tenantID, channel, guest), limit)
	}
	all, err := ib.b.replies(ctx, Query{TenantID: tenantID, To: guest})
	if err != nil {
		return nil, nil, err
	}
	var replies []ReplyRecord
	for _, r := range all {
		if r.Reply.Channel == channel {
			replies = append(replies, r)
		}
	}
	return msgs, newest(replies, limit), nil
}

func newest[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func pgConversationMessages(ctx context.Context, b *pgBackend, key string, limit int) ([]MessageRecord, error) {
	out, err := b.queryMessages(ctx, `SELECT payload, state, attempts, coalesce(last_error, ''), accepted_at, done_at
		FROM inbox_messages WHERE conversation_key = $1 ORDER BY seq DESC LIMIT $2`, key, limit)
	slices.Reverse(out)
	return out, err
}

// AcceptedSince counts the guest messages accepted at or after since and
// still kept (an erased guest's are not). In memory it counts by the minute
// (a since inside a minute counts all of that minute's), since the entries
// themselves are dropped past MemoryKeepFinished.
func (ib *Inbox) AcceptedSince(ctx context.Context, since time.Time) (int, error) {
	if pg, ok := ib.b.(*pgBackend); ok {
		var n int
		err := pg.pool.QueryRow(ctx, `SELECT count(*) FROM inbox_messages WHERE accepted_at >= $1`, since).Scan(&n)
		return n, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return ib.b.(*memBackend).acceptedSince(since), nil
}
