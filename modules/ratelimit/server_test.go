package ratelimit

// In-process Caddy tests. Caddy is one per process, so these tests do not
// run in parallel; each uses free ports of its own (admin included) and
// stops Caddy when done, so the next starts with fresh windows.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/prometheus/client_golang/prometheus/testutil"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/agentehotel/agente-caddy/modules/jsonerror"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func TestMain(m *testing.M) {
	// Keep Caddy's data and config dirs (instance id, autosave) out of $HOME.
	dir, err := os.MkdirTemp("", "ratelimit-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testServer struct {
	t           testing.TB
	admin, site int
	client      *http.Client
}

// caddyfile wraps a route's body into a full Caddyfile on the server's ports.
func (s *testServer) caddyfile(route string) string {
	logs := "log {\n\t\toutput discard\n\t}"
	if os.Getenv("RATELIMIT_TEST_LOG") != "" {
		logs = ""
	}
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	%s
}

http://127.0.0.1:%d {
	route {
%s
	}
	# A rejection fails the request; json_error renders it, as in the
	# shipped Caddyfiles.
	handle_errors {
		json_error
	}
}
`, s.admin, logs, s.site, route)
}

// startServer runs Caddy with route as the site's only route.
func startServer(t testing.TB, route string) *testServer {
	t.Helper()
	s := &testServer{t: t, admin: testservices.FreePort(t), site: testservices.FreePort(t), client: &http.Client{Timeout: 10 * time.Second}}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(s.caddyfile(route)), nil)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading: %v", err)
	}
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		_ = caddy.Stop()
	})
	return s
}

// reload replaces the config through the admin API, as `caddy reload` does.
func (s *testServer) reload(route string) error {
	// Reload even when the text is unchanged (the environment may not be).
	r, err := s.send(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/load", s.admin), s.caddyfile(route),
		"Content-Type", "text/caddyfile", "Cache-Control", "must-revalidate")
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("POST /load: %d %s", r.status, r.body)
	}
	return nil
}

type response struct {
	status int
	header http.Header
	body   string
}

// send makes one request, sent again (up to 3 tries) when the connection
// fails before an answer. Around a reload that is expected and not the
// handler's doing: Caddy binds each config's listeners (admin included)
// with SO_REUSEPORT, so the kernel resets connections still queued on the
// old config's socket when it closes, and the old servers close their
// kept-alive connections; net/http resends neither a request on a fresh
// connection nor a POST. Such a request never reached a handler (shutdown
// is graceful for those that did), and a /load of the same text is
// harmless twice.
func (s *testServer) send(method, url, body string, headers ...string) (response, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		var resp *http.Response
		if resp, err = s.client.Do(req); err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return response{resp.StatusCode, resp.Header, string(b)}, nil
	}
	return response{}, err
}

func (s *testServer) do(method string, headers ...string) response {
	s.t.Helper()
	r, err := s.send(method, fmt.Sprintf("http://127.0.0.1:%d/", s.site), "", headers...)
	if err != nil {
		s.t.Fatalf("%s: %v", method, err)
	}
	return r
}

func (s *testServer) get(client string) response { return s.do(http.MethodGet, "X-Client", client) }

// statuses sends n GETs for client and returns their status codes.
func (s *testServer) statuses(client string, n int) []int {
	var codes []int
	for i := 0; i < n; i++ {
		codes = append(codes, s.get(client).status)
	}
	return codes
}

func count(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

func no5xx(t testing.TB, codes []int) {
	t.Helper()
	for _, c := range codes {
		if c >= 500 {
			t.Fatalf("got a %d among %v", c, codes)
		}
	}
}

const perClient3 = `
		ratelimit {
			zone per_client {
				key {header.X-Client}
				events 3
				window 1m
			}
		}
		respond "ok"`

func TestLimitHeadersAnd429(t *testing.T) {
	s := startServer(t, perClient3)
	allowedBefore := testutil.ToFloat64(decisions.WithLabelValues("per_client", "allowed"))
	limitedBefore := testutil.ToFloat64(decisions.WithLabelValues("per_client", "limited"))
	for i := 0; i < 3; i++ {
		r := s.get("a")
		if r.status != 200 || r.body != "ok" {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
		if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) ||
			r.header.Get("RateLimit-Reset") != "60" || r.header.Get("Retry-After") != "" {
			t.Fatalf("request %d headers: %v", i, r.header)
		}
	}
	r := s.get("a")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("4th request: %d, want 429", r.status)
	}
	var body struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Status != 429 || body.Error == "" ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("429 body %q (%v), content type %q", r.body, err, r.header.Get("Content-Type"))
	}
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Fatalf("Retry-After %q, want whole seconds in [1, 60]", r.header.Get("Retry-After"))
	}
	reset, _ := strconv.Atoi(r.header.Get("RateLimit-Reset"))
	if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != "0" || reset != retry {
		t.Fatalf("429 headers: %v", r.header)
	}
	// Another key has its own window.
	if r := s.get("b"); r.status != 200 {
		t.Fatalf("client b: %d", r.status)
	}
	if d := testutil.ToFloat64(decisions.WithLabelValues("per_client", "allowed")) - allowedBefore; d != 4 {
		t.Errorf("allowed decisions +%v, want +4", d)
	}
	if d := testutil.ToFloat64(decisions.WithLabelValues("per_client", "limited")) - limitedBefore; d != 1 {
		t.Errorf("limited decisions +%v, want +1", d)
	}
}

func TestMultiZoneRejectedRequestConsumesNothing(t *testing.T) {
	s := startServer(t, `
		ratelimit {
			zone per_tenant {
				key {header.X-Tenant}
				events 5
				window 1m
			}
			zone per_client {
				key {header.X-Client}
				events 2
				window 1m
			}
		}
		respond "ok"`)
	req := func(client string) int { return s.do(http.MethodGet, "X-Tenant", "hotel-1", "X-Client", client).status }
	var codes []int
	for i := 0; i < 10; i++ {
		codes = append(codes, req("a"))
	}
	if count(codes, 200) != 2 || count(codes, 429) != 8 {
		t.Fatalf("client a: %v, want 2 admitted then 429s", codes)
	}
	// The tenant zone counted only a's 2 admitted requests: 3 left for b.
	codes = codes[:0]
	for i := 0; i < 3; i++ {
		codes = append(codes, req(fmt.Sprint("b", i)))
	}
	if count(codes, 200) != 3 {
		t.Fatalf("tenant's other clients: %v, want 3 admitted (a's rejected requests must not count)", codes)
	}
	r := s.do(http.MethodGet, "X-Tenant", "hotel-1", "X-Client", "c")
	if r.status != 429 || r.header.Get("RateLimit-Limit") != "5" {
		t.Fatalf("tenant's 6th: %d, headers %v, want 429 reported by the tenant zone", r.status, r.header)
	}
}

func TestZoneMatcher(t *testing.T) {
	s := startServer(t, `
		ratelimit {
			zone posts {
				key {header.X-Client}
				events 1
				window 1m
				match {
					method POST
				}
			}
		}
		respond "ok"`)
	if r := s.do(http.MethodPost, "X-Client", "a"); r.status != 200 {
		t.Fatalf("1st POST: %d", r.status)
	}
	if r := s.do(http.MethodPost, "X-Client", "a"); r.status != 429 {
		t.Fatalf("2nd POST: %d, want 429", r.status)
	}
	for i := 0; i < 3; i++ {
		r := s.do(http.MethodGet, "X-Client", "a")
		if r.status != 200 || r.header.Get("RateLimit-Limit") != "" {
			t.Fatalf("GET (zone does not apply): %d %v", r.status, r.header)
		}
	}
}

// TestReloadKeepsWindows: a key at its limit stays limited across a config
// reload through the admin API, and a raised limit continues from the count.
func TestReloadKeepsWindows(t *testing.T) {
	s := startServer(t, perClient3)
	if codes := s.statuses("a", 4); count(codes, 200) != 3 || codes[3] != 429 {
		t.Fatalf("before reload: %v", codes)
	}
	if err := s.reload(strings.Replace(perClient3, `respond "ok"`, `respond "reloaded"`, 1)); err != nil {
		t.Fatal(err)
	}
	if r := s.get("b"); r.status != 200 || r.body != "reloaded" {
		t.Fatalf("after reload, client b: %d %q, want the new config's answer", r.status, r.body)
	}
	if r := s.get("a"); r.status != 429 {
		t.Fatalf("after reload, client a: %d, want still limited", r.status)
	}
	if err := s.reload(strings.Replace(perClient3, "events 3", "events 4", 1)); err != nil {
		t.Fatal(err)
	}
	if codes := s.statuses("a", 2); codes[0] != 200 || codes[1] != 429 {
		t.Fatalf("limit raised to 4 after 3 admitted: %v, want one more admitted", codes)
	}
}

const unreachableRedis = `
		ratelimit {
			zone per_client {
				key {header.X-Client}
				events 2
				window 1m
			}
			backend redis redis://127.0.0.1:1/0
			on_backend_error %s
		}
		respond "ok"`

func TestBackendErrorAllowLimitsLocally(t *testing.T) {
	s := startServer(t, fmt.Sprintf(unreachableRedis, "allow"))
	before := testutil.ToFloat64(backendErrors)
	codes := s.statuses("a", 5)
	no5xx(t, codes)
	if count(codes, 200) != 2 || count(codes, 429) != 3 {
		t.Fatalf("Redis down, allow: %v, want the local limit (2 admitted)", codes)
	}
	if d := testutil.ToFloat64(backendErrors) - before; d != 5 {
		t.Fatalf("ratelimit_backend_errors_total +%v, want +5", d)
	}
}

func TestBackendErrorDeny(t *testing.T) {
	s := startServer(t, fmt.Sprintf(unreachableRedis, "deny"))
	for i := 0; i < 3; i++ {
		r := s.get("a")
		if r.status != 429 {
			t.Fatalf("Redis down, deny: %d, want 429", r.status)
		}
		if retry, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || retry < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if r.header.Get("RateLimit-Limit") != "2" || r.header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("headers %v", r.header)
		}
	}
}

func TestDisabledAndEmptyRedisURL(t *testing.T) {
	t.Setenv("RL_TEST_ENABLED", "false")
	t.Setenv("RL_TEST_REDIS_URL", "")
	route := `
		ratelimit {
			zone per_client {
				key {header.X-Client}
				events 1
				window 1m
			}
			backend redis {env.RL_TEST_REDIS_URL}
			enabled {env.RL_TEST_ENABLED}
		}
		respond "ok"`
	s := startServer(t, route)
	for i := 0; i < 3; i++ {
		if r := s.get("a"); r.status != 200 || r.header.Get("RateLimit-Limit") != "" {
			t.Fatalf("disabled: %d %v", r.status, r.header)
		}
	}
	// Enabled, with the URL empty: memory backend.
	t.Setenv("RL_TEST_ENABLED", "true")
	if err := s.reload(route); err != nil {
		t.Fatal(err)
	}
	if codes := s.statuses("a", 2); codes[0] != 200 || codes[1] != 429 {
		t.Fatalf("enabled, empty Redis URL: %v, want the memory limit", codes)
	}
	t.Setenv("RL_TEST_ENABLED", "maybe")
	if err := s.reload(strings.Replace(route, `"ok"`, `"x"`, 1)); err == nil || !strings.Contains(err.Error(), `enabled: \"maybe\" is not a boolean`) {
		t.Fatalf("reload with enabled=maybe: %v, want an error naming the field", err)
	}
}

