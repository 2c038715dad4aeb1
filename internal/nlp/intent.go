package nlp

import (
	"strconv"
	"strings"
)

// A pattern is a sequence of steps over canonical tokens. Syntax: steps are
// separated by spaces; a step lists alternatives separated by "|", where a
// trailing "*" matches any word with that prefix; "~" between two steps lets
// up to 3 tokens sit between them ("~N": up to N). Without "~" the steps are
// adjacent.
type pattern struct{ steps []step }

type step struct {
	gap      int
	words    []string
	ids      []uint64 // bitset of the words' vocabulary ids
	prefixes []string
}

// vocab numbers every word a pattern names, so that a token is looked up
// once (normalize sets token.id) and each step tests a bit.
var vocab = map[string]int32{}

func wordID(w string) int32 {
	id, ok := vocab[w]
	if !ok {
		id = int32(len(vocab) + 1)
		vocab[w] = id
	}
	return id
}

func compile(src string) pattern {
	var p pattern
	gap := 0
	for _, f := range strings.Fields(src) {
		if strings.HasPrefix(f, "~") {
			gap = 3
			if len(f) > 1 {
				n, err := strconv.Atoi(f[1:])
				if err != nil || n < 0 {
					panic("nlp: bad gap in pattern " + strconv.Quote(src))
				}
				gap = n
			}
			continue
		}
		st := step{gap: gap}
		for _, alt := range strings.Split(f, "|") {
			if alt == "" {
				panic("nlp: empty alternative in pattern " + strconv.Quote(src))
			}
			if strings.HasSuffix(alt, "*") {
				st.prefixes = append(st.prefixes, strings.TrimSuffix(alt, "*"))
			} else {
				st.words = append(st.words, alt)
			}
		}
		for _, w := range st.words {
			id := wordID(w)
			for int(id>>6) >= len(st.ids) {
				st.ids = append(st.ids, 0)
			}
			st.ids[id>>6] |= 1 << (id & 63)
		}
		p.steps = append(p.steps, st)
		gap = 0
	}
	if len(p.steps) == 0 || gap != 0 {
		panic("nlp: bad pattern " + strconv.Quote(src))
	}
	return p
}

func (s *step) accepts(t *token) bool {
	if id := t.id; id > 0 && int(id>>6) < len(s.ids) && s.ids[id>>6]&(1<<(id&63)) != 0 {
		return true
	}
	for _, x := range s.prefixes {
		if strings.HasPrefix(t.w, x) {
			return true
		}
	}
	return false
}

// match reports whether the pattern occurs in toks.
func (p pattern) match(toks []token) bool {
	for i := range toks {
		if p.steps[0].accepts(&toks[i]) && p.matchFrom(toks, 1, i+1) {
			return true
		}
	}
	return false
}

func (p pattern) matchFrom(toks []token, k, at int) bool {
	if k == len(p.steps) {
		return true
	}
	st := &p.steps[k]
	for j := at; j < len(toks) && j <= at+st.gap; j++ {
		if st.accepts(&toks[j]) && p.matchFrom(toks, k+1, j+1) {
			return true
		}
	}
	return false
}

type rule struct {
	intent Intent
	weight float64
	src    string
	pat    pattern
}

// Word groups shared by several rules.
const (
	wantVerbs  = "quiero|quisiera|queremos|quisieramos|queria|queriamos|gustaria|deseo|deseamos|necesito|necesitamos|busco|buscamos|want|would|need|looking|like"
	roomNouns  = "habitacion|habitaciones|cuarto|cuartos|suite|suites|room|rooms|doble|individual|matrimonial|twin|departamento|apartamento"
	haveVerbs  = "tienen|tiene|tenes|tendrian|tendrias|tendran|tendra|tendria|hay|habra|habria|queda|quedan|have|has|any|there|got"
	staffNouns = "persona|personas|alguien|humano|humana|recepcion|recepcionista|agente|operador|operadora|encargado|encargada|gerente|asesor|asesora|human|person|someone|somebody|anyone|agent|staff|manager|reception|receptionist|representative|operator|desk|frontdesk|people"
)

