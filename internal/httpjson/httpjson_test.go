package httpjson

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	Error(rec, http.StatusNotFound, "")
	if rec.Code != 404 || rec.Body.String() != `{"error":"Not Found","status":404}`+"\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
	checkHeaders(t, rec)
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "3")
	Write(rec, http.StatusCreated, map[string]any{"name": "a<b", "n": 1})
	// Same bytes as json.Encoder's: HTML-escaped, newline-terminated.
	if rec.Code != 201 || rec.Body.String() != `{"n":1,"name":"a\u003cb"}`+"\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
	checkHeaders(t, rec)
	if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want {
		t.Errorf("Content-Length %q, want %s: a stale one was kept, or none declared", got, want)
	}

	rec = httptest.NewRecorder()
	Write(rec, http.StatusOK, math.NaN())
	if rec.Code != 500 || rec.Body.String() != `{"error":"internal error","status":500}`+"\n" {
		t.Fatalf("unmarshalable value: %d %q", rec.Code, rec.Body)
	}
}

func checkHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if n := rec.Header().Get("X-Content-Type-Options"); n != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", n)
	}
	if c := rec.Header().Get("Cache-Control"); c != "no-store" {
		t.Errorf("Cache-Control %q", c)
	}
}
