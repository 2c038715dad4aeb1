package agente

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/hotel"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
)

// The webhook's usual answer is sent from its encoding kept once: the same
// status, headers and bytes as encoding it each time.
func TestAnswerOKIsWhatWriteSends(t *testing.T) {
	want := httptest.NewRecorder()
	httpjson.Write(want, http.StatusOK, hotel.Answer{"status": "ok"})
	got := httptest.NewRecorder()
	httpjson.WriteEncoded(got, http.StatusOK, answerOK)
	if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Fatalf("got %d %q, want %d %q", got.Code, got.Body.Bytes(), want.Code, want.Body.Bytes())
	}
	if g, w := got.Header(), want.Header(); len(g) != len(w) {
		t.Fatalf("headers %v, want %v", g, w)
	} else {
		for k := range w {
			if g.Get(k) != w.Get(k) {
				t.Fatalf("header %s: %q, want %q", k, g.Get(k), w.Get(k))
			}
		}
	}
	if string(answerOK) != "{\"status\":\"ok\"}\n" {
		t.Fatal("answerOK was changed by writing it")
	}
}