// intentRules score a message for each intent; the highest total wins (see
// decide). Weights: 4 for an unmistakable request, 2–3 for strong evidence,
// 1–1.5 for hints.
var intentRules = compileRules([]rule{
	// make_reservation
	{intent: MakeReservation, weight: 3, src: "reservar|reservame|reservarme|reservarnos|reservamos|reservo|reserven|reservenme|reservan|reservas|reservaria|reservariamos|reserve|reserved|book|booking|rebook|reservarla|reservarlo|resevar"},
	{intent: MakeReservation, weight: 3, src: "hacer|realizar|solicitar|hacerles|make|place|confirmar|confirmo|confirm|efectuar ~3 reserva|reservacion|reservation|booking"},
	{intent: MakeReservation, weight: 2.5, src: wantVerbs + " ~3 reserva|reservacion|reservation"},
	{intent: MakeReservation, weight: 2, src: wantVerbs + " ~3 " + roomNouns},
	{intent: MakeReservation, weight: 2, src: wantVerbs + " ~3 noches|noche|nights|night"},
	{intent: MakeReservation, weight: 1, src: "reserva|reservacion|reservation"},
	{intent: MakeReservation, weight: 1.5, src: "me|nos ~1 guardan|guardas|apartan|separan"},
	// check_availability
	{intent: CheckAvailability, weight: 3, src: "disponibilidad|disponible|disponibles|available|availability|vacancy|vacancies|libre|libres|free"},
	{intent: CheckAvailability, weight: 2.5, src: haveVerbs + " ~3 " + roomNouns + "|lugar|cupo|sitio|espacio|plaza|plazas|space|algo|something|anything"},
	{intent: CheckAvailability, weight: 2.5, src: "estan|esta|are|is ~2 completos|completo|llenos|lleno|full|booked"},
	{intent: CheckAvailability, weight: 2.5, src: "sold|booked ~1 out|up"},
	{intent: CheckAvailability, weight: 1.5, src: "lugar|cupo|espacio ~3 para"},
	// pricing
	{intent: Pricing, weight: 3.5, src: "cuanto ~2 cuesta|cuestan|costaria|sale|salen|saldria|saldrian|cobran|cobrarian|vale|valen|seria|serian|es|son|esta|estan|me|nos|por"},
	{intent: Pricing, weight: 3.5, src: "precio|precios|tarifa|tarifas|costo|costos|coste|valor|valores|cotizacion|cotizar|presupuesto|price|prices|pricing|rate|rates|cost|costs|fee|fees|quote"},
	{intent: Pricing, weight: 3.5, src: "how ~1 much"},
	{intent: Pricing, weight: 1.5, src: "euros|dolares|pesos|usd|eur|barato|barata|caro|cara|economico|economica|oferta|ofertas|descuento|promocion|cheap|cheaper|expensive|discount|deal"},
	// cancel_reservation
	{intent: CancelReservation, weight: 4.5, src: "cancelar|cancela|cancelen|cancelo|cancele|cancelarla|cancelarlo|cancelaria|cancelamos|cancel|cancelled|canceled|canceling|cancelling|cancellation|anular|anula|anulen|anulo|anularla|anularlo|anulacion|cancelacion"},
	{intent: CancelReservation, weight: 3, src: "dar ~1 de baja"},
	{intent: CancelReservation, weight: 2, src: "no ~3 vamos|podremos|podemos|puedo|podre|voy ~2 ir|viajar|llegar"},
	{intent: CancelReservation, weight: 2, src: "not ~3 make ~1 it"},
	// hotel_info beyond the topics (which add their own score)
	{intent: HotelInfo, weight: 6, src: "politica|politicas|policy|condiciones|terms ~2 cancelacion|cancellation|cancelar|cancel"},
	{intent: HotelInfo, weight: 6, src: "devuelven|devolucion|devolverian|reembolso|reembolsan|reintegro|refund|refunded|refundable|penalidad|penalizacion|penalty|multa|gratis|gratuita|gratuito|free ~4 cancelo|cancelamos|cancelar|cancelacion|cancel|cancellation|cancelling|anulo|anular"},
	{intent: HotelInfo, weight: 6, src: "cancelo|cancelamos|cancelar|cancelacion|cancel|cancellation|cancelling|anulo|anular ~4 devuelven|devolucion|reembolso|reembolsan|refund|refunded|penalidad|penalty|cobran|charge|gratis|gratuita|free"},
	{intent: HotelInfo, weight: 2.5, src: "informacion|info|information|datos|details ~2 hotel|alojamiento|lugar|propiedad"},
	{intent: HotelInfo, weight: 2, src: "telefono|phone|contacto ~2 hotel|recepcion|reception"},
	{intent: HotelInfo, weight: 1.5, src: "incluye|incluido|incluida|included|include|includes"},
	// late_checkout
	{intent: LateCheckout, weight: 5, src: "late|later|tardio|tardia|extended|extendido|tarde ~1 checkout|salida"},
	{intent: LateCheckout, weight: 5, src: "checkout|salida ~2 late|later|tardio|tardia|tarde|extendido|extended"},
	{intent: LateCheckout, weight: 4.5, src: "salir|irnos|irme|irse|dejar|desalojar|entregar|quedarme|quedarnos|quedar|quedarse|leave|stay|keep|checkout ~5 mas ~1 tarde"},
	{intent: LateCheckout, weight: 4.5, src: "extender|extend|extension|prolongar|alargar|retrasar|postergar|delay ~3 checkout|salida"},
	{intent: LateCheckout, weight: 4, src: "quedarme|quedarnos|quedar|quedarse|stay|keep|permanecer ~5 hasta|until|till ~1 las|the|#lit|1|2|3|4|5|6|12|13|14|15|16|17|18"},
	{intent: LateCheckout, weight: 4, src: "keep|stay|quedarme|quedarnos|quedar ~4 room|habitacion|cuarto ~2 longer|later|until|till|hasta|mas"},
	{intent: LateCheckout, weight: 4, src: "horas|hours|hora|hour|ratito|rato ~1 mas|more|extra"},
	{intent: LateCheckout, weight: 3, src: "more|extra ~1 hours|hour"},
	{intent: LateCheckout, weight: 3, src: "dejar|salir|entregar|desalojar|checkout|leave|irnos|irme ~4 las|at ~1 1|2|3|4|5|6|13|14|15|16|17|18|#lit ~6 vez|lugar|instead|tarde|pm|afternoon"},
	// human_handoff
	{intent: HumanHandoff, weight: 5, src: "hablar|hable|comunicarme|comunicame|comunicar|comuniquen|comuniquenme|contactar|contactarme|pasame|pasas|pasan|pasen|pasar|derivar|derivame|talk|speak|connect|transfer|chat|put ~4 " + staffNouns},
	{intent: HumanHandoff, weight: 4, src: "persona|personal ~1 real|humana|fisica"},
	{intent: HumanHandoff, weight: 4, src: "alguien|someone|somebody|persona ~2 atienda|atiendan|atender|conteste|responda|ayude|help"},
	{intent: HumanHandoff, weight: 4, src: "real|actual|live ~1 person|human|agent"},
	{intent: HumanHandoff, weight: 3.5, src: "humano|humana|human|operador|operadora|operator|representative|recepcionista|receptionist|agente|agent|asesor|asesora|encargado|encargada|gerente|manager"},
	{intent: HumanHandoff, weight: 4, src: "me|nos ~2 llame|llamen|llamenme|llaman|llamar|llamas|llamarme"},
	{intent: HumanHandoff, weight: 4, src: "call|ring|phone ~2 me|us"},
	{intent: HumanHandoff, weight: 2, src: "no|not ~3 bot|robot|maquina|machine|automatico|automatica"},
	{intent: HumanHandoff, weight: 3, src: "emergencia|emergency|inundo|inundado|incendio|fuego|fire|flood|flooded|robo|robaron"},
	{intent: HumanHandoff, weight: 4, src: "break|breaking|broke ~1 in|into"},
	{intent: HumanHandoff, weight: 4, src: "help ~1 someone|somebody|there"},
	// social
	{intent: Greeting, weight: 1.5, src: "hola|buenas|buenos|buen|hi|hello|hey|hallo|holi|alo|greetings|saludos|hiya|howdy|morning|holis"},
	{intent: Greeting, weight: 1.5, src: "good ~1 morning|afternoon|evening|day"},
	{intent: Greeting, weight: 1, src: "que ~1 tal"},
	{intent: Greeting, weight: 1, src: "como ~1 estas|estan|esta|andas|va"},
	{intent: Goodbye, weight: 1.5, src: "gracias|agradezco|agradecido|agradecida|agradecemos|thanks|thank|cheers|merci|grazie|obrigado|obrigada"},
	{intent: Goodbye, weight: 2.5, src: "adios|chau|chao|bye|goodbye|ciao|bai|farewell"},
	{intent: Goodbye, weight: 2.5, src: "hasta ~1 luego|pronto|manana|otra"},
	{intent: Goodbye, weight: 2.5, src: "nos ~1 vemos|hablamos"},
	{intent: Goodbye, weight: 2.5, src: "see ~1 you|ya"},
	{intent: Goodbye, weight: 2.5, src: "take ~1 care"},
	{intent: Goodbye, weight: 2.5, src: "have ~1 a ~1 nice|good|great ~1 day|night|evening|one|weekend"},
	{intent: Goodbye, weight: 2.5, src: "que ~1 tengas|tengan|tenga ~2 buen|buena|lindo|linda|excelente"},
})

