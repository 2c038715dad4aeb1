// Package admin is the admin HTTP API (/admin/...) as a plain http.Handler:
// tenants and their identifiers, feature flags, the dashboard.
//
// Authentication is not done here: the server puts a middleware calling
// Authenticate (modules/adminauth) and the rate limiter in front, in that order
// (auth first, then limits, as in the original system). As a backstop the
// handler answers 401 to any request whose context carries no actor, so a
// missing middleware fails closed and no write goes unaudited.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

type actorKey struct{}

// WithActor returns ctx carrying the authenticated admin (JWT sub).
func WithActor(ctx context.Context, sub string) context.Context {
	return context.WithValue(ctx, actorKey{}, sub)
}

// Actor returns the authenticated admin of ctx, or "".
func Actor(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// Challenge is the WWW-Authenticate header of a 401 from the admin API.
const Challenge = `Bearer realm="agente-caddy admin"`

// Authorize verifies the request's bearer token (adminauth.Verifier) and
// returns its claims. A failure's message is fit for the client: it says
// what is wrong with the token, never more.
func Authorize(r *http.Request, v adminauth.Verifier, now time.Time) (adminauth.Claims, error) {
	claims, err := v.Verify(r.Header.Get("Authorization"), now)
	if err != nil {
		if errors.Is(err, adminauth.ErrUnauthorized) {
			return adminauth.Claims{}, err
		}
		return adminauth.Claims{}, adminauth.ErrUnauthorized
	}
	return claims, nil
}

// PrincipalFromClaims is who a verified token acts as.
func PrincipalFromClaims(c adminauth.Claims) Principal {
	return Principal{Subject: c.Subject, Role: c.Role, Tenants: c.Tenants, ExpiresAt: c.ExpiresAt, TokenID: c.ID}
}

// Authenticate is Authorize for a plain http.Handler chain. On success it
// returns the request carrying the token's principal; on failure it has
// answered 401 JSON with WWW-Authenticate.
func Authenticate(w http.ResponseWriter, r *http.Request, v adminauth.Verifier, now time.Time) (*http.Request, bool) {
	claims, err := Authorize(r, v, now)
	if err != nil {
		w.Header().Set("WWW-Authenticate", Challenge)
		httpjson.Error(w, http.StatusUnauthorized, err.Error())
		return r, false
	}
	return r.WithContext(WithPrincipal(r.Context(), PrincipalFromClaims(claims))), true
}

// FlagStore is what the feature-flag routes need (*flags.Store).
type FlagStore interface {
	All(ctx context.Context) (map[string]bool, error)
	Set(ctx context.Context, flag string, enabled bool) error
}

// DashboardSource adds live figures to GET /admin/dashboard (messages
// today, breaker state, canary state...). Its keys are merged into the top
// level of the summary; it must answer quickly and never block on I/O long.
type DashboardSource func(ctx context.Context) map[string]any

// Options configure the handler.
type Options struct {
	// Tenants is the tenant directory (required).
	Tenants tenancy.Store
	// Flags serves /admin/feature-flags; nil answers 503 there.
	Flags FlagStore
	// Dashboard adds the server's live figures to /admin/dashboard.
	Dashboard DashboardSource
	// MaxBodyBytes bounds request bodies (default 64 KiB); larger is 413.
	MaxBodyBytes int64
	// OnError receives the cause of every 5xx answer (for the log).
	OnError func(r *http.Request, err error)
	// ResumeConversation ends a human handoff: the agent answers the guest
	// again. It reports whether the conversation was handed off. Nil answers
	// 503 on the route.
	ResumeConversation func(ctx context.Context, tenantID, channel, guest string) (bool, error)
	// PMSHotelIDRequired is set when the PMS hosts several hotels
	// (QloApps) and a tenant is connected to one only by its pms_hotel_id.
	// A tenant without one is still created (a hotel may be registered
	// before its PMS id is known) but is answered with a warning.
	PMSHotelIDRequired bool
	// Deliveries serves each hotel's replies with their delivery state and
	// the unrouted events; nil answers 503 there.
	Deliveries Deliveries
	// Canaries are the running config's canaries (canaries.go); nil: none.
	Canaries func() []*canary.State
	// Revocations records revoked token ids (POST /admin/tokens/revoke);
	// nil answers 503 there.
	Revocations *adminauth.Revocations
	// Conversations serves the staff's view of each hotel's guests; nil
	// answers 503 there.
	Conversations Conversations
	// DeadLetters lists and replays what was given up; nil answers 503
	// there.
	DeadLetters DeadLetters
	// Privacy exports and erases a guest's data; nil answers 503 there.
	Privacy Privacy
}

// Handler serves the admin API.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// New builds the admin API handler.
func New(opts Options) (*Handler, error) {
	if opts.Tenants == nil {
		return nil, errors.New("admin: a tenant store is required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.OnError == nil {
		opts.OnError = func(*http.Request, error) {}
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	m := h.mux
	m.HandleFunc("GET /admin/tenants", h.listTenants)
	m.HandleFunc("POST /admin/tenants", h.createTenant)
	m.HandleFunc("POST /admin/tenants/refresh", h.refresh)
	m.HandleFunc("GET /admin/tenants/{id}", h.getTenant)
	m.HandleFunc("PATCH /admin/tenants/{id}", h.patchTenant)
	m.HandleFunc("POST /admin/tenants/{id}/identifiers", h.addIdentifier)
	m.HandleFunc("DELETE /admin/tenants/{id}/identifiers/{identifier}", h.deleteIdentifier)
	m.HandleFunc("POST /admin/tenants/{id}/conversations/{guest}/resume", h.resumeConversation)
	m.HandleFunc("GET /admin/tenants/{id}/replies", h.listReplies)
	m.HandleFunc("GET /admin/unrouted", h.listUnrouted)
	m.HandleFunc("GET /admin/feature-flags", h.listFlags)
	m.HandleFunc("PUT /admin/feature-flags/{flag}", h.setFlag)
	m.HandleFunc("GET /admin/dashboard", h.dashboard)
	m.HandleFunc("GET /admin/canaries", h.canaryList)
	m.HandleFunc("GET /admin/canaries/{name}", h.getCanary)
	m.HandleFunc("POST /admin/canaries/{name}/{action}", h.canaryAction)
	m.HandleFunc("GET /admin/whoami", h.whoami)
	m.HandleFunc("POST /admin/tokens/revoke", h.revokeToken)
	m.HandleFunc("GET /admin/tokens/revoked", h.listRevoked)
	h.conversationRoutes()
	h.deadLetterRoutes()
	h.privacyRoutes()
	// Same paths without a method: the method is wrong (405, JSON).
	for path, allow := range map[string]string{
		"/admin/tenants":                                   "GET, POST",
		"/admin/tenants/{id}":                              "GET, PATCH",
		"/admin/tenants/{id}/identifiers":                  "POST",
		"/admin/tenants/{id}/identifiers/{identifier}":     "DELETE",
		"/admin/tenants/{id}/conversations/{guest}/resume": "POST",
		"/admin/tenants/{id}/conversations":                "GET",
		"/admin/tenants/{id}/conversations/{guest}":        "GET",
		"/admin/tenants/{id}/conversations/{guest}/reply":  "POST",
		"/admin/tenants/{id}/conversations/{guest}/close":  "POST",
		"/admin/tenants/{id}/replies":                      "GET",
		"/admin/tenants/{id}/guests/{guest}":               "DELETE",
		"/admin/tenants/{id}/guests/{guest}/export":        "GET",
		"/admin/unrouted":                                  "GET",
		"/admin/feature-flags":                             "GET",
		"/admin/feature-flags/{flag}":                      "PUT",
		"/admin/dashboard":                                 "GET",
		"/admin/canaries":                                  "GET",
		"/admin/canaries/{name}":                           "GET",
		"/admin/canaries/{name}/{action}":                  "POST",
		"/admin/whoami":                                    "GET",
		"/admin/dead-letters":                              "GET",
		"/admin/dead-letters/replay":                       "POST",
		"/admin/tokens/revoke":                             "POST",
		"/admin/tokens/revoked":                            "GET",
	} {
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if path == "/admin/tenants/{id}" && r.PathValue("id") == "refresh" {
				w.Header().Set("Allow", "POST")
			} else {
				w.Header().Set("Allow", allow)
			}
			httpjson.Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed", r.Method))
		})
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "no such admin route")
	})
	return h, nil
}

