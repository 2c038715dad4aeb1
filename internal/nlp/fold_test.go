package nlp

import (
	"testing"
	"unicode"
)

// TestFoldCoversEveryAccentItReplaced: the analyzer's words, the guest-detail
// readers' phrases and the agent's button, offer, room and amenity names were
// once folded by three functions that each knew other characters. Fold is the
// one left; it must fold everything each of them did, in both cases.
func TestFoldCoversEveryAccentItReplaced(t *testing.T) {
	folds := map[string]map[rune]rune{
		"message words": {
			'á': 'a', 'à': 'a', 'ä': 'a', 'â': 'a', 'ã': 'a', 'å': 'a',
			'é': 'e', 'è': 'e', 'ë': 'e', 'ê': 'e',
			'í': 'i', 'ì': 'i', 'ï': 'i', 'î': 'i',
			'ó': 'o', 'ò': 'o', 'ö': 'o', 'ô': 'o', 'õ': 'o',
			'ú': 'u', 'ù': 'u', 'ü': 'u', 'û': 'u',
			'ñ': 'n', 'ç': 'c',
		},
		"guest details": {
			'á': 'a', 'à': 'a', 'ä': 'a', 'â': 'a',
			'é': 'e', 'è': 'e', 'ë': 'e', 'ê': 'e',
			'í': 'i', 'ì': 'i', 'ï': 'i', 'î': 'i',
			'ó': 'o', 'ò': 'o', 'ö': 'o', 'ô': 'o',
			'ú': 'u', 'ù': 'u', 'ü': 'u', 'û': 'u',
			'ñ': 'n', '’': '\'',
		},
		"names and titles": {
			'á': 'a', 'é': 'e', 'í': 'i', 'ó': 'o', 'ú': 'u', 'ü': 'u', 'ñ': 'n',
			'Á': 'a', 'É': 'e', 'Í': 'i', 'Ó': 'o', 'Ú': 'u', 'Ü': 'u', 'Ñ': 'n',
		},
	}
	for set, pairs := range folds {
		for from, to := range pairs {
			if got := FoldRune(from); got != to {
				t.Errorf("%s: FoldRune(%q) = %q, want %q", set, from, got, to)
			}
			for _, r := range []rune{from, unicode.ToUpper(from)} {
				if got := Fold(string(r)); got != string(to) {
					t.Errorf("%s: Fold(%q) = %q, want %q", set, r, got, string(to))
				}
			}
		}
	}
	for in, want := range map[string]string{
		"Habitación DOBLE": "habitacion doble",
		"Niño Ñandú":       "nino nandu",
		"Ça va, São Paulo": "ca va, sao paulo",
		"it’s O’Brien":     "it's o'brien",
		"  Suite 2 ":       "  suite 2 ", // folding keeps length: spaces stay
		"🙂 ß":              "🙂 ß",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
		if len([]rune(Fold(in))) != len([]rune(in)) {
			t.Errorf("Fold(%q) changed the number of runes", in)
		}
	}
}
