// Package console is the web console for reception and operations: one
// page, a stylesheet and a script, embedded in the binary (no build step),
// that call the admin API (/admin/...) with the bearer token the user pastes.
// The page holds no secret and no data: everything it shows comes from the
// admin API, which decides what the token may see.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
)

//go:embed static
var static embed.FS

// Languages the console speaks; the first is the default.
var Languages = []string{"en", "es"}

// ContentSecurityPolicy lets the page load only its own script and
// stylesheet and talk only to its own origin: nothing leaves the instance.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console under a path prefix.
type Handler struct {
	prefix string
	index  map[string]asset // by language
	assets map[string]asset // by file name
}

// New is the console served under prefix (e.g. "/console").
func New(prefix string) (*Handler, error) {
	prefix = "/" + strings.Trim(prefix, "/")
	h := &Handler{prefix: prefix, index: map[string]asset{}, assets: map[string]asset{}}
	files, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "index.html" {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[name] = newAsset(b, ct)
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, err := template.ParseFS(files, "index.html")
	if err != nil {
		return nil, err
	}
	for _, lang := range Languages {
		var buf bytes.Buffer
		if err := page.Execute(&buf, map[string]string{"Lang": lang, "Version": h.version()}); err != nil {
			return nil, fmt.Errorf("console page: %w", err)
		}
		h.index[lang] = newAsset(buf.Bytes(), "text/html; charset=utf-8")
	}
	return h, nil
}

func newAsset(b []byte, contentType string) asset {
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// version names the assets' content, so a page asks for the script and
// stylesheet it was built with.
func (h *Handler) version() string {
	names := make([]string, 0, len(h.assets))
	for n := range h.assets {
		names = append(names, n)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, n := range names {
		sum.Write([]byte(h.assets[n].etag))
	}
	return hex.EncodeToString(sum.Sum(nil)[:6])
}

// ServeHTTP serves the page at prefix/ (in the language Accept-Language
// prefers), its assets at prefix/<file>, and redirects prefix to prefix/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpjson.Error(w, http.StatusMethodNotAllowed, "the console is read with GET")
		return
	}
	if r.URL.Path == h.prefix {
		http.Redirect(w, r, h.prefix+"/", http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, h.prefix+"/")
	if !ok {
		httpjson.Error(w, http.StatusNotFound, "not found")
		return
	}
	var a asset
	switch name {
	case "", "index.html":
		lang := PreferredLanguage(r.Header.Get("Accept-Language"))
		a = h.index[lang]
		w.Header().Set("Content-Language", lang)
		w.Header().Add("Vary", "Accept-Language")
	default:
		if a, ok = h.assets[name]; !ok {
			httpjson.Error(w, http.StatusNotFound, "not found")
			return
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("Content-Type", a.contentType)
	// Revalidated on every load (the ETag makes that a 304), so a new
	// binary's console is picked up at once.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// PreferredLanguage is the first of Languages an Accept-Language header
// prefers (by q, then order), or the default.
func PreferredLanguage(header string) string {
	best, bestQ := Languages[0], 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		for _, l := range Languages {
			if primary == l && q > bestQ {
				best, bestQ = l, q
			}
		}
	}
	return best
}