// ServeHTTP answers 401 without an actor, else routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if Actor(r.Context()) == "" {
		w.Header().Set("WWW-Authenticate", Challenge)
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	if !authorize(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// TenantJSON is a tenant on the wire.
type TenantJSON struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Timezone string `json:"timezone"`
	Language string `json:"language"`
	// PMSHotelID is null until the hotel is given its PMS id.
	PMSHotelID *int `json:"pms_hotel_id"`
	// WhatsAppTemplate is null until the hotel has one.
	WhatsAppTemplate *WhatsAppTemplateJSON `json:"whatsapp_template"`
	Identifiers      []IdentifierJSON      `json:"identifiers"`
	CreatedAt        time.Time             `json:"created_at"`
	UpdatedAt        time.Time             `json:"updated_at"`
	// Warnings name what keeps the hotel from working, such as a missing
	// pms_hotel_id where the PMS needs it.
	Warnings []string `json:"warnings,omitempty"`
}

// WarningNoPMSHotelID is the warning of a tenant without pms_hotel_id when
// the PMS needs one.
const WarningNoPMSHotelID = "pms_hotel_id is not set: the hotel is not connected to its booking system, " +
	"and its guests are told the booking system cannot be reached until it is"

// WhatsAppTemplateJSON is a hotel's approved WhatsApp template on the wire
// (tenancy.WhatsAppTemplate): sent instead of a reply outside the 24-hour
// customer-service window. body_parameters fill the template's {{1}},
// {{2}}... in order, with {guest_name} and {hotel_name} replaced.
type WhatsAppTemplateJSON struct {
	Name           string   `json:"name"`
	Language       string   `json:"language"`
	BodyParameters []string `json:"body_parameters"`
}

