package agent

import (
	"bytes"
	"testing"
)

// A plain text is said without executing its template: it must be exactly
// what executing it writes, for every text of every language.
func TestPlainTextsAreWhatTheirTemplatesWrite(t *testing.T) {
	plain := 0
	for lang, byKey := range templates {
		for key, ct := range byKey {
			if !ct.static {
				continue
			}
			plain++
			var b bytes.Buffer
			err := ct.t.Execute(&b, view{})
			if err != nil || b.String() != ct.plain {
				t.Errorf("%s/%s: plain %q, the template writes %q (error %v)", lang, key, ct.plain, b.String(), err)
			}
			if got := say(lang, textKey{name: key}, view{Hotel: "H", Guest: "G"}); got != b.String() {
				t.Errorf("%s/%s: say gives %q, the template %q", lang, key, got, b.String())
			}
		}
	}
	if plain == 0 {
		t.Fatal("no plain text found: the fast path is never taken")
	}
	t.Logf("%d plain texts", plain)
}
