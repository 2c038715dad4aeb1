package agent

import (
	"slices"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/nlp"
)

// scriptCorpus is what the analyzer reads in the messages of the scripts
// about choosing a room (TestScriptCorpusIsTheAnalyzers keeps it honest).
var scriptCorpus = map[string]nlp.Result{
	// Choosing among the offers.
	"Sí, confirmo":                     {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"vale":                             {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"ok":                               {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"rooms":                            {Intent: nlp.Unknown, Language: "en"},
	"Quiero reservar la General Rooms": {Intent: nlp.MakeReservation, Language: "es"},
	"I'd like the Delux Rooms":         {Intent: nlp.MakeReservation, Language: "en"},
	"la general":                       {Intent: nlp.Unknown, Language: "es"},
	"DELUX":                            {Intent: nlp.Unknown, Language: "es"},
	"executive":                        {Intent: nlp.Unknown, Language: "es"},
	"la luxury":                        {Intent: nlp.Unknown, Language: "es"},
	"la 2":                             {Intent: nlp.Unknown, Language: "es"},
	"la segunda":                       {Intent: nlp.Unknown, Language: "es"},
	// "The second" also reads as the 2nd of the month.
	"the second": {Intent: nlp.CheckAvailability, Language: "en", Entities: nlp.Entities{CheckIn: date("2025-12-02")}},
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