func whatsAppTemplateJSON(w tenancy.WhatsAppTemplate) *WhatsAppTemplateJSON {
	if !w.Configured() {
		return nil
	}
	params := w.BodyParameters
	if params == nil {
		params = []string{}
	}
	return &WhatsAppTemplateJSON{Name: w.Name, Language: w.Language, BodyParameters: params}
}

func (j WhatsAppTemplateJSON) template() tenancy.WhatsAppTemplate {
	return tenancy.WhatsAppTemplate{Name: j.Name, Language: j.Language, BodyParameters: j.BodyParameters}
}

// IdentifierJSON is an identifier on the wire.
type IdentifierJSON struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Channel string `json:"channel"`
}

func status(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}

func (h *Handler) tenantJSON(t tenancy.Tenant) TenantJSON {
	out := TenantJSON{TenantID: t.ID, Name: t.Name, Status: status(t.Active), Timezone: t.Timezone, Language: t.Language,
		WhatsAppTemplate: whatsAppTemplateJSON(t.WhatsAppTemplate),
		Identifiers:      make([]IdentifierJSON, 0, len(t.Identifiers)), CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	if t.PMSHotelIDSet {
		out.PMSHotelID = &t.PMSHotelID
	} else if h.opts.PMSHotelIDRequired {
		out.Warnings = append(out.Warnings, WarningNoPMSHotelID)
	}
	for _, id := range t.Identifiers {
		out.Identifiers = append(out.Identifiers, IdentifierJSONOf(id))
	}
	return out
}

// IdentifierJSONOf is an identifier as the API shows it.
func IdentifierJSONOf(id tenancy.Identifier) IdentifierJSON {
	return IdentifierJSON{Type: string(id.Type), Value: id.Value, Channel: id.Channel}
}

func parseStatus(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "active":
		return true, nil
	case "inactive":
		return false, nil
	}
	return false, fmt.Errorf("status must be \"active\" or \"inactive\", not %q", s)
}

