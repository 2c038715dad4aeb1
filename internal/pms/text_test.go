package pms

import (
	"encoding/json"
	"maps"
	"testing"
)

func TestTextIn(t *testing.T) {
	double := Text{"es": "Habitación doble", "en": "Double room"}
	for _, c := range []struct {
		text  Text
		langs []string
		want  string
	}{
		{double, []string{"en", "es"}, "Double room"},
		{double, []string{"es", "en"}, "Habitación doble"},
		{double, []string{"en-GB"}, "Double room"},
		{double, []string{"fr", "es"}, "Habitación doble"}, // the hotel's language next
		{double, []string{"fr"}, "Double room"},            // then the lowest code, every time
		{double, nil, "Double room"},
		{Text{"en": "Suite", "": "Suite Giralda"}, []string{"fr"}, "Suite Giralda"}, // untranslated before any other
		{Text{"es": "", "en": "Twin"}, []string{"es"}, "Twin"},                      // a blank text is no text
		{Untranslated("Double"), []string{"es", "en"}, "Double"},
		{nil, []string{"es"}, ""},
	} {
		if got := c.text.In(c.langs...); got != c.want {
			t.Errorf("%v.In(%v) = %q, want %q", c.text, c.langs, got, c.want)
		}
	}
	if !Text(nil).Empty() || !(Text{"es": ""}).Empty() || double.Empty() {
		t.Error("Empty")
	}
	if got := (Text{"es": "Suite", "en": "Suite", "fr": "Chambre"}).All(); len(got) != 2 || got[0] != "Suite" || got[1] != "Chambre" {
		t.Errorf("All = %q, want each text once, by language code", got)
	}
}

func TestTextJSON(t *testing.T) {
	for in, want := range map[string]Text{
		`{"es":"Doble","en":"Double"}`: {"es": "Doble", "en": "Double"},
		`"Double"`:                     {"": "Double"}, // kept before names had languages
		`""`:                           nil,
		`null`:                         nil,
	} {
		var got Text
		if err := json.Unmarshal([]byte(in), &got); err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: %v, %v; want %v", in, got, err, want)
		}
	}
	var bad Text
	if err := json.Unmarshal([]byte(`[1]`), &bad); err == nil {
		t.Error("a list read as a Text")
	}
}
