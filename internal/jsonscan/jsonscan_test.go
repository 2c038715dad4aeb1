package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

var seeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-1E-2`, `true`, `false`, `null`, ` {"a" : [1, 2.0, "x\n\u00e9\"", {"b":null}]} `,
	`{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"\x01\"", "\"\xff\xfe\"", `tru`, `nul`, `{"a"}`,
	`{"a":1 "b":2}`, `{a:1}`, `[1 2]`, `"abc`, `{"a":[}`, `{}x`, `{} {}`, ``, ` `, `{"\ud800":"\udfff"}`, "{\"a\":\"\x7f\"}",
	strings.Repeat("[", 99) + strings.Repeat("]", 99), strings.Repeat("[", 100) + strings.Repeat("]", 100),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"from":"1","text":{"body":"hola"}}]}}]}]}`,
}

// Valid is json.Valid: on the seeds and on every one-byte edit of them.
func TestValidIsTheLibrarys(t *testing.T) {
	for _, s := range seeds {
		check(t, []byte(s))
		if len(s) > 200 {
			continue
		}
		for i := range len(s) {
			check(t, []byte(s[:i]+s[i+1:]))
			for _, c := range []byte("\"{}[],:\\ 0-eE.+tnu\x00\x1f\xff") {
				b := []byte(s)
				b[i] = c
				check(t, b)
			}
		}
	}
}

func check(t testing.TB, b []byte) {
	t.Helper()
	if got, want := Valid(b), json.Valid(b); got != want {
		t.Fatalf("Valid(%q) = %v, json.Valid %v", b, got, want)
	}
	// The scanner itself never calls valid what is not.
	s := Scanner{b: b}
	s.Space()
	if s.Skip() {
		s.Space()
		if s.End() && !json.Valid(b) {
			t.Fatalf("the scanner took %q, which is not JSON", b)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range seeds {
		if len(s) < 1000 { // the deep ones are the test's: slow to mutate
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { check(t, b) })
}

func BenchmarkValid(b *testing.B) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Ana García"},"wa_id":"34620000001"}],"messages":[{"from":"34620000001","id":"wamid.cpu-1","timestamp":"1739321024","type":"text","text":{"body":"hola"}}]}}]}]}`)
	b.Run("jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
}

// check holds Valid to json.Valid, but a scanner that refused valid JSON
// would pass it (Valid falls back to the library): the numbers, at least,
// are held to the library in both directions.
func TestScannerReadsNumbersAsTheLibrary(t *testing.T) {
	for _, n := range []string{"0", "-0", "1.5", "-0.1e+10", "12E3", "123456", "1e-0", "0.0001", `[1.25,2e3,{"a":-7.5E-3}]`,
		"1.", "1e", "1e+", "-", ".5", "01", "1.e5", "-a", "1.5e"} {
		s := New([]byte(n))
		if got, want := s.Skip() && s.End(), json.Valid([]byte(n)); got != want {
			t.Errorf("%q: the scanner says %v, json.Valid %v", n, got, want)
		}
	}
}