// listTenants: GET /admin/tenants[?limit=&cursor=], by tenant id. The
// answer carries the page under both "items" (the paginated lists' shape)
// and "tenants" (what scripts read before pagination).
func (h *Handler) listTenants(w http.ResponseWriter, r *http.Request) {
	pg, ok := pageParams(w, r)
	if !ok {
		return
	}
	ts := h.opts.Tenants.Tenants()
	slices.SortFunc(ts, func(a, b tenancy.Tenant) int { return strings.Compare(a.ID, b.ID) })
	out := make([]TenantJSON, 0, min(len(ts), pg.Limit))
	next := ""
	for _, t := range ts {
		if pg.Cursor != "" && t.ID <= pg.Cursor {
			continue
		}
		if len(out) == pg.Limit {
			next = out[len(out)-1].TenantID
			break
		}
		out = append(out, h.tenantJSON(t))
	}
	httpjson.Write(w, http.StatusOK, struct {
		Tenants    []TenantJSON `json:"tenants"`
		Items      []TenantJSON `json:"items"`
		NextCursor string       `json:"next_cursor"`
	}{out, out, encodeCursor(next)})
}

func (h *Handler) getTenant(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, ok := h.opts.Tenants.Tenant(id)
	if !ok {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", id))
		return
	}
	httpjson.Write(w, http.StatusOK, h.tenantJSON(t))
}

type createTenantBody struct {
	TenantID   *string `json:"tenant_id"`
	Name       *string `json:"name"`
	Status     *string `json:"status"`
	Timezone   string  `json:"timezone"`
	Language   string  `json:"language"`
	PMSHotelID int     `json:"pms_hotel_id"`
	// WhatsAppTemplate is optional; null or absent: none.
	WhatsAppTemplate *WhatsAppTemplateJSON `json:"whatsapp_template"`
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	var b createTenantBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.TenantID == nil || b.Name == nil {
		httpjson.Error(w, http.StatusBadRequest, "tenant_id and name are required")
		return
	}
	t := tenancy.Tenant{ID: *b.TenantID, Name: *b.Name, Active: true, Timezone: b.Timezone, Language: b.Language, PMSHotelID: b.PMSHotelID}
	if b.WhatsAppTemplate != nil {
		t.WhatsAppTemplate = b.WhatsAppTemplate.template()
	}
	if b.Status != nil {
		active, err := parseStatus(*b.Status)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		t.Active = active
	}
	out, err := h.opts.Tenants.CreateTenant(r.Context(), Actor(r.Context()), t)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, h.tenantJSON(out))
}

type patchTenantBody struct {
	Status     *string `json:"status"`
	Name       *string `json:"name"`
	Timezone   *string `json:"timezone"`
	Language   *string `json:"language"`
	PMSHotelID *int    `json:"pms_hotel_id"`
	// WhatsAppTemplate: absent keeps the template, null removes it, an
	// object replaces it whole.
	WhatsAppTemplate json.RawMessage `json:"whatsapp_template"`
}

func (h *Handler) patchTenant(w http.ResponseWriter, r *http.Request) {
	var b patchTenantBody
	if !h.decode(w, r, &b) {
		return
	}
	p := tenancy.TenantPatch{Name: b.Name, Timezone: b.Timezone, Language: b.Language, PMSHotelID: b.PMSHotelID}
	if b.WhatsAppTemplate != nil {
		tpl, err := decodeTemplate(b.WhatsAppTemplate)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		p.WhatsAppTemplate = &tpl
	}
	if b.Status != nil {
		active, err := parseStatus(*b.Status)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		p.Active = &active
	}
	out, err := h.opts.Tenants.UpdateTenant(r.Context(), Actor(r.Context()), r.PathValue("id"), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, h.tenantJSON(out))
}

