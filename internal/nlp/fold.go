package nlp

import (
	"strings"
	"unicode"
)

// FoldRune lowers r and takes its accent off, so that what guests type with
// or without accents, on a Spanish, French or Portuguese keyboard, reads
// alike: "Habitación", "habitacion" and "HABITACIÓN" are one word. ñ becomes
// n and ç becomes c, as guests without those keys write them, and the
// typographic apostrophe (’) of phone keyboards becomes the ASCII one (').
// It maps one rune to one rune, so offsets in a folded text are offsets in
// the original.
func FoldRune(r rune) rune {
	r = unicode.ToLower(r)
	switch r {
	case 'á', 'à', 'ä', 'â', 'ã', 'å':
		return 'a'
	case 'é', 'è', 'ë', 'ê':
		return 'e'
	case 'í', 'ì', 'ï', 'î':
		return 'i'
	case 'ó', 'ò', 'ö', 'ô', 'õ':
		return 'o'
	case 'ú', 'ù', 'ü', 'û':
		return 'u'
	case 'ñ':
		return 'n'
	case 'ç':
		return 'c'
	case '’':
		return '\''
	}
	return r
}

// Fold applies FoldRune to every rune of s.
func Fold(s string) string { return strings.Map(FoldRune, s) }

// foldRunes applies FoldRune to every rune of rs, in a new slice.
func foldRunes(rs []rune) []rune {
	out := make([]rune, len(rs))
	for i, r := range rs {
		out[i] = FoldRune(r)
	}
	return out
}
