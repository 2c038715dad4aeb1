package nlp

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Readers of the guest details a booking needs, in what guests type:
// "Juan Pérez", "me llamo Ana García López", "+34 600 111 222", "600111222".
// E-mail addresses are read by Analyze (Entities.Email).

// NameMode says how much a text must say before it is read as a name.
type NameMode int

const (
	// NameIntroduced: only a name after an unmistakable introduction ("me
	// llamo", "my name is", "a nombre de"): safe on any message.
	NameIntroduced NameMode = iota
	// NameAnswered: the reply to "who is the booking for?": a looser
	// introduction ("soy", "I'm") or, when bare is allowed, the name alone.
	NameAnswered
)

var (
	introducedNamePhrases = []string{
		"me llamo", "mi nombre es", "mi nombre completo es", "a nombre de", "nombre y apellidos", "nombre completo",
		"el titular es", "el titular sera",
		"my name is", "my name's", "my full name is", "under the name of", "under the name", "in the name of", "full name",
		"the lead guest is",
	}
	introducedNameIntros = newPhraseList(introducedNamePhrases...)
	answeredNameIntros   = newPhraseList(append([]string{
		"soy", "yo soy", "es", "nombre", "el nombre es", "nombre es", "de parte de", "name", "the name is", "name is", "name's", "i am", "i'm", "im", "this is", "it's", "its", "it is", "is",
	}, introducedNamePhrases...)...)
	surnameIntros = newPhraseList(
		"mi apellido es", "mis apellidos son", "apellidos", "apellido", "son", "es",
		"my surname is", "my last name is", "my family name is", "surname", "last name", "family name", "it's", "it is", "is",
	)
	phoneLabels = newPhraseList(
		"telefono", "tel", "tlf", "tfno", "movil", "celular", "numero de contacto", "whatsapp",
		"phone", "mobile", "cell", "phone number", "contact number",
	)

	// nameParticles join the words of a name ("María de la Fuente", "van
	// der Berg") and stay lower case.
	nameParticles = toSet("de", "del", "la", "las", "los", "da", "das", "do", "dos", "di", "du", "van", "von", "der", "den", "le")
	// honorifics before a name are skipped ("Sr. García").
	honorifics = toSet("sr", "sra", "srta", "senor", "senora", "mr", "mrs", "ms", "miss", "dr", "dra")
	// nameConnectors join two surnames ("Ortega y Gasset") when a
	// capitalised word follows; otherwise they end the name ("Ana y mi marido").
	nameConnectors = toSet("y", "e", "i", "and", "&")
	// notNames are everyday words: a reply made of them is not a name.
	notNames = toSet(
		"hola", "hi", "hello", "hey", "buenas", "buenos", "buen", "dias", "tardes", "noches", "gracias", "thanks", "thank",
		"ok", "okay", "vale", "si", "yes", "no", "not", "claro", "sure", "perfecto", "bien", "good", "fine", "genial",
		"que", "what", "quiero", "want", "queremos", "necesito", "need", "puedo", "can", "tengo", "have", "hay", "tiene",
		"para", "por", "for", "favor", "please", "con", "with", "sin", "without", "el", "the", "a", "an", "un", "una", "uno",
		"my", "mi", "mis", "your", "tu", "tus", "su", "sus", "es", "is", "soy", "am", "are", "yo", "i", "me", "you", "te", "se",
		"lo", "le", "este", "esta", "esto", "eso", "ese", "this", "that", "it", "reserva", "reservar", "booking", "book",
		"habitacion", "room", "email", "correo", "mail", "telefono", "phone", "movil", "nombre", "name", "apellido",
		"apellidos", "surname", "cancelar", "cancel", "ayuda", "help", "persona", "person", "humano", "human", "como",
		"how", "donde", "where", "cuando", "when", "porque", "why", "adios", "bye", "pero", "but", "o", "or", "ya", "aun",
		"todavia", "also", "tambien", "muy", "very", "quien", "who", "nada", "nothing", "algo", "something", "otro",
		"other", "sabes", "know", "se", "ahora", "now", "luego", "later", "despues", "mismo", "same", "igual", "dato",
		"datos", "details", "titular", "huesped", "guest", "cuenta", "account", "we", "nosotros", "somos", "hablar",
		"talk", "wait", "espera", "momento", "moment",
	)

	emailLikeRE = regexp.MustCompile(`\S+@\S*`)
)

// withoutEmails blanks e-mail addresses (and half-typed ones) out of text.
// Without an '@' nothing can match: the text is returned as the regexp
// would return it, without running it (twice a turn on every message).
func withoutEmails(text string) string {
	if strings.IndexByte(text, '@') < 0 {
		return text
	}
	return emailLikeRE.ReplaceAllString(text, " , ")
}

