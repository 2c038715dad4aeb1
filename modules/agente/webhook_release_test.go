package agente

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An answered webhook gives its body's buffer back when its handler
// releases it, not when the request's context ends (which would cost a
// goroutine per request); the context's end then releases nothing twice,
// and a request refused before any handler still gets its buffer back
// from the context's end.
func TestWebhookBodyReleasedByItsHandlerOnce(t *testing.T) {
	const body = `{"object":"whatsapp_business_account"}`
	before := webhookMemory.InUse()
	read := func() (*Webhook, *httptestRequest) {
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequestWithContext(ctx, "POST", "/", strings.NewReader(body))
		w := new(Webhook)
		got, fits, err := w.Body(r, MaxWebhookBody)
		if err != nil || !fits || string(got) != body {
			t.Fatalf("Body: %q %v %v", got, fits, err)
		}
		if webhookMemory.InUse() <= before {
			t.Fatalf("in use %d after reading, want more than %d", webhookMemory.InUse(), before)
		}
		return w, &httptestRequest{body: r.Body, cancel: cancel}
	}

	w, req := read()
	w.Release()
	if got := webhookMemory.InUse(); got != before {
		t.Fatalf("in use %d after Release, want %d: the handler's release did not give the buffer back", got, before)
	}
	if n, err := req.body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("reading the restored body after Release: %d, %v; want 0, EOF", n, err)
	}
	w.Release()
	req.cancel()
	if got := webhookMemory.InUse(); got != before {
		t.Fatalf("in use %d after a second Release and the context's end, want %d", got, before)
	}

	// Refused on its way: no handler releases, the context's end does.
	_, req = read()
	req.cancel()
	for end := time.Now().Add(5 * time.Second); webhookMemory.InUse() != before && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if got := webhookMemory.InUse(); got != before {
		t.Fatalf("in use %d after the context ended, want %d", got, before)
	}
}

type httptestRequest struct {
	body   io.Reader
	cancel context.CancelFunc
}
