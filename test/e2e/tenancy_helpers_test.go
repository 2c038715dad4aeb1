package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/signature"
)

// Helpers of the tenancy, PMS and email scenarios.

var gmailSecret = config.DevDefaults["GMAIL_WEBHOOK_SECRET"]

// signedBy are the headers Meta sends with a webhook body: its content type
// and X-Hub-Signature-256, the HMAC of body under secret; extra headers are
// added last, so they may replace either.
func signedBy(secret, body string, extra map[string]string) map[string]string {
	h := map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": signature.Sign(secret, []byte(body))}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// postWhatsApp sends a webhook signed with the development app secret.
func postWhatsApp(t testing.TB, in *Instance, path, body string, extra map[string]string) (int, string) {
	t.Helper()
	status, _, got := Do(t, "POST", in.URL(path), []byte(body), signedBy(devSecret, body, extra))
	return status, got
}

// testModeReply is the body of a webhook answered inline (ENVIRONMENT=test).
type testModeReply struct {
	Status       string          `json:"status"`
	ResponseType string          `json:"response_type"`
	Content      json.RawMessage `json:"content"`
}

// replyText is the text of the reply the binary echoed: the content for a
// text reply, the reply's body text otherwise.
func replyText(t testing.TB, body string) string {
	t.Helper()
	var r testModeReply
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "ok" {
		t.Fatalf("not a test-mode answer: %s", body)
	}
	var s string
	if json.Unmarshal(r.Content, &s) == nil {
		return s
	}
	var reply struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(r.Content, &reply); err != nil {
		t.Fatalf("reply content: %s", r.Content)
	}
	return reply.Text
}

// mintAdminToken runs `agente-caddy admin-token`.
func mintAdminToken(t testing.TB, secret, sub, ttl string) string {
	t.Helper()
	out, code := Run(t, map[string]string{"JWT_SECRET_KEY": secret}, "admin-token", "--sub", sub, "--ttl", ttl)
	token := strings.TrimSpace(out)
	if code != 0 || strings.Count(token, ".") != 2 || strings.ContainsAny(token, " \n") {
		t.Fatalf("admin-token: exit %d: %s", code, out)
	}
	return token
}

// adminCall sends a JSON admin API request with token ("" sends none).
func adminCall(t testing.TB, in *Instance, token, method, path, body string) (int, string) {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	var b []byte
	if body != "" {
		b = []byte(body)
		h["Content-Type"] = "application/json"
	}
	status, hdr, got := Do(t, method, in.URL(path), b, h)
	if status >= 400 && (hdr.Get("Content-Type") != "application/json" || !strings.Contains(got, `"status":`+strconv.Itoa(status))) {
		t.Errorf("%s %s: error %d not answered as JSON: %q %s", method, path, status, hdr.Get("Content-Type"), got)
	}
	return status, got
}

// connect opens a pool on the test database, closed when the test ends.
func connect(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
