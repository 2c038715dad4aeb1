package agente

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestCloseAfterAnswer(t *testing.T) {
	req := func(proto int, length int64, body io.Reader) *http.Request {
		r := httptest.NewRequest("POST", "/webhooks/whatsapp", body)
		r.ProtoMajor = proto
		r.ContentLength = length
		return r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
	}
	big := int64(drainLimit + 1)
	for name, c := range map[string]struct {
		r    *http.Request
		want bool
	}{
		"large body unread":            {req(1, 1<<20, strings.NewReader("x")), true},
		"length not announced":         {req(1, -1, strings.NewReader("x")), true},
		"just over net/http's drain":   {req(1, big, strings.NewReader("x")), true},
		"small body: drained, kept":    {req(1, drainLimit, strings.NewReader("x")), false},
		"no body":                      {req(1, 0, nil), false},
		"HTTP/2: close would end all":  {req(2, 1<<20, strings.NewReader("x")), false},
		"read to its end by a webhook": {withReadWebhook(req(1, 1<<20, strings.NewReader("x"))), false},
	} {
		if got := CloseAfterAnswer(c.r); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

func withReadWebhook(r *http.Request) *http.Request {
	WebhookOf(r).read = true
	return r
}
