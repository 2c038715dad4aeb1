package admin

import "testing"

func TestParseGuest(t *testing.T) {
	for _, c := range []struct {
		channel, in string
		want        GuestRef
		ok          bool
	}{
		{"", "+34 600 111 222", GuestRef{Channel: "whatsapp", Guest: "34600111222"}, true},
		{"", "34600111222", GuestRef{Channel: "whatsapp", Guest: "34600111222"}, true},
		{"whatsapp", "0034-600-111-222", GuestRef{Channel: "whatsapp", Guest: "34600111222"}, true},
		{"", "Ana@Example.COM", GuestRef{Channel: "gmail", Guest: "ana@example.com"}, true},
		{"gmail", "ana@example.com", GuestRef{Channel: "gmail", Guest: "ana@example.com"}, true},
		{"", "US.13491208655302741918", GuestRef{Channel: "whatsapp", Guest: "US.13491208655302741918"}, true},
		{"", "US.ENT.abc123", GuestRef{Channel: "whatsapp", Guest: "US.ENT.abc123"}, true},
		{"whatsapp", "BR.AbC9", GuestRef{Channel: "whatsapp", Guest: "BR.AbC9"}, true},
		{"", "us.1349", GuestRef{}, false},
		{"", "US_1349", GuestRef{}, false},
		{"", "US.13-49", GuestRef{}, false},
		{"", "", GuestRef{}, false},
		{"", "abc!def", GuestRef{}, false},
		{"", "12", GuestRef{}, false},
		{"", "pnid:106540352242922", GuestRef{}, false},
		{"gmail", "+34600111222", GuestRef{}, false},
		{"whatsapp", "ana@example.com", GuestRef{}, false},
	} {
		got, err := parseGuest(c.channel, c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseGuest(%q, %q) = %+v, %v; want %+v, ok %v", c.channel, c.in, got, err, c.want, c.ok)
		}
	}
}