// phraseList holds folded phrases as runes, longest first (so "mi nombre
// completo es" wins over "mi nombre es"), prepared once for afterIntro.
type phraseList [][]rune

func newPhraseList(phrases ...string) phraseList {
	out := make(phraseList, len(phrases))
	for i, p := range phrases {
		out[i] = []rune(p)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// afterIntro finds the earliest of phrases (folded, whole words) in text and
// returns what follows it; found is false when none occurs.
func afterIntro(text string, phrases phraseList) (rest string, found bool) {
	rs := []rune(text)
	f := foldRunes(rs)
	for i := range f {
		if i > 0 && (unicode.IsLetter(f[i-1]) || unicode.IsDigit(f[i-1]) || f[i-1] == '\'') {
			continue
		}
		for _, p := range phrases {
			end := i + len(p)
			if end > len(f) || !slices.Equal(f[i:end], p) {
				continue
			}
			if end < len(f) && (unicode.IsLetter(f[end]) || unicode.IsDigit(f[end])) {
				continue
			}
			return strings.TrimLeft(string(rs[end:]), " \t:=-–—"), true
		}
	}
	return "", false
}

// nameWords reads the words of a name at the start of s, up to where the
// name ends (punctuation, a number, an everyday word). leadingParticle
// allows "de la Fuente" (a surname).
func nameWords(s string, leadingParticle bool) []string {
	return readNameWords(s, leadingParticle, false)
}

// readNameWords is nameWords; keepCapitalised takes a capitalised everyday
// word after the first one as part of the name ("Sue Park", "Tom Cancel",
// "Carmen Reserva"): safe only where a name is what was asked for.
func readNameWords(s string, leadingParticle, keepCapitalised bool) []string {
	fields := strings.Fields(s)
	var words []string
	for i, field := range fields {
		core := strings.TrimLeft(field, "\"'«“(¿¡")
		core = strings.TrimRight(core, ",;:!?.)»”\"")
		ends := core != strings.TrimLeft(field, "\"'«“(¿¡") // punctuation after the word ends the name
		if strings.HasSuffix(field, ".") && len([]rune(core)) == 1 {
			ends = false // an initial: "Ana M. García"
		}
		if core == "" {
			break
		}
		if !isNameWord(core) {
			break
		}
		w := Fold(strings.TrimSuffix(core, "."))
		switch {
		case len(words) == 0 && honorifics[w]:
			continue
		case nameConnectors[w]:
			next := ""
			if i+1 < len(fields) {
				next = strings.TrimLeft(fields[i+1], "\"'«“(")
			}
			if len(words) == 0 || ends || next == "" || !unicode.IsUpper([]rune(next)[0]) {
				return trimParticles(words)
			}
			words = append(words, w)
			continue
		case nameParticles[w]:
			if len(words) == 0 && !leadingParticle {
				return nil
			}
			words = append(words, w)
		case notNames[w] && !(keepCapitalised && len(words) > 0 && unicode.IsUpper([]rune(core)[0])):
			return trimParticles(words)
		default:
			if !ends && strings.HasSuffix(field, ".") {
				core += "." // the initial keeps its dot
			}
			words = append(words, capitalised(core))
		}
		if ends {
			break
		}
	}
	return trimParticles(words)
}

// isNameWord: letters, with apostrophes, hyphens or a final dot inside
// ("O'Brien", "Jean-Luc", "M.").
func isNameWord(w string) bool {
	letters := 0
	for _, r := range w {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == '\'' || r == '’' || r == '-' || r == '.':
		default:
			return false
		}
	}
	return letters > 0
}

func trimParticles(words []string) []string {
	for len(words) > 0 {
		w := words[len(words)-1]
		if !nameParticles[w] && !nameConnectors[w] {
			break
		}
		words = words[:len(words)-1]
	}
	return words
}

// capitalised writes a word typed all in lower case with its capital
// ("juan" → "Juan", "garcía-lópez" → "García-López"); other spellings
// ("McDonald", "DE LA O") are the guest's.
func capitalised(w string) string {
	if w != strings.ToLower(w) {
		return w
	}
	rs := []rune(w)
	up := true
	for i, r := range rs {
		if up && unicode.IsLetter(r) {
			rs[i] = unicode.ToUpper(r)
		}
		up = r == '-' || r == '\''
	}
	return string(rs)
}

// maxNameWords bounds a name: more words is a sentence.
const maxNameWords = 6

// ParseFullName reads a person's name from text: the first word is the first
// name, the rest the surnames ("Ana García López" → "Ana", "García López").
// bare allows a text that is only the name (in NameAnswered mode).
func ParseFullName(text string, mode NameMode, bare bool) (first, last string, ok bool) {
	text = withoutEmails(text)
	intros := introducedNameIntros
	if mode == NameAnswered {
		intros = answeredNameIntros
	}
	if seg, found := afterIntro(text, intros); found {
		if words := nameWords(seg, false); len(words) > 0 && len(words) <= maxNameWords {
			return words[0], strings.Join(words[1:], " "), true
		}
	}
	if mode != NameAnswered || !bare {
		return "", "", false
	}
	words := nameWords(text, false)
	if len(words) == 0 || len(words) > maxNameWords || clauseWords(text) > len(words)+1 {
		// A bare reply must be the name, give or take a word of courtesy:
		// "Juan Pérez gracias", not "Juan Pérez quiere saber si hay parking".
		return "", "", false
	}
	return words[0], strings.Join(words[1:], " "), true
}

// clauseWords counts the words of text's first clause (up to a comma, a
// semicolon, a question or exclamation mark, or a line break).
func clauseWords(text string) int {
	if i := strings.IndexAny(text, ",;!?\n"); i >= 0 {
		text = text[:i]
	}
	return len(strings.Fields(text))
}

// ParseSurname reads the surnames the guest gave when asked for them; a full
// name starting with the known first name counts ("Ana García" → "García").
func ParseSurname(text, first string, bare bool) (string, bool) {
	text = withoutEmails(text)
	read := func(seg string) []string {
		words := nameWords(seg, true)
		if len(words) > 1 && Fold(words[0]) == Fold(first) {
			words = words[1:]
		}
		if len(words) > maxNameWords-1 {
			return nil
		}
		return words
	}
	if seg, found := afterIntro(text, surnameIntros); found {
		if words := read(seg); len(words) > 0 {
			return strings.Join(words, " "), true
		}
	}
	if !bare {
		return "", false
	}
	words := read(text)
	if len(words) == 0 || clauseWords(text) > len(words)+2 {
		return "", false
	}
	return strings.Join(words, " "), true
}

// SplitProfileName splits a channel's profile name ("Ana García", "ana 🌸")
// into first name and surnames; nothing when it does not read as a name.
func SplitProfileName(name string) (first, last string) {
	words := nameWords(name, false)
	if len(words) == 0 || len(words) > maxNameWords {
		return "", ""
	}
	return words[0], strings.Join(words[1:], " ")
}

// Phone numbers: E.164 allows 15 digits; fewer than 7 is no number anyone
// can be called on.
const (
	MinPhoneDigits = 7
	maxPhoneDigits = 15
)

// ParsePhone finds the first phone number in text: an optional '+' (or
// "00"), then digits in groups separated by a space, dot, dash or
// parentheses, minDigits to 15 digits in all. It is returned as "+<digits>"
// when the guest gave the country code, else as the digits typed.
func ParsePhone(text string, minDigits int) (string, bool) {
	text = withoutEmails(text)
	rs := []rune(strings.NewReplacer("(", " ", ")", " ").Replace(text))
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	isSep := func(r rune) bool { return r == ' ' || r == '.' || r == '-' || r == '\u00a0' }
	for i := 0; i < len(rs); i++ {
		start := i
		plus := rs[i] == '+'
		if plus {
			i++
		}
		if i >= len(rs) || !isDigit(rs[i]) {
			i = start
			continue
		}
		if start > 0 && (unicode.IsLetter(rs[start-1]) || isDigit(rs[start-1]) || rs[start-1] == '-' && !plus) {
			// part of a word or code ("DEMO-000001"), not a number on its own
			for i < len(rs) && (isDigit(rs[i]) || unicode.IsLetter(rs[i])) {
				i++
			}
			continue
		}
		var digits []rune
		j := i
		for j < len(rs) {
			if isDigit(rs[j]) {
				digits = append(digits, rs[j])
				j++
				continue
			}
			k := j
			for k < len(rs) && k-j < 2 && isSep(rs[k]) {
				k++
			}
			if k > j && k < len(rs) && isDigit(rs[k]) {
				j = k
				continue
			}
			break
		}
		i = j
		if j < len(rs) && unicode.IsLetter(rs[j]) {
			continue // "12h", "600111222abc"
		}
		n := len(digits)
		d := string(digits)
		switch {
		case plus && n >= minDigits && n <= maxPhoneDigits:
			return "+" + d, true
		case !plus && strings.HasPrefix(d, "00") && n-2 >= minDigits && n-2 <= maxPhoneDigits:
			return "+" + d[2:], true
		case !plus && n >= minDigits && n <= maxPhoneDigits:
			return d, true
		}
	}
	return "", false
}

// ParseLabelledPhone reads a phone number the guest introduced as one ("mi
// teléfono es 600 111 222", "phone: +44 7911 123456").
func ParseLabelledPhone(text string) (string, bool) {
	rest, found := afterIntro(text, phoneLabels)
	if !found {
		return "", false
	}
	return ParsePhone(rest, MinPhoneDigits)
}
