package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// canaryActions are the rollout actions POST /admin/canaries/{name}/{action}
// takes, as Caddy's admin endpoint /canary/ takes them, each audited as
// "canary.<action>".
var canaryActions = map[string]func(*canary.State) error{
	"promote":  (*canary.State).Promote,
	"rollback": (*canary.State).Rollback,
	"pause":    func(s *canary.State) error { s.Pause(); return nil },
	"resume":   (*canary.State).Resume,
}

// canaryList is every canary of the running config with its arms' series:
// {"canaries": [detail...]}, sorted by name.
func (h *Handler) canaryList(w http.ResponseWriter, r *http.Request) {
	all := []canary.Detail{}
	if h.opts.Canaries != nil {
		for _, st := range h.opts.Canaries() {
			all = append(all, st.Detail())
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"canaries": all})
}

func (h *Handler) canary(w http.ResponseWriter, r *http.Request) (*canary.State, bool) {
	name := r.PathValue("name")
	if h.opts.Canaries != nil {
		for _, st := range h.opts.Canaries() {
			if st.Name() == name {
				return st, true
			}
		}
	}
	httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("no canary named %q", name))
	return nil, false
}

func (h *Handler) getCanary(w http.ResponseWriter, r *http.Request) {
	if st, ok := h.canary(w, r); ok {
		httpjson.Write(w, http.StatusOK, st.Detail())
	}
}

// canaryAction promotes, rolls back, pauses or resumes a canary at once (no
// config reload) and answers its detail.
func (h *Handler) canaryAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	act, known := canaryActions[action]
	if !known {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("unknown canary action %q (promote, rollback, pause, resume)", action))
		return
	}
	st, ok := h.canary(w, r)
	if !ok {
		return
	}
	if err := act(st); err != nil {
		var bad canary.WeightsError
		if errors.As(err, &bad) {
			httpjson.Error(w, http.StatusConflict, bad.Error())
			return
		}
		h.opts.OnError(r, err)
		httpjson.Error(w, http.StatusInternalServerError, "internal error")
		return
	}
	ctx := r.Context()
	d := st.Detail()
	err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: "canary." + action, Target: st.Name(),
		Detail: map[string]any{"weights": d.Weights, "status": d.Status}})
	if err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing canary %s %s: %w", st.Name(), action, err))
		httpjson.Error(w, http.StatusServiceUnavailable, "canary changed, but the audit log is unavailable")
		return
	}
	httpjson.Write(w, http.StatusOK, d)
}
