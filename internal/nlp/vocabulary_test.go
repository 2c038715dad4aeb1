package nlp

import (
	"slices"
	"testing"
)

func TestRoomCategoryOf(t *testing.T) {
	for name, want := range map[string]string{
		"Double": "double", "Habitación Doble": "double", "Deluxe Twin": "twin", "Junior Suite": "suite",
		"Familiar": "family", "Individual": "single", "Deluxe Rooms": "",
		"Twin Suite": "suite", "Family Twin": "family", "Doble uso individual": "single", "HABITACIÓN MATRIMONIO": "double",
	} {
		if got := RoomCategoryOf(name); got != want {
			t.Errorf("RoomCategoryOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestRoomVocabularyIsComplete: every category is read in messages and in
// names, and in both orders exactly once.
func TestRoomVocabularyIsComplete(t *testing.T) {
	categories := RoomCategories()
	named := slices.Clone(roomNamePrecedence)
	slices.Sort(categories)
	slices.Sort(named)
	if !slices.Equal(categories, named) || len(slices.Compact(named)) != len(roomNamePrecedence) {
		t.Errorf("room categories %v, read in names as %v", RoomCategories(), roomNamePrecedence)
	}
	for _, r := range roomVocabulary {
		if len(r.asked) == 0 || len(r.named) == 0 {
			t.Errorf("room category %q: asked %v, named %v", r.category, r.asked, r.named)
		}
		for _, w := range r.named {
			if Fold(w) != w {
				t.Errorf("room category %q: named word %q is not folded", r.category, w)
			}
		}
	}
}

func TestFindAmenity(t *testing.T) {
	amenities := []string{"WiFi gratis", "Garaje privado", "Desayuno buffet", "Piscina al aire libre"}
	for topic, want := range map[string]string{
		TopicParking: "Garaje privado", TopicWifi: "WiFi gratis", TopicBreakfast: "Desayuno buffet",
		TopicPool: "Piscina al aire libre", TopicPets: "",
	} {
		if !IsAmenityTopic(topic) {
			t.Errorf("%s is not an amenity topic", topic)
		}
		if got := FindAmenity(topic, amenities); got != want {
			t.Errorf("FindAmenity(%s) = %q, want %q", topic, got, want)
		}
	}
	for _, topic := range []string{TopicAddress, TopicCheckInTime, TopicCheckOutTime, TopicAmenities, "spa"} {
		if IsAmenityTopic(topic) {
			t.Errorf("%s is an amenity topic", topic)
		}
	}
}
