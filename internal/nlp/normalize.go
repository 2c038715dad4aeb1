package nlp

import (
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one word of a normalised message.
type token struct {
	w     string // canonical form: lowercase, no accents, abbreviations expanded, typos corrected
	id    int32  // vocabulary id of w when a pattern names it, else 0
	n     int    // value when the token is a number (digits or a number word); -1 otherwise
	ord   bool   // the number was written as an ordinal: 5th, 1º, 1ro, primero
	parts []int  // numeric literal with one kind of separator: 15/11, 2026-11-15, 5-7, 14:00
	sep   byte   // separator of parts
	brk   bool   // punctuation ends a clause right after this token
	si    bool   // "sí" written with its accent: an answer, never the conditional "si"
}

func (t token) isNum() bool { return t.n >= 0 && t.parts == nil }

// maxInput bounds the work done on one message: a guest message longer than
// this is a paste, and its head carries the request.
const maxInput = 4000

// normalize turns a message into canonical tokens and the e-mail addresses it contains.
func normalize(text string) ([]token, []string) {
	if len(text) > maxInput {
		cut := maxInput
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	text, emails := cutEmails(text)
	raw := lex(text)
	toks := make([]token, 0, len(raw)+4)
	for _, t := range raw {
		toks = appendCanonical(toks, t)
	}
	toks = mergePhrases(toks)
	for i := range toks {
		toks[i].id = vocab[toks[i].w]
	}
	return toks, emails
}

// cutEmails returns text with every e-mail address blanked out, and the
// addresses (lowercase), so their dots and digits never read as dates.
func cutEmails(text string) (string, []string) {
	if strings.IndexByte(text, '@') < 0 {
		return text, nil
	}
	b := []byte(text)
	var emails []string
	for at := 0; at < len(b); at++ {
		if b[at] != '@' {
			continue
		}
		lo := at
		for lo > 0 && isEmailLocal(b[lo-1]) {
			lo--
		}
		hi := at + 1
		for hi < len(b) && isEmailDomain(b[hi]) {
			hi++
		}
		for hi > at+1 && (b[hi-1] == '.' || b[hi-1] == '-') {
			hi--
		}
		for lo < at && b[lo] == '.' {
			lo++
		}
		if lo == at || !validDomain(string(b[at+1:hi])) {
			continue
		}
		emails = append(emails, strings.ToLower(string(b[lo:hi])))
		for i := lo; i < hi; i++ {
			b[i] = ' '
		}
		at = hi - 1
	}
	return string(b), emails
}

func isEmailLocal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0
}

func isEmailDomain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" {
			return false
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		c := tld[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

var ordinalSuffixes = map[string]bool{
	"st": true, "nd": true, "rd": true, "th": true, "ro": true, "ra": true, "er": true,
	"do": true, "da": true, "to": true, "ta": true, "vo": true, "va": true, "mo": true, "no": true, "º": true, "ª": true,
}

// lex splits folded text into raw tokens: words, numbers (with ordinal
// suffixes and separators such as 15/11 or 2026-11-15 kept together) and the
// few symbols that carry meaning (a spaced dash, "+", a thumbs-up).
func lex(text string) []token {
	rs := []rune(text)
	var out []token
	var sb strings.Builder
	brk := func() {
		if len(out) > 0 {
			out[len(out)-1].brk = true
		}
	}
	for i := 0; i < len(rs); {
		r := rs[i]
		f := FoldRune(r)
		switch {
		case unicode.IsDigit(r) && r < utf8.RuneSelf:
			// number, possibly a literal with one kind of separator
			var parts []int
			var sep byte
			for {
				v, j := 0, i
				for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
					if v < 1e6 {
						v = v*10 + int(rs[j]-'0')
					}
					j++
				}
				parts = append(parts, v)
				i = j
				if i+1 < len(rs) && strings.ContainsRune("/-.:", rs[i]) && rs[i+1] >= '0' && rs[i+1] <= '9' &&
					(sep == 0 || sep == byte(rs[i])) && len(parts) < 3 {
					sep = byte(rs[i])
					i++
					continue
				}
				break
			}
			t := token{n: -1}
			if len(parts) == 1 {
				t.n = parts[0]
				t.w = itoa(parts[0])
			} else {
				t.parts, t.sep = parts, sep
				t.w = "#lit"
			}
			// ordinal suffix written against the number: 5th, 1ro, 1º, 1°
			j := i
			for j < len(rs) && j-i < 3 && unicode.IsLetter(rs[j]) {
				j++
			}
			if t.parts == nil && j > i && (j == len(rs) || !unicode.IsLetter(rs[j])) {
				if ordinalSuffixes[Fold(string(rs[i:j]))] {
					t.ord = true
					i = j
				}
			}
			if !t.ord && t.parts == nil && i < len(rs) && rs[i] == '°' {
				t.ord = true
				i++
			}
			out = append(out, t)
			if m, year, next, ok := rangeMonth(rs, i, t); ok {
				// "24-27/12": a day range and its month (and year), read
				// as "24-27 de diciembre"
				out = append(out, token{w: "de", n: -1}, token{w: monthNamesES[m-1], n: -1})
				if year > 0 {
					out = append(out, token{w: itoa(year), n: year})
				}
				i = next
			}
		case unicode.IsLetter(r):
			sb.Reset()
			hasAccentI := false
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsMark(rs[j])) {
				if unicode.IsMark(rs[j]) {
					j++
					continue
				}
				if unicode.ToLower(rs[j]) == 'í' {
					hasAccentI = true
				}
				sb.WriteRune(FoldRune(rs[j]))
				j++
			}
			w := sb.String()
			i = j
			// p/ 2, c/ desayuno, w/ breakfast
			if i < len(rs) && rs[i] == '/' && len(w) == 1 {
				if exp, ok := slashAbbrev[w]; ok {
					out = append(out, token{w: exp, n: -1})
					i++
					continue
				}
			}
			// contractions: we'd, can't, what's, year's
			if i+1 < len(rs) && (rs[i] == '\'' || rs[i] == '’') && unicode.IsLetter(rs[i+1]) {
				k := i + 1
				for k < len(rs) && unicode.IsLetter(rs[k]) {
					k++
				}
				suf := strings.ToLower(string(rs[i+1 : k]))
				i = k
				for _, x := range contraction(w, suf) {
					out = append(out, token{w: x, n: -1})
				}
				continue
			}
			out = append(out, token{w: w, n: -1, si: w == "si" && hasAccentI})
		case r == '-' || r == '–' || r == '—':
			// a dash between spaces or between dates: "5 - 7 nov", "5/12-8/12";
			// between letters it only joins words: "check-in", "wi-fi"
			if i > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]) {
				i++
				continue
			}
			out = append(out, token{w: "-", n: -1})
			i++
		case r == '+' || r == '&':
			out = append(out, token{w: "+", n: -1})
			i++
		case r == '👍' || r == '👌' || r == '✅' || r == '✔':
			out = append(out, token{w: "thumbsup", n: -1})
			brk()
			i++
		case f == '.' || f == ',' || f == ';' || f == '!' || f == '?' || f == '¿' || f == '¡' || f == ':' ||
			f == '(' || f == ')' || f == '\n' || f == '…':
			brk()
			i++
		default:
			i++
		}
	}
	return out
}

