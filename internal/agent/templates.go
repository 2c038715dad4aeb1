package agent

import (
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Every text the agent says lives in the locale files, one per language
// (locales/es.yaml, locales/en.yaml), under the keys of textkeys.go. Spanish
// is the default; a key missing in a language falls back to Spanish (a test
// keeps every file complete).

// Languages the agent answers in.
const (
	langES = "es"
	langEN = "en"
)

// view is the data a template may use; each template uses a few fields.
type view struct {
	Hotel        string
	Guest        string // guest's first name, may be empty
	Room         string
	CheckIn      string
	CheckOut     string
	Nights       int
	Party        string
	Total        string
	BookingID    string
	Phone        string
	Hours        string // business hours, "08:00–22:00"
	Opens        string // opening time, "08:00"
	Options      string // numbered offer lines
	Alternatives string
	Address      string
	CheckInTime  string
	CheckOutTime string
	Amenities    string
	Amenity      string
	Topic        string
	AsOf         string
	N            int
	Holder       string // who the booking is for: "Ana García (ana@example.com, +34600111222)"
	Detail       string // a guest detail's name: "el teléfono"
	Ages         string // children's ages: "4 y 9"
	Quote        string // the total quoted before booking
}

// localeFiles are the reply texts, one YAML file per language
// (locales/<lang>.yaml), each a map from key to text/template source.
//
//go:embed locales/*.yaml
var localeFiles embed.FS

// texts holds each language's reply texts: language → key → template source.
var texts = readLocales(localeFiles)

// readLocales reads every locale file. The files are compiled in, so one
// that does not parse is a defect of the build: it panics, and any test run
// of the package shows it.
func readLocales(files fs.FS) map[string]map[string]string {
	paths, err := fs.Glob(files, "locales/*.yaml")
	if err != nil || len(paths) == 0 {
		panic(fmt.Sprintf("agent: no locale files (%v)", err))
	}
	out := map[string]map[string]string{}
	for _, p := range paths {
		raw, err := fs.ReadFile(files, p)
		if err != nil {
			panic(fmt.Sprintf("agent: reading %s: %v", p, err))
		}
		var byKey map[string]string
		if err := yaml.Unmarshal(raw, &byKey); err != nil {
			panic(fmt.Sprintf("agent: %s: %v", p, err))
		}
		out[strings.TrimSuffix(path.Base(p), ".yaml")] = byKey
	}
	return out
}

// Words that are not whole sentences: dates and party sizes.
var (
	monthsShort = map[string][]string{
		langES: {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"},
		langEN: {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	}
	weekdaysShort = map[string][]string{
		langES: {"dom", "lun", "mar", "mié", "jue", "vie", "sáb"},
		langEN: {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
	}
	partyWords = map[string][5]string{ // adult, adults, child, children, and
		langES: {"adulto", "adultos", "niño", "niños", "y"},
		langEN: {"adult", "adults", "child", "children", "and"},
	}
)

// compiledText is one text of one language: its template, and when the
// template is plain text (no actions: most button titles and fixed
// answers) that text, which is all executing it would write.
type compiledText struct {
	t      *template.Template
	plain  string
	static bool
	// size is the source's length, the room a rendering starts with: most
	// of what a template writes is its text.
	size int
}

var templates = func() map[string]map[string]compiledText {
	out := map[string]map[string]compiledText{}
	for lang, byKey := range texts {
		out[lang] = map[string]compiledText{}
		for key, src := range byKey {
			t := template.Must(template.New(lang + "/" + key).Option("missingkey=error").Parse(src))
			plain, static := plainText(t)
			out[lang][key] = compiledText{t: t, plain: plain, static: static, size: len(src)}
		}
	}
	return out
}()

// plainText is what t writes whatever its data, when its tree is text
// nodes only (an empty one writes nothing). A template without a tree is
// left to Execute, which refuses it.
func plainText(t *template.Template) (string, bool) {
	if t.Tree == nil || t.Tree.Root == nil {
		return "", false
	}
	var b strings.Builder
	for _, n := range t.Tree.Root.Nodes {
		tn, ok := n.(*parse.TextNode)
		if !ok {
			return "", false
		}
		b.Write(tn.Text)
	}
	return b.String(), true
}

// say renders a text in lang (Spanish when lang or the key is missing).
func say(lang string, key textKey, v view) string {
	ct, ok := templates[lang][key.name]
	if !ok {
		ct, ok = templates[langES][key.name]
	}
	if !ok {
		return key.name // a missing text is a bug TestLocalesHaveEveryKey catches
	}
	if ct.static {
		return ct.plain
	}
	// A Builder's String is its bytes, not a copy of them.
	var b strings.Builder
	b.Grow(ct.size)
	if err := ct.t.Execute(&b, v); err != nil {
		return key.name
	}
	return b.String()
}

// supportedLanguage returns lang when the agent speaks it, else "".
func supportedLanguage(lang string) string {
	switch l := strings.ToLower(strings.TrimSpace(lang)); {
	case strings.HasPrefix(l, langES):
		return langES
	case strings.HasPrefix(l, langEN):
		return langEN
	}
	return ""
}

// formatDate is "vie 5 dic" / "Fri 5 Dec", with the year when it is not the
// current one.
func formatDate(lang string, d pms.Date, now time.Time) string {
	if supportedLanguage(lang) == "" {
		lang = langES
	}
	s := fmt.Sprintf("%s %d %s", weekdaysShort[lang][d.Time().Weekday()], d.Day, monthsShort[lang][d.Month-1])
	if d.Year != now.Year() {
		s += fmt.Sprintf(" %d", d.Year)
	}
	return s
}

// formatPrice is "1.234,50 €" in Spanish and "€1,234.50" in English.
func formatPrice(lang string, amount float64, currency string) string {
	cents := int64(math.Round(amount * 100))
	neg := cents < 0
	if neg {
		cents = -cents
	}
	whole, frac := cents/100, cents%100
	thousands, decimal := ".", ","
	if lang == langEN {
		thousands, decimal = ",", "."
	}
	digits := fmt.Sprint(whole)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(thousands)
		}
		b.WriteRune(r)
	}
	num := fmt.Sprintf("%s%s%02d", b.String(), decimal, frac)
	if neg {
		num = "-" + num
	}
	symbol := currency
	if currency == "EUR" || currency == "" {
		symbol = "€"
	}
	if lang == langEN {
		if symbol == "€" {
			return symbol + num
		}
		return symbol + " " + num
	}
	return num + " " + symbol
}

// formatParty is "2 adultos y 1 niño" / "2 adults and 1 child".
func formatParty(lang string, adults, children int) string {
	w, ok := partyWords[lang]
	if !ok {
		w = partyWords[langES]
	}
	pick := func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	s := fmt.Sprintf("%d %s", adults, pick(adults, w[0], w[1]))
	if children > 0 {
		s += fmt.Sprintf(" %s %d %s", w[4], children, pick(children, w[2], w[3]))
	}
	return s
}

// formatAges is "4, 6 y 9" / "4, 6 and 9".
func formatAges(lang string, ages []int) string {
	w, ok := partyWords[lang]
	if !ok {
		w = partyWords[langES]
	}
	s := make([]string, len(ages))
	for i, a := range ages {
		s[i] = strconv.Itoa(a)
	}
	return joinList(s, " "+w[4]+" ")
}

// joinList joins items as a sentence does: "a, b" then last before the
// final item ("a, b o c").
func joinList(items []string, last string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + last + items[len(items)-1]
}

// truncate cuts s to at most n characters (runes), for WhatsApp's limits.
func truncate(s string, n int) string {
	// Counted first: nearly every text fits, and needs no copy.
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
