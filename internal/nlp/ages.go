package nlp

import "github.com/agentehotel/agente-caddy/internal/pms"

// Children's ages, as guests give them with the party ("2 adultos y 1 niño
// de 7 años", "niños de 4 y 9 años", "2 adults and a 7-year-old", "1 child
// (7)", "2 children aged 4 and 9") or alone, answering what their ages are
// ("7", "4 y 9", "tienen 4 y 9 años", "they are 4 and 9").

var (
	// ageLinks may stand between a child and the age: "niño de 7", "child
	// aged 7", "niño que tiene 7", "children, ages 4 and 9".
	ageLinks = toSet("de", "of", "aged", "age", "ages", "edad", "edades", "con", "que", "tiene", "tienen", "is", "are")
	// yearUnits after a number make it an age in years; monthUnits make it a
	// baby's (0 years).
	yearUnits  = toSet("ano", "anos", "year", "years", "yr", "yrs")
	monthUnits = toSet("mes", "meses", "month", "months")
	// spelledOne is "one" as a word: an article more often than an age, so
	// it is an age only with its unit ("un año").
	spelledOne = toSet("un", "una", "uno", "one")
)

// ageAt reads one age at ts[i]: the number, its unit ("años", "meses",
// "year old", "-year-old") and where it ends. ok is false when the number
// is something else: a party size, nights, a day of a month, a range.
func ageAt(ts tokens, i int) (age, end int, ok bool) {
	t := ts[i]
	if !t.isNum() || t.ord {
		return 0, i, false
	}
	j := i + 1
	if ts.w(j) == "-" && yearUnits[ts.w(j+1)] {
		j++ // 7-year-old
	}
	age = t.n
	switch nx := ts.w(j); {
	case yearUnits[nx]:
		j++
		if ts.w(j) == "old" {
			j++
		}
	case monthUnits[nx]:
		age = 0
		j++
	case spelledOne[t.w]:
		return 0, i, false
	case unitSet[nx] || nightSet[nx] || adultSet[nx] || childSet[nx] || peopleSet[nx] || monthWords[nx] > 0,
		nx == "de" && monthWords[ts.w(j+1)] > 0,
		(nx == "-" || nx == "a" || nx == "al" || nx == "to") && j+1 < len(ts) && ts[j+1].isNum():
		return 0, i, false
	}
	if age < 0 || age > pms.MaxChildAge {
		return 0, i, false
	}
	return age, j, true
}

// agesFrom reads a list of ages starting at ts[i]: "4 y 9 años", "4, 6 and
// 9", "7-year-old". It stops before anything that is not one.
func agesFrom(ts tokens, i int) (ages []int, end int) {
	end = i
	for {
		age, j, ok := ageAt(ts, i)
		if !ok {
			return ages, end
		}
		ages, end = append(ages, age), j
		switch {
		case (ts.w(j) == "y" || ts.w(j) == "and") && j+1 < len(ts):
			i = j + 1
		case ts[j-1].brk && j < len(ts):
			i = j
		default:
			return ages, end
		}
	}
}

// readChildAges finds the ages a message gives its children: after a word
// for a child ("niños de 4 y 9 años", "1 child (7)"), or as "a 7-year-old".
func readChildAges(ts tokens) []int {
	var ages []int
	for i := 0; i < len(ts); i++ {
		t := ts[i]
		switch {
		case childSet[t.w]:
			j := i + 1
			for j < len(ts) && j < i+3 && ageLinks[ts.w(j)] {
				j++
			}
			// "niño 7" says nothing; "niño de 7", "child (7)", "niño 7 años" do
			if j == i+1 && !t.brk && (j+1 >= len(ts) || !yearUnits[ts.w(j+1)]) {
				continue
			}
			if j < len(ts) {
				if found, end := agesFrom(ts, j); len(found) > 0 {
					ages = append(ages, found...)
					i = end - 1
				}
			}
		case t.isNum() && (yearUnits[ts.w(i+1)] && ts.w(i+2) == "old" || ts.w(i+1) == "-" && yearUnits[ts.w(i+2)]):
			if age, end, ok := ageAt(ts, i); ok {
				ages = append(ages, age)
				i = end - 1
			}
		}
	}
	return ages
}

// ParseChildAges reads the children's ages from a reply to the question
// of what they are: "7", "4 y 9", "tienen 4 y 9 años", "a 7-year-old and
// a 9-year-old". ok is false when the reply has no age, or numbers that are
// something else (dates, nights, a party size).
func ParseChildAges(text string) ([]int, bool) {
	raw, _ := normalize(text)
	ts := tokens(raw)
	if ages := readChildAges(ts); len(ages) > 0 {
		return ages, true
	}
	var ages []int
	for i := 0; i < len(ts); i++ {
		t := ts[i]
		if !t.isNum() && t.parts == nil || spelledOne[t.w] && !yearUnits[ts.w(i+1)] && !monthUnits[ts.w(i+1)] {
			continue
		}
		age, end, ok := ageAt(ts, i)
		if !ok {
			return nil, false
		}
		ages = append(ages, age)
		i = end - 1
	}
	return ages, len(ages) > 0
}