func TestLongKeysAreHashed(t *testing.T) {
	s := startServer(t, perClient3)
	long := strings.Repeat("x", 10000)
	if codes := s.statuses(long, 4); count(codes, 200) != 3 || codes[3] != 429 {
		t.Fatalf("long key: %v", codes)
	}
	if codes := s.statuses(long+"y", 1); codes[0] != 200 {
		t.Fatalf("a different long key shares the window: %v", codes)
	}
	k := storeKey("z:", long)
	if len(k) != len("z:sha256:")+64 || !strings.HasPrefix(k, "z:sha256:") {
		t.Fatalf("stored key %q", k)
	}
	if k := storeKey("z:", "short"); k != "z:short" {
		t.Fatalf("short key stored as %q", k)
	}
}

// TestReloadUnderTraffic: requests keep coming while the config is reloaded
// three times; the key's window carries over every reload, so exactly Events
// requests are admitted in total and none fails.
func TestReloadUnderTraffic(t *testing.T) {
	route := strings.Replace(perClient3, "events 3", "events 50", 1)
	s := startServer(t, route)
	var mu sync.Mutex
	codes := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code := -1
				if r, err := s.send(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", s.site), "", "X-Client", "a"); err == nil {
					code = r.status
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		if err := s.reload(strings.Replace(route, `respond "ok"`, fmt.Sprintf(`respond "v%d"`, i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	// Keep sending until well past the limit, then stop.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		total := codes[200] + codes[429]
		mu.Unlock()
		if total >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if codes[200] != 50 || len(codes) != 2 {
		t.Fatalf("status counts across 3 reloads %v, want exactly 50×200 and the rest 429", codes)
	}
}

// A 429's Retry-After and RateLimit-Reset say the same time, also when the
// oldest admission leaves the window before the newest (Retry-After 2,
// where the window empties only after 3).
func TestRefusalHeadersAgree(t *testing.T) {
	s := startServer(t, `
		ratelimit {
			zone agree {
				key {header.X-Client}
				events 2
				window 3s
			}
		}
		respond "ok"`)
	if r := s.get("agree"); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := s.get("agree"); r.status != 200 {
		t.Fatalf("second: %d", r.status)
	}
	r := s.get("agree")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third: %d, want 429", r.status)
	}
	if ra, reset := r.header.Get("Retry-After"), r.header.Get("RateLimit-Reset"); ra != "2" || reset != ra {
		t.Fatalf("Retry-After %q, RateLimit-Reset %q: want both 2", ra, reset)
	}
}