// decodeTemplate reads a PATCH's whatsapp_template: null is none, an object
// is read as strictly as the body around it.
func decodeTemplate(raw json.RawMessage) (tenancy.WhatsAppTemplate, error) {
	if string(raw) == "null" {
		return tenancy.WhatsAppTemplate{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var j WhatsAppTemplateJSON
	if err := dec.Decode(&j); err != nil {
		return tenancy.WhatsAppTemplate{}, fmt.Errorf("whatsapp_template must be null or an object of name, language and body_parameters: %s",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	return j.template(), nil
}

type identifierBody struct {
	Identifier *string `json:"identifier"`
	// Type is optional: phone, email, phone_number_id (pnid), waba_id
	// (waba). Without it the type is inferred (tenancy.ParseIdentifier);
	// a WhatsApp phone_number_id needs it or the "pnid:" prefix.
	Type    string `json:"type"`
	Channel string `json:"channel"`
}

func (h *Handler) addIdentifier(w http.ResponseWriter, r *http.Request) {
	var b identifierBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.Identifier == nil {
		httpjson.Error(w, http.StatusBadRequest, "identifier is required")
		return
	}
	id, err := tenancy.ParseIdentifier(*b.Identifier, b.Type)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if b.Channel != "" {
		if !tenancy.ValidChannel(b.Channel) {
			httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("channel %q: want whatsapp or gmail", b.Channel))
			return
		}
		id.Channel = b.Channel
	}
	tenantID := r.PathValue("id")
	out, err := h.opts.Tenants.AddIdentifier(r.Context(), Actor(r.Context()), tenantID, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"tenant_id": tenantID, "identifier": IdentifierJSONOf(out)})
}

// deleteIdentifier parses {identifier} like the POST body ("?type=" plays
// the body's type). Bare digits also match a WhatsApp id with those digits.
func (h *Handler) deleteIdentifier(w http.ResponseWriter, r *http.Request) {
	id, err := tenancy.ParseIdentifier(r.PathValue("identifier"), r.URL.Query().Get("type"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tenantID := r.PathValue("id")
	gone, err := h.opts.Tenants.DeleteIdentifier(r.Context(), Actor(r.Context()), tenantID, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]IdentifierJSON, 0, len(gone))
	for _, g := range gone {
		out = append(out, IdentifierJSONOf(g))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"tenant_id": tenantID, "deleted": out})
}

func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := h.opts.Tenants.Refresh(ctx); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: tenancy.ActionTenantsRefresh}); err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing refresh: %w", err))
	}
	st := h.opts.Tenants.Stats()
	httpjson.Write(w, http.StatusOK, map[string]any{"status": "ok", "tenants": st.Tenants, "active": st.Active, "identifiers": st.Identifiers})
}

func (h *Handler) listFlags(w http.ResponseWriter, r *http.Request) {
	if h.opts.Flags == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "feature flags are not configured")
		return
	}
	all, err := h.opts.Flags.All(r.Context())
	if err != nil {
		// Serve the last known values, but say they may be stale.
		h.opts.OnError(r, err)
		httpjson.Write(w, http.StatusOK, map[string]any{"flags": all, "stale": true})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"flags": all})
}

type flagBody struct {
	Enabled *bool `json:"enabled"`
}

func (h *Handler) setFlag(w http.ResponseWriter, r *http.Request) {
	if h.opts.Flags == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "feature flags are not configured")
		return
	}
	flag := r.PathValue("flag")
	if !flags.ValidName(flag) {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("invalid flag name %q", flag))
		return
	}
	var b flagBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.Enabled == nil {
		httpjson.Error(w, http.StatusBadRequest, "enabled (true or false) is required")
		return
	}
	ctx := r.Context()
	if err := h.opts.Flags.Set(ctx, flag, *b.Enabled); err != nil {
		h.opts.OnError(r, err)
		httpjson.Error(w, http.StatusServiceUnavailable, "feature flag store unavailable")
		return
	}
	err := h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: tenancy.ActionFlagSet, Target: flag,
		Detail: map[string]any{"enabled": *b.Enabled}})
	if err != nil {
		// The flag is set; the audit row is not. Say so rather than hide it.
		h.opts.OnError(r, fmt.Errorf("auditing flag %s: %w", flag, err))
		httpjson.Error(w, http.StatusServiceUnavailable, "flag set, but the audit log is unavailable")
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"flag": flag, "enabled": *b.Enabled})
}

