package nlp

import (
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

type atomKind int

const (
	kDate    atomKind = iota // a calendar date, possibly partial: day only, day+month, day+month+year
	kRel                     // today + days: hoy, mañana, pasado mañana, tonight
	kWeekday                 // el viernes, next friday
	kWeekend                 // este finde, this weekend
)

// atom is one date mention in a message.
type atom struct {
	start, end       int // token span [start, end)
	kind             atomKind
	day, month, year int // kDate; month and year are 0 when not written
	endDay           int // kDate written as a day range ("5-7 nov"): the last day
	days             int // kRel
	wd               time.Weekday
	todayOK          bool // kWeekday: "este viernes" said on a Friday is today
	next             bool // kWeekend: "el próximo finde"
}

// maxNights bounds a stay read from text; longer spans are misreadings.
const maxNights = 90

var dayPrefixes = toSet("el", "del", "al", "the", "dia", "day", "on", "desde", "hasta", "until", "till", "from")
var articles = toSet("el", "the", "dia", "day", "los", "dias", "days")
var rangeConnectors = toSet("al", "a", "hasta", "to", "until", "till", "through", "thru", "-", "y", "and", "+")

func isDay(t token) bool { return t.isNum() && t.n >= 1 && t.n <= 31 }

// readAtom reads a date mention starting at token i.
func readAtom(ts tokens, i int) (atom, bool) {
	t := ts[i]
	w, nx := t.w, ts.w(i+1)
	switch {
	case w == "pasado" && nx == "manana":
		return atom{start: i, end: i + 2, kind: kRel, days: 2}, true
	case w == "day" && nx == "after" && ts.w(i+2) == "tomorrow":
		return atom{start: i, end: i + 3, kind: kRel, days: 2}, true
	case w == "hoy" || w == "today" || w == "tonight":
		return atom{start: i, end: i + 1, kind: kRel}, true
	case (w == "esta" || w == "this") && (nx == "noche" || nx == "night"):
		return atom{start: i, end: i + 2, kind: kRel}, true
	case w == "tomorrow":
		return atom{start: i, end: i + 1, kind: kRel, days: 1}, true
	case w == "manana":
		switch ts.w(i - 1) {
		case "la", "por", "de", "esta", "una", "cada", "toda", "media", "en", "las":
			return atom{}, false // la mañana: the morning
		}
		return atom{start: i, end: i + 1, kind: kRel, days: 1}, true
	case w == "fin" && nx == "de" && (ts.w(i+2) == "semana"):
		a := atom{start: i, end: i + 3, kind: kWeekend}
		a.next = isNextWord(ts.w(i-1)) || ts.w(i+3) == "que" && ts.w(i+4) == "viene"
		return a, true
	case w == "weekend":
		return atom{start: i, end: i + 1, kind: kWeekend, next: isNextWord(ts.w(i - 1))}, true
	}
	if wd, ok := weekdayWords[w]; ok {
		// "el viernes 5 de diciembre": the date says more than the weekday
		if i+1 < len(ts) {
			if a, ok := readAtom(ts, i+1); ok && a.kind == kDate {
				a.start = i
				return a, true
			}
			if isDay(ts[i+1]) && !unitSet[ts.w(i+2)] {
				return atom{start: i, end: i + 2, kind: kDate, day: ts[i+1].n}, true
			}
		}
		pv := ts.w(i - 1)
		return atom{start: i, end: i + 1, kind: kWeekday, wd: time.Weekday(wd), todayOK: pv == "este" || pv == "this"}, true
	}
	if t.parts != nil {
		return readLiteral(ts, i)
	}
	if m, ok := monthWords[w]; ok && i+1 < len(ts) {
		// November 5, Nov 5th, dic 5-7, November the 5th
		j := i + 1
		if ts.w(j) == "the" {
			j++
		}
		if j < len(ts) && isDay(ts[j]) {
			a := atom{start: i, end: j + 1, kind: kDate, day: ts[j].n, month: m}
			a.year, a.end = readYear(ts, a.end)
			return a, true
		}
		if j < len(ts) && ts[j].sep == '-' && len(ts[j].parts) == 2 && validDayRange(ts[j].parts[0], ts[j].parts[1]) {
			a := atom{start: i, end: j + 1, kind: kDate, day: ts[j].parts[0], endDay: ts[j].parts[1], month: m}
			a.year, a.end = readYear(ts, a.end)
			return a, true
		}
		return atom{}, false
	}
	if isDay(t) {
		// 5 de diciembre, 5th of December, 5 dic 2026
		j := i + 1
		if ts.w(j) == "de" || ts.w(j) == "of" {
			j++
		}
		if m, ok := monthWords[ts.w(j)]; ok {
			a := atom{start: i, end: j + 1, kind: kDate, day: t.n, month: m}
			a.year, a.end = readYear(ts, a.end)
			return a, true
		}
		// el 5, the 5th, dia 5
		if nx == "por" && ts.w(i+2) == "favor" {
			nx = "" // "el 12 porfa": courtesy, not "12 por noche"
		}
		if (t.ord || dayPrefixes[ts.w(i-1)]) && !unitSet[nx] && !nightSet[nx] && !peopleSet[nx] &&
			!childSet[nx] && !adultSet[nx] && nx != "of" && nx != "de" && nx != "las" {
			return atom{start: i, end: i + 1, kind: kDate, day: t.n}, true
		}
	}
	return atom{}, false
}

func isNextWord(w string) bool {
	return w == "proximo" || w == "proxima" || w == "next" || w == "siguiente"
}

func validDayRange(a, b int) bool { return a >= 1 && b <= 31 && a < b }

// readYear reads an optional four-digit year after a date: "de 2027", "2027".
func readYear(ts tokens, j int) (int, int) {
	k := j
	if ts.w(k) == "de" || ts.w(k) == "del" {
		k++
	}
	if k < len(ts) && ts[k].isNum() && ts[k].n >= 2000 && ts[k].n <= 2100 {
		return ts[k].n, k + 1
	}
	return 0, j
}

// readLiteral reads 15/11, 15/11/2026, 2026-11-15, 15.11.2026, 5-7 (nov) and 15-11.
func readLiteral(ts tokens, i int) (atom, bool) {
	t := ts[i]
	p := t.parts
	a := atom{start: i, end: i + 1, kind: kDate}
	switch {
	case t.sep == '/' && (len(p) == 2 || len(p) == 3):
		d, m := p[0], p[1]
		if m > 12 && d <= 12 { // 11/15: only the US order makes sense
			d, m = m, d
		}
		a.day, a.month = d, m
		if len(p) == 3 {
			a.year = fullYear(p[2])
		}
	case t.sep == '-' && len(p) == 3 && p[0] >= 1000:
		a.year, a.month, a.day = p[0], p[1], p[2]
	case (t.sep == '-' || t.sep == '.') && len(p) == 3:
		a.day, a.month, a.year = p[0], p[1], fullYear(p[2])
	case t.sep == '-' && len(p) == 2:
		j := i + 1
		if ts.w(j) == "de" || ts.w(j) == "of" {
			j++
		}
		if m, ok := monthWords[ts.w(j)]; ok && validDayRange(p[0], p[1]) {
			a.day, a.endDay, a.month, a.end = p[0], p[1], m, j+1
			a.year, a.end = readYear(ts, a.end)
			return a, true
		}
		switch {
		case validDayRange(p[0], p[1]) && (dayPrefixes[ts.w(i-1)] || ts.w(i-1) == "entre") && !unitSet[ts.w(i+1)] && !peopleSet[ts.w(i+1)]:
			a.day, a.endDay = p[0], p[1]
			return a, true
		case p[1] <= 12 && p[0] > p[1] && p[0] <= 31:
			a.day, a.month = p[0], p[1]
		default:
			return atom{}, false
		}
	default:
		return atom{}, false
	}
	if a.month < 1 || a.month > 12 || a.day < 1 || a.day > 31 || len(p) == 3 && (a.year < 2000 || a.year > 2100) {
		return atom{}, false
	}
	return a, true
}

func fullYear(y int) int {
	if y < 100 {
		return 2000 + y
	}
	return y
}

// between returns the tokens strictly between two atoms, without articles.
func between(ts tokens, from, to int) []string {
	var ws []string
	for k := from; k < to; k++ {
		if !articles[ts[k].w] {
			ws = append(ws, ts[k].w)
		}
	}
	return ws
}

// linked reports whether the tokens between a (ending at from) and a later
// mention (starting at to) make a range: "al", "hasta", "to", "-", and "y"/"and"
// after "entre"/"between".
func linked(ts tokens, aStart, from, to int) bool {
	ws := between(ts, from, to)
	if len(ws) != 1 || !rangeConnectors[ws[0]] {
		return false
	}
	if ws[0] == "y" || ws[0] == "and" || ws[0] == "+" {
		k := aStart - 1
		for k >= 0 && articles[ts[k].w] {
			k--
		}
		return ts.w(k) == "entre" || ts.w(k) == "between"
	}
	return true
}

// scanAtoms finds every date mention, then the bare day numbers that a
// connector ties to one of them ("14 al 17 de febrero", "Nov 5th to 7th").
func scanAtoms(ts tokens) []atom {
	var atoms []atom
	for i := 0; i < len(ts); {
		if a, ok := readAtom(ts, i); ok {
			atoms = append(atoms, a)
			i = a.end
			continue
		}
		i++
	}
	if len(atoms) == 0 {
		return nil
	}
	covered := func(k int) bool {
		for _, a := range atoms {
			if k >= a.start && k < a.end {
				return true
			}
		}
		return false
	}
	var extra []atom
	for _, b := range atoms {
		// backward: a bare day before "al 7 de diciembre"
		if b.kind == kDate && b.month > 0 && b.endDay == 0 {
			k := b.start - 1
			for k >= 0 && articles[ts[k].w] {
				k--
			}
			if k >= 1 && rangeConnectors[ts[k].w] {
				k--
				for k >= 0 && articles[ts[k].w] {
					k--
				}
				if k >= 0 && isDay(ts[k]) && !covered(k) && linked(ts, k, k+1, b.start) {
					extra = append(extra, atom{start: k, end: k + 1, kind: kDate, day: ts[k].n})
				}
			}
		}
		// forward: "Nov 5th to 7th", "mañana hasta el 30" is already an atom
		if b.kind != kWeekend && b.endDay == 0 {
			k := b.end
			for k < len(ts) && articles[ts[k].w] {
				k++
			}
			if k < len(ts) && rangeConnectors[ts[k].w] && ts[k].w != "y" && ts[k].w != "and" && ts[k].w != "+" {
				k++
				for k < len(ts) && articles[ts[k].w] {
					k++
				}
				if k < len(ts) && isDay(ts[k]) && !covered(k) && !unitSet[ts.w(k+1)] && !peopleSet[ts.w(k+1)] &&
					!childSet[ts.w(k+1)] && !adultSet[ts.w(k+1)] && ts.w(k-1) != "las" {
					extra = append(extra, atom{start: k, end: k + 1, kind: kDate, day: ts[k].n})
				}
			}
		}
	}
	if len(extra) == 0 {
		return atoms
	}
	all := append(atoms, extra...)
	// insertion sort by start: a handful of atoms
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].start < all[j-1].start; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	out := all[:1]
	for _, a := range all[1:] {
		if a.start >= out[len(out)-1].end {
			out = append(out, a)
		}
	}
	return out
}

