package jsonerror

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/agentehotel/agente-caddy/modules/agente"
)

func failed(client string, err error) *http.Request {
	r := httptest.NewRequest("POST", "/webhooks/whatsapp", nil)
	r.RemoteAddr = client + ":5555"
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{})
	ctx = context.WithValue(ctx, caddyhttp.ErrorCtxKey, err)
	return r.WithContext(ctx)
}

func TestRefusalsAreLoggedSampledPerClient(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := Handler{logger: zap.New(core)}
	bad := caddyhttp.Error(http.StatusUnauthorized, errors.New("signature does not match the body"))
	for i := 0; i < 50; i++ {
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, failed("198.51.100.1", bad), nil); err != nil || rec.Code != 401 {
			t.Fatalf("%v %d", err, rec.Code)
		}
	}
	_ = h.ServeHTTP(httptest.NewRecorder(), failed("198.51.100.2", bad), nil)
	_ = h.ServeHTTP(httptest.NewRecorder(), failed("198.51.100.1", caddyhttp.Error(http.StatusNotFound, errors.New("not found"))), nil)
	limited := failed("198.51.100.3", caddyhttp.Error(http.StatusTooManyRequests, errors.New("rate limit exceeded")))
	agente.SetRetryAfter(limited, 7*time.Second)
	rec := httptest.NewRecorder()
	_ = h.ServeHTTP(rec, limited, nil)
	if rec.Header().Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q, want 7", rec.Header().Get("Retry-After"))
	}

	lines := logs.FilterMessage("request refused").All()
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (one per client; none for the 404): %v", len(lines), lines)
	}
	first := lines[0].ContextMap()
	if first["route"] != "/webhooks/whatsapp" || first["status"] != int64(401) || first["client"] != "198.51.100.1" ||
		first["reason"] != "signature does not match the body" || lines[0].Level != zapcore.InfoLevel {
		t.Fatalf("line: %v", first)
	}
	if got := lines[2].ContextMap(); got["status"] != int64(429) || got["client"] != "198.51.100.3" {
		t.Fatalf("429 line: %v", got)
	}
}

func TestLargeUnreadBodyClosesTheConnection(t *testing.T) {
	h := Handler{}
	refused := caddyhttp.Error(http.StatusTooManyRequests, errors.New("too many failed signature checks"))
	big := failed("198.51.100.4", refused)
	big.Body, big.ContentLength = io.NopCloser(strings.NewReader("unread")), 1<<20
	rec := httptest.NewRecorder()
	_ = h.ServeHTTP(rec, big, nil)
	if rec.Code != 429 || rec.Header().Get("Connection") != "close" {
		t.Fatalf("1 MiB body left unread: %d, Connection %q; want 429 and close", rec.Code, rec.Header().Get("Connection"))
	}
	rec = httptest.NewRecorder()
	_ = h.ServeHTTP(rec, failed("198.51.100.4", refused), nil)
	if rec.Header().Get("Connection") != "" {
		t.Fatalf("no body: Connection %q, want the connection kept", rec.Header().Get("Connection"))
	}
}
