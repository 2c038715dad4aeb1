package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServesThePageInTheLanguageAsked(t *testing.T) {
	h, err := New("/console")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ accept, lang string }{
		{"", "en"},
		{"es-ES,es;q=0.9,en;q=0.8", "es"},
		{"fr-FR, en;q=0.5, es;q=0.7", "es"},
		{"de, en-GB;q=0.8", "en"},
		{"es;q=bogus, en", "en"},
	} {
		w := get(t, h, "GET", "/console/", "Accept-Language", c.accept)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, `<html lang="`+c.lang+`">`) || w.Header().Get("Content-Language") != c.lang {
			t.Fatalf("Accept-Language %q: %d, Content-Language %q, page %.80q", c.accept, w.Code, w.Header().Get("Content-Language"), body)
		}
	}
	w := get(t, h, "GET", "/console/")
	if csp := w.Header().Get("Content-Security-Policy"); csp != ContentSecurityPolicy || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	// The page names its assets with their version, and both are served.
	body := w.Body.String()
	for _, asset := range []struct{ name, ct string }{{"console.js", "text/javascript"}, {"console.css", "text/css"}} {
		if !strings.Contains(body, asset.name+"?v=") {
			t.Fatalf("page does not load %s", asset.name)
		}
		a := get(t, h, "GET", "/console/"+asset.name+"?v=x")
		if a.Code != 200 || !strings.HasPrefix(a.Header().Get("Content-Type"), asset.ct) || a.Body.Len() < 1000 {
			t.Fatalf("%s: %d %q %d bytes", asset.name, a.Code, a.Header().Get("Content-Type"), a.Body.Len())
		}
		// Revalidation is a 304 without a body.
		if n := get(t, h, "GET", "/console/"+asset.name, "If-None-Match", a.Header().Get("ETag")); n.Code != 304 || n.Body.Len() != 0 {
			t.Fatalf("%s revalidated: %d, %d bytes", asset.name, n.Code, n.Body.Len())
		}
	}
}

func TestRedirectsAndRefuses(t *testing.T) {
	h, err := New("console/")
	if err != nil {
		t.Fatal(err)
	}
	if w := get(t, h, "GET", "/console"); w.Code != 301 || w.Header().Get("Location") != "/console/" {
		t.Fatalf("/console: %d to %q", w.Code, w.Header().Get("Location"))
	}
	for path, want := range map[string]int{"/console/nope.js": 404, "/console/../go.mod": 404, "/consoles": 404, "/console/static/console.js": 404} {
		if w := get(t, h, "GET", path); w.Code != want || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q, want %d JSON", path, w.Code, w.Header().Get("Content-Type"), want)
		}
	}
	if w := get(t, h, "POST", "/console/"); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := get(t, h, "HEAD", "/console/console.css"); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
}
