package agent

import (
	"testing"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// hotelFactCases: facts come from the guest's hotel, in the guest's language.
var hotelFactCases = []conversationCase{
	{"an English guest gets the hotel's amenities in English", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.talk(t, []exchange{
			{"is breakfast included?", []string{"Buffet breakfast"}, []string{"Desayuno"}},
			{"what facilities do you have?", []string{"Free WiFi", "Swimming pool"}, []string{"Piscina", "gratis"}},
		})
		es := e.guest()
		es.talk(t, []exchange{{"el desayuno está incluido?", []string{"Desayuno buffet"}, nil}})
	}},
	{"each sample hotel answers with its own address", func(t *testing.T, mk func(...envOption) *env) {
		e := mk()
		c := e.guest()
		c.hotel.Name, c.hotel.Hotel = "Hotel Barcelona Beach", pms.Hotel{TenantID: "tenant_hotel_bcn", PMSID: 2}
		c.talk(t, []exchange{{"dónde están?", []string{"Passeig Marítim de la Barceloneta 32", "Barcelona"}, []string{"Calle Mayor", "Madrid"}}})
		m := e.guest()
		m.talk(t, []exchange{{"dónde están?", []string{"Calle Mayor 1", "Madrid"}, nil}})
	}},
}

func TestHotelFactsInTheGuestsLanguage(t *testing.T) { runConversations(t, hotelFactCases) }