func compileRules(rs []rule) []rule {
	for i := range rs {
		rs[i].pat = compile(rs[i].src)
	}
	return rs
}

// patternWords lists the exact words of every rule, for the lexicon.
func patternWords() []string {
	var ws []string
	for _, r := range intentRules {
		for _, st := range r.pat.steps {
			ws = append(ws, st.words...)
		}
	}
	return ws
}

var business = []Intent{CancelReservation, HumanHandoff, LateCheckout, MakeReservation, Pricing, CheckAvailability, HotelInfo}

// decide picks the intent. A request beats a greeting or a thank-you
// around it; ties go to the earlier intent in business (the one whose
// mistake costs most to miss).
func decide(scores map[Intent]float64) (Intent, float64) {
	best, bestScore, second := Unknown, 0.0, 0.0
	for _, in := range business {
		s := scores[in]
		if s > bestScore {
			best, bestScore, second = in, s, bestScore
		} else if s > second {
			second = s
		}
	}
	if bestScore >= 1.5 {
		return best, confidence(bestScore, second)
	}
	g, b := scores[Greeting], scores[Goodbye]
	switch {
	case b > 0 && b >= g:
		return Goodbye, confidence(b, max(g, bestScore))
	case g > 0:
		return Greeting, confidence(g, max(b, bestScore))
	case bestScore > 0:
		return best, confidence(bestScore, second) * 0.6
	}
	return Unknown, 0
}

// confidence grows with the evidence for the winner and its lead over the runner-up.
func confidence(best, second float64) float64 {
	strength := min(best/4, 1)
	margin := (best - second) / best
	c := 0.35 + 0.35*strength + 0.3*margin
	return min(max(c, 0), 1)
}
