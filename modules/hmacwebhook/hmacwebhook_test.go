package hmacwebhook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/test/provisiontest"
)

const secret = "test-app-secret"

func provisioned(t testing.TB, m MatchHMACWebhook) MatchHMACWebhook {
	t.Helper()
	ctx := provisiontest.Context(t)
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func whatsapp(t testing.TB, maxBody int64) MatchHMACWebhook {
	return provisioned(t, MatchHMACWebhook{
		Secrets: []string{secret}, MaxBody: maxBody,
		ContentType: "application/json", RequireJSON: true,
	})
}

// jsonOfSize returns a valid JSON document of exactly n bytes.
func jsonOfSize(n int) []byte {
	return []byte(`{"p":"` + strings.Repeat("a", n-8) + `"}`)
}

type reqOpt func(*http.Request)

func sigFor(body []byte) reqOpt {
	return func(r *http.Request) { r.Header.Add(DefaultHeader, signature.Sign(secret, body)) }
}
func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Add(k, v) } }
func chunked() reqOpt           { return func(r *http.Request) { r.ContentLength = -1 } }

func post(body []byte, opts ...reqOpt) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for _, o := range opts {
		o(r)
	}
	return r
}

func status(err error) int {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestValidationOrder(t *testing.T) {
	const limit = 256
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	atLimit, overLimit := jsonOfSize(limit), jsonOfSize(limit+1)
	good := signature.Sign(secret, body)
	cases := []struct {
		name string
		req  *http.Request
		want int // 0: matches
	}{
		{"valid", post(body, sigFor(body)), 0},
		{"valid with charset", post(body, sigFor(body), func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") }), 0},
		{"content type case-insensitive", post(body, sigFor(body), func(r *http.Request) { r.Header.Set("Content-Type", "Application/JSON") }), 0},
		{"body exactly at the limit", post(atLimit, sigFor(atLimit)), 0},
		{"uppercase hex", post(body, header(DefaultHeader, "sha256="+strings.ToUpper(good[7:]))), 0},
		{"missing signature", post(body), 401},
		{"signature over a different body", post(body, sigFor([]byte(`{"object":"other"}`))), 401},
		{"signature with another secret", post(body, header(DefaultHeader, signature.Sign("other", body))), 401},
		{"truncated hex", post(body, header(DefaultHeader, good[:len(good)-2])), 401},
		{"sha1 prefix", post(body, header(DefaultHeader, "sha1="+good[7:47])), 401},
		{"no prefix", post(body, header(DefaultHeader, good[7:])), 401},
		{"two signature headers", post(body, sigFor(body), sigFor(body)), 401},
		{"wrong signature and wrong content type", post(body, header(DefaultHeader, signature.Sign("x", body)), header("Content-Type", "")), 401},
		{"wrong content type", post(body, sigFor(body), func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), 415},
		{"missing content type", post(body, sigFor(body), func(r *http.Request) { r.Header.Del("Content-Type") }), 415},
		{"one byte over the limit", post(overLimit, sigFor(overLimit)), 413},
		{"over the limit with wrong content type", post(overLimit, sigFor(overLimit), func(r *http.Request) { r.Header.Set("Content-Type", "text/xml") }), 415},
		{"chunked, no Content-Length, too large", post(overLimit, sigFor(overLimit), chunked()), 413},
		{"chunked, no Content-Length, fits", post(body, sigFor(body), chunked()), 0},
		{"empty body", post(nil, sigFor(nil)), 400},
		{"invalid JSON", post([]byte(`{"a":`), sigFor([]byte(`{"a":`))), 400},
		{"JSON with trailing garbage", post([]byte(`{} x`), sigFor([]byte(`{} x`))), 400},
	}
	m := whatsapp(t, limit)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := m.MatchWithError(c.req)
			if got := status(err); got != c.want {
				t.Fatalf("status = %d (err %v), want %d", got, err, c.want)
			}
			if ok != (c.want == 0) {
				t.Fatalf("match = %v with err %v", ok, err)
			}
		})
	}
}

func TestMatchRestoresBodyForHandlers(t *testing.T) {
	body := []byte(`{"entry":[{"id":"1"}]}`)
	r := post(body, sigFor(body), chunked())
	if ok, err := whatsapp(t, DefaultMaxBody).MatchWithError(r); !ok || err != nil {
		t.Fatalf("match = %v, %v", ok, err)
	}
	got, _ := io.ReadAll(r.Body)
	if !bytes.Equal(got, body) || r.ContentLength != int64(len(body)) {
		t.Fatalf("handlers read %q (ContentLength %d), want the original body", got, r.ContentLength)
	}
}

