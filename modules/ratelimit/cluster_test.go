package ratelimit

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestThreeServersShareOneRedis: three sites, each its own ratelimit handler
// with its own Redis client (distinct URLs), on one Redis; 300 concurrent
// requests for one key spread over them at 120/min → exactly 120 admitted.
// (Caddy is one per process: the three-binaries version of this belongs to
// test/e2e.)
func TestThreeServersShareOneRedis(t *testing.T) {
	redisURL, prefix := testservices.Redis(t)
	sep := "?"
	if strings.Contains(redisURL, "?") {
		sep = "&"
	}
	var sites strings.Builder
	var ports []int
	for i := 0; i < 3; i++ {
		port := testservices.FreePort(t)
		ports = append(ports, port)
		fmt.Fprintf(&sites, `
http://127.0.0.1:%d {
	route {
		ratelimit {
			zone webhook_post {
				key tenant-1
				events 120
				window 1m
			}
			backend redis %s%sclient_name=instance%d
			key_prefix %s
			timeout 5s
		}
		respond "ok"
	}
}
`, port, redisURL, sep, i, prefix)
	}
	cf := fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n\tlog {\n\t\toutput discard\n\t}\n}\n%s", testservices.FreePort(t), sites.String())
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	clients := 0
	pool.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), "redis:") {
			clients++
		}
		return true
	})
	if clients != 3 {
		t.Fatalf("%d Redis clients in the pool, want one per instance (3)", clients)
	}

	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer httpClient.CloseIdleConnections()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(port int) {
			defer wg.Done()
			<-start
			resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			code := -1
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}(ports[i%3])
	}
	close(start)
	wg.Wait()
	if codes[200] != 120 || codes[429] != 180 {
		t.Fatalf("status counts %v, want exactly 120×200 and 180×429", codes)
	}
}
