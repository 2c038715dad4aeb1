package hmacwebhook

import (
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/test/provisiontest"
)

func TestCELFunction(t *testing.T) {
	ctx := provisiontest.Context(t)
	t.Setenv("HMAC_CEL_SECRET", "rotated")
	m := caddyhttp.MatchExpression{Expr: `hmac_webhook('` + secret + `', '\{env.HMAC_CEL_SECRET}') && method('POST')`}
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"ok":true}`)
	for _, s := range []string{secret, "rotated"} {
		r := post(body, header(DefaultHeader, signature.Sign(s, body)))
		if ok, err := m.MatchWithError(r); !ok || err != nil {
			t.Fatalf("signed with %s: match %v, %v", s, ok, err)
		}
	}
	cases := []struct {
		name string
		opts []reqOpt
		body []byte
		want int
	}{
		{"wrong secret", []reqOpt{header(DefaultHeader, signature.Sign("x", body))}, body, 401},
		{"not json", []reqOpt{sigFor([]byte("nope"))}, []byte("nope"), 400},
		{"wrong type", []reqOpt{sigFor(body), func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }}, body, 415},
	}
	for _, c := range cases {
		ok, err := m.MatchWithError(post(c.body, c.opts...))
		if ok || status(err) != c.want {
			t.Errorf("%s: match %v, status %d (%v), want %d", c.name, ok, status(err), err, c.want)
		}
	}
}
