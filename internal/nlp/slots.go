package nlp

import (
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Slots before intents: when the agent has asked for something (a name, an
// email, dates, a party), the reply is read as that first. Words inside a
// name ("Sue Park", "John Price", "Pablo Hora Cancela") are part of the name,
// not requests; only a clear change of mind ("mejor cancela", "actually,
// cancel") turns the reply into a request.

var (
	// changeMarkers announce that the guest changed their mind.
	changeMarkers = newPhraseList(
		"mejor", "al final", "pensandolo bien", "pensandolo mejor", "cambie de opinion", "cambie de idea",
		"actually", "on second thought", "on second thoughts", "changed my mind", "change of plans", "instead",
	)
	// dropPhrases drop what is being done, alone.
	dropPhrases = newPhraseList(
		"olvidalo", "olvidate", "olvida", "dejalo", "dejalo asi", "ya no", "no quiero reservar", "no reserves",
		"forget it", "never mind", "nevermind", "dont book", "don't book", "do not book",
	)
	cancelWords = toSet("cancel", "cancela", "cancelar", "cancelen", "cancelo", "cancele", "cancelala", "cancelalo",
		"anula", "anular", "anulen", "anulala", "cancelled", "canceled", "cancellation", "cancelacion")
	handoffPhrases = newPhraseList(
		"hablar con una persona", "hablar con alguien", "hablar con recepcion", "con un humano", "persona real",
		"talk to a person", "talk to someone", "talk to a human", "speak to someone", "speak to a person", "real person",
	)
	// answerWords are one-word replies that are a yes or a no, never a name.
	answerWords = toSet("dale", "sip", "sep", "sipi", "yep", "yeah", "yup", "nope", "nop", "okey", "oki", "okis", "listo",
		"va", "vale", "claro", "nah", "sure")
)

// ChangeOfMind reports the request a reply to the agent's question makes
// instead of answering it, when it clearly makes one: a cancellation
// ("mejor cancela", "actually, cancel", "cancela la reserva", "olvídalo") or
// a person ("quiero hablar con una persona"). It is "" otherwise: the reply
// is read as the answer.
func ChangeOfMind(text string) Intent {
	f := Fold(strings.ToLower(text))
	words := strings.FieldsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	hasCancel := false
	for _, w := range words {
		if cancelWords[w] {
			hasCancel = true
		}
	}
	if _, ok := afterIntro(f, handoffPhrases); ok {
		return HumanHandoff
	}
	if _, ok := afterIntro(f, dropPhrases); ok {
		return CancelReservation
	}
	if _, ok := afterIntro(f, changeMarkers); ok && hasCancel {
		return CancelReservation
	}
	// A command: the first word is the verb, typed as one ("cancela",
	// "Cancel please", "no, cancelar"), not a capitalised surname after a
	// first name.
	for len(words) > 0 && (words[0] == "no" || words[0] == "ok" || words[0] == "pues" || words[0] == "please" || words[0] == "porfa") {
		words = words[1:]
	}
	if len(words) > 0 && cancelWords[words[0]] {
		return CancelReservation
	}
	return ""
}

// ReadAnsweredName reads the reply to "who is the booking for?": the name
// after an introduction ("soy", "a nombre de", "my name's") or the name
// alone, words in it included ("Sue Park", "Tom Cancel"), with or without
// an email beside it. A question, a change of mind, a yes or a no, and a
// lower-case request ("tienen parking") are not names.
func ReadAnsweredName(text string, now time.Time) (first, last string, ok bool) {
	if ChangeOfMind(text) != "" {
		return "", "", false
	}
	clean := strings.TrimLeft(withoutEmails(text), " ,;:\t\r\n")
	if seg, found := afterIntro(clean, answeredNameIntros); found {
		if words := readNameWords(seg, false, true); len(words) > 0 && len(words) <= maxNameWords {
			return words[0], strings.Join(words[1:], " "), true
		}
	}
	if strings.ContainsAny(text, "?¿") {
		return "", "", false
	}
	words := readNameWords(clean, false, true)
	if len(words) == 0 || len(words) > maxNameWords || clauseWords(clean) > len(words)+1 {
		return "", "", false
	}
	if len(words) == 1 && answerWords[Fold(strings.ToLower(words[0]))] {
		return "", "", false
	}
	if !typedAsName(clean) {
		// Typed all in lower case: a name only when the message asks for
		// nothing ("juan perez", not "tienen parking").
		r := Analyze(text, now)
		if r.Intent != Unknown || r.Answer != "" {
			return "", "", false
		}
	}
	return words[0], strings.Join(words[1:], " "), true
}

// ReadAnsweredSurname reads the reply to "what is your surname?", words in
// it included ("Park", "Hora Cancela"); a full name starting with the known
// first name counts.
func ReadAnsweredSurname(text, first string) (string, bool) {
	if ChangeOfMind(text) != "" {
		return "", false
	}
	clean := strings.TrimLeft(withoutEmails(text), " ,;:\t\r\n")
	read := func(seg string) []string {
		words := readNameWords(seg, true, true)
		if len(words) > 1 && Fold(words[0]) == Fold(first) {
			words = words[1:]
		}
		if len(words) > maxNameWords-1 {
			return nil
		}
		return words
	}
	if seg, found := afterIntro(clean, surnameIntros); found {
		if words := read(seg); len(words) > 0 {
			return strings.Join(words, " "), true
		}
	}
	if strings.ContainsAny(text, "?¿") {
		return "", false
	}
	words := read(clean)
	if len(words) == 0 || clauseWords(clean) > len(words)+2 {
		return "", false
	}
	if len(words) == 1 && answerWords[Fold(strings.ToLower(words[0]))] {
		return "", false
	}
	return strings.Join(words, " "), true
}

// typedAsName reports whether the text's first letter is a capital or a
// letter of a script without case (王小明): how people write their names.
func typedAsName(text string) bool {
	for _, r := range text {
		if unicode.IsLetter(r) {
			return unicode.IsUpper(r) || !unicode.IsLower(r)
		}
	}
	return false
}

// withoutIntroducedName blanks the name a message introduces ("my name is
// Sofia Monday", "a nombre de Marta Viernes") so that its words are not read
// as dates, rooms or requests.
func withoutIntroducedName(text string) string {
	first, last, ok := ParseFullName(text, NameIntroduced, false)
	if !ok {
		return text
	}
	name := strings.Fields(Fold(strings.ToLower(strings.TrimSpace(first + " " + last))))
	type span struct{ start, end int }
	var fields []span
	start := -1
	for i, r := range text {
		if unicode.IsSpace(r) {
			if start >= 0 {
				fields = append(fields, span{start, i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		fields = append(fields, span{start, len(text)})
	}
	core := func(s span) string {
		return Fold(strings.ToLower(strings.Trim(text[s.start:s.end], "\"'«“(¿¡,;:!?.)»”")))
	}
	for i := 0; i+len(name) <= len(fields); i++ {
		match := true
		for j, w := range name {
			if core(fields[i+j]) != w {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		lastField := fields[i+len(name)-1]
		tail := strings.TrimLeft(text[lastField.start:lastField.end], "\"'«“(¿¡")
		trail := tail[len(strings.TrimRight(tail, ",;:!?.)»”\"")):]
		return text[:fields[i].start] + trail + text[lastField.end:]
	}
	return text
}

// perNightRE finds a question about the price of one night ("¿y por
// noche?", "x noche", "per night?", "a night", "nightly rate"), on folded text.
var perNightRE = regexp.MustCompile(`(^|[^a-z])((por|x|la|cada|each|per|a) (noche|night|nite)|nightly|pernoctacion)([^a-z]|$)`)

// asksPerNight reports whether text asks for the price of one night.
func asksPerNight(text string) bool { return perNightRE.MatchString(Fold(strings.ToLower(text))) }
