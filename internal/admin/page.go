package admin

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"github.com/agentehotel/agente-caddy/internal/httpjson"
)

// Paginated lists take ?limit= (default DefaultPageLimit, at most
// MaxPageLimit) and ?cursor= (opaque: the previous page's next_cursor), and
// answer {"items": [...], "next_cursor": "..."}, next_cursor empty on the
// last page.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

type page struct {
	Limit  int
	Cursor string // decoded
}

func pageParams(w http.ResponseWriter, r *http.Request) (page, bool) {
	q := r.URL.Query()
	p := page{Limit: DefaultPageLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageLimit {
			httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to %d", s, MaxPageLimit))
			return page{}, false
		}
		p.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			httpjson.Error(w, http.StatusBadRequest, "cursor: not one this API gave")
			return page{}, false
		}
		p.Cursor = string(b)
	}
	return p, true
}

// encodeCursor makes a position opaque; "" stays "" (the last page).
func encodeCursor(pos string) string {
	if pos == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(pos))
}
