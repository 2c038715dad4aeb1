package nlp

import (
	"strings"
	"unicode"
)

// A guest picks one of the options the agent listed (the hotel's room
// types, by the PMS's own names, in any language the hotel chose) by its
// number ("2", "la segunda", "the second one") or by its name, whole or in
// part ("Quiero reservar la General Rooms", "la general", "delux").

var (
	// choiceFillers are the words around a number that still leave it a
	// choice: "quiero la 2", "me quedo con la segunda", "option 3 please".
	choiceFillers = toSet("la", "el", "lo", "los", "las", "the", "de", "of", "que", "quiero", "quisiera", "prefiero",
		"me", "quedo", "con", "opcion", "option", "numero", "number", "nº", "n", "habitacion", "room", "please", "por",
		"favor", "i", "will", "take", "want", "would", "like", "esa", "ese", "esta", "este", "that", "this", "elijo",
		"choose", "reservar", "reserve", "book", "go", "with", "y", "and", "pues", "entonces", "then")
	// choiceOrdinals are the spelled ordinals the analyzer does not number.
	choiceOrdinals = map[string]int{
		"primera": 1, "segunda": 2, "segundo": 2, "tercera": 3, "tercero": 3, "cuarta": 4, "cuarto": 4,
		"quinta": 5, "quinto": 5, "sexta": 6, "sexto": 6, "septima": 7, "septimo": 7, "octava": 8, "octavo": 8,
		"novena": 9, "noveno": 9, "decima": 10, "decimo": 10,
	}
	lastWords = toSet("ultima", "ultimo", "last")
)

// ParseChoice reads which of count numbered options a reply picks by its
// number: "2", "la 2", "la segunda", "the second one", "opción 3", "la
// última". ok is false when the reply says more than a number (a party, a
// date, a question) or the number is not an option's.
func ParseChoice(text string, count int) (int, bool) {
	ts, _ := normalize(text)
	type candidate struct {
		n       int
		article bool // "una", "one": a number only when nothing else is
	}
	var found []candidate
	for _, t := range ts {
		switch {
		case choiceOrdinals[t.w] > 0:
			found = append(found, candidate{n: choiceOrdinals[t.w]})
		case lastWords[t.w]:
			found = append(found, candidate{n: count})
		case t.isNum():
			found = append(found, candidate{n: t.n, article: spelledOne[t.w]})
		case choiceFillers[t.w] || yesSet[t.w] || t.w == "ones":
		default:
			return 0, false
		}
	}
	var picked []int
	for _, c := range found {
		if !c.article || len(found) == 1 {
			picked = append(picked, c.n)
		}
	}
	if len(picked) != 1 || picked[0] < 1 || picked[0] > count {
		return 0, false
	}
	return picked[0], true
}

// roomWords are the words of room names that say what every room is
// ("General Rooms", "Habitación Doble"): they pick no room by themselves.
var roomWords = toSet("room", "rooms", "habitacion", "habitaciones", "hab", "cuarto", "cuartos", "tipo", "type")

// nameStopWords join the words of a name and pick nothing.
var nameStopWords = toSet("de", "del", "la", "el", "los", "las", "lo", "the", "a", "an", "of", "y", "and", "con", "with",
	"en", "in", "para", "for", "por", "un", "una", "uno", "one", "al", "o", "or", "mi", "my")

// labelWords are the folded words of s, split at anything not a letter or digit.
func labelWords(s string) []string {
	return strings.FieldsFunc(Fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// MatchNames returns the indexes of the names text picks: every name it
// contains whole, the longest first ("la Suite Alhambra" picks "Suite
// Alhambra" over "Suite"); else the names sharing the most words with it,
// ignoring case and accents, where a word may be cut short ("exec",
// "delux" for "Deluxe"). Words every room has ("room", "habitación") only
// break ties. Several indexes mean the text fits them alike ("la doble" for
// "Doble Giralda" and "Doble Superior"); none, that it names none.
func MatchNames(text string, names []string) []int {
	words := labelWords(text)
	var whole []int
	longest := 0
	for i, name := range names {
		nw := labelWords(name)
		if len(nw) == 0 || !containsRun(words, nw) {
			continue
		}
		switch {
		case len(nw) > longest:
			whole, longest = []int{i}, len(nw)
		case len(nw) == longest:
			whole = append(whole, i)
		}
	}
	if whole != nil {
		return whole
	}
	var best []int
	bestScore := 0
	for i, name := range names {
		score := partScore(words, labelWords(name))
		switch {
		case score == 0 || score < bestScore:
		case score > bestScore:
			best, bestScore = []int{i}, score
		default:
			best = append(best, i)
		}
	}
	return best
}

// partScore counts the guest's words that name words of a name, those of
// roomWords a hundredth as much; 0 when only roomWords match.
func partScore(words, name []string) int {
	specific, generic := 0, 0
	seen := map[string]bool{}
	for _, g := range words {
		if seen[g] || nameStopWords[g] || len([]rune(g)) < 3 || isDigits(g) {
			continue
		}
		seen[g] = true
		for _, w := range name {
			if !wordMatches(g, w) {
				continue
			}
			if roomWords[w] {
				generic++
			} else {
				specific++
			}
			break
		}
	}
	if specific == 0 {
		return 0
	}
	return 100*specific + generic
}

// wordMatches reports whether the guest's word g stands for the name's
// word w: the same, its plural ("suites" for "Suite"), or, for a word the
// analyzer does not know, g cut short (four letters or more: "exec") or w
// with a couple of letters more ("deluxe" for "Delux"). A known word is
// itself: "junio" is a month, not "Junior" cut short.
func wordMatches(g, w string) bool {
	switch {
	case g == w, g == w+"s", g == w+"es":
		return true
	case lexicon[g]:
		return false
	case len(g) >= 4 && strings.HasPrefix(w, g):
		return true
	case len(w) >= 4 && strings.HasPrefix(g, w) && len(g)-len(w) <= 2:
		return true
	}
	return false
}

func containsRun(words, run []string) bool {
	for i := 0; i+len(run) <= len(words); i++ {
		match := true
		for j := range run {
			if words[i+j] != run[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
