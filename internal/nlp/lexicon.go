package nlp

import (
	"sort"
	"strings"
)

// abbreviations expands the shorthand guests type on a phone. Keys are folded
// (lowercase, no accents: "mñn" arrives as "mnn").
var abbreviations = map[string]string{
	// Spanish
	"q": "que", "k": "que", "ke": "que", "qe": "que", "xq": "porque", "pq": "porque", "porq": "porque", "xk": "porque",
	"x": "por", "xa": "para", "pa": "para", "p": "para", "d": "de", "dl": "del",
	"hab": "habitacion", "habs": "habitaciones", "habit": "habitacion", "hbt": "habitacion", "habi": "habitacion",
	"finde": "fin de semana", "findes": "fin de semana", "fds": "fin de semana",
	"tb": "tambien", "tmb": "tambien", "tmbn": "tambien", "tambn": "tambien",
	"xfa": "por favor", "xfavor": "por favor", "porfa": "por favor", "porfis": "por favor", "porfavor": "por favor",
	"plis": "por favor", "xfis": "por favor",
	"dnd": "donde", "dde": "donde", "ud": "usted", "uds": "ustedes", "msj": "mensaje",
	"tel": "telefono", "cel": "celular", "hs": "horas", "hrs": "horas", "hr": "horas",
	"mnn": "manana", "mnna": "manana", "mna": "manana",
	"bno": "bueno", "bn": "bien", "grax": "gracias", "grx": "gracias", "grs": "gracias", "grcs": "gracias", "graciass": "gracias",
	"slds": "saludos", "dsp": "despues", "dps": "despues", "chequin": "checkin", "chekin": "checkin",
	"chekout": "checkout", "chequeout": "checkout", "chequout": "checkout", "cheking": "checkin",
	"nro": "numero", "num": "numero", "wsp": "whatsapp", "wpp": "whatsapp",
	"tenes": "tienen", "teneis": "tienen", "tenis": "tienen",
	"info": "informacion", "dispo": "disponibilidad", "disp": "disponibilidad",
	"matri": "matrimonial", "indiv": "individual", "esq": "es que", "tqm": "gracias",
	"pax": "personas", "nenes": "ninos", "nenas": "ninas", "chicos": "ninos", "chicas": "ninas",
	"setiembre": "septiembre", "wifii": "wifi", "wify": "wifi", "wiffi": "wifi", "wiifi": "wifi",
	// English
	"u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "plse": "please", "pleae": "please",
	"thx": "thanks", "thnx": "thanks", "thks": "thanks", "tks": "thanks", "ty": "thanks", "tnx": "thanks", "tx": "thanks",
	"tmrw": "tomorrow", "tmr": "tomorrow", "tmrow": "tomorrow", "tomoz": "tomorrow", "tomorow": "tomorrow",
	"2moro": "tomorrow", "2morrow": "tomorrow", "tonite": "tonight", "2nite": "tonight",
	"wanna": "want to", "gonna": "going to", "gotta": "got to", "b4": "before", "ppl": "people",
	"dbl": "double", "sgl": "single", "rm": "room", "rms": "rooms", "asap": "asap", "im": "i am", "ive": "i have",
	"dont": "do not", "cant": "can not", "wont": "will not", "whats": "what is", "hows": "how is",
	"thanx": "thanks", "thankyou": "thank you", "goodbye": "goodbye", "byee": "bye", "cya": "see you",
	"wkend": "weekend", "wknd": "weekend", "w/e": "weekend", "nite": "night", "nites": "nights",
	"checkin": "checkin", "checkout": "checkout",
}

// numberWords are the numbers guests spell out, in both languages.
var numberWords = map[string]int{
	"un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
	"ocho": 8, "nueve": 9, "diez": 10,
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}

// ordinalWords are spelled ordinals, used only next to a month
// ("primero de diciembre", "December first").
var ordinalWords = map[string]int{
	"primero": 1, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
	"eighth": 8, "ninth": 9, "tenth": 10,
}

// commonWords are ordinary words of both languages that must be read as
// written, never "corrected" into a keyword (preciso is not precio, cuenta is
// not cuesta).
const commonWords = `
a al algo alguien algun alguna alguno ahi ahora alla aqui aca asi aun aunque ayer bien bueno buena cada casa
como con contra cual cuales cuando cuenta de del desde despues donde dos el ella ellos en entre era es esa ese
eso esta estas este esto estos estoy fue fui ha hace hacer hay hoy hasta la las le les lo los mas me mi mis
mucho mucha muy nada ni no nos nosotros nuestra nuestro o otra otro para pero poco por porque preciso puede
pueden puedo que quien se sea ser si sin sobre solo son su sus tal tambien te tengo tiene todo todos tu un una
unos unas usted ustedes va vamos vez y ya yo igual mejor peor luego tarde temprano pronto antes dia dias semana
semanas mes meses ano anos hora horas minuto minutos noche noches tiempo vuelo llega llegan llego viaje viajo
estamos somos seremos seriamos tenemos queremos podemos podria podrias puedes quiero quisiera necesito necesitamos
hola gracias favor saludos mensaje numero nombre apellido correo mail email telefono celular whatsapp foto fotos
perfecto genial excelente listo claro vale dale ok okay okey entendido correcto exacto obvio bueno buenisimo
capital francia clima lluvia sol calor frio playa centro ciudad aeropuerto estacion tren bus taxi auto coche carro
bano cuarto piso llave llaves toalla toallas cama camas agua luz ruido problema problemas ayuda amigo amigos familia
hijo hijos hija hijas esposa esposo marido mujer novia novio pareja jajaja jaja jeje llamo llama apellidos movil
the a an and or but if of to in on at by for from with without about as into than then there here this that
these those it its is are was were be been being am do does did done have has had having i me my mine we us our
you your he she they them their what which who whom whose when where why how all any some no not yes yeah yep
can could would should will shall may might must just only also very really too so much many more most less
please thanks thank hello hi hey bye good great fine nice okay ok sure well right left up down out over again
get got make made take took go going went come came see saw know think want need like love room rooms night
nights day days week weeks weekend today tonight tomorrow morning afternoon evening time hour hours minute
people person guest guests adult adults child children kid kids baby family friend friends wife husband partner
weather rain sun flight airport train station taxi car city beach center downtown problem help lol haha
`

