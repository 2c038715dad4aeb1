package tenancy

import (
	"net/mail"
	"strings"
)

// IdentifierType says what an identifier's value is.
type IdentifierType string

// The identifier types of tenant_user_identifiers.identifier_type.
const (
	// Phone is a guest's phone number. Stored as E.164 ("+34600111222");
	// matched on its digits, because WhatsApp sends "34600111222".
	Phone IdentifierType = "phone"
	// Email is a guest's email address, matched case-insensitively.
	Email IdentifierType = "email"
	// PhoneNumberID is the hotel's WhatsApp business number id
	// (value.metadata.phone_number_id of a webhook).
	PhoneNumberID IdentifierType = "phone_number_id"
	// WABAID is the hotel's WhatsApp Business Account id (entry[].id).
	WABAID IdentifierType = "waba_id"
)

// identifierTypes indexes the cache's per-type maps.
var identifierTypes = [...]IdentifierType{Phone, Email, PhoneNumberID, WABAID}

func (t IdentifierType) index() int {
	switch t {
	case Phone:
		return 0
	case Email:
		return 1
	case PhoneNumberID:
		return 2
	case WABAID:
		return 3
	}
	return -1
}

// Valid reports whether t is one of the four known types.
func (t IdentifierType) Valid() bool { return t.index() >= 0 }

// ParseIdentifierType reads a type name as the admin API accepts it: the
// column's names plus the short aliases "pnid" and "waba".
func ParseIdentifierType(s string) (IdentifierType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "phone", "tel":
		return Phone, nil
	case "email":
		return Email, nil
	case "phone_number_id", "pnid":
		return PhoneNumberID, nil
	case "waba_id", "waba":
		return WABAID, nil
	}
	return "", errorf(ErrInvalid, "unknown identifier type %q (want phone, email, phone_number_id or waba_id)", s)
}

// Identifier maps a guest or a hotel number to a tenant.
type Identifier struct {
	Type IdentifierType
	// Value is the canonical stored form: E.164 with "+" for phones,
	// lowercase for emails, digits for WhatsApp ids.
	Value string
	// Channel is the channel the identifier belongs to (whatsapp, gmail).
	Channel string
	// Inferred is set by ParseIdentifier when the type was guessed from bare
	// digits; a delete then also matches a WhatsApp id with those digits.
	Inferred bool
}

// Key is the form lookups compare: phone digits, lowercase email, the id.
func (i Identifier) Key() string { return identifierKey(i.Type, i.Value) }

// identifierKey normalises a stored or received value the way the
// agente_identifier_key SQL function of 0005_tenancy.sql does; the two must
// agree, because the database's uniqueness and the cache's lookups both use it.
func identifierKey(t IdentifierType, v string) string {
	switch t {
	case Phone:
		return NormalizePhone(v)
	case Email:
		return NormalizeEmail(v)
	default:
		return strings.TrimSpace(v)
	}
}

// NormalizePhone reduces a phone number to its E.164 digits: every non-digit
// is dropped and an international "00" prefix removed, so "+34 600 111 222",
// "0034600111222" and "34600111222" are one key. A string already made of
// digits (what WhatsApp sends) is returned without allocating.
func NormalizePhone(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		b.Grow(len(s))
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				b.WriteByte(s[i])
			}
		}
		s = b.String()
	}
	return strings.TrimPrefix(s, "00")
}

// NormalizeEmail returns the address part of s, trimmed and lowercased.
// It accepts "Name <guest@example.com>", as email From headers carry.
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "<>") {
		if a, err := mail.ParseAddress(s); err == nil {
			s = a.Address
		}
	}
	if isLower(s) {
		return s
	}
	return strings.ToLower(s)
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

// Phone numbers outside this length are not E.164 numbers (ITU-T E.164
// allows at most 15 digits; the shortest national plans have 7 with country code).
const (
	minPhoneDigits = 7
	maxPhoneDigits = 15
	maxIDDigits    = 32
	maxEmailLen    = 254
)

// ParseIdentifier reads the admin API's identifier string.
//
// typ, when not empty, is the explicit type (phone, email, phone_number_id
// or waba_id, or the aliases pnid/waba) and wins. Otherwise the type comes from
// a "pnid:", "waba:", "phone:" or "email:" prefix, else it is inferred: a value
// with "@" is an email; "+" followed by digits (spaces, dashes, dots and
// parentheses allowed) is a phone; bare digits are a phone too (Inferred set),
// because a WhatsApp phone_number_id (15 digits, e.g. 106540352242922) cannot
// be told apart from a 15-digit phone number. A hotel's business number must
// therefore be registered with type phone_number_id or the "pnid:" prefix.
func ParseIdentifier(raw, typ string) (Identifier, error) {
	raw = strings.TrimSpace(raw)
	var t IdentifierType
	explicit := false
	if typ != "" {
		var err error
		if t, err = ParseIdentifierType(typ); err != nil {
			return Identifier{}, err
		}
		explicit = true
	} else if p, rest, ok := strings.Cut(raw, ":"); ok && !strings.Contains(p, "@") {
		if pt, err := ParseIdentifierType(p); err == nil {
			t, raw, explicit = pt, strings.TrimSpace(rest), true
		}
	}
	if raw == "" {
		return Identifier{}, errorf(ErrInvalid, "identifier is empty")
	}
	if !explicit {
		switch {
		case strings.Contains(raw, "@"):
			t = Email
		case looksLikePhone(raw):
			t = Phone
		default:
			return Identifier{}, errorf(ErrInvalid, "%q is neither a phone number, an email nor a typed WhatsApp id (use \"pnid:<id>\" or a type)", raw)
		}
	}
	id := Identifier{Type: t, Channel: defaultChannel(t)}
	switch t {
	case Phone:
		if !looksLikePhone(raw) {
			return Identifier{}, errorf(ErrInvalid, "%q is not a phone number", raw)
		}
		digits := NormalizePhone(raw)
		if len(digits) < minPhoneDigits || len(digits) > maxPhoneDigits {
			return Identifier{}, errorf(ErrInvalid, "phone %q must have %d to %d digits with country code", raw, minPhoneDigits, maxPhoneDigits)
		}
		id.Value = "+" + digits
		id.Inferred = !explicit && !strings.HasPrefix(raw, "+") && !strings.HasPrefix(raw, "00")
	case Email:
		a, err := mail.ParseAddress(raw)
		if err != nil || len(a.Address) > maxEmailLen {
			return Identifier{}, errorf(ErrInvalid, "%q is not an email address", raw)
		}
		id.Value = strings.ToLower(a.Address)
	case PhoneNumberID, WABAID:
		if !allDigits(raw) || len(raw) > maxIDDigits {
			return Identifier{}, errorf(ErrInvalid, "%s %q must be digits (at most %d)", t, raw, maxIDDigits)
		}
		id.Value = raw
	}
	return id, nil
}

func defaultChannel(t IdentifierType) string {
	if t == Email {
		return "gmail"
	}
	return "whatsapp"
}

// looksLikePhone accepts an optional leading "+", then digits with the
// usual separators, and at least one digit.
func looksLikePhone(s string) bool {
	s = strings.TrimPrefix(s, "+")
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits > 0
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidChannel reports whether c names a channel identifiers can belong to.
func ValidChannel(c string) bool { return c == "whatsapp" || c == "gmail" }
