package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// DeadLetters lists and replays what was given up (*inbox.Inbox).
type DeadLetters interface {
	DeadLetters(ctx context.Context, q inbox.DeadLetterQuery) ([]inbox.DeadLetter, string, error)
	Replay(ctx context.Context, refs []inbox.DeadLetterRef) (int, error)
	ReplayMatching(ctx context.Context, kind, tenant string) (int, error)
}

// DeadLetterJSON is a dead letter on the wire.
type DeadLetterJSON struct {
	Kind     string    `json:"kind"`
	ID       string    `json:"id"`
	Tenant   string    `json:"tenant"`
	Guest    string    `json:"guest"`
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts"`
	DiedAt   time.Time `json:"died_at"`
	Text     string    `json:"text"`
}

func (h *Handler) deadLetterRoutes() {
	h.mux.HandleFunc("GET /admin/dead-letters", h.listDeadLetters)
	h.mux.HandleFunc("POST /admin/dead-letters/replay", h.replayDeadLetters)
}

func kindParam(kind string) bool {
	return kind == "" || kind == inbox.DeadInbox || kind == inbox.DeadOutbox
}

// listDeadLetters: GET /admin/dead-letters?kind=inbox|outbox&tenant=&limit=&cursor=
func (h *Handler) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	if h.opts.DeadLetters == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "dead letters are not served here")
		return
	}
	q := r.URL.Query()
	if !kindParam(q.Get("kind")) {
		httpjson.Error(w, http.StatusBadRequest, "kind must be inbox or outbox")
		return
	}
	limit := DefaultPageLimit
	if q.Get("limit") != "" {
		pg, ok := pageParams(w, r)
		if !ok {
			return
		}
		limit = pg.Limit
	}
	items, next, err := h.opts.DeadLetters.DeadLetters(r.Context(), inbox.DeadLetterQuery{Kind: q.Get("kind"), TenantID: q.Get("tenant"), Limit: limit, After: q.Get("cursor")})
	switch {
	case errors.Is(err, inbox.ErrBadCursor):
		httpjson.Error(w, http.StatusBadRequest, "cursor: not one this API gave")
		return
	case err != nil:
		h.opts.OnError(r, fmt.Errorf("listing dead letters: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, "dead letters unavailable")
		return
	}
	out := make([]DeadLetterJSON, 0, len(items))
	for _, d := range items {
		out = append(out, DeadLetterJSON{Kind: d.Kind, ID: d.ID, Tenant: d.TenantID, Guest: d.Guest, Reason: d.Reason,
			Attempts: d.Attempts, DiedAt: d.DiedAt.UTC(), Text: d.Text})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"items": out, "next_cursor": next})
}

type replayBody struct {
	IDs    []inbox.DeadLetterRef `json:"ids"`
	Kind   string                `json:"kind"`
	Tenant string                `json:"tenant"`
	All    bool                  `json:"all"`
}

// replayDeadLetters: POST /admin/dead-letters/replay with {"ids":[...]},
// a filter {"kind","tenant"}, or {"all":true} → {"replayed": N}. Each item
// is replayed once: a second replay of the same items answers 0.
func (h *Handler) replayDeadLetters(w http.ResponseWriter, r *http.Request) {
	if h.opts.DeadLetters == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "dead letters are not served here")
		return
	}
	var b replayBody
	if !h.decode(w, r, &b) {
		return
	}
	filter := b.Kind != "" || b.Tenant != ""
	switch {
	case len(b.IDs) > 0 && (filter || b.All), filter && b.All:
		httpjson.Error(w, http.StatusBadRequest, "give ids, a filter (kind, tenant) or all, not several")
		return
	case len(b.IDs) == 0 && !filter && !b.All:
		httpjson.Error(w, http.StatusBadRequest, "give ids, a filter (kind, tenant) or \"all\": true")
		return
	case !kindParam(b.Kind):
		httpjson.Error(w, http.StatusBadRequest, "kind must be inbox or outbox")
		return
	}
	for _, ref := range b.IDs {
		if ref.Kind != inbox.DeadInbox && ref.Kind != inbox.DeadOutbox || ref.ID == "" {
			httpjson.Error(w, http.StatusBadRequest, "each id is {\"kind\": \"inbox\"|\"outbox\", \"id\": \"...\"}")
			return
		}
	}
	if b.Tenant != "" {
		if _, ok := h.opts.Tenants.Tenant(b.Tenant); !ok {
			httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", b.Tenant))
			return
		}
	}
	ctx := r.Context()
	var n int
	var err error
	if len(b.IDs) > 0 {
		n, err = h.opts.DeadLetters.Replay(ctx, b.IDs)
	} else {
		n, err = h.opts.DeadLetters.ReplayMatching(ctx, b.Kind, b.Tenant)
	}
	if errors.Is(err, inbox.ErrInvalid) {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		h.opts.OnError(r, fmt.Errorf("replaying dead letters: %w", err))
		httpjson.Error(w, http.StatusServiceUnavailable, fmt.Sprintf("dead letters unavailable (%d replayed before the failure)", n))
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "dead_letters.replay", Target: b.Tenant,
		Detail: map[string]any{"ids": b.IDs, "kind": b.Kind, "all": b.All, "replayed": n}}); err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing a replay: %w", err))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"replayed": n})
}
