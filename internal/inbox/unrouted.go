package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Kinds of unrouted event.
const (
	UnroutedMessage = "message"
	UnroutedStatus  = "status"
	UnroutedField   = "field"
)

// UnroutedEvent is something a channel delivered that no hotel could be
// found for. It is acknowledged all the same and kept, so that the operator
// sees it (and can register the identifier it needed).
type UnroutedEvent struct {
	Channel chat.Channel
	// Field is the webhook field it came in ("messages" for messages and
	// statuses, or account_update, message_template_status_update, ...).
	Field string
	// Kind is UnroutedMessage, UnroutedStatus or UnroutedField.
	Kind string
	// The identifiers that were tried.
	PhoneNumberID, WABAID, Guest string
	// ItemID is the message's id, or the status's message id.
	ItemID string
	// Payload is the item as read (the message, the status, the field event).
	Payload any
}

// key deduplicates redeliveries of the same event.
func (e UnroutedEvent) key(payload []byte) string {
	h := sha256.New()
	for _, s := range []string{string(e.Channel), e.Field, e.Kind, e.PhoneNumberID, e.WABAID, e.Guest, e.ItemID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if e.Kind == UnroutedField {
		h.Write(payload) // a field event has no id of its own
	}
	return hex.EncodeToString(h.Sum(nil))
}

// UnroutedRecord is a kept unrouted event.
type UnroutedRecord struct {
	UnroutedEvent
	Payload    json.RawMessage
	ReceivedAt time.Time
}

var unroutedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "webhook_unrouted_total",
	Help: "Webhook events no hotel could be found for, acknowledged and kept, by webhook field (redeliveries not counted).",
}, []string{"field"})

// unroutedStore keeps unrouted events: in Postgres with the inbox, or in
// memory.
type unroutedStore interface {
	add(ctx context.Context, now time.Time, events []UnroutedEvent, payloads [][]byte) (added []bool, err error)
	list(ctx context.Context, limit int) ([]UnroutedRecord, error)
	// prune deletes what was received before the cutoff.
	prune(ctx context.Context, before time.Time) (int64, error)
}

// AcceptUnrouted keeps events no hotel could be found for (durably, before
// the webhook is acknowledged) and counts the new ones in
// webhook_unrouted_total{field}; a redelivery is kept once.
func (ib *Inbox) AcceptUnrouted(ctx context.Context, events []UnroutedEvent) (added int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	payloads := make([][]byte, len(events))
	for i, e := range events {
		if payloads[i], err = json.Marshal(withoutNUL(e.Payload)); err != nil {
			return 0, fmt.Errorf("encoding an unrouted %s: %w", e.Kind, err)
		}
	}
	fresh, err := ib.unrouted.add(ctx, ib.opts.Now(), events, payloads)
	if err != nil {
		return 0, err
	}
	for i, ok := range fresh {
		if ok {
			added++
			unroutedTotal.WithLabelValues(events[i].Field).Inc()
		}
	}
	return added, nil
}

// Unrouted lists the kept unrouted events, newest first (at most limit; 0:
// 100).
func (ib *Inbox) Unrouted(ctx context.Context, limit int) ([]UnroutedRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return ib.unrouted.list(ctx, limit)
}

type memUnrouted struct {
	mu      sync.Mutex
	keys    map[string]bool
	log     []UnroutedRecord
	logKeys []string // log[i]'s key
}

func (m *memUnrouted) add(_ context.Context, now time.Time, events []UnroutedEvent, payloads [][]byte) ([]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]bool{}
	}
	added := make([]bool, len(events))
	for i, e := range events {
		k := e.key(payloads[i])
		if m.keys[k] {
			continue
		}
		m.keys[k] = true
		added[i] = true
		m.log = append(m.log, UnroutedRecord{UnroutedEvent: e, Payload: payloads[i], ReceivedAt: now})
		m.logKeys = append(m.logKeys, k)
	}
	return added, nil
}

func (m *memUnrouted) list(_ context.Context, limit int) ([]UnroutedRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.log)
	slices.Reverse(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memUnrouted) prune(_ context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for i := 0; i < len(m.log); {
		if m.log[i].ReceivedAt.Before(before) {
			delete(m.keys, m.logKeys[i])
			m.log = slices.Delete(m.log, i, i+1)
			m.logKeys = slices.Delete(m.logKeys, i, i+1)
			n++
			continue
		}
		i++
	}
	return n, nil
}

type pgUnrouted struct{ pool *pgxpool.Pool }

func (p pgUnrouted) prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM webhook_unrouted WHERE received_at < $1`, before)
	return tag.RowsAffected(), err
}

func (p pgUnrouted) add(ctx context.Context, now time.Time, events []UnroutedEvent, payloads [][]byte) ([]bool, error) {
	added := make([]bool, len(events))
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("keeping unrouted events: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for i, e := range events {
		tag, err := tx.Exec(ctx, `INSERT INTO webhook_unrouted (event_key, channel, field, kind, phone_number_id, waba_id, guest, item_id, payload, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_key) DO NOTHING`,
			e.key(payloads[i]), string(e.Channel), e.Field, e.Kind, e.PhoneNumberID, e.WABAID, e.Guest, e.ItemID, payloads[i], now)
		if err != nil {
			return nil, fmt.Errorf("keeping unrouted events: %w", err)
		}
		added[i] = tag.RowsAffected() == 1
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("keeping unrouted events: %w", err)
	}
	return added, nil
}

func (p pgUnrouted) list(ctx context.Context, limit int) ([]UnroutedRecord, error) {
	rows, err := p.pool.Query(ctx, `SELECT channel, field, kind, phone_number_id, waba_id, guest, item_id, payload, received_at
		FROM webhook_unrouted ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UnroutedRecord
	for rows.Next() {
		var r UnroutedRecord
		var ch string
		if err := rows.Scan(&ch, &r.Field, &r.Kind, &r.PhoneNumberID, &r.WABAID, &r.Guest, &r.ItemID, &r.Payload, &r.ReceivedAt); err != nil {
			return nil, err
		}
		r.Channel = chat.Channel(ch)
		out = append(out, r)
	}
	return out, rows.Err()
}