// countingReader fails the test if the matcher reads more than allowed.
type countingReader struct {
	r    io.Reader
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

func TestOversizeBodyIsNotReadPastTheLimit(t *testing.T) {
	const limit = DefaultMaxBody
	huge := &countingReader{r: io.LimitReader(zeroes{}, 8*limit)}
	r := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", huge)
	r.ContentLength = -1 // chunked: the size is unknown until read
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(DefaultHeader, signature.Sign(secret, []byte("whatever")))
	_, err := whatsapp(t, limit).MatchWithError(r)
	if status(err) != 413 {
		t.Fatalf("status %d (%v), want 413", status(err), err)
	}
	if huge.read > limit+1 {
		t.Fatalf("read %d bytes, more than limit+1 = %d", huge.read, limit+1)
	}

	declared := &countingReader{r: io.LimitReader(zeroes{}, 2*limit)}
	r = httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", declared)
	r.ContentLength = 2 * limit
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(DefaultHeader, signature.Sign(secret, []byte("whatever")))
	if _, err := whatsapp(t, limit).MatchWithError(r); status(err) != 413 || declared.read != 0 {
		t.Fatalf("declared oversize: status %d, read %d bytes; want 413 without reading", status(err), declared.read)
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestRealLimitIsOneMebibyte(t *testing.T) {
	m := whatsapp(t, 0) // default
	at, over := jsonOfSize(1<<20), jsonOfSize(1<<20+1)
	if ok, err := m.MatchWithError(post(at, sigFor(at))); !ok || err != nil {
		t.Fatalf("1 MiB body: %v %v", ok, err)
	}
	if _, err := m.MatchWithError(post(over, sigFor(over))); status(err) != 413 {
		t.Fatalf("1 MiB + 1: %v", err)
	}
}

func TestRotationAcceptsEitherSecret(t *testing.T) {
	m := provisioned(t, MatchHMACWebhook{Secrets: []string{"new", "old"}})
	body := []byte(`{}`)
	for _, s := range []string{"new", "old"} {
		r := post(body, header(DefaultHeader, signature.Sign(s, body)))
		if ok, err := m.MatchWithError(r); !ok || err != nil {
			t.Fatalf("secret %s: %v %v", s, ok, err)
		}
	}
}

func TestSecretsResolvePlaceholdersAndMustNotBeEmpty(t *testing.T) {
	t.Setenv("HMAC_TEST_SECRET", "from-env")
	m := provisioned(t, MatchHMACWebhook{Secrets: []string{"{env.HMAC_TEST_SECRET}"}})
	body := []byte(`{}`)
	if ok, _ := m.MatchWithError(post(body, header(DefaultHeader, signature.Sign("from-env", body)))); !ok {
		t.Fatal("placeholder secret not resolved")
	}
	ctx := provisiontest.Context(t)
	empty := MatchHMACWebhook{Secrets: []string{"{env.HMAC_TEST_UNSET_VARIABLE}"}}
	if err := empty.Provision(ctx); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("an empty secret must fail provisioning naming the field, got %v", err)
	}
}

func TestMetricsCountResults(t *testing.T) {
	m := whatsapp(t, 64)
	before := testutil.ToFloat64(checks.WithLabelValues("mismatch"))
	m.MatchWithError(post([]byte(`{}`), header(DefaultHeader, signature.Sign("x", []byte(`{}`)))))
	if got := testutil.ToFloat64(checks.WithLabelValues("mismatch")) - before; got != 1 {
		t.Fatalf("mismatch counted %v times", got)
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`hmac_webhook {
		secret {env.WHATSAPP_APP_SECRET}
		secret old-secret
		header X-Signature
		max_body 512KiB
		content_type application/json
		require_json
		fail_delay 250ms
	}`)
	var m MatchHMACWebhook
	if err := m.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if len(m.Secrets) != 2 || m.Header != "X-Signature" || m.MaxBody != 512<<10 || !m.RequireJSON || m.ContentType != "application/json" ||
		time.Duration(m.FailDelay) != 250*time.Millisecond {
		t.Fatalf("parsed %+v", m)
	}
	for _, bad := range []string{
		"hmac_webhook {\n secrett x\n}",
		"hmac_webhook {\n max_body lots\n}",
		"hmac_webhook {\n secret\n}",
		"hmac_webhook {\n require_json yes\n}",
		"hmac_webhook {\n fail_delay -1s\n}",
		"hmac_webhook a b",
	} {
		var m MatchHMACWebhook
		if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for cfg, field := range map[*MatchHMACWebhook]string{
		{}:                                    "secret",
		{Secrets: []string{"s"}, MaxBody: -1}: "max_body",
		{Secrets: []string{"s"}, ContentType: "a b"}:                     "content_type",
		{Secrets: []string{"s"}, FailDelay: caddy.Duration(time.Minute)}: "fail_delay",
	} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", cfg, err, field)
		}
	}
}

func FuzzMatcher(f *testing.F) {
	body := []byte(`{"entry":[]}`)
	f.Add(body, signature.Sign(secret, body), "application/json", false)
	f.Add([]byte{}, "sha256=", "text/plain", true)
	f.Add([]byte(`{"a":1}`), "sha1=00", "application/json; charset=utf-8", false)
	m := whatsapp(f, 128)
	f.Fuzz(func(t *testing.T, body []byte, sig, ctype string, chunk bool) {
		r := post(body, header(DefaultHeader, sig), func(r *http.Request) { r.Header.Set("Content-Type", ctype) })
		if chunk {
			r.ContentLength = -1
		}
		ok, err := m.MatchWithError(r)
		if ok != (err == nil) {
			t.Fatalf("match %v with error %v: must be exactly one", ok, err)
		}
		switch st := status(err); st {
		case 0, 400, 401, 413, 415:
		default:
			t.Fatalf("unexpected status %d (%v)", st, err)
		}
		if ok && sig != signature.Sign(secret, body) && !strings.EqualFold(sig, signature.Sign(secret, body)) {
			t.Fatalf("matched a body the signature does not cover")
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		body := jsonOfSize(size)
		sig := signature.Sign(secret, body)
		m := whatsapp(b, DefaultMaxBody)
		b.Run(sizeLabel(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r := post(body, header(DefaultHeader, sig))
				if ok, err := m.MatchWithError(r); !ok {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeLabel(n int) string { return fmt.Sprintf("%dKiB", n>>10) }
