package tenancy

import "strings"

// Result is how a tenant was decided; it labels tenant_resolution_total.
type Result string

// The resolution results, in the order resolve tries them.
const (
	// ResultProvided: the route's configuration named a trusted tenant.
	ResultProvided Result = "provided"
	// ResultHit: a registered identifier (business number, WABA, guest) matched an active tenant.
	ResultHit Result = "hit"
	// ResultDefault: nothing matched and the default tenant was used.
	ResultDefault Result = "default"
	// ResultMissStrict: nothing matched and no default applies (strict mode,
	// or no usable default configured); the request must be rejected.
	ResultMissStrict Result = "miss_strict"
)

// ResolveInput is what a request offers to decide its tenant. Only the
// route's configuration (Tenant, Default, Strict) and identifiers taken from
// the signed payload belong here; nothing the client can set freely
// (X-Tenant-ID, payload metadata) does.
type ResolveInput struct {
	// Tenant is the explicit trusted tenant configured for the route.
	Tenant string
	// PhoneNumberID is value.metadata.phone_number_id of a WhatsApp event.
	PhoneNumberID string
	// WABAID is entry[].id of a WhatsApp event, the fallback business key.
	WABAID string
	// GuestPhone is the guest's number (messages[].from, statuses[].recipient_id),
	// in any format NormalizePhone accepts.
	GuestPhone string
	// GuestEmail is the guest's address (gmail "from"), "Name <addr>" accepted.
	GuestEmail string
	// Channel restricts which guest identifier is used: "gmail" uses only
	// GuestEmail, "whatsapp" only GuestPhone; empty uses both (phone first).
	Channel string
	// Default is the fallback tenant (DEFAULT_TENANT_ID), ignored when Strict.
	// With the Postgres directory it must be a tenant there (like Tenant).
	Default string
	// Strict rejects a request no identifier resolves instead of defaulting.
	Strict bool
}

// resolve applies the resolution order to one snapshot. Inactive tenants
// never resolve: their identifiers are skipped, as are a configured explicit
// or default tenant the directory lists as inactive, or does not list when
// it is complete.
func (s *snapshot) resolve(in ResolveInput, complete bool) (string, Result) {
	if in.Tenant != "" && s.configuredUsable(in.Tenant, complete) {
		return in.Tenant, ResultProvided
	}
	if id, ok := s.businessOwner(PhoneNumberID, in.PhoneNumberID); ok {
		return id, ResultHit
	}
	if id, ok := s.businessOwner(WABAID, in.WABAID); ok {
		return id, ResultHit
	}
	if in.GuestPhone != "" && in.Channel != "gmail" {
		if id, ok := s.activeOwner(Phone, NormalizePhone(in.GuestPhone)); ok {
			return id, ResultHit
		}
	}
	if in.GuestEmail != "" && in.Channel != "whatsapp" {
		if id, ok := s.activeOwner(Email, NormalizeEmail(in.GuestEmail)); ok {
			return id, ResultHit
		}
	}
	if !in.Strict && in.Default != "" && s.configuredUsable(in.Default, complete) {
		return in.Default, ResultDefault
	}
	return "", ResultMissStrict
}

// businessOwner is the active owner of a business number or account. An
// identifier registered as bare digits, without a type, is taken for a
// guest's phone; it may as well be the hotel's business number (the admin
// API takes {identifier} alone), so digits also match it here. A guest's
// phone and a Meta id never share their digits in practice.
func (s *snapshot) businessOwner(t IdentifierType, key string) (string, bool) {
	if id, ok := s.activeOwner(t, key); ok {
		return id, true
	}
	if key == "" || strings.Trim(key, "0123456789") != "" {
		return "", false
	}
	return s.activeOwner(Phone, NormalizePhone(key))
}

// countResolution records one resolution in tenant_resolution_total.
func countResolution(r Result) {
	switch r {
	case ResultProvided:
		resolvedProvided.Inc()
	case ResultHit:
		resolvedHit.Inc()
	case ResultDefault:
		resolvedDefault.Inc()
	case ResultMissStrict:
		resolvedMissStrict.Inc()
	}
}
