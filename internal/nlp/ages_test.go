package nlp

import (
	"slices"
	"testing"
)

func TestChildAges(t *testing.T) {
	for _, c := range []struct {
		text             string
		adults, children int
		ages             []int
	}{
		{"2 adultos y 1 niño de 7 años", 2, 1, []int{7}},
		{"dos adultos y un niño de 7", 2, 1, []int{7}},
		{"2 adults and a 7-year-old", 2, 1, []int{7}},
		{"2 adults and 1 child (7)", 2, 1, []int{7}},
		{"niños de 4 y 9 años", 0, 2, []int{4, 9}},
		{"2 adultos y 2 niños de 4 y 9 años", 2, 2, []int{4, 9}},
		{"2 adults and 2 children aged 4 and 9", 2, 2, []int{4, 9}},
		{"2 adults, a 7 year old and a 9 year old", 2, 2, []int{7, 9}},
		{"2 adultos y un bebé de 8 meses", 2, 1, []int{0}},
		{"2 adultos, 3 niños (4, 6 y 9)", 2, 3, []int{4, 6, 9}},
		{"Somos una familia de 4 (2 adultos y 2 niños de 5 y 8 años)", 2, 2, []int{5, 8}},
		// ages that do not match the children are left out
		{"2 adultos y 3 niños de 4 y 9 años", 2, 3, nil},
		// numbers that are not ages
		{"2 adultos y 1 niño", 2, 1, nil},
		{"2 adultos y 1 niño, 3 noches", 2, 1, nil},
		{"2 adultos y un niño del 5 al 7 de diciembre", 2, 1, nil},
		{"2 adultos y un niño de 5 a 7 de diciembre", 2, 1, nil},
		{"un niño de 20 años", 0, 1, nil},
	} {
		e := Analyze(c.text, at(t, sunday)).Entities
		if e.Adults != c.adults || e.Children != c.children || !slices.Equal(e.ChildAges, c.ages) {
			t.Errorf("%q: adults %d children %d ages %v, want %d %d %v", c.text, e.Adults, e.Children, e.ChildAges, c.adults, c.children, c.ages)
		}
	}
}

func TestParseChildAges(t *testing.T) {
	for _, c := range []struct {
		text string
		want []int // nil: no ages
	}{
		{"7", []int{7}},
		{"7 años", []int{7}},
		{"4 y 9", []int{4, 9}},
		{"4 and 9", []int{4, 9}},
		{"tienen 4 y 9 años", []int{4, 9}},
		{"they are 4 and 9", []int{4, 9}},
		{"el mayor 9, el pequeño 4", []int{9, 4}},
		{"siete", []int{7}},
		{"un año", []int{1}},
		{"una de 4 y otra de 9", []int{4, 9}},
		{"8 meses", []int{0}},
		{"2 niños de 4 y 9", []int{4, 9}},
		{"a 7-year-old and a 9-year-old", []int{7, 9}},
		{"ni idea", nil},
		{"20", nil},
		{"del 5 al 7 de diciembre", nil},
		{"3 noches", nil},
		{"15/12", nil},
	} {
		got, ok := ParseChildAges(c.text)
		if ok != (c.want != nil) || !slices.Equal(got, c.want) {
			t.Errorf("ParseChildAges(%q) = %v, %v; want %v", c.text, got, ok, c.want)
		}
	}
}
