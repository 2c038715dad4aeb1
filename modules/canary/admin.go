package canary

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves the canaries on Caddy's admin endpoint. It acts on the
// shared state directly, so every change takes effect at once, without a
// config reload:
//
//	GET  /canary/                  all canaries: {"canaries": [view...]}
//	GET  /canary/<name>            one canary: status, weights, per-arm numbers, verdict
//	POST /canary/<name>/weights    {"baseline": 90, "canary": 10}; arms left out keep their weight
//	POST /canary/<name>/promote    canary → 100 %, status "promoted"
//	POST /canary/<name>/rollback   canary → 0 %, status "rolled_back"
//	POST /canary/<name>/pause      stop the steps (auto-rollback stays armed)
//	POST /canary/<name>/resume     run the steps again (from the first step if the canary is at 0)
//
// Writes answer the canary's view. Errors are {"error": "...", "status": N}.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.canary",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the /canary/ routes. Every error is answered with the
// JSON error document, so the handler never returns one to Caddy.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/canary/", Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a.serveHTTP(w, r)
		return nil
	})}}
}

// maxWeightsBody bounds a weights document.
const maxWeightsBody = 64 << 10

func (a *AdminAPI) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/canary/"), "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			httpjson.Error(w, http.StatusMethodNotAllowed, "use GET on /canary/")
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"canaries": views()})
		return
	}

	name, action, _ := strings.Cut(rest, "/")
	s := lookup(name)
	if s == nil {
		httpjson.Error(w, http.StatusNotFound, "no canary named "+quote(name))
		return
	}
	if action == "" {
		if r.Method != http.MethodGet {
			httpjson.Error(w, http.StatusMethodNotAllowed, "use GET on /canary/<name>")
			return
		}
		httpjson.Write(w, http.StatusOK, s.View())
		return
	}
	if r.Method != http.MethodPost {
		httpjson.Error(w, http.StatusMethodNotAllowed, "use POST on /canary/<name>/"+action)
		return
	}
	var err error
	switch action {
	case "weights":
		var in map[string]int
		body, rerr := io.ReadAll(io.LimitReader(r.Body, maxWeightsBody+1))
		switch {
		case rerr != nil:
			httpjson.Error(w, http.StatusBadRequest, "reading body: "+rerr.Error())
			return
		case len(body) > maxWeightsBody:
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "weights document too large")
			return
		}
		if jerr := json.Unmarshal(body, &in); jerr != nil || len(in) == 0 {
			httpjson.Error(w, http.StatusBadRequest, `body must be a JSON object of arm weights, e.g. {"baseline":90,"canary":10}`)
			return
		}
		err = s.SetWeights(in)
	case "promote":
		err = s.Promote()
	case "rollback":
		err = s.Rollback()
	case "pause":
		s.Pause()
	case "resume":
		err = s.Resume()
	default:
		httpjson.Error(w, http.StatusNotFound, "unknown action "+quote(action)+" (weights, promote, rollback, pause, resume)")
		return
	}
	if err != nil {
		var bad canary.WeightsError
		if errors.As(err, &bad) {
			httpjson.Error(w, http.StatusBadRequest, bad.Error())
			return
		}
		httpjson.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, s.View())
}

// views are every canary of the running configs, sorted by name.
func views() []canary.View {
	all := []canary.View{}
	states.Range(func(_, v any) bool {
		all = append(all, v.(pooledState).View())
		return true
	})
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// lookup is the state of the canary name, nil when no running config has it.
func lookup(name string) *canary.State {
	var found *canary.State
	states.Range(func(k, v any) bool {
		if k == name {
			found = v.(pooledState).State
			return false
		}
		return true
	})
	return found
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Interface guards
var _ caddy.AdminRouter = (*AdminAPI)(nil)
