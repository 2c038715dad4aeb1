package agente

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/agentehotel/agente-caddy/internal/bodybudget"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/hotel"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
)

// Request variables our modules set for later handlers and placeholders.
const (
	// VarTenantID is the request's hotel, {http.vars.tenant_id}, set by
	// tenant_resolve: what webhook rate limits key on.
	VarTenantID = "tenant_id"
	// VarTenantResolution is how it was decided, {http.vars.tenant_resolution}:
	// provided, hit or default.
	VarTenantResolution = "tenant_resolution"
	// VarAdminSubject is the authenticated admin's token subject,
	// {http.vars.admin_sub}, set by admin_auth: the admin API audits writes
	// under it and admin rate limits key on it.
	VarAdminSubject = "admin_sub"
	// VarAdminRole is the token's role, {http.vars.admin_role}: admin or
	// staff. The admin API lets staff reach only their hotels'
	// conversations.
	VarAdminRole = "admin_role"
	// VarAdminTenants are a staff token's hotels, comma-joined,
	// {http.vars.admin_tenants}.
	VarAdminTenants = "admin_tenants"
	// VarAdminExpires is the token's exp (Unix seconds, int64).
	VarAdminExpires = "admin_exp"
	// VarAdminTokenID is the token's jti.
	VarAdminTokenID = "admin_jti"
	// VarGuestMessages is "yes" when a webhook carries a guest's message and
	// "no" when it carries only receipts or other fields,
	// {http.vars.guest_messages}: guests' limits count only the former.
	VarGuestMessages = "guest_messages"
	// VarRateKey is what a webhook's rate limits key on, {http.vars.rate_key}:
	// the hotel, or for events no hotel is found for "unrouted:" and the
	// business number (or account) they came for, so that one unknown
	// number's traffic shares one budget and never a hotel's.
	VarRateKey = "rate_key"
	// VarWebhook holds the request's *Webhook (below).
	VarWebhook = "agente.webhook"
)

// MaxWebhookBody is the one limit on a webhook body (1 MiB): what
// hmac_webhook verifies by default and what a webhook handler reads when
// nothing in front of it did. Meta's payloads stay far below it.
const MaxWebhookBody = 1 << 20

// Webhook is what the chain learns about one webhook request, kept in the
// request variable VarWebhook so that the body is read once, decoded once
// and its hotel resolved once, whichever of our modules run:
//
//   - hmac_webhook reads the body (Body), verifies it and marks it verified;
//   - tenant_resolve decodes it (Inbound) and records the hotels (SetResolution);
//   - the webhook handler uses what is there and does what is missing itself,
//     so a handler used alone (nothing in front of it) still works.
//
// Only a *Webhook in the variable counts: the `vars` and `map` directives
// set strings, so neither a client nor a config can forge a verified body.
type Webhook struct {
	body     []byte
	release  func() // gives body's buffer back; nil until read
	read     bool
	verified bool
	inbound  *hotel.Inbound
	inErr    error
	channel  chat.Channel
	// kept holds the first decode's result (inbound points at it) and the
	// resolution, in one allocation made when the body is first decoded
	// (a request refused before that pays nothing for them). A decode for
	// another channel gets an Inbound of its own, so what an earlier caller
	// holds never changes.
	kept       *webhookKept
	resolution *hotel.Resolution

	reads, decodes int
}

type webhookKept struct {
	inbound    hotel.Inbound
	resolution hotel.Resolution
}

// WebhookOf returns the request's webhook record, adding an empty one to the
// request's variables if there is none yet.
func WebhookOf(r *http.Request) *Webhook {
	if w, ok := caddyhttp.GetVar(r.Context(), VarWebhook).(*Webhook); ok {
		return w
	}
	w := new(Webhook)
	caddyhttp.SetVar(r.Context(), VarWebhook, w)
	return w
}

// Body is the request's body, read at most once for the whole chain: the
// first module that needs it reads it, no further than limit+1 bytes, and
// puts it back on the request for handlers that read r.Body themselves
// (reverse_proxy); later callers get the same bytes. fits is false when the
// body is larger than limit: then nothing is kept, and a Content-Length over
// the limit is believed without reading at all. The bytes live in a pooled
// buffer under the instance's webhook memory budget (webhookmemory.go) until
// the request ends; err is ErrWebhookMemory when the budget has no room.
func (w *Webhook) Body(r *http.Request, limit int64) (body []byte, fits bool, err error) {
	if w.read {
		return w.body, int64(len(w.body)) <= limit, nil
	}
	if r.ContentLength > limit {
		return nil, false, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		w.read = true
		return nil, true, nil
	}
	read, release, err := readWebhookBody(r, limit)
	w.reads++
	switch {
	case errors.Is(err, bodybudget.ErrTooLarge):
		return nil, false, nil
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, false, nil
		}
		return nil, false, err
	}
	n := int64(len(read))
	w.body, w.release, w.read = read, release, true
	r.Body = &restoredBody{Reader: bytes.NewReader(w.body), w: w}
	r.ContentLength = n
	return w.body, true, nil
}

// restoredBody is the kept body put back on the request; reading it counts
// as another read of the body.
type restoredBody struct {
	*bytes.Reader
	w       *Webhook
	counted bool
}

