package synthetic

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// site answers each path with the next status of its script (the last one
// repeats) and counts requests.
type site struct {
	mu     sync.Mutex
	script map[string][]int
	hits   map[string]int
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := s.script[r.URL.Path]
	n := s.hits[r.URL.Path]
	s.hits[r.URL.Path]++
	code := http.StatusNotFound
	if len(codes) > 0 {
		code = codes[min(n, len(codes)-1)]
	}
	w.WriteHeader(code)
	if code >= 200 && code < 300 {
		_, _ = w.Write([]byte(realBodies[r.URL.Path]))
	}
}

// realBodies are what agente-caddy answers on each endpoint.
var realBodies = map[string]string{
	"/health/live":  `{"status":"alive"}`,
	"/health/ready": `{"status":"ready","ready":true,"dependencies":{"database":{"up":true}}}`,
	"/metrics":      "# HELP readiness_up 1 when ready.\n# TYPE readiness_up gauge\nreadiness_up 1\n",
}

// TestBodiesAreChecked: a server that answers 200 with the wrong body (an
// empty page for an unknown host, a proxy's placeholder, readiness that
// says not ready) does not pass.
func TestBodiesAreChecked(t *testing.T) {
	for _, c := range []struct {
		name   string
		bodies map[string]string
		want   Status
	}{
		{"empty 200 everywhere", map[string]string{}, Down},
		{"an HTML page", map[string]string{"/health/live": "<html>welcome</html>", "/health/ready": "<html>welcome</html>", "/metrics": "<html>"}, Down},
		{"ready says false", map[string]string{"/health/live": realBodies["/health/live"], "/health/ready": `{"ready":false}`, "/metrics": realBodies["/metrics"]}, Degraded},
		{"metrics missing only", map[string]string{"/health/live": realBodies["/health/live"], "/health/ready": realBodies["/health/ready"], "/metrics": "ok"}, OK},
		{"the real thing", realBodies, OK},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(c.bodies[r.URL.Path]))
		}))
		clk := newClock()
		rep, err := Run(context.Background(), clk.config(srv.URL))
		srv.Close()
		if err != nil || rep.Status != c.want {
			var b strings.Builder
			rep.Write(&b)
			t.Errorf("%s: %v %v, want %v\n%s", c.name, rep.Status, err, c.want, b.String())
		}
	}
}

