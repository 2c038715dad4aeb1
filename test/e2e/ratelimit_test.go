package e2e

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/testservices"
)

// TestRateLimitThreeInstancesOneRedis: three agente-caddy processes on one
// Redis; 300 concurrent webhook POSTs for one tenant, spread over the three,
// with the seed's 120/min → exactly 120 admitted, 180 answered 429.
func TestRateLimitThreeInstancesOneRedis(t *testing.T) {
	redisURL, prefix := testservices.Redis(t)
	env := map[string]string{"REDIS_URL": redisURL, "RATE_LIMIT_KEY_PREFIX": prefix}
	var instances []*Instance
	for i := 0; i < 3; i++ {
		instances = append(instances, Start(t, Options{Config: "test/e2e/testdata/ratelimit-cluster.Caddyfile", Env: env, ReadyPath: "/"}))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(in *Instance) {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, in.URL("/webhooks/whatsapp"), bytes.NewReader([]byte(`{}`)))
			req.Header.Set("X-Tenant", "hotel-madrid")
			code := -1
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}(instances[i%3])
	}
	close(start)
	wg.Wait()
	if codes[200] != 120 || codes[429] != 180 {
		t.Fatalf("status counts over 3 instances %v, want exactly 120×200 and 180×429", codes)
	}
	// Another tenant has its own window on every instance.
	for _, in := range instances {
		if status, hdr, _ := Do(t, http.MethodPost, in.URL("/webhooks/whatsapp"), []byte(`{}`), map[string]string{"X-Tenant": "hotel-bcn"}); status != 200 || hdr.Get("RateLimit-Limit") != "120" {
			t.Fatalf("other tenant: %d %v", status, hdr)
		}
	}
}
