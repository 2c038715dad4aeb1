package inbox

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// ErrGuestBusy is EraseGuest's answer while the guest has a message waiting
// for the workers or a reply waiting to be sent (or held): erasing under a
// worker's feet would either lose the guest's words or send a reply about
// nothing. Such work finishes within minutes; ask again then.
var ErrGuestBusy = errors.New("inbox: the guest has messages or replies in flight")

// GuestErasure counts what EraseGuest deleted.
type GuestErasure struct {
	Messages int64 `json:"messages"`
	Replies  int64 `json:"replies"`
	Statuses int64 `json:"statuses"`
}

// EraseGuest deletes everything the inbox holds of one guest of one hotel on
// one channel: their messages, the replies to them and the delivery
// statuses of those replies, all at once or nothing (ErrGuestBusy while any
// of it is in flight). The message ids are forgotten with the rows, so a
// redelivery of an erased message would be a new message: erasure comes
// long after Meta's redelivery horizon.
func (ib *Inbox) EraseGuest(ctx context.Context, tenantID string, channel chat.Channel, guest string) (GuestErasure, error) {
	return ib.b.eraseConversation(ctx, guestRef{tenantID, channel, guest})
}

// guestRef is one guest of one hotel on one channel, as the inbox keys it.
type guestRef struct {
	tenantID string
	channel  chat.Channel
	guest    string
}

func (g guestRef) key() string {
	return chat.Message{TenantID: g.tenantID, Channel: g.channel, From: g.guest}.ConversationKey()
}

// isRecipient reports whether a delivery status is about a message to g.
func (g guestRef) isRecipient(s chat.Status, providerIDs map[string]bool) bool {
	return s.TenantID == g.tenantID && s.Channel == g.channel &&
		(providerIDs[s.MessageID] || (s.Recipient != "" && strings.EqualFold(s.Recipient, g.guest)))
}

func (b *pgBackend) eraseConversation(ctx context.Context, g guestRef) (GuestErasure, error) {
	var out GuestErasure
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return out, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	key := g.key()
	var busy bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inbox_messages WHERE conversation_key = $1 AND state = 'pending')
		OR EXISTS (SELECT 1 FROM outbox_replies WHERE conversation_key = $1 AND state IN ('pending', 'held'))`, key).Scan(&busy); err != nil {
		return out, err
	}
	if busy {
		return out, ErrGuestBusy
	}
	// Only finished rows are deleted: work accepted after the check above
	// is a new conversation, left to the workers. The conversation's rows
	// of the lines go in statements of their own, the inbox's first (doc.go,
	// "Lock order"): as unread CTEs of one statement they ran in the
	// reverse of their order in it, the outbox's line first.
	batch := &pgx.Batch{}
	batch.Queue(`WITH
		r AS (DELETE FROM outbox_replies WHERE conversation_key = $1 AND state NOT IN ('pending', 'held') RETURNING provider_id),
		s AS (DELETE FROM inbox_statuses WHERE tenant_id = $2 AND channel = $3
			AND (lower(recipient) = lower($4) OR message_id IN (SELECT provider_id FROM r WHERE provider_id IS NOT NULL)) RETURNING 1),
		m AS (DELETE FROM inbox_messages WHERE conversation_key = $1 AND state <> 'pending' RETURNING 1)
		SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM r), (SELECT count(*) FROM s)`,
		key, g.tenantID, string(g.channel), g.guest).QueryRow(func(row pgx.Row) error {
		return row.Scan(&out.Messages, &out.Replies, &out.Statuses)
	})
	batch.Queue(`DELETE FROM inbox_ready WHERE conversation_key = $1 AND due_at = 'infinity' AND NOT held
		AND NOT EXISTS (SELECT 1 FROM inbox_messages t WHERE t.conversation_key = $1 AND t.state = 'pending')`, key)
	batch.Queue(`DELETE FROM outbox_ready WHERE conversation_key = $1 AND due_at = 'infinity' AND NOT held
		AND NOT EXISTS (SELECT 1 FROM outbox_replies t WHERE t.conversation_key = $1 AND t.state IN ('pending', 'held'))`, key)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return GuestErasure{}, err
	}
	return out, tx.Commit(ctx)
}

func (b *memBackend) eraseConversation(_ context.Context, g guestRef) (GuestErasure, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out GuestErasure
	key := g.key()
	open := func(state string) bool { return state == StatePending || state == StateHeld }
	if slices.ContainsFunc(b.in.all, func(e *memEntry[chat.Message]) bool { return e.key == key && open(e.state) }) ||
		slices.ContainsFunc(b.out.all, func(e *memEntry[OutboundReply]) bool { return e.key == key && open(e.state) }) {
		return out, ErrGuestBusy
	}
	b.in.all = slices.DeleteFunc(b.in.all, func(e *memEntry[chat.Message]) bool {
		if e.key != key {
			return false
		}
		b.in.forget(e)
		b.dedup.forget(e.item)
		b.uncount(e)
		out.Messages++
		return true
	})
	sent := map[string]bool{}
	b.out.all = slices.DeleteFunc(b.out.all, func(e *memEntry[OutboundReply]) bool {
		if e.key != key {
			return false
		}
		b.out.forget(e)
		if e.providerID != "" {
			sent[e.providerID] = true
		}
		out.Replies++
		return true
	})
	out.Statuses = b.dropStatuses(func(s memStatus) bool { return g.isRecipient(s.s, sent) })
	return out, nil
}