func newSite(t *testing.T, script map[string][]int) (*site, string) {
	s := &site{script: script, hits: map[string]int{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time        { return c.now }
func (c *clock) Sleep(d time.Duration) { c.now = c.now.Add(d) }
func newClock() *clock                 { return &clock{now: time.Date(2025, 10, 22, 10, 0, 0, 0, time.UTC)} }
func (c *clock) config(base string) Config {
	return Config{BaseURL: base, MaxRetries: 3, Timeout: time.Second, Sleep: c.Sleep, Now: c.Now}
}

func TestStatuses(t *testing.T) {
	cases := []struct {
		name   string
		script map[string][]int
		want   Status
	}{
		{"all up", map[string][]int{"/health/live": {200}, "/health/ready": {200}, "/metrics": {200}}, OK},
		{"metrics is optional", map[string][]int{"/health/live": {200}, "/health/ready": {200}, "/metrics": {500}}, OK},
		{"not ready is degraded", map[string][]int{"/health/live": {200}, "/health/ready": {503}, "/metrics": {200}}, Degraded},
		{"not live is down", map[string][]int{"/health/live": {502}, "/health/ready": {503}, "/metrics": {200}}, Down},
		{"a retry rescues a blip", map[string][]int{"/health/live": {503, 200}, "/health/ready": {503, 503, 200}, "/metrics": {200}}, OK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, base := newSite(t, c.script)
			clk := newClock()
			rep, err := Run(context.Background(), clk.config(base))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != c.want {
				var b strings.Builder
				rep.Write(&b)
				t.Fatalf("status %v, want %v\n%s", rep.Status, c.want, b.String())
			}
		})
	}
}

func TestRetriesBackOffAndAreCapped(t *testing.T) {
	s, base := newSite(t, map[string][]int{"/health/live": {500}, "/health/ready": {200}, "/metrics": {200}})
	clk := newClock()
	cfg := clk.config(base)
	cfg.MaxRetries = 50 // the guardrail caps it at 10
	start := clk.now
	rep, _ := Run(context.Background(), cfg)
	if rep.Status != Down || s.hits["/health/live"] != MaxRetriesCap || rep.Results[0].Attempts != MaxRetriesCap {
		t.Fatalf("status %v after %d attempts, want DOWN after %d", rep.Status, s.hits["/health/live"], MaxRetriesCap)
	}
	// 1+2+4+...+256 seconds of backoff between 10 attempts.
	if slept := clk.now.Sub(start); slept != 511*time.Second {
		t.Errorf("slept %v between attempts, want 511s", slept)
	}
}

func TestUnreachableIsDownAndBadConfigUnknown(t *testing.T) {
	clk := newClock()
	cfg := clk.config("http://127.0.0.1:1")
	cfg.MaxRetries = 1
	rep, err := Run(context.Background(), cfg)
	if err != nil || rep.Status != Down || rep.Results[0].Error == "" {
		t.Fatalf("unreachable: %+v %v", rep, err)
	}
	rep, err = Run(context.Background(), Config{BaseURL: "ftp://x"})
	if err == nil || rep.Status != Unknown {
		t.Fatalf("bad URL: %v %v", rep.Status, err)
	}
}

func TestSlackAlertHasCooldown(t *testing.T) {
	var mu sync.Mutex
	var posts []map[string]string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		posts = append(posts, m)
		mu.Unlock()
	}))
	defer slack.Close()
	_, base := newSite(t, map[string][]int{"/health/live": {200}, "/health/ready": {503}, "/metrics": {200}})
	clk := newClock()
	cfg := clk.config(base)
	cfg.MaxRetries = 1
	cfg.SlackWebhook = slack.URL
	cfg.StateDir = t.TempDir()

	rep, _ := Run(context.Background(), cfg)
	if !rep.Alerted || len(posts) != 1 || !strings.Contains(posts[0]["text"], "DEGRADED") || !strings.Contains(posts[0]["text"], "/health/ready") {
		t.Fatalf("first failure: alerted=%v posts=%v (%s)", rep.Alerted, posts, rep.AlertError)
	}
	clk.now = clk.now.Add(time.Minute)
	if rep, _ := Run(context.Background(), cfg); rep.Alerted || len(posts) != 1 {
		t.Fatalf("alerted again within the cooldown: %v", posts)
	}
	clk.now = clk.now.Add(AlertCooldown)
	if rep, _ := Run(context.Background(), cfg); !rep.Alerted || len(posts) != 2 {
		t.Fatalf("no alert after the cooldown: %v", posts)
	}
	// Healthy runs never alert.
	_, healthy := newSite(t, map[string][]int{"/health/live": {200}, "/health/ready": {200}, "/metrics": {200}})
	cfg.BaseURL = healthy
	if rep, _ := Run(context.Background(), cfg); rep.Alerted || len(posts) != 2 {
		t.Fatal("a healthy run alerted")
	}
}

func TestFromEnv(t *testing.T) {
	lookup := func(m map[string]string) Lookup {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := FromEnv(lookup(nil))
	if err != nil || c.BaseURL != "http://localhost:8080" || c.Timeout != DefaultTimeout || c.MaxRetries != DefaultRetries {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = FromEnv(lookup(map[string]string{"HEALTH_CHECK_URL": "https://api.hotel.example/", "TIMEOUT": "90", "MAX_RETRIES": "12"}))
	if err != nil || c.BaseURL != "https://api.hotel.example" || c.Timeout != MaxTimeout || c.MaxRetries != MaxRetriesCap {
		t.Fatalf("clamped: %+v %v", c, err)
	}
	if c, _ := FromEnv(lookup(map[string]string{"TIMEOUT": "2.5s"})); c.Timeout != 2500*time.Millisecond {
		t.Errorf("TIMEOUT=2.5s: %v", c.Timeout)
	}
	for k, v := range map[string]string{"HEALTH_CHECK_URL": "localhost:8080", "TIMEOUT": "soon", "MAX_RETRIES": "0", "SLACK_WEBHOOK": "nope"} {
		if _, err := FromEnv(lookup(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: %v", k, v, err)
		}
	}
}
