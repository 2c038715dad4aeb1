package agent

import (
	"testing"

	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// TestLocalesHaveEveryKey: the agent speaks the languages of the locale
// files, each file has a text for every key the code says (declared or built
// from a room category, an amenity topic or a guest detail), and no file
// keeps a text that nothing says. So every file has the same keys, and a
// missing translation fails here rather than in front of a guest.
func TestLocalesHaveEveryKey(t *testing.T) {
	said := map[string]bool{}
	for _, k := range textKeys {
		if said[k.name] {
			t.Errorf("text key %q is declared twice", k.name)
		}
		said[k.name] = true
	}
	for _, c := range nlp.RoomCategories() {
		said[roomText(c).name] = true
	}
	for _, topic := range nlp.Topics() {
		if nlp.IsAmenityTopic(topic) {
			said[topicText(topic).name] = true
		}
	}
	every := pms.GuestFields{FirstName: true, LastName: true, Email: true, Phone: true}
	for _, d := range every.Missing(pms.Guest{}) {
		said[detailText(d).name] = true
		said[badDetailText(d).name] = true
	}

	if len(texts) != 2 || texts[langES] == nil || texts[langEN] == nil {
		t.Fatalf("locale files for %d languages, want %s and %s", len(texts), langES, langEN)
	}
	for lang, byKey := range texts {
		for key := range said {
			if _, ok := byKey[key]; !ok {
				t.Errorf("locales/%s.yaml has no text %q", lang, key)
			}
		}
		for key := range byKey {
			if !said[key] {
				t.Errorf("locales/%s.yaml has text %q, which nothing says", lang, key)
			}
		}
	}
}
