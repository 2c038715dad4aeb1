package chat

import (
	"encoding/json"
	"testing"
)

// A string read without the second decode is what the decode gives, and
// anything else still takes it.
func TestLenientStringPlainPathMatchesTheDecoder(t *testing.T) {
	for _, raw := range []string{`""`, `"Ana García"`, `"a\"b"`, `"a\\b"`, `"\u00f1"`, "\"a\x01b\"", "\"bad \xff\"", `"x`, `x"`, `"`,
		`7`, `null`, `{"a":1}`, `"日本語"`, `"tab	in"`, `"emoji 😀"`} {
		var got LenientString
		if err := got.UnmarshalJSON([]byte(raw)); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		var want string
		if len(raw) > 0 && raw[0] == '"' {
			if json.Unmarshal([]byte(raw), &want) != nil {
				want = ""
			}
		}
		if string(got) != want {
			t.Errorf("%q: %q, the decoder gives %q", raw, got, want)
		}
	}
}
