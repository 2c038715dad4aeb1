// Package tenancy decides which hotel (tenant) a message belongs to and keeps
// the tenant directory: hotels, the identifiers that map guests and WhatsApp
// business numbers to them, and the admin writes that change it.
//
// Every store serves resolution from an immutable in-process snapshot (maps
// swapped atomically), so the hot path is a map lookup and never a query. The
// Postgres store refreshes that snapshot periodically and on NOTIFY; the memory
// store (development) is its own source of truth.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Errors the admin API maps to status codes.
var (
	ErrNotFound    = errors.New("not found")                // 404
	ErrConflict    = errors.New("already exists")           // 409
	ErrInvalid     = errors.New("invalid")                  // 400
	ErrUnavailable = errors.New("tenant store unavailable") // 503
)

// kindError carries a message written for the API client and the sentinel
// (ErrInvalid, ErrNotFound...) that decides the status code.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Tenant is a hotel.
type Tenant struct {
	ID     string
	Name   string
	Active bool
	// Timezone is an IANA zone name; the agent reads dates in it.
	Timezone string
	// Language is the hotel's default reply language (BCP 47, e.g. "es").
	Language string
	// PMSHotelID is the hotel's id in the PMS (QloApps id_hotel) when
	// PMSHotelIDSet. A hotel can be registered before its PMS id is known:
	// it then holds DefaultPMSHotelID, which must not be taken for its id
	// by a PMS that hosts several hotels.
	PMSHotelID    int
	PMSHotelIDSet bool
	// WhatsAppTemplate is sent instead of a reply that can no longer reach a
	// guest as it is (outside WhatsApp's 24-hour customer-service window);
	// the zero value is none.
	WhatsAppTemplate WhatsAppTemplate
	Identifiers      []Identifier
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Profile is a tenant's scalar settings: its name, time zone, language and
// PMS id (Tenant's fields of the same names).
type Profile struct {
	Name          string
	Timezone      string
	Language      string
	PMSHotelID    int
	PMSHotelIDSet bool
}

// WhatsAppTemplate is a hotel's message template as Meta approved it. Outside
// the 24-hour customer-service window (the guest's last message is more than
// a day old) WhatsApp delivers only approved templates, so a reply due then
// goes out as this template, which invites the guest to write again.
type WhatsAppTemplate struct {
	// Name is the template's name: lowercase letters, digits and '_'.
	Name string
	// Language is the approved translation's code, as Meta writes it: "es",
	// "en_US".
	Language string
	// BodyParameters fill the template body's {{1}}, {{2}}... in order. Each
	// is text in which TemplateGuestName and TemplateHotelName are replaced.
	BodyParameters []string
}

// The placeholders of WhatsAppTemplate.BodyParameters.
const (
	// TemplateGuestName is the guest's WhatsApp profile name, or their
	// number (+E.164) when WhatsApp gave no name.
	TemplateGuestName = "{guest_name}"
	// TemplateHotelName is the hotel's name (Tenant.Name).
	TemplateHotelName = "{hotel_name}"
)

// MaxTemplateBodyParameters bounds WhatsAppTemplate.BodyParameters.
const MaxTemplateBodyParameters = 20

// Configured reports whether there is a template.
func (w WhatsAppTemplate) Configured() bool { return w.Name != "" }

// BodyTexts are the body parameters filled in for one guest.
func (w WhatsAppTemplate) BodyTexts(guestName, hotelName string) []string {
	fill := strings.NewReplacer(TemplateGuestName, guestName, TemplateHotelName, hotelName)
	out := make([]string, len(w.BodyParameters))
	for i, p := range w.BodyParameters {
		out[i] = fill.Replace(p)
	}
	return out
}

var (
	templateNamePattern     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLanguagePattern = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
	templatePlaceholder     = regexp.MustCompile(`\{[a-z_]+\}`)
)

// validate accepts the zero value (no template) or a complete one.
func (w WhatsAppTemplate) validate() error {
	if !w.Configured() && w.Language == "" && len(w.BodyParameters) == 0 {
		return nil
	}
	switch {
	case !templateNamePattern.MatchString(w.Name):
		return errorf(ErrInvalid, "whatsapp_template.name %q must be the approved template's name: 1-512 lowercase letters, digits and '_'", w.Name)
	case !templateLanguagePattern.MatchString(w.Language):
		return errorf(ErrInvalid, "whatsapp_template.language %q must be the template's language code, like \"es\" or \"en_US\"", w.Language)
	case len(w.BodyParameters) > MaxTemplateBodyParameters:
		return errorf(ErrInvalid, "whatsapp_template.body_parameters: at most %d", MaxTemplateBodyParameters)
	}
	for i, p := range w.BodyParameters {
		switch {
		case strings.TrimSpace(p) == "":
			return errorf(ErrInvalid, "whatsapp_template.body_parameters[%d] is blank", i)
		case !utf8.ValidString(p) || utf8.RuneCountInString(p) > 1024:
			return errorf(ErrInvalid, "whatsapp_template.body_parameters[%d] must be valid UTF-8 of at most 1024 characters", i)
		}
		for _, ph := range templatePlaceholder.FindAllString(p, -1) {
			if ph != TemplateGuestName && ph != TemplateHotelName {
				return errorf(ErrInvalid, "whatsapp_template.body_parameters[%d]: unknown placeholder %s (known: %s, %s)", i, ph, TemplateGuestName, TemplateHotelName)
			}
		}
	}
	return nil
}

// Defaults of the columns added by 0005_tenancy.sql, and the pms_hotel_id
// of a tenant registered without one (0020_pms.sql).
const (
	DefaultTimezone   = "Europe/Madrid"
	DefaultLanguage   = "es"
	DefaultPMSHotelID = 1
)

// TenantPatch changes some fields of a tenant; nil fields stay as they are.
type TenantPatch struct {
	Name       *string
	Active     *bool
	Timezone   *string
	Language   *string
	PMSHotelID *int
	// WhatsAppTemplate replaces the template; a zero one removes it.
	WhatsAppTemplate *WhatsAppTemplate
}

// Empty reports whether the patch changes nothing.
func (p TenantPatch) Empty() bool {
	return p.Name == nil && p.Active == nil && p.Timezone == nil && p.Language == nil && p.PMSHotelID == nil &&
		p.WhatsAppTemplate == nil
}

var (
	tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	languagePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
)

// reservedTenantIDs would collide with admin routes under /admin/tenants/.
var reservedTenantIDs = map[string]bool{"refresh": true}

// ValidateTenantID rejects ids that cannot be path segments or would be
// confused with admin routes.
func ValidateTenantID(id string) error {
	if !tenantIDPattern.MatchString(id) {
		return errorf(ErrInvalid, "tenant_id %q must be 1-64 characters of letters, digits, '_', '.', '-', starting with a letter or digit", id)
	}
	if reservedTenantIDs[strings.ToLower(id)] {
		return errorf(ErrInvalid, "tenant_id %q is reserved", id)
	}
	return nil
}

// Normalize fills defaults and validates a tenant before it is created.
func (t *Tenant) Normalize() error {
	if err := ValidateTenantID(t.ID); err != nil {
		return err
	}
	t.Name = strings.TrimSpace(t.Name)
	if t.Timezone == "" {
		t.Timezone = DefaultTimezone
	}
	if t.Language == "" {
		t.Language = DefaultLanguage
	}
	t.PMSHotelIDSet = t.PMSHotelID != 0
	if !t.PMSHotelIDSet {
		t.PMSHotelID = DefaultPMSHotelID
	}
	if err := validateFields(t.Name, t.Timezone, t.Language, t.PMSHotelID); err != nil {
		return err
	}
	t.WhatsAppTemplate = t.WhatsAppTemplate.clone() // the directory's own, not the caller's
	return t.WhatsAppTemplate.validate()
}

// Validate checks the fields a patch sets.
func (p TenantPatch) Validate() error {
	if p.Empty() {
		return errorf(ErrInvalid, "nothing to change")
	}
	name, tz, lang, pms := "x", DefaultTimezone, DefaultLanguage, DefaultPMSHotelID
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
		*p.Name = name
	}
	if p.Timezone != nil {
		tz = *p.Timezone
	}
	if p.Language != nil {
		lang = *p.Language
	}
	if p.PMSHotelID != nil {
		pms = *p.PMSHotelID
	}
	if err := validateFields(name, tz, lang, pms); err != nil {
		return err
	}
	if p.WhatsAppTemplate != nil {
		return p.WhatsAppTemplate.validate()
	}
	return nil
}

