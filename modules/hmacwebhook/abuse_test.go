package hmacwebhook

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/modules/agente"
)

// countingBody counts the bytes read from it.
type countingBody struct {
	data []byte
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, fmt.Errorf("EOF")
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	b.read.Add(int64(n))
	return n, nil
}

func (b *countingBody) Close() error { return nil }

func TestRepeatedFailuresAreRefusedUnread(t *testing.T) {
	m := provisioned(t, MatchHMACWebhook{
		Secrets: []string{secret}, ContentType: "application/json", RequireJSON: true,
		FailLimit: 3, FailDelay: caddy.Duration(50 * time.Millisecond),
	})
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	from := func(addr string, opts ...reqOpt) *http.Request {
		r := withVars(post(body, opts...), context.Background())
		r.RemoteAddr = addr + ":40000"
		return r
	}
	const flood = "198.51.100.7"
	bad := header(DefaultHeader, signature.Sign("wrong-secret", body))
	for i := 0; i < 3; i++ {
		r := from(flood, bad)
		if _, err := m.MatchWithError(r); status(err) != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, status(err))
		}
	}
	// The fourth is refused before a byte of its body is read.
	r := from(flood, bad)
	cb := &countingBody{data: body}
	r.Body = cb
	start := time.Now()
	if _, err := m.MatchWithError(r); status(err) != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures: status %d, want 429", status(err))
	}
	// Held fail_delay before it is answered (a flooder waits, per request).
	if held := time.Since(start); held < 50*time.Millisecond {
		t.Errorf("the 429 came after %s, want it held at least fail_delay (50ms)", held)
	}
	if cb.read.Load() != 0 {
		t.Fatalf("the limited request's body was read (%d bytes)", cb.read.Load())
	}
	if ra := agente.RetryAfter(r); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// Even a good signature from that address waits; another address does not.
	if _, err := m.MatchWithError(from(flood, sigFor(body))); status(err) != http.StatusTooManyRequests {
		t.Fatalf("limited address with a good signature: status %d, want 429", status(err))
	}
	if ok, err := m.MatchWithError(from("203.0.113.9", sigFor(body))); !ok || err != nil {
		t.Fatalf("another address: %v %v", ok, err)
	}
}

func TestWebhookMemoryFullIs503(t *testing.T) {
	m := provisioned(t, MatchHMACWebhook{Secrets: []string{secret}, FailLimit: -1})
	// One client may hold an eighth of the default budget: 4 bodies of 1 MiB.
	body := jsonOfSize(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	var got []int
	for i := 0; i < agente.DefaultWebhookMemoryPerClient/(1<<20)+1; i++ {
		r := withVars(post(body, sigFor(body)), ctx)
		r.RemoteAddr = "192.0.2.200:1"
		_, err := m.MatchWithError(r)
		got = append(got, status(err))
		if i == agente.DefaultWebhookMemoryPerClient/(1<<20) && agente.RetryAfter(r) == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	want := fmt.Sprint([]int{0, 0, 0, 0, http.StatusServiceUnavailable})
	if fmt.Sprint(got) != want {
		t.Fatalf("statuses %v, want %s", got, want)
	}
	// When the requests end, their memory is back.
	cancel()
	for i := 0; i < 100; i++ {
		r := post(body, sigFor(body)).WithContext(context.Background())
		r.RemoteAddr = "192.0.2.200:1"
		if _, err := m.MatchWithError(r); err == nil {
			return
		}
		// context.AfterFunc runs the releases in their own goroutines.
		waitABit()
	}
	t.Fatal("memory not released after the requests ended")
}

func waitABit() { time.Sleep(10 * time.Millisecond) }

// withVars gives r Caddy's request variables, where refusals leave their
// Retry-After, under ctx.
func withVars(r *http.Request, ctx context.Context) *http.Request {
	return r.WithContext(context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{}))
}
