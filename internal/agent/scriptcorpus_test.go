package agent

import (
	"slices"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/nlp"
)

// scriptCorpus is what the analyzer reads in the messages of the scripts
// about choosing a room, children's ages and refused stays
// (TestScriptCorpusIsTheAnalyzers keeps it honest).
var scriptCorpus = map[string]nlp.Result{
	// Choosing among the offers.
	"Sí, confirmo":                     {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"vale":                             {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"ok":                               {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"rooms":                            {Intent: nlp.Unknown, Language: "en"},
	"Quiero reservar la General Rooms": {Intent: nlp.MakeReservation, Language: "es"},
	"I'd like the Delux Rooms":         {Intent: nlp.MakeReservation, Language: "en"},
	"better the executive one":         {Intent: nlp.Unknown, Language: "en"},
	"la general":                       {Intent: nlp.Unknown, Language: "es"},
	"DELUX":                            {Intent: nlp.Unknown, Language: "es"},
	"executive":                        {Intent: nlp.Unknown, Language: "es"},
	"la luxury":                        {Intent: nlp.Unknown, Language: "es"},
	"la 2":                             {Intent: nlp.Unknown, Language: "es"},
	"la segunda":                       {Intent: nlp.Unknown, Language: "es"},
	// "The second" also reads as the 2nd of the month.
	"the second": {Intent: nlp.CheckAvailability, Language: "en", Entities: nlp.Entities{CheckIn: date("2025-12-02")}},
	"Quiero reservar la Delux Rooms del 5 al 7 de diciembre para 2": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 2}},

	// Children's ages.
	"reservar doble del 5 al 7 de diciembre para 2 adultos y 1 niño de 7 años": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 2, Children: 1, ChildAges: []int{7}, RoomType: "double"}},
	"reservar doble del 5 al 7 de diciembre para 2 adultos y 1 niño": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 2, Children: 1, RoomType: "double"}},
	"book a double from 5 to 7 December for 2 adults and a 7-year-old": {Intent: nlp.MakeReservation, Language: "en",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 2, Children: 1, ChildAges: []int{7}, RoomType: "double"}},
	"book a double from 5 to 7 December for 2 adults and 1 child": {Intent: nlp.MakeReservation, Language: "en",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 2, Children: 1, RoomType: "double"}},
	"7":       {Intent: nlp.Unknown, Language: "es"},
	"4 y 9":   {Intent: nlp.Unknown, Language: "es"},
	"ni idea": {Intent: nlp.Unknown, Language: "es"},

	// Stays no hotel can sell.
	"reservar del 18 al 19 de noviembre de 2025 para 2": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-11-18"), CheckOut: date("2025-11-19"), Nights: 1, Adults: 2}},
	"book from 18 to 19 November 2025 for 2": {Intent: nlp.MakeReservation, Language: "en",
		Entities: nlp.Entities{CheckIn: date("2025-11-18"), CheckOut: date("2025-11-19"), Nights: 1, Adults: 2}},
	"reservar del 19 al 21 de noviembre de 2025 para 2": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-11-19"), CheckOut: date("2025-11-21"), Nights: 2, Adults: 2}},
	"reservar doble del 20 al 22 de noviembre para 2": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-11-20"), CheckOut: date("2025-11-22"), Nights: 2, Adults: 2, RoomType: "double"}},
	"book a double for 2 adults from 20 to 22 November": {Intent: nlp.MakeReservation, Language: "en",
		Entities: nlp.Entities{CheckIn: date("2025-11-20"), CheckOut: date("2025-11-22"), Nights: 2, Adults: 2, RoomType: "double"}},
	"reservar del 5 al 7 de diciembre para 9 adultos": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 9}},
	"book from 5 to 7 December for 9 adults": {Intent: nlp.MakeReservation, Language: "en",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 9}},
	"4": {Intent: nlp.Unknown, Language: "es"},

	// Room names in the guest's language.
	"the twin room please":        {Intent: nlp.Unknown, Language: "en", Entities: nlp.Entities{RoomType: "twin"}},
	"I want to cancel my booking": {Intent: nlp.CancelReservation, Language: "en"},
	"hola, tenéis habitación del 5 al 7 de diciembre para 2?": {Intent: nlp.CheckAvailability, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Nights: 2, Adults: 2}},
	"la courtyard": {Intent: nlp.Unknown, Language: "es"},

	// The optional email.
	"no thanks":              {Intent: nlp.Goodbye, Language: "en", Answer: nlp.No},
	"sin email":              {Intent: nlp.Unknown, Language: "es"},
	"ana.garcia.example.com": {Intent: nlp.Unknown, Language: "es"},
	"sue.park@example.com":   {Intent: nlp.Unknown, Language: "es", Entities: nlp.Entities{Email: "sue.park@example.com"}},
}

func init() {
	for text, r := range scriptCorpus {
		if _, dup := corpus[text]; dup {
			panic("scriptCorpus repeats " + text)
		}
		corpus[text] = r
	}
}

// TestScriptCorpusIsTheAnalyzers: the scripts' fake readings are what the
// analyzer reads, at the scripts' clock.
func TestScriptCorpusIsTheAnalyzers(t *testing.T) {
	for text, want := range scriptCorpus {
		got := nlp.Analyze(text, morning)
		g, w := got.Entities, want.Entities
		if got.Intent != want.Intent || got.Language != want.Language || got.Answer != want.Answer ||
			g.CheckIn != w.CheckIn || g.CheckOut != w.CheckOut || g.Nights != w.Nights || g.Adults != w.Adults ||
			g.Children != w.Children || !slices.Equal(g.ChildAges, w.ChildAges) || g.RoomType != w.RoomType {
			t.Errorf("the analyzer reads %q as %+v; the test corpus says %+v", text, got, want)
		}
	}
}
