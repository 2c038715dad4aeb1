package nlp

import "strings"

var (
	adultNouns  = []string{"adulto", "adultos", "adult", "adults", "mayores", "grownups"}
	childNouns  = []string{"nino", "ninos", "nina", "ninas", "nene", "nena", "hijo", "hijos", "hija", "hijas", "menor", "menores", "bebe", "bebes", "kid", "kids", "child", "children", "baby", "babies", "infant", "infants", "toddler", "toddlers", "teen", "teens", "crio", "crios", "peque", "peques", "chiquito", "chiquitos"}
	peopleNouns = []string{"persona", "personas", "people", "person", "persons", "guest", "guests", "huesped", "huespedes", "pasajero", "pasajeros"}
	nightNouns  = []string{"noche", "noches", "night", "nights"}
	// unitNouns after a number say it is not a day of the month nor a party size.
	unitNouns = []string{"hora", "horas", "hour", "hours", "h", "minuto", "minutos", "min", "mins", "minutes", "am", "pm",
		"euros", "euro", "eur", "dolares", "dolar", "usd", "pesos", "dollars", "bucks", "habitacion", "habitaciones", "room", "rooms",
		"cama", "camas", "bed", "beds", "piso", "floor", "estrellas", "stars", "semana", "semanas", "week", "weeks", "dia",
		"dias", "day", "days", "mes", "meses", "month", "months", "ano", "anos", "year", "years", "km", "metros", "cuadras",
		"por", "x", "veces", "times", "maletas", "bags", "autos", "coches", "cars", "perros", "dogs", "noche", "noches", "night",
		"nights", "of", "ninos", "kids", "adultos", "adults", "personas", "people"}
	spouseNouns = []string{"esposa", "esposo", "marido", "mujer", "novia", "novio", "pareja", "wife", "husband", "partner", "girlfriend", "boyfriend", "fiance", "fiancee"}
	yesWords    = []string{"si", "dale", "ok", "okay", "okey", "oki", "vale", "yes", "yeah", "yep", "yup", "sure", "confirmo", "confirmar",
		"confirmado", "confirm", "confirmed", "claro", "perfecto", "perfect", "listo", "correcto", "exacto", "afirmativo", "adelante",
		"thumbsup", "genial", "great", "alright", "obvio", "excelente", "excellent", "sale", "va", "acepto", "accept", "bien", "sisi", "sip"}
	noWords       = []string{"no", "nope", "nah", "negativo", "negative", "cancelar", "cancel", "nunca", "never", "tampoco"}
	answerFillers = []string{"gracias", "thanks", "thank", "you", "por", "favor", "please", "muchas", "mil", "hola", "muy", "bien", "entonces",
		"pues", "so", "then", "bueno", "well", "eso", "that", "is", "es", "todo", "mejor", "de", "acuerdo", "supuesto", "go", "ahead",
		"que", "it", "lo", "la", "hazlo", "do", "jaja", "jajaja", "jeje", "jejeje", "haha", "hahaha", "lol", "jaj"}
	strongYes = toSet("dale", "ok", "okay", "okey", "oki", "vale", "yes", "yeah", "yep", "yup", "sure", "confirmo", "confirmar",
		"confirmado", "confirm", "confirmed", "claro", "perfecto", "perfect", "listo", "correcto", "exacto", "afirmativo", "adelante",
		"thumbsup", "genial", "alright", "obvio", "acepto", "excelente", "buenisimo", "buenisima", "barbaro", "joya", "sounds", "sisi")
	leadFillers = toSet("jaja", "jajaja", "jeje", "jejeje", "haha", "hahaha", "lol", "jaj", "bueno", "well", "hola", "hi", "hey",
		"entonces", "pues", "so", "mmm", "mm", "ah", "oh", "uh", "eh", "oye", "che")
	strongNo    = toSet("nope", "nah", "negativo", "negative", "nop", "noup", "nel")
	urgentWords = []string{"urgente", "urgentes", "urgentemente", "urgencia", "emergencia", "emergencias", "urgent", "urgently", "emergency",
		"asap", "inmediatamente", "inmediato", "immediately", "socorro", "auxilio", "intruder", "burglar", "thief"}
	inHints  = []string{"llegada", "llegamos", "llego", "llegar", "llegaria", "llegariamos", "entrada", "entrar", "ingreso", "ingresar", "checkin", "arrive", "arriving", "arrival", "desde", "from", "starting", "since"}
	outHints = []string{"hasta", "until", "till", "salida", "salir", "salimos", "salgo", "checkout", "irnos", "irme", "vamos", "voy", "leave", "leaving", "departure", "depart", "dejar", "dejamos", "desalojar"}
)

