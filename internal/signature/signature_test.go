package signature

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := Sign("s", []byte("{}"))
	cases := map[string]error{
		good:                                  nil,
		strings.ToUpper(good[:7]) + good[7:]:  ErrMalformed, // prefix is case-sensitive
		"sha256=" + strings.ToUpper(good[7:]): nil,          // hex either case
		"":                                    ErrMalformed,
		"sha256=":                             ErrMalformed,
		good[:len(good)-1]:                    ErrMalformed, // truncated
		good + "0":                            ErrMalformed, // padded
		"sha1=" + good[7:47]:                  ErrMalformed,
		" " + good:                            ErrMalformed,
		"sha256=" + strings.Repeat("g", 64):   ErrMalformed,
	}
	for in, want := range cases {
		if _, err := Parse(in); err != want {
			t.Errorf("Parse(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestParseHeaderRefusesZeroOrSeveral(t *testing.T) {
	sig := Sign("s", nil)
	if _, err := ParseHeader(nil); err != ErrMissing {
		t.Errorf("no header: %v", err)
	}
	if _, err := ParseHeader([]string{sig, sig}); err != ErrMultiple {
		t.Errorf("two headers: %v", err)
	}
}

func TestVerifyWithRotation(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account"}`)
	v, err := NewVerifier("new-secret", "", "old-secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"new-secret", "old-secret"} {
		mac, _ := Parse(Sign(secret, body))
		if err := v.Verify(body, mac); err != nil {
			t.Errorf("signed with %s: %v", secret, err)
		}
	}
	mac, _ := Parse(Sign("other", body))
	if err := v.Verify(body, mac); err != ErrMismatch {
		t.Errorf("foreign secret: %v", err)
	}
	mac, _ = Parse(Sign("new-secret", body))
	if err := v.Verify(append(body, ' '), mac); err != ErrMismatch {
		t.Errorf("different body: %v", err)
	}
	if _, err := NewVerifier("", ""); err == nil {
		t.Error("a verifier without secrets must be refused")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Sign("s", []byte("x")))
	f.Add("sha256=")
	f.Add("sha1=abc")
	f.Add("sha256=" + strings.Repeat("A", 64))
	f.Fuzz(func(t *testing.T, in string) {
		mac, err := Parse(in)
		if err != nil {
			return
		}
		// Whatever parses must be exactly the canonical form of some MAC.
		if len(in) != 71 || !strings.EqualFold(in, Prefix+strings.ToLower(in[7:])) {
			t.Fatalf("accepted non-canonical %q", in)
		}
		if mac == ([sha256.Size]byte{}) && strings.Trim(in[7:], "0") != "" {
			t.Fatalf("parsed %q to zero MAC", in)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		body := []byte(strings.Repeat("a", size))
		v, _ := NewVerifier("secret")
		mac, _ := Parse(Sign("secret", body))
		b.Run(sizeName(size)+"/hmac", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if v.Verify(body, mac) != nil {
					b.Fatal("mismatch")
				}
			}
		})
		b.Run(sizeName(size)+"/sha256-floor", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_ = sha256.Sum256(body)
			}
		})
	}
}

func sizeName(n int) string { return fmt.Sprintf("%dKiB", n>>10) }