var slashAbbrev = map[string]string{"p": "para", "c": "con", "s": "sin", "w": "with", "x": "por"}

// contraction expands an English contraction into words.
func contraction(w, suf string) []string {
	switch suf {
	case "t":
		switch w {
		case "can":
			return []string{"can", "not"}
		case "won":
			return []string{"will", "not"}
		case "don", "doesn", "didn", "isn", "aren", "wasn", "weren", "couldn", "wouldn", "shouldn", "haven", "hasn":
			return []string{strings.TrimSuffix(w, "n"), "not"}
		}
		return []string{w, "not"}
	case "d":
		return []string{w, "would"}
	case "s":
		switch w {
		case "what", "it", "that", "there", "here", "where", "who", "how", "when":
			return []string{w, "is"}
		case "let":
			return []string{"let", "us"}
		}
		return []string{w} // possessive: year's, hotel's
	case "m":
		return []string{w, "am"}
	case "re":
		return []string{w, "are"}
	case "ll":
		return []string{w, "will"}
	case "ve":
		return []string{w, "have"}
	}
	return []string{w + suf}
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// collapseRuns shortens runs of the same letter longer than max to one
// letter: "holaaa" → "hola" with max 2; "holaa" → "hola" with max 1.
func collapseRuns(w string, max int) string {
	if len(w) < 2 {
		return w
	}
	b := make([]byte, 0, len(w))
	for i := 0; i < len(w); {
		j := i
		for j < len(w) && w[j] == w[i] {
			j++
		}
		if j-i > max {
			b = append(b, w[i])
		} else {
			b = append(b, w[i:j]...)
		}
		i = j
	}
	return string(b)
}

// appendCanonical adds the canonical form(s) of one raw token.
func appendCanonical(toks []token, t token) []token {
	if t.n >= 0 || t.parts != nil || t.w == "-" || t.w == "+" {
		return append(toks, t)
	}
	w := canonicalWord(t.w)
	if strings.IndexByte(w, ' ') >= 0 {
		fs := strings.Fields(w)
		for i, f := range fs {
			nt := token{w: f, n: numberValue(f)}
			if i == len(fs)-1 {
				nt.brk = t.brk
			}
			toks = append(toks, nt)
		}
		return toks
	}
	t.w = w
	if v, ok := numberWords[w]; ok {
		t.n = v
	}
	if v, ok := ordinalWords[w]; ok {
		t.n, t.ord = v, true
	}
	return append(toks, t)
}

func numberValue(w string) int {
	if v, ok := numberWords[w]; ok {
		return v
	}
	return -1
}

// canonicalWord maps a folded word to the form the rules know: abbreviations
// expanded ("q" → "que", "finde" → "fin de semana"), stretched letters cut
// ("holaaa"), and misspellings of known words corrected by sound
// ("kiero" → "quiero", "abitacion") or by one slip of the finger.
func canonicalWord(w string) string {
	if x, ok := abbreviations[w]; ok {
		return x
	}
	if lexicon[w] {
		return w
	}
	w3 := collapseRuns(w, 2)
	if x, ok := abbreviations[w3]; ok {
		return x
	}
	if lexicon[w3] {
		return w3
	}
	w1 := collapseRuns(w3, 1)
	if x, ok := abbreviations[w1]; ok {
		return x
	}
	if lexicon[w1] {
		return w1
	}
	if len(w3) < 3 {
		return w3
	}
	if x, ok := soundIndex[soundKey(w3)]; ok {
		return x
	}
	if x, ok := soundIndex[soundKey(w1)]; ok {
		return x
	}
	if len(w3) >= 5 {
		if x, ok := nearestTarget(w3); ok {
			return x
		}
	}
	return w3
}

// soundKey spells a word the way Spanish sounds it, so that spellings guests
// confuse meet: b/v, c/s/z, c/k/qu, silent h, ll/y.
func soundKey(w string) string {
	b := make([]byte, 0, len(w))
	for i := 0; i < len(w); i++ {
		c := w[i]
		var next byte
		if i+1 < len(w) {
			next = w[i+1]
		}
		switch c {
		case 'v':
			c = 'b'
		case 'z':
			c = 's'
		case 'q':
			c = 'k'
			if next == 'u' {
				i++
			}
		case 'c':
			switch next {
			case 'e', 'i':
				c = 's'
			case 'h':
				b = append(b, 'c')
				i++
				c = 'h'
			default:
				c = 'k'
			}
		case 'h':
			continue
		case 'y':
			c = 'i'
		case 'l':
			if next == 'l' {
				i++
				c = 'i'
			}
		case 'w':
			c = 'u'
		}
		if len(b) > 0 && b[len(b)-1] == c {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// nearestTarget corrects a typo: the known content word within one edit
// (two for long words; a swap of neighbours counts as one).
func nearestTarget(w string) (string, bool) {
	max := 1
	if len(w) >= 9 {
		max = 2
	}
	best, bestD := "", max+1
	mask := letterMask(w)
	for l := len(w) - max; l <= len(w)+max; l++ {
		if l < 0 || l >= len(targetsByLen) {
			continue
		}
		for _, t := range targetsByLen[l] {
			// an edit changes at most two letters of the alphabet used
			if bits.OnesCount32(mask^t.mask) > 2*max {
				continue
			}
			if d := editDistance(w, t.w, bestD); d < bestD {
				best, bestD = t.w, d
			}
		}
	}
	return best, best != ""
}

type target struct {
	w    string
	mask uint32 // letters a..z the word uses
}

func letterMask(w string) uint32 {
	var m uint32
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'a' && c <= 'z' {
			m |= 1 << (c - 'a')
		} else {
			m |= 1 << 26
		}
	}
	return m
}

// editDistance is the optimal-string-alignment distance between a and b, or
// limit when it is at least limit.
func editDistance(a, b string, limit int) int {
	if abs(len(a)-len(b)) >= limit {
		return limit
	}
	var rows [3][24]int
	if len(b) >= len(rows[0]) || len(a) >= 64 {
		return limit
	}
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// wordPairs are two words the rules treat as one. "hay que dejar la
// habitación" is an obligation, not "there is".
var wordPairs = map[[2]string]string{
	{"check", "in"}:  "checkin",
	{"check", "out"}: "checkout",
	{"hay", "que"}:   "hay_que",
	{"wi", "fi"}:     "wifi",
}

// mergePhrases joins wordPairs ("check in" → "checkin", "wi fi" → "wifi")
// and rewrites "un par de"/"a couple of" as 2.
func mergePhrases(toks []token) []token {
	out := toks[:0]
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if i+1 < len(toks) && !t.brk {
			if w, ok := wordPairs[[2]string{t.w, toks[i+1].w}]; ok {
				t.w, t.brk = w, toks[i+1].brk
				out = append(out, t)
				i++
				continue
			}
		}
		if i+2 < len(toks) && (t.w == "un" && toks[i+1].w == "par" && toks[i+2].w == "de" ||
			t.w == "a" && toks[i+1].w == "couple" && toks[i+2].w == "of") {
			out = append(out, token{w: "2", n: 2, brk: toks[i+2].brk})
			i += 2
			continue
		}
		out = append(out, t)
	}
	return out
}

var monthNamesES = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
	"octubre", "noviembre", "diciembre"}

// rangeMonth reads the "/12" or "/12/2026" after a day range written with a
// dash ("24-27/12"): the month, the year when written, and where the text
// goes on.
func rangeMonth(rs []rune, i int, t token) (month, year, next int, ok bool) {
	if t.sep != '-' || len(t.parts) != 2 || i+1 >= len(rs) || rs[i] != '/' {
		return 0, 0, 0, false
	}
	num := func(j int) (int, int) {
		v, k := 0, j
		for k < len(rs) && k-j < 4 && rs[k] >= '0' && rs[k] <= '9' {
			v = v*10 + int(rs[k]-'0')
			k++
		}
		return v, k
	}
	m, j := num(i + 1)
	if j == i+1 || m < 1 || m > 12 || j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
		return 0, 0, 0, false
	}
	if j+1 < len(rs) && rs[j] == '/' && rs[j+1] >= '0' && rs[j+1] <= '9' {
		if y, k := num(j + 1); k-(j+1) == 2 || k-(j+1) == 4 {
			return m, fullYear(y), k, true
		}
	}
	return m, 0, j, true
}
