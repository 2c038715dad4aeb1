package agente

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// drainLimit is how much of a body the handler left unread net/http reads
// after the handler, before it writes the answer's header (its
// maxPostHandlerReadBytes, 256 KiB), hoping to reach the body's end and
// keep the connection; when more remains it closes the connection anyway.
const drainLimit = 256 << 10

// CloseAfterAnswer reports whether the answer to r should carry
// Connection: close so that net/http does not first read the body nobody
// read: r is HTTP/1 and announced more than drainLimit bytes (or did not
// say how many), and no module of ours read the body to its end.
//
// Caddy wraps every request body (its read-idle timeout), so net/http
// cannot see how much of it remains and drains it before the answer: for
// a webhook refused unread (429, 503, 401 before the body, 413 by its
// Content-Length) that is 256 KiB read in 4-8 KiB pieces, dozens of
// wakeups of the connection's goroutine, as fast as the client sends; and
// the answer waits for them. Under 2,000 refused 1 MiB bodies those reads
// were most of the instance's read syscalls, and the queue of goroutines
// they woke is what a signed webhook waited behind (README, "The edge
// under attack"). With Connection: close net/http writes the answer at
// once (json_error then closes the connection the way net/http would
// have after the drain): the connection was lost either way. A body
// under the limit is still drained, so a refused small webhook (Meta's,
// on a 503) keeps its connection. Not for HTTP/2: there Connection: close
// would shut down every stream of the connection, and an unread body is
// refused by flow control, not drained.
func CloseAfterAnswer(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return false
	}
	if w, ok := caddyhttp.GetVar(r.Context(), VarWebhook).(*Webhook); ok && w.read {
		return false // read to its end: nothing left to drain
	}
	return r.ContentLength < 0 || r.ContentLength > drainLimit
}