func validDate(y, m, d int) (pms.Date, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 || y < 1 || y > 9999 {
		return pms.Date{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return pms.Date{}, false
	}
	return pms.DateOf(t), true
}

// resolve turns a mention into a date: the first matching day on or after ref
// (strictly after when strict).
func (a atom) resolve(today, ref pms.Date, strict bool) (pms.Date, bool) {
	after := func(d pms.Date) bool {
		if strict {
			return ref.Before(d)
		}
		return !d.Before(ref)
	}
	switch a.kind {
	case kRel:
		return today.AddDays(a.days), true
	case kWeekend:
		return weekendStart(today, a.next), true
	case kWeekday:
		d := ref
		if strict || !a.todayOK {
			d = d.AddDays(1)
		}
		for d.Time().Weekday() != a.wd {
			d = d.AddDays(1)
		}
		return d, true
	}
	switch {
	case a.year > 0 && a.month > 0:
		return validDate(a.year, a.month, a.day)
	case a.month > 0:
		for y := ref.Year; y <= ref.Year+8; y++ {
			if d, ok := validDate(y, a.month, a.day); ok && after(d) {
				return d, true
			}
		}
	default:
		y, m := ref.Year, int(ref.Month)
		for k := 0; k < 14; k++ {
			if d, ok := validDate(y, m, a.day); ok && after(d) {
				return d, true
			}
			m++
			if m > 12 {
				m, y = 1, y+1
			}
		}
	}
	return pms.Date{}, false
}

// weekendStart is the Friday a weekend stay checks in: this coming Friday,
// today on a Friday or a Saturday (a Saturday check-in; see weekendEnd), and
// the Friday of the following week for "next weekend" said on Friday or Saturday.
func weekendStart(today pms.Date, next bool) pms.Date {
	switch wd := today.Time().Weekday(); wd {
	case time.Friday, time.Saturday:
		if next {
			return today.AddDays(7 - int(wd-time.Friday))
		}
		return today
	default: // Sunday..Thursday: the coming Friday
		return today.AddDays(int(time.Friday-wd+7) % 7)
	}
}

// weekendEnd is the Sunday that ends the weekend starting at start.
func weekendEnd(start pms.Date) pms.Date {
	d := start.AddDays(1)
	for d.Time().Weekday() != time.Sunday {
		d = d.AddDays(1)
	}
	return d
}

// readStay reads the check-in and check-out in a message. outByDefault makes
// a lone date a check-out (a late-checkout request is about the last day).
func readStay(ts tokens, today pms.Date, outByDefault bool) (in, out pms.Date) {
	defer func() {
		// "el puente de diciembre", unless a stay's two ends are written
		if out.IsZero() {
			if bin, bout, ok := readBridge(ts, today); ok {
				in, out = bin, bout
			}
		}
	}()
	atoms := scanAtoms(ts)
	if len(atoms) == 0 {
		return
	}
	// a range: the first weekend, day range or linked pair
	for i, a := range atoms {
		switch {
		case a.kind == kWeekend:
			s := weekendStart(today, a.next)
			return s, weekendEnd(s)
		case a.kind == kDate && a.endDay > 0:
			s, ok := a.resolve(today, today, false)
			if !ok {
				continue
			}
			e, ok := atom{kind: kDate, day: a.endDay, month: int(s.Month), year: s.Year}.resolve(today, s, true)
			if ok {
				return s, checkOut(s, e)
			}
			return s, pms.Date{}
		case i+1 < len(atoms) && linked(ts, a.start, a.end, atoms[i+1].start):
			b := atoms[i+1]
			propagate(&a, &b)
			s, ok := a.resolve(today, today, false)
			if !ok {
				continue
			}
			e, ok := b.resolve(today, s, true)
			if !ok {
				return s, pms.Date{}
			}
			return s, checkOut(s, e)
		}
	}
	// single mentions: a role from nearby words, else first is check-in and
	// a later one check-out
	prevEnd := 0
	var pending []pms.Date
	for _, a := range atoms {
		d, ok := a.resolve(today, today, false)
		if !ok {
			prevEnd = a.end
			continue
		}
		role := hintBefore(ts, prevEnd, a.start)
		prevEnd = a.end
		switch {
		case role == 'o' || role == 0 && outByDefault && in.IsZero() && len(atoms) == 1:
			if out.IsZero() {
				out = d
			}
		case role == 'i':
			if in.IsZero() {
				in = d
			}
		default:
			pending = append(pending, d)
		}
	}
	for _, d := range pending {
		switch {
		case in.IsZero():
			in = d
		case out.IsZero() && in.Before(d):
			out = d
		}
	}
	if !in.IsZero() && !out.IsZero() {
		out = checkOut(in, out)
	}
	return in, out
}

func checkOut(in, out pms.Date) pms.Date {
	if !in.Before(out) || out.Time().Sub(in.Time()) > maxNights*24*time.Hour {
		return pms.Date{}
	}
	return out
}

// propagate shares month and year between the two ends of a range:
// "del 5 al 7 de diciembre", "del 28 al 2 de enero", "14 al 17 de febrero de 2027".
func propagate(a, b *atom) {
	if a.kind != kDate || b.kind != kDate {
		return
	}
	if a.month == 0 && b.month > 0 {
		a.month = b.month
		if a.day > b.day {
			a.month--
			if a.month == 0 {
				a.month = 12
				if b.year > 0 {
					a.year = b.year - 1
				}
			}
		}
	}
	if a.year == 0 && b.year > 0 && a.month > 0 {
		a.year = b.year
		if a.month > b.month || a.month == b.month && a.day > b.day {
			a.year--
		}
	}
}

// hintBefore looks a few words back (not past the previous mention) for a
// word that makes the next date an arrival ('i') or a departure ('o').
func hintBefore(ts tokens, floor, at int) byte {
	for k := at - 1; k >= floor && k >= at-6; k-- {
		switch w := ts[k].w; {
		case outHintSet[w]:
			if (w == "vamos" || w == "voy") && ts.w(k-1) != "nos" && ts.w(k-1) != "me" {
				continue
			}
			return 'o'
		case inHintSet[w]:
			return 'i'
		}
	}
	return 0
}

// bridgeWords name the December long weekend ("el puente de diciembre", "el
// puente de la Constitución", "de la Inmaculada"): the 6th and the 8th are
// holidays in Spain.
var bridgeWords = toSet("diciembre", "dic", "constitucion", "inmaculada")

// readBridge reads "el puente de diciembre" as its next occurrence: check in
// on the 5th (the eve of the 6th), check out on the 8th (the last holiday,
// when people travel home).
func readBridge(ts tokens, today pms.Date) (in, out pms.Date, ok bool) {
	for i, t := range ts {
		if t.w != "puente" {
			continue
		}
		for j := i + 1; j < len(ts) && j <= i+4; j++ {
			if !bridgeWords[ts[j].w] {
				continue
			}
			year := today.Year
			if today.Month == time.December && today.Day > 5 {
				year++
			}
			in, _ = validDate(year, 12, 5)
			out, _ = validDate(year, 12, 8)
			return in, out, true
		}
	}
	return pms.Date{}, pms.Date{}, false
}
