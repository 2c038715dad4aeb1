// Package nlp reads a guest's message to the hotel agent: what they want
// (intent), the stay they talk about (dates, nights, party, room type), an
// e-mail, hotel-info topics, a yes/no answer and urgency. Spanish first,
// English too, written the way guests write on WhatsApp: no accents, typos,
// stretched letters and shorthand ("q", "hab", "p/ 2", "finde", "xfa").
// It also reads the guest details a booking needs from the replies that give
// them: a name, surnames, a phone number (ParseFullName, ParseSurname,
// ParsePhone).
//
// It is deterministic and rule-based (standard library only): normalisation
// to canonical tokens, weighted phrase patterns per intent, and readers for
// each entity.
//
// Date conventions: a date without a year is its next occurrence (today or
// later) in the hotel's calendar; "15/11" is day/month (11/15 reads as
// November 15 because no month 15 exists); a weekday ("el viernes", "next
// friday") is the first such day after today ("este viernes"/"this friday"
// said on a Friday is today); a weekend ("este finde", "el fin de semana",
// "this weekend") checks in on Friday and out on Sunday: said Sunday to
// Thursday it is the coming one, said on Friday it starts today, said on
// Saturday it is Saturday to Sunday; "el próximo finde"/"next weekend" said
// on Friday or Saturday is the following week's. A lone date is the
// check-in, unless a word before it marks a departure ("hasta", "salida",
// "check out", "nos vamos") or the message asks for a late checkout.
// "Next week"/"la semana que viene" and holidays ("nochevieja") are not read.
package nlp

import (
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Intent is what a guest asks for.
type Intent string

const (
	Greeting          Intent = "greeting"
	CheckAvailability Intent = "check_availability"
	MakeReservation   Intent = "make_reservation"
	CancelReservation Intent = "cancel_reservation"
	Pricing           Intent = "pricing"
	HotelInfo         Intent = "hotel_info"
	LateCheckout      Intent = "late_checkout"
	HumanHandoff      Intent = "human_handoff"
	Goodbye           Intent = "goodbye"
	Unknown           Intent = "unknown"
)

// Intents lists every intent, for metric label pre-initialisation.
func Intents() []Intent {
	return []Intent{Greeting, CheckAvailability, MakeReservation, CancelReservation, Pricing, HotelInfo,
		LateCheckout, HumanHandoff, Goodbye, Unknown}
}

// Answer is a confirmation or a denial: Yes, No, or "" when the message is neither.
type Answer string

const (
	Yes Answer = "yes"
	No  Answer = "no"
)

// Entities are the facts a message states. Zero values mean "not stated".
type Entities struct {
	CheckIn, CheckOut pms.Date
	Nights            int
	Adults, Children  int
	RoomType          string // a room category: RoomSingle, RoomDouble, RoomTwin, RoomSuite, RoomFamily
	Email             string
	Topics            []string // hotel-info topics: address, checkin_time, checkout_time, amenities, parking, wifi, breakfast, pool, pets
	// PerNight is set when the message asks for the price of one night
	// ("¿y por noche?", "per night?").
	PerNight bool
	// ChildAges are the children's ages when the message gives one per
	// child ("2 niños de 4 y 9 años"); ages alone ("a 7-year-old") count
	// the children too.
	ChildAges []int
}

// Result is the reading of one message.
type Result struct {
	Intent     Intent
	Confidence float64 // 0..1
	Language   string  // "es" or "en"
	Answer     Answer
	Urgent     bool
	Entities   Entities
}

// Analyze reads one message. now is the current instant in the hotel's time
// zone: relative dates resolve against its calendar day in its location.
func Analyze(text string, now time.Time) Result {
	// A name's accents say nothing of the language ("I'm Chloé"), nor do
	// its words.
	unnamed := withoutIntroducedName(text)
	ts, emails := normalize(unnamed)
	toks := tokens(ts)
	r := Result{Language: readLanguage(toks)}
	if strings.ContainsAny(unnamed, "ñ¿¡áéíóú") && r.Language == "en" && !toks.hasAny(englishOnly) {
		r.Language = "es"
	}
	topics := readTopics(toks)
	// At most eight entries keep the map on the stack; a message that
	// scores more intents grows it on the heap.
	scores := make(map[Intent]float64, 8)
	for i := range intentRules {
		if intentRules[i].pat.match(toks) {
			scores[intentRules[i].intent] += intentRules[i].weight
		}
	}
	if len(topics) > 0 {
		scores[HotelInfo] += 2.5 + 0.5*float64(len(topics)-1)
		if topicQuestion.match(toks) {
			scores[HotelInfo] += 1
		}
	}
	r.Intent, r.Confidence = decide(scores)
	r.Entities.PerNight = asksPerNight(text)
	if r.Entities.PerNight && (r.Intent == Unknown || r.Intent == Greeting) {
		// "¿y por noche?" after an offer: a question about its price
		r.Intent, r.Confidence = Pricing, 0.6
	}
	r.Answer = readAnswer(toks)
	r.Urgent = readUrgent(toks)
	if r.Intent == Unknown && r.Urgent {
		// an emergency with no request in it is for a person
		r.Intent, r.Confidence = HumanHandoff, 0.6
	}

	e := &r.Entities
	e.Topics = topics
	if len(emails) > 0 {
		e.Email = emails[0]
	}
	e.Adults, e.Children = readGuests(toks)
	if ages := readChildAges(toks); len(ages) > 0 {
		if e.Children == 0 {
			e.Children = len(ages)
		}
		if len(ages) == e.Children {
			e.ChildAges = ages
		}
	}
	e.RoomType = readRoomType(toks)
	e.Nights = readNights(toks)
	e.CheckIn, e.CheckOut = readStay(toks, pms.DateOf(now), r.Intent == LateCheckout)
	switch {
	case !e.CheckIn.IsZero() && e.CheckOut.IsZero() && e.Nights > 0:
		e.CheckOut = e.CheckIn.AddDays(e.Nights)
	case e.CheckIn.IsZero() && !e.CheckOut.IsZero() && e.Nights > 0 && r.Intent != LateCheckout:
		e.CheckIn = e.CheckOut.AddDays(-e.Nights)
	case !e.CheckIn.IsZero() && !e.CheckOut.IsZero() && e.Nights == 0:
		e.Nights = pms.Stay{CheckIn: e.CheckIn, CheckOut: e.CheckOut}.Nights()
	}
	// a clock at the edge of the calendar can push a relative date off it
	for _, d := range []*pms.Date{&e.CheckIn, &e.CheckOut} {
		if _, ok := validDate(d.Year, int(d.Month), d.Day); !ok {
			*d = pms.Date{}
		}
	}
	if r.Intent == Unknown && r.Answer == "" && !e.CheckIn.IsZero() {
		// only a stay ("del 5 al 7, 2 adultos"): with a party it is a booking
		// request, without one a question about rooms
		r.Intent, r.Confidence = CheckAvailability, 0.5
		if e.Adults > 0 {
			r.Intent = MakeReservation
		}
	}
	return r
}

var englishOnly = toSet("the", "you", "room", "book", "please", "thanks", "what", "how")