func (b *restoredBody) Read(p []byte) (int, error) {
	if b.w.body == nil {
		// Released: the bytes behind the reader serve another request.
		return 0, io.EOF
	}
	if !b.counted {
		b.counted = true
		b.w.reads++
	}
	return b.Reader.Read(p)
}

func (*restoredBody) Close() error { return nil }

// Release gives the body's pooled buffer back now rather than when the
// request's context ends. Only the handler that answers the webhook calls
// it, after its answer is written and nothing reads the body any more; the
// record then holds no body (a later Body call gets none). A body never
// read, or already released, makes it do nothing.
func (w *Webhook) Release() {
	if w.release == nil {
		return
	}
	w.release()
	w.body, w.release = nil, nil
}

// MarkVerified records that the body's signature was checked.
func (w *Webhook) MarkVerified() { w.verified = true }

// Verified reports whether a signature check passed for this body.
func (w *Webhook) Verified() bool { return w.verified }

// Inbound is the body decoded for channel's route, decoded on the first
// call (reading the body first, at most limit bytes, if nothing did) and
// kept for the others.
func (w *Webhook) Inbound(r *http.Request, dec hotel.Decoder, channel chat.Channel, limit int64) (*hotel.Inbound, error) {
	if (w.inbound != nil || w.inErr != nil) && w.channel == channel {
		return w.inbound, w.inErr
	}
	body, fits, err := w.Body(r, limit)
	switch {
	case errors.Is(err, ErrWebhookMemory):
		SetRetryAfter(r, WebhookMemoryRetryAfter)
		return nil, caddyhttp.Error(http.StatusServiceUnavailable, err)
	case err != nil:
		return nil, caddyhttp.Error(http.StatusBadRequest, errors.New("reading body failed"))
	case !fits:
		return nil, caddyhttp.Error(http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", limit))
	}
	w.decodes++
	w.channel = channel
	if w.kept == nil {
		w.kept = new(webhookKept)
	}
	in := &w.kept.inbound
	if w.decodes > 1 { // kept.inbound holds the first decode
		in = new(hotel.Inbound)
	}
	if err := dec.DecodeInto(in, channel, body); err != nil {
		w.inbound, w.inErr = nil, err
	} else {
		w.inbound, w.inErr = in, nil
	}
	return w.inbound, w.inErr
}

// SetResolution records the hotels of the request's events.
func (w *Webhook) SetResolution(res hotel.Resolution) {
	if w.kept == nil {
		w.kept = new(webhookKept)
	}
	w.kept.resolution = res
	w.resolution = &w.kept.resolution
}

// Resolution is what SetResolution recorded.
func (w *Webhook) Resolution() (hotel.Resolution, bool) {
	if w.resolution == nil {
		return hotel.Resolution{}, false
	}
	return *w.resolution, true
}

// Reads is how many times the body was read: the network body, and the
// restored copy by any later handler. A chain that works as intended reads
// it once.
func (w *Webhook) Reads() int { return w.reads }

// Decodes is how many times the body was decoded into Go values (a JSON
// validity scan aside). A chain that works as intended decodes it once.
func (w *Webhook) Decodes() int { return w.decodes }

// WebhookError is err as the status the sender should get: 400 for a body
// it got wrong, 403 for no hotel, 503 when the events could not be stored
// (the sender delivers again), 500 for anything else. caddyhttp errors pass
// through.
func WebhookError(err error) error {
	var he caddyhttp.HandlerError
	var bad *hotel.InputError
	switch {
	case errors.As(err, &he):
		return err
	case errors.As(err, &bad):
		return caddyhttp.Error(http.StatusBadRequest, err)
	case errors.Is(err, hotel.ErrNoTenant):
		return caddyhttp.Error(http.StatusForbidden, err)
	case errors.Is(err, hotel.ErrUnavailable):
		return caddyhttp.Error(http.StatusServiceUnavailable, hotel.ErrUnavailable)
	}
	return caddyhttp.Error(http.StatusInternalServerError, err)
}

// AcceptWebhook is the work of a webhook handler for channel: it takes the
// request's decoded events and hotels from what the modules in front of it
// kept, does what they did not (reading, decoding, resolving with the
// app's default tenant), hands the events to the application and writes
// its answer. Nothing is acknowledged before it is stored.
func (a *App) AcceptWebhook(w http.ResponseWriter, r *http.Request, channel chat.Channel) error {
	wh := WebhookOf(r)
	defer wh.Release()
	in, err := wh.Inbound(r, a.Decoder(), channel, MaxWebhookBody)
	if err != nil {
		return WebhookError(err)
	}
	res, ok := wh.Resolution()
	if !ok {
		res = a.hotel.Resolve(in, a.hotel.DefaultRoute())
		wh.SetResolution(res)
	}
	answer, err := a.hotel.Accept(r.Context(), in, res)
	if err != nil {
		return WebhookError(err)
	}
	if len(answer) == 1 && answer["status"] == "ok" {
		// Nearly every answer: its encoding, not encoded again each time.
		httpjson.WriteEncoded(w, http.StatusOK, answerOK)
		return nil
	}
	httpjson.Write(w, http.StatusOK, answer)
	return nil
}

// answerOK is what httpjson.Write sends for hotel.Answer{"status": "ok"}
// (TestAnswerOKIsWhatWriteSends).
var answerOK = []byte("{\"status\":\"ok\"}\n")
