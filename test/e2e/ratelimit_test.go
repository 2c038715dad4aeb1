package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// TestRateLimitThreeInstancesOneRedis: three agente-caddy processes serving
// the shipped Caddyfile on one Redis; 300 concurrent signed webhooks of one
// hotel, spread over the three, with caddy/webhooks.caddy's default of
// 120/min → exactly 120
// admitted, 180 answered 429. The limit is keyed by the resolved hotel, so
// the webhooks of another hotel still pass.
func TestRateLimitThreeInstancesOneRedis(t *testing.T) {
	redisURL, prefix := testservices.Redis(t)
	// A deadline no busy machine reaches: this test is about one count
	// shared by three instances, not about falling back when Redis is slow.
	env := map[string]string{"REDIS_URL": redisURL, "REDIS_KEY_PREFIX": prefix, "RATE_LIMIT_REDIS_TIMEOUT": "10s"}
	var instances []*Instance
	for i := 0; i < 3; i++ {
		instances = append(instances, Start(t, Options{Env: env}))
	}
	madridMsg := envelopeMessage
	madridMsg.ID = "wamid.rl-madrid"
	madrid := madridMsg.JSON()
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
			req, _ := http.NewRequest(http.MethodPost, in.URL("/webhooks/whatsapp"), bytes.NewReader([]byte(madrid)))
			for k, v := range signed(madrid) {
				req.Header.Set(k, v)
			}
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
	// Another hotel (resolved by its guest's phone: neither the number nor
	// the account is registered) has its own window on every instance.
	bcn := madridMsg
	bcn.PhoneNumberID, bcn.EntryID, bcn.From = "1", "1", "34600222333"
	for i, in := range instances {
		bcn.ID = fmt.Sprintf("wamid.rl-bcn-%d", i)
		body := bcn.JSON()
		if status, hdr, _ := Do(t, http.MethodPost, in.URL("/webhooks/whatsapp"), []byte(body), signed(body)); status != 200 || hdr.Get("RateLimit-Limit") != "120" {
			t.Fatalf("other hotel on instance %d: %d %v", i, status, hdr)
		}
	}
}
