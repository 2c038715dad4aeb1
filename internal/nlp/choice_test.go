package nlp

import (
	"slices"
	"testing"
)

func TestParseChoice(t *testing.T) {
	for _, c := range []struct {
		text  string
		count int
		want  int // 0: not a choice
	}{
		{"2", 4, 2},
		{"2.", 4, 2},
		{"la 2", 4, 2},
		{"la segunda", 4, 2},
		{"La Segunda, por favor", 4, 2},
		{"the second", 4, 2},
		{"the second one", 4, 2},
		{"the first one", 4, 1},
		{"sí, la primera", 4, 1},
		{"opción 3", 4, 3},
		{"option 3 please", 4, 3},
		{"nº 2", 4, 2},
		{"la 2ª", 4, 2},
		{"quiero la tercera", 4, 3},
		{"la cuarta", 4, 4},
		{"la última", 4, 4},
		{"the last one", 3, 3},
		{"one", 2, 1},
		{"la dos", 4, 2},
		{"5", 4, 0},
		{"0", 4, 0},
		{"para 2", 4, 0},
		{"for 2", 4, 0},
		{"2 adultos", 4, 0},
		{"del 5 al 7", 4, 0},
		{"la 2 o la 3", 4, 0},
		{"la doble", 4, 0},
		{"sí", 4, 0},
	} {
		got, ok := ParseChoice(c.text, c.count)
		if !ok {
			got = 0
		}
		if got != c.want {
			t.Errorf("ParseChoice(%q, %d) = %d, %v; want %d", c.text, c.count, got, ok, c.want)
		}
	}
}

func TestMatchNames(t *testing.T) {
	qlo := []string{"General Rooms", "Delux Rooms", "Executive Rooms", "luxury Rooms"}
	giralda := []string{"Doble Giralda", "Doble Superior", "Suite Alhambra", "Suite", "Habitación Familiar"}
	for _, c := range []struct {
		text  string
		names []string
		want  []int
	}{
		{"Quiero reservar la General Rooms", qlo, []int{0}},
		{"la general", qlo, []int{0}},
		{"LA GENERAL", qlo, []int{0}},
		{"delux", qlo, []int{1}},
		{"deluxe", qlo, []int{1}},
		{"the delux one", qlo, []int{1}},
		{"executive", qlo, []int{2}},
		{"exec", qlo, []int{2}},
		{"I'd like the Luxury Rooms", qlo, []int{3}},
		{"lúxury", qlo, []int{3}},
		{"rooms", qlo, nil},
		{"quiero reservar una habitación", qlo, nil},
		{"la doble", qlo, nil},
		{"sí, confirmo", qlo, nil},
		{"la doble", giralda, []int{0, 1}},
		{"la doble superior", giralda, []int{1}},
		{"giralda", giralda, []int{0}},
		{"la suite", giralda, []int{3}},
		{"la suite alhambra", giralda, []int{2}},
		{"la familiar", giralda, []int{4}},
		{"una habitación", giralda, nil},
		{"generalmente sí", qlo, nil},
		{"del 5 al 7 de junio", []string{"Junior Suite", "Doble"}, nil},
		{"las suites", []string{"Junior Suite", "Doble"}, []int{0}},
		{"dos dobles", giralda, []int{0, 1}},
		{"2", qlo, nil},
	} {
		if got := MatchNames(c.text, c.names); !slices.Equal(got, c.want) {
			t.Errorf("MatchNames(%q, %q) = %v, want %v", c.text, c.names, got, c.want)
		}
	}
}