// lexicon is every word the analyzer knows; unknown words are candidates for
// typo correction against targets.
var (
	lexicon      = map[string]bool{}
	targetsByLen [24][]target
	soundIndex   = map[string]string{}
)

func init() {
	var targets []string
	seen := map[string]bool{}
	addTarget := func(w string) {
		for _, f := range strings.Fields(w) {
			if strings.HasSuffix(f, "*") || strings.HasPrefix(f, "~") || seen[f] {
				continue
			}
			seen[f] = true
			lexicon[f] = true
			targets = append(targets, f)
		}
	}
	for _, w := range strings.Fields(commonWords) {
		lexicon[w] = true
	}
	for _, exp := range abbreviations {
		for _, f := range strings.Fields(exp) {
			lexicon[f] = true
		}
	}
	for w := range numberWords {
		lexicon[w] = true
	}
	for w := range ordinalWords {
		lexicon[w] = true
	}
	for _, set := range []map[string]bool{spanishMarkers, englishMarkers} {
		for w := range set {
			lexicon[w] = true
		}
	}
	// content words: what rules and entity readers look for
	for _, w := range patternWords() {
		addTarget(w)
	}
	for _, w := range entityWords() {
		addTarget(w)
	}
	sort.Strings(targets)
	for _, t := range targets {
		if l := len(t); l >= 4 && l < len(targetsByLen) {
			targetsByLen[l] = append(targetsByLen[l], target{t, letterMask(t)})
		}
		if len(t) >= 4 {
			k := soundKey(t)
			if _, dup := soundIndex[k]; !dup {
				soundIndex[k] = t
			}
		}
	}
}

// monthWords maps month names and abbreviations (es, en) to their number.
var monthWords = map[string]int{
	"enero": 1, "ene": 1, "january": 1, "jan": 1,
	"febrero": 2, "feb": 2, "february": 2,
	"marzo": 3, "mar": 3, "march": 3,
	"abril": 4, "abr": 4, "april": 4, "apr": 4,
	"mayo": 5, "may": 5,
	"junio": 6, "jun": 6, "june": 6,
	"julio": 7, "jul": 7, "july": 7,
	"agosto": 8, "ago": 8, "august": 8, "aug": 8,
	"septiembre": 9, "sep": 9, "sept": 9, "set": 9, "september": 9,
	"octubre": 10, "oct": 10, "october": 10,
	"noviembre": 11, "nov": 11, "november": 11,
	"diciembre": 12, "dic": 12, "december": 12, "dec": 12,
}

// weekdayWords maps weekday names to time.Weekday numbers (Sunday = 0).
var weekdayWords = map[string]int{
	"domingo": 0, "sunday": 0,
	"lunes": 1, "monday": 1, "mon": 1,
	"martes": 2, "tuesday": 2, "tue": 2, "tues": 2,
	"miercoles": 3, "wednesday": 3, "wed": 3,
	"jueves": 4, "thursday": 4, "thu": 4, "thur": 4, "thurs": 4,
	"viernes": 5, "friday": 5, "fri": 5,
	"sabado": 6, "saturday": 6,
}

func entityWords() []string {
	var ws []string
	for w, m := range monthWords {
		if len(w) > 3 || m == 0 {
			ws = append(ws, w)
		} else {
			lexicon[w] = true // abbreviations are known but never a correction target
		}
	}
	for w := range weekdayWords {
		if len(w) > 3 {
			ws = append(ws, w)
		} else {
			lexicon[w] = true
		}
	}
	for _, l := range [][]string{adultNouns, childNouns, peopleNouns, nightNouns, unitNouns, yesWords, noWords,
		answerFillers, urgentWords, inHints, outHints} {
		ws = append(ws, l...)
	}
	for _, r := range roomRules {
		ws = append(ws, r.words...)
	}
	for _, r := range topicRules {
		ws = append(ws, strings.Fields(strings.NewReplacer("|", " ", "~", " ").Replace(r.pattern))...)
	}
	return ws
}
