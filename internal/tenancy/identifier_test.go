package tenancy

import (
	"errors"
	"testing"
)

func TestParseIdentifier(t *testing.T) {
	cases := []struct {
		raw, typ string
		want     Identifier
	}{
		{"+34 600 111 222", "", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp"}},
		{"+34-600-111-222", "", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp"}},
		{"+1 (650) 555.1234", "", Identifier{Type: Phone, Value: "+16505551234", Channel: "whatsapp"}},
		{"0034600111222", "", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp"}},
		{"34600111222", "", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp", Inferred: true}},
		{"  34600111222  ", "", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp", Inferred: true}},
		{"phone:34600111222", "", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp"}},
		{"Guest1@Madrid.COM", "", Identifier{Type: Email, Value: "guest1@madrid.com", Channel: "gmail"}},
		{"Guest One <guest1@madrid.com>", "", Identifier{Type: Email, Value: "guest1@madrid.com", Channel: "gmail"}},
		{"email:guest1@madrid.com", "", Identifier{Type: Email, Value: "guest1@madrid.com", Channel: "gmail"}},
		{"pnid:106540352242922", "", Identifier{Type: PhoneNumberID, Value: "106540352242922", Channel: "whatsapp"}},
		{"PNID: 106540352242922", "", Identifier{Type: PhoneNumberID, Value: "106540352242922", Channel: "whatsapp"}},
		{"phone_number_id:106540352242922", "", Identifier{Type: PhoneNumberID, Value: "106540352242922", Channel: "whatsapp"}},
		{"waba:102290129340398", "", Identifier{Type: WABAID, Value: "102290129340398", Channel: "whatsapp"}},
		{"106540352242922", "phone_number_id", Identifier{Type: PhoneNumberID, Value: "106540352242922", Channel: "whatsapp"}},
		{"106540352242922", "pnid", Identifier{Type: PhoneNumberID, Value: "106540352242922", Channel: "whatsapp"}},
		{"102290129340398", "WABA_ID", Identifier{Type: WABAID, Value: "102290129340398", Channel: "whatsapp"}},
		// An explicit type wins over the prefix rules.
		{"34600111222", "phone", Identifier{Type: Phone, Value: "+34600111222", Channel: "whatsapp"}},
	}
	for _, c := range cases {
		got, err := ParseIdentifier(c.raw, c.typ)
		if err != nil {
			t.Errorf("ParseIdentifier(%q, %q): %v", c.raw, c.typ, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseIdentifier(%q, %q) = %+v, want %+v", c.raw, c.typ, got, c.want)
		}
	}
}

func TestParseIdentifierRejects(t *testing.T) {
	cases := []struct{ raw, typ string }{
		{"", ""},
		{"   ", ""},
		{"pnid:", ""},
		{"hello", ""},
		{"+34 abc", ""},
		{"+", ""},
		{"123456", ""},            // too short for E.164
		{"+1234567890123456", ""}, // 16 digits: too long
		{"not-an-email@", ""},
		{"a@b@c", ""},
		{"pnid:12ab", ""},
		{"waba:-1", ""},
		{"106540352242922", "fax"},
		{"guest@example.com", "phone"},
		{"34600111222", "email"},
		{"123456789012345678901234567890123", "phone_number_id"}, // 33 digits
	}
	for _, c := range cases {
		if got, err := ParseIdentifier(c.raw, c.typ); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseIdentifier(%q, %q) = %+v, %v; want ErrInvalid", c.raw, c.typ, got, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	phones := map[string]string{
		"34600111222":      "34600111222",
		"+34600111222":     "34600111222",
		"+34 600-111 222":  "34600111222",
		"0034600111222":    "34600111222",
		"whatsapp:+346001": "346001",
		"":                 "",
	}
	for in, want := range phones {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
	emails := map[string]string{
		"guest1@madrid.com":             "guest1@madrid.com",
		" Guest1@Madrid.com ":           "guest1@madrid.com",
		"Guest One <GUEST1@madrid.com>": "guest1@madrid.com",
		"<broken":                       "<broken",
	}
	for in, want := range emails {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePhoneDoesNotAllocateOnDigits(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = NormalizePhone("34600111222") })
	if allocs != 0 {
		t.Fatalf("NormalizePhone of bare digits allocates %v times", allocs)
	}
}

func TestTenantValidation(t *testing.T) {
	ok := Tenant{ID: "tenant_hotel_madrid", Name: " Hotel Madrid "}
	if err := ok.Normalize(); err != nil {
		t.Fatal(err)
	}
	if ok.Name != "Hotel Madrid" || ok.Timezone != DefaultTimezone || ok.Language != DefaultLanguage || ok.PMSHotelID != 1 {
		t.Fatalf("defaults not applied: %+v", ok)
	}
	bad := []Tenant{
		{ID: "", Name: "x"},
		{ID: "has space", Name: "x"},
		{ID: "-leading", Name: "x"},
		{ID: "a/b", Name: "x"},
		{ID: "refresh", Name: "x"},
		{ID: "ok", Name: "   "},
		{ID: "ok", Name: "x", Timezone: "Mars/Olympus"},
		{ID: "ok", Name: "x", Timezone: "Local"},
		{ID: "ok", Name: "x", Language: "spanish!"},
		{ID: "ok", Name: "x", PMSHotelID: -2},
	}
	for _, b := range bad {
		if err := b.Normalize(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%+v) = %v, want ErrInvalid", b, err)
		}
	}
	if err := (TenantPatch{}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty patch accepted")
	}
	tz := "Atlantic/Canary"
	if err := (TenantPatch{Timezone: &tz}).Validate(); err != nil {
		t.Errorf("valid patch rejected: %v", err)
	}
}