func toSet(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

var (
	adultSet, childSet, peopleSet = toSet(adultNouns...), toSet(childNouns...), toSet(peopleNouns...)
	nightSet, unitSet, spouseSet  = toSet(nightNouns...), toSet(unitNouns...), toSet(spouseNouns...)
	yesSet, noSet, fillerSet      = toSet(yesWords...), toSet(noWords...), toSet(answerFillers...)
	urgentSet, inHintSet          = toSet(urgentWords...), toSet(inHints...)
	outHintSet                    = toSet(outHints...)
)

func (ts tokens) w(i int) string {
	if i < 0 || i >= len(ts) {
		return ""
	}
	return ts[i].w
}

type tokens []token

// readGuests finds the party: "2 adultos y 1 niño", "somos 3", "p/ 2",
// "a couple", "mi esposa y yo".
func readGuests(ts tokens) (adults, children int) {
	explicit, total := 0, 0
	for i, t := range ts {
		if (t.w == "a" || t.w == "an") && (childSet[ts.w(i+1)] || adultSet[ts.w(i+1)]) {
			t.n = 1 // "two adults and a child"
		}
		if t.isNum() && !t.ord && t.n >= 1 && t.n <= 30 {
			nx := ts.w(i + 1)
			switch {
			case nx == "pareja" || nx == "couple" || nx == "familia" || nx == "family":
				continue // "una pareja" is two; "una familia de 5" is five
			case adultSet[nx]:
				explicit += t.n
				continue
			case childSet[nx]:
				children += t.n
				continue
			case peopleSet[nx]:
				if pv := ts.w(i - 1); t.n == 1 && (pv == "con" || pv == "with" || pv == "to") {
					continue // hablar con una persona
				}
				if total == 0 {
					total = t.n
				}
				continue
			}
			if total != 0 || unitSet[nx] || nightSet[nx] || monthWords[nx] > 0 || nx == "de" && monthWords[ts.w(i+2)] > 0 ||
				len(ts) > i+1 && ts[i+1].parts != nil {
				continue
			}
			pv, pv2 := ts.w(i-1), ts.w(i-2)
			if pv == "somos" || pv == "seremos" || pv == "seriamos" || pv == "para" || pv == "for" ||
				pv == "are" && pv2 == "we" || pv == "of" && (pv2 == "party" || pv2 == "group") ||
				pv == "de" && (pv2 == "grupo" || pv2 == "familia") || pv == "of" && pv2 == "family" {
				total = t.n
			}
			continue
		}
		switch {
		case t.w == "pareja" || t.w == "couple":
			if total == 0 && explicit == 0 {
				total = 2
			}
		case spouseSet[t.w] && (ts.w(i-1) == "mi" || ts.w(i-1) == "my"):
			if total == 0 && explicit == 0 {
				total = 2
			}
		case (t.w == "solo" || t.w == "sola" || t.w == "just" || t.w == "only") && (ts.w(i+1) == "yo" || ts.w(i+1) == "me" ||
			ts.w(i+1) == "para" && ts.w(i+2) == "mi"):
			if total == 0 && explicit == 0 {
				total = 1
			}
		case (t.w == "just" || t.w == "only") && ts.w(i+1) == "for" && (ts.w(i+2) == "me" || ts.w(i+2) == "myself"),
			t.w == "myself" && (ts.w(i-1) == "just" || ts.w(i-1) == "for"),
			(t.w == "voy" || t.w == "viajo" || t.w == "vengo" || t.w == "estoy") && (ts.w(i+1) == "solo" || ts.w(i+1) == "sola"),
			(t.w == "travelling" || t.w == "traveling") && ts.w(i+1) == "alone":
			if total == 0 && explicit == 0 {
				total = 1
			}
		case t.w == "yo" && (ts.w(i+1) == "solo" || ts.w(i+1) == "sola"):
			if total == 0 && explicit == 0 {
				total = 1
			}
		}
	}
	if explicit > 0 {
		return explicit, children
	}
	return total, children
}

// readNights finds "3 noches", "two nights", "una semana".
func readNights(ts tokens) int {
	for i, t := range ts {
		if !t.isNum() || t.ord || t.n < 1 {
			continue
		}
		nx := ts.w(i + 1)
		if nightSet[nx] && t.n <= 60 {
			return t.n
		}
		if (nx == "semana" || nx == "semanas" || nx == "week" || nx == "weeks") && t.n <= 4 {
			return 7 * t.n
		}
	}
	for i, t := range ts {
		if t.w == "a" && ts.w(i+1) == "week" && ts.w(i-1) != "per" {
			return 7
		}
	}
	return 0
}

type roomRule struct {
	typ   string
	pats  []pattern
	words []string
}

var roomRules = func() []roomRule {
	var rs []roomRule
	for _, v := range roomVocabulary {
		r := roomRule{typ: v.category}
		for _, src := range v.asked {
			p := compile(src)
			r.pats = append(r.pats, p)
			for _, st := range p.steps {
				r.words = append(r.words, st.words...)
			}
		}
		rs = append(rs, r)
	}
	return rs
}()

func readRoomType(ts tokens) string {
	for _, r := range roomRules {
		for _, p := range r.pats {
			if p.match(ts) {
				return r.typ
			}
		}
	}
	return ""
}

type topicRule struct {
	topic   string
	pattern string
	pat     pattern
}

var topicRules = func() []topicRule {
	var rs []topicRule
	for _, v := range topicVocabulary {
		for _, src := range v.asked {
			rs = append(rs, topicRule{topic: v.topic, pattern: src, pat: compile(src)})
		}
	}
	return rs
}()

// topicQuestion is "¿tienen wifi?", "is there a pool": asking whether the
// hotel has something, which is hotel info even when a room is named.
var topicQuestion = func() pattern {
	var ws []string
	for _, r := range topicRules {
		if r.topic == TopicAddress || r.topic == TopicCheckInTime || r.topic == TopicCheckOutTime || len(r.pat.steps) != 1 {
			continue
		}
		ws = append(ws, r.pat.steps[0].words...)
	}
	return compile("tienen|tiene|hay|there|have|has|ofrecen|offer|incluye|incluyen|include|includes|con|with ~2 " + strings.Join(ws, "|"))
}()

func readTopics(ts tokens) []string {
	found := map[string]bool{}
	for _, r := range topicRules {
		if !found[r.topic] && r.pat.match(ts) {
			found[r.topic] = true
		}
	}
	// "a qué hora es el check in y el check out": one time word serves both
	if found[TopicCheckInTime] != found[TopicCheckOutTime] {
		for _, t := range ts {
			if t.w == "checkin" {
				found[TopicCheckInTime] = true
			}
			if t.w == "checkout" {
				found[TopicCheckOutTime] = true
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	out := make([]string, 0, len(found))
	for _, v := range topicVocabulary {
		if found[v.topic] {
			out = append(out, v.topic)
		}
	}
	return out
}

// readAnswer reads a confirmation or a denial at the start of the message.
func readAnswer(ts tokens) Answer {
	start := 0
	for round := 0; round < 3 && start < len(ts); round++ {
		end := start
		for end < len(ts) && !ts[end].brk {
			end++
		}
		if end < len(ts) {
			end++
		}
		clause := ts[start:end]
		// "jeje ok", "bueno dale", "hola sí": the answer follows a filler
		for len(clause) > 1 && leadFillers[clause[0].w] {
			clause = clause[1:]
		}
		first := clause[0]
		allOf := func(sets ...map[string]bool) bool {
			for _, t := range clause {
				ok := false
				for _, s := range sets {
					if s[t.w] {
						ok = true
						break
					}
				}
				if !ok {
					return false
				}
			}
			return true
		}
		switch {
		case first.si || strongYes[first.w]:
			return Yes
		case strongNo[first.w]:
			return No
		case first.w == "si" && allOf(yesSet, fillerSet):
			return Yes
		case first.w == "de" && clause.w(1) == "acuerdo", first.w == "por" && clause.w(1) == "supuesto",
			first.w == "of" && clause.w(1) == "course", first.w == "go" && clause.w(1) == "ahead",
			first.w == "sounds" && clause.w(1) == "good",
			first.w == "de" && clause.w(1) == "una" && len(clause) == 2:
			return Yes
		case first.w == "para" && clause.w(1) == "nada" && len(clause) <= 3:
			return No
		case first.w == "no" && (len(clause) == 1 || allOf(noSet, fillerSet) || fillerSet[clause.w(1)] && clause.w(1) != "que" && clause.w(1) != "es" && clause.w(1) != "lo" && clause.w(1) != "la"):
			return No
		case first.w == "mejor" && clause.w(1) == "no" && len(clause) <= 3:
			return No
		case (first.w == "cancelar" || first.w == "cancel") && len(ts) == 1:
			return No
		case allOf(fillerSet):
			start = end
			continue
		}
		return ""
	}
	return ""
}

func (ts tokens) hasAny(set map[string]bool) bool {
	for _, t := range ts {
		if set[t.w] {
			return true
		}
	}
	return false
}

func readUrgent(ts tokens) bool {
	if ts.hasAny(urgentSet) {
		return true
	}
	for i := range ts {
		a, b, c := ts.w(i), ts.w(i+1), ts.w(i+2)
		switch {
		case a == "ahora" && b == "mismo", a == "right" && (b == "now" || b == "away"), a == "cuanto" && b == "antes",
			a == "antes" && b == "posible", a == "pronto" && b == "posible", a == "as" && b == "soon" && c == "as":
			return true
		}
	}
	return false
}

var (
	spanishMarkers = toSet("que", "de", "el", "la", "los", "las", "por", "para", "con", "quiero", "quisiera", "tienen", "hay", "hola",
		"gracias", "habitacion", "habitaciones", "una", "un", "es", "y", "en", "mi", "me", "cuanto", "como", "donde", "buenas",
		"buenos", "buen", "noches", "noche", "reserva", "reservar", "precio", "esta", "del", "al", "se", "puedo", "podemos", "manana",
		"hoy", "somos", "personas", "adultos", "ninos", "favor", "sale", "cuesta", "tiene", "hasta", "dia", "dias", "semana", "chau",
		"adios", "saludos", "necesito", "hablar", "alguien", "hora", "tal", "desayuno", "estacionamiento", "piscina", "mascotas", "dale",
		"vale", "claro", "lugar", "disponibilidad", "fin", "nos", "vemos", "muchas", "cual", "ahi", "su", "sus", "salir", "mas", "tarde",
		"jajaja", "jaja", "holi", "bueno", "perfecto", "cancelar", "si", "yo", "tengo", "vuelo", "llega", "capital", "usted", "ustedes",
		"desde", "entre", "porque", "tambien", "o", "nosotros", "estoy", "quiere", "podria", "pueden", "hacer", "todo", "dos", "tres")
	englishMarkers = toSet("the", "a", "is", "are", "do", "does", "you", "have", "i", "we", "to", "for", "of", "my", "your", "room", "rooms",
		"book", "please", "thanks", "thank", "hi", "hello", "hey", "how", "what", "when", "where", "can", "could", "would", "want",
		"need", "night", "nights", "available", "price", "much", "with", "and", "it", "this", "weekend", "tomorrow", "today", "tonight",
		"any", "there", "bye", "yes", "good", "morning", "agent", "human", "person", "talk", "speak", "lol", "cancel", "our", "us",
		"like", "weather", "cost", "rates", "check", "late", "later", "get", "be", "from", "on", "at", "in", "an", "so", "see", "soon",
		"cheers", "goodbye", "allowed", "included", "breakfast", "pets", "pool", "address", "time", "real", "front", "desk", "me", "am",
		"will", "not", "don", "people", "adults", "kids", "child", "children", "couple", "two", "three", "looking", "reservation", "sure", "go", "ahead", "nah", "nope", "yeah", "yep", "guys", "far", "exactly", "early", "hungry", "my", "cool", "nice", "great")
)

func readLanguage(ts tokens) string {
	es, en := 0, 0
	for _, t := range ts {
		if spanishMarkers[t.w] {
			es++
		}
		if englishMarkers[t.w] {
			en++
		}
	}
	if en > es {
		return "en"
	}
	return "es"
}
