package canary

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// adminServer serves the AdminAPI's routes the way Caddy's admin mux does.
func adminServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range new(AdminAPI).Routes() {
		mux.Handle(rt.Pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Handler.ServeHTTP(w, r); err != nil {
				t.Errorf("admin handler returned %v", err)
			}
		}))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: X-Content-Type-Options %q", method, path, resp.Header.Get("X-Content-Type-Options"))
	}
	return resp.StatusCode, doc
}

func weightsOf(doc map[string]any) map[string]float64 {
	out := map[string]float64{}
	for k, v := range doc["weights"].(map[string]any) {
		out[k] = v.(float64)
	}
	return out
}

func TestAdminAPI(t *testing.T) {
	name := "admin-" + strings.ToLower(t.Name())
	h := twoArms(name, 90, 10)
	h.Steps = []int{5, 50, 100}
	provision(t, seeded(h, 3))
	for i := 0; i < 300; i++ {
		armOf(t, h, request("192.0.2.1:1", nil), 200)
	}
	srv := adminServer(t)

	code, doc := call(t, srv, "GET", "/canary/", "")
	if code != 200 {
		t.Fatalf("GET /canary/: %d %v", code, doc)
	}
	found := false
	for _, c := range doc["canaries"].([]any) {
		if c.(map[string]any)["name"] == name {
			found = true
		}
	}
	if !found {
		t.Fatalf("GET /canary/ does not list %s: %v", name, doc)
	}

	code, doc = call(t, srv, "GET", "/canary/"+name, "")
	if code != 200 || doc["status"] != "running" {
		t.Fatalf("GET: %d %v", code, doc)
	}
	arms := doc["arms"].(map[string]any)
	b, c := arms["baseline"].(map[string]any), arms["canary"].(map[string]any)
	if b["requests"].(float64)+c["requests"].(float64) != 300 || b["upstream"] != "127.0.0.1:9001" {
		t.Fatalf("arms %v", arms)
	}
	verdict := doc["verdict"].(map[string]any)
	if verdict["status"] == nil || verdict["limits"] == nil || verdict["baseline"] == nil {
		t.Fatalf("verdict %v", verdict)
	}

	code, doc = call(t, srv, "POST", "/canary/"+name+"/weights", `{"baseline":70,"canary":30}`)
	if w := weightsOf(doc); code != 200 || w["baseline"] != 70 || w["canary"] != 30 {
		t.Fatalf("weights: %d %v", code, doc)
	}
	// Effective at once for requests.
	if rt := h.state.Routes().ByOverride("canary"); rt.Weight() != 30 {
		t.Fatalf("route table not updated: canary weight %d", rt.Weight())
	}

	code, doc = call(t, srv, "POST", "/canary/"+name+"/pause", "")
	if code != 200 || doc["status"] != "paused" {
		t.Fatalf("pause: %d %v", code, doc)
	}
	code, doc = call(t, srv, "POST", "/canary/"+name+"/resume", "")
	if code != 200 || doc["status"] != "running" {
		t.Fatalf("resume: %d %v", code, doc)
	}
	code, doc = call(t, srv, "POST", "/canary/"+name+"/rollback", "")
	if w := weightsOf(doc); code != 200 || w["canary"] != 0 || w["baseline"] != 100 || doc["status"] != "rolled_back" {
		t.Fatalf("rollback: %d %v", code, doc)
	}
	// Resuming a rolled-back canary starts over at the first step.
	code, doc = call(t, srv, "POST", "/canary/"+name+"/resume", "")
	if w := weightsOf(doc); code != 200 || w["canary"] != 5 {
		t.Fatalf("resume after rollback: %d %v", code, doc)
	}
	code, doc = call(t, srv, "POST", "/canary/"+name+"/promote", "")
	if w := weightsOf(doc); code != 200 || w["canary"] != 100 || w["baseline"] != 0 || doc["status"] != "promoted" {
		t.Fatalf("promote: %d %v", code, doc)
	}
	// Every request now goes to the canary.
	for i := 0; i < 50; i++ {
		if arm := armOf(t, h, request("192.0.2.1:1", nil), 200); arm != "canary" {
			t.Fatalf("after promote a request went to %s", arm)
		}
	}

	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/canary/", "", 405},
		{"DELETE", "/canary/" + name, "", 405},
		{"GET", "/canary/" + name + "/weights", "", 405},
		{"GET", "/canary/nope", "", 404},
		{"POST", "/canary/nope/promote", "", 404},
		{"POST", "/canary/" + name + "/explode", "", 404},
		{"POST", "/canary/" + name + "/weights", `{"green":10}`, 400},
		{"POST", "/canary/" + name + "/weights", `{"canary":-1}`, 400},
		{"POST", "/canary/" + name + "/weights", `{"baseline":0,"canary":0}`, 400},
		{"POST", "/canary/" + name + "/weights", `not json`, 400},
		{"POST", "/canary/" + name + "/weights", `{}`, 400},
		{"POST", "/canary/" + name + "/weights", `{"canary":"ten"}`, 400},
		{"POST", "/canary/" + name + "/weights", `{"canary":1,"x":"` + strings.Repeat("a", maxWeightsBody) + `"}`, 413},
	} {
		code, doc := call(t, srv, c.method, c.path, c.body)
		if code != c.status || doc["status"] != float64(c.status) || doc["error"] == "" {
			t.Errorf("%s %s %.20q: %d %v, want %d with the error document", c.method, c.path, c.body, code, doc, c.status)
		}
	}
	// Failed writes changed nothing.
	if w := h.state.View().Weights; w["canary"] != 100 {
		t.Fatalf("weights changed by a rejected request: %v", w)
	}
}