func validateFields(name, tz, lang string, pmsID int) error {
	switch {
	case name == "":
		return errorf(ErrInvalid, "name is required")
	case utf8.RuneCountInString(name) > 200:
		return errorf(ErrInvalid, "name is longer than 200 characters")
	case !utf8.ValidString(name):
		return errorf(ErrInvalid, "name is not valid UTF-8")
	case !languagePattern.MatchString(lang):
		return errorf(ErrInvalid, "language %q is not a language tag like \"es\" or \"en-GB\"", lang)
	case pmsID < 1:
		return errorf(ErrInvalid, "pms_hotel_id must be a positive integer")
	}
	if !knownTimezone(tz) {
		return errorf(ErrInvalid, "timezone %q is not an IANA time zone like \"Europe/Madrid\"", tz)
	}
	return nil
}

// validTimezones remembers the zones LoadLocation accepted: it reads the
// zone file each time, and 10,000 tenants share a handful of zones.
var validTimezones sync.Map

func knownTimezone(tz string) bool {
	if tz == "" || tz == "Local" {
		return false
	}
	if _, ok := validTimezones.Load(tz); ok {
		return true
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return false
	}
	validTimezones.Store(tz, true)
	return true
}

func (p TenantPatch) apply(t *Tenant) {
	if p.Name != nil {
		t.Name = *p.Name
	}
	if p.Active != nil {
		t.Active = *p.Active
	}
	if p.Timezone != nil {
		t.Timezone = *p.Timezone
	}
	if p.Language != nil {
		t.Language = *p.Language
	}
	if p.PMSHotelID != nil {
		t.PMSHotelID = *p.PMSHotelID
		t.PMSHotelIDSet = true
	}
	if p.WhatsAppTemplate != nil {
		t.WhatsAppTemplate = p.WhatsAppTemplate.clone()
	}
}