// resumeConversation hands a conversation back to the agent after a human
// handoff (?channel=whatsapp|gmail, default whatsapp; guest is the phone or
// email the guest writes from).
func (h *Handler) resumeConversation(w http.ResponseWriter, r *http.Request) {
	if h.opts.ResumeConversation == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "conversations are not served here")
		return
	}
	id, guest := r.PathValue("id"), r.PathValue("guest")
	if _, ok := h.opts.Tenants.Tenant(id); !ok {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", id))
		return
	}
	channel := r.URL.Query().Get("channel")
	if channel == "email" {
		channel = "gmail"
	}
	ctx := r.Context()
	if channel == "" && h.opts.Conversations != nil {
		// The guest's conversation says which channel it is on.
		if d, err := h.opts.Conversations.Detail(ctx, conversationKeyOf(id, "", guest)); err == nil {
			channel = d.Conversation.Channel
		}
	}
	if channel == "" {
		channel = "whatsapp"
	}
	if !tenancy.ValidChannel(channel) {
		httpjson.Error(w, http.StatusBadRequest, "channel must be whatsapp or email")
		return
	}
	was, err := h.opts.ResumeConversation(ctx, id, channel, guest)
	if err != nil {
		h.opts.OnError(r, err)
		httpjson.Error(w, http.StatusServiceUnavailable, "session store unavailable")
		return
	}
	err = h.opts.Tenants.RecordAudit(ctx, tenancy.AuditEntry{Actor: Actor(ctx), Action: tenancy.ActionConversationResume,
		Target: id, Detail: map[string]any{"channel": channel, "guest": guest, "was_handed_off": was}})
	if err != nil {
		h.opts.OnError(r, fmt.Errorf("auditing resume of %s/%s: %w", id, guest, err))
		httpjson.Error(w, http.StatusServiceUnavailable, "conversation resumed, but the audit log is unavailable")
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"tenant_id": id, "channel": WireChannel(channel), "guest": guest, "was_handed_off": was, "state": "active"})
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := h.opts.Tenants.Stats()
	hl := h.opts.Tenants.Health()
	cache := map[string]any{"healthy": hl.Healthy, "listening": hl.Listening}
	if !hl.LastRefresh.IsZero() {
		cache["last_refresh"] = hl.LastRefresh.UTC()
	}
	if hl.LastError != nil {
		cache["last_error"] = "tenant store unavailable"
	}
	out := map[string]any{
		"tenants": map[string]any{"total": st.Tenants, "active": st.Active, "inactive": st.Tenants - st.Active, "identifiers": st.Identifiers, "cache": cache},
	}
	if h.opts.Flags != nil {
		all, err := h.opts.Flags.All(ctx)
		if err != nil {
			h.opts.OnError(r, err)
		}
		out["flags"] = all
	}
	if h.opts.Dashboard != nil {
		for k, v := range h.opts.Dashboard(ctx) {
			out[k] = v
		}
	}
	out["generated_at"] = time.Now().UTC()
	httpjson.Write(w, http.StatusOK, out)
}

// decode reads one JSON object into v: Content-Type JSON if given (415),
// bounded (413), no unknown fields, nothing after it (400).
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			httpjson.Error(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return false
		}
	}
	body := http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		httpjson.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
	case errors.Is(err, io.EOF):
		httpjson.Error(w, http.StatusBadRequest, "body must be a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		httpjson.Error(w, http.StatusBadRequest, "invalid JSON")
	case errors.As(err, &typ):
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("field %q must be %s", typ.Field, typ.Type))
	default:
		// Unknown fields and trailing data: encoding/json's message is precise.
		httpjson.Error(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	return false
}

// fail maps a store error to its status; 5xx causes go to OnError only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, tenancy.ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, tenancy.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, err.Error())
	case errors.Is(err, tenancy.ErrConflict):
		httpjson.Error(w, http.StatusConflict, err.Error())
	case errors.Is(err, tenancy.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		h.opts.OnError(r, err)
		httpjson.Error(w, http.StatusServiceUnavailable, "tenant store unavailable")
	default:
		h.opts.OnError(r, err)
		httpjson.Error(w, http.StatusInternalServerError, "internal error")
	}
}