func (w WhatsAppTemplate) clone() WhatsAppTemplate {
	w.BodyParameters = slices.Clone(w.BodyParameters)
	return w
}

// AuditEntry is one row of admin_audit: who changed what.
type AuditEntry struct {
	Actor  string         // JWT sub
	Action string         // e.g. tenant.create
	Target string         // tenant id, flag name...
	Detail map[string]any // what changed
	At     time.Time
}

// Audit actions written by the stores and the admin API.
const (
	ActionTenantCreate       = "tenant.create"
	ActionTenantUpdate       = "tenant.update"
	ActionIdentifierAdd      = "identifier.add"
	ActionIdentifierDelete   = "identifier.delete"
	ActionIdentifierErase    = "identifier.erase"
	ActionTenantsRefresh     = "tenants.refresh"
	ActionFlagSet            = "flag.set"
	ActionConversationResume = "conversation.resume"
)

// Stats summarises the cache for the dashboard and metrics.
type Stats struct {
	Tenants     int
	Active      int
	Identifiers int
}

// Health is the store's view of its source, for /health/ready.
type Health struct {
	Healthy bool
	// Listening reports the NOTIFY connection is up (always true in memory).
	Listening   bool
	LastRefresh time.Time
	LastError   error
}

// Resolver answers which tenant a request belongs to.
type Resolver interface {
	Resolve(in ResolveInput) (tenantID string, result Result)
}

// Store is the tenant directory the admin API and the middleware share.
// Reads (Resolve, Tenant, Tenants, Stats) come from the in-process cache;
// writes go to the source, are audited with actor in the same transaction
// and are visible to this instance's reads when they return.
type Store interface {
	Resolver
	Tenant(id string) (Tenant, bool)
	// TenantProfile is the tenant's Profile: what a guest's turn reads of
	// it, without Tenant's copies of its lists.
	TenantProfile(id string) (Profile, bool)
	Tenants() []Tenant
	Stats() Stats

	CreateTenant(ctx context.Context, actor string, t Tenant) (Tenant, error)
	UpdateTenant(ctx context.Context, actor, id string, p TenantPatch) (Tenant, error)
	AddIdentifier(ctx context.Context, actor, tenantID string, id Identifier) (Identifier, error)
	// DeleteIdentifier removes the tenant's identifiers matching id and
	// returns them; ErrNotFound when the tenant or the identifier is unknown.
	DeleteIdentifier(ctx context.Context, actor, tenantID string, id Identifier) ([]Identifier, error)
	// EraseIdentifier is DeleteIdentifier for a guest's privacy erasure:
	// its audit row names the identifier by IdentifierDigest, and the
	// earlier audit rows of the tenant that named it get the digest in
	// place of the value, so the audit keeps what happened and not who.
	EraseIdentifier(ctx context.Context, actor, tenantID string, id Identifier) ([]Identifier, error)
	// Refresh reloads the cache from the source now.
	Refresh(ctx context.Context) error

	// RecordAudit writes an audit row for a write that is not a tenant
	// write (feature flags); AuditLog lists the newest rows first.
	RecordAudit(ctx context.Context, e AuditEntry) error
	AuditLog(ctx context.Context, limit int) ([]AuditEntry, error)

	Health() Health
	// Check fails when the directory serves a cache its source can no
	// longer refresh (for /health/ready).
	Check(ctx context.Context) error
	Close()
}
