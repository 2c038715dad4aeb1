package nlp

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

func at(t testing.TB, s string) time.Time {
	t.Helper()
	now, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return now
}

const (
	sunday    = "2026-11-22T10:00:00+01:00"
	wednesday = "2026-11-25T18:30:00+01:00"
	friday    = "2026-11-27T09:00:00+01:00"
	saturday  = "2026-11-28T11:00:00+01:00"
	yearEnd   = "2026-12-30T12:00:00+01:00"
)

func TestDates(t *testing.T) {
	cases := []struct {
		now, text string
		in, out   string
	}{
		{sunday, "el 1 de noviembre", "2027-11-01", ""},
		{sunday, "1 nov", "2027-11-01", ""},
		{sunday, "el 1ro de diciembre", "2026-12-01", ""},
		{sunday, "el primero de diciembre", "2026-12-01", ""},
		{sunday, "December 1st", "2026-12-01", ""},
		{sunday, "del 5 al 7 de noviembre", "2027-11-05", "2027-11-07"},
		{sunday, "5-7 nov", "2027-11-05", "2027-11-07"},
		{sunday, "5 - 7 de diciembre", "2026-12-05", "2026-12-07"},
		{sunday, "entre el 5 y el 7", "2026-12-05", "2026-12-07"},
		{sunday, "entre el 23 y el 25", "2026-11-23", "2026-11-25"},
		{sunday, "November 5", "2027-11-05", ""},
		{sunday, "Nov 5th to 7th", "2027-11-05", "2027-11-07"},
		{sunday, "from the 5th to the 7th of November", "2027-11-05", "2027-11-07"},
		{sunday, "Dec 20-23", "2026-12-20", "2026-12-23"},
		{sunday, "15/11", "2027-11-15", ""},
		{sunday, "15/12", "2026-12-15", ""},
		{sunday, "11/15", "2027-11-15", ""}, // no month 15: US order
		{sunday, "15/11/2026", "2026-11-15", ""},
		{sunday, "15-11-2026", "2026-11-15", ""},
		{sunday, "15.12.2026", "2026-12-15", ""},
		{sunday, "2026-11-15", "2026-11-15", ""},
		{sunday, "15/12 al 18/12", "2026-12-15", "2026-12-18"},
		{sunday, "5/12-8/12", "2026-12-05", "2026-12-08"},
		{sunday, "hoy", "2026-11-22", ""},
		{sunday, "tonight", "2026-11-22", ""},
		{sunday, "esta noche", "2026-11-22", ""},
		{sunday, "mañana", "2026-11-23", ""},
		{sunday, "manana", "2026-11-23", ""},
		{sunday, "tomorrow", "2026-11-23", ""},
		{sunday, "pasado mañana", "2026-11-24", ""},
		{sunday, "the day after tomorrow", "2026-11-24", ""},
		{sunday, "de hoy a mañana", "2026-11-22", "2026-11-23"},
		{sunday, "desde mañana hasta el 30", "2026-11-23", "2026-11-30"},
		{sunday, "este finde", "2026-11-27", "2026-11-29"},
		{wednesday, "este finde", "2026-11-27", "2026-11-29"},
		{friday, "este finde", "2026-11-27", "2026-11-29"},
		{saturday, "este finde", "2026-11-28", "2026-11-29"},
		{friday, "el próximo finde", "2026-12-04", "2026-12-06"},
		{wednesday, "el fin de semana", "2026-11-27", "2026-11-29"},
		{wednesday, "this weekend", "2026-11-27", "2026-11-29"},
		{saturday, "next weekend", "2026-12-04", "2026-12-06"},
		{sunday, "el viernes", "2026-11-27", ""},
		{friday, "el viernes", "2026-12-04", ""},
		{friday, "este viernes", "2026-11-27", ""},
		{sunday, "next friday", "2026-11-27", ""},
		{wednesday, "del viernes al domingo", "2026-11-27", "2026-11-29"},
		{sunday, "el viernes 5 de diciembre", "2026-12-05", ""},
		{yearEnd, "del 30 de diciembre al 2 de enero", "2026-12-30", "2027-01-02"},
		{sunday, "del 28 al 2 de enero", "2026-12-28", "2027-01-02"},
		{yearEnd, "el 3/1", "2027-01-03", ""},
		{sunday, "14 al 17 de febrero de 2027", "2027-02-14", "2027-02-17"},
		{sunday, "3 noches desde el 10 de enero", "2027-01-10", "2027-01-13"},
		{sunday, "two nights starting tomorrow", "2026-11-23", "2026-11-25"},
		{sunday, "una semana desde el 2 de enero", "2027-01-02", "2027-01-09"},
		{sunday, "hasta el 7 de diciembre", "", "2026-12-07"},
		{sunday, "llegamos el 5 de diciembre y nos vamos el 8", "2026-12-05", "2026-12-08"},
		{sunday, "check in 5/12, check out 8/12", "2026-12-05", "2026-12-08"},
		{sunday, "29/02", "2028-02-29", ""},
		// not dates
		{sunday, "por la mañana", "", ""},
		{sunday, "a las 10 de la mañana", "", ""},
		{sunday, "31/02", "", ""},
		{sunday, "a las 15:00", "", ""},
		{sunday, "somos 5", "", ""},
		{sunday, "2 personas, 3 noches", "", ""},
		{sunday, "cuesta 15.50 euros", "", ""},
		{sunday, "vista al mar", "", ""},
		{sunday, "may I book a room", "", ""},
		{sunday, "la habitación 204", "", ""},
		{sunday, "ayer", "", ""},
		{sunday, "el 2 de ellos", "", ""},
		{sunday, "the 2 of us", "", ""},
		{sunday, "escribime a juan.5.12@mail.com", "", ""},
	}
	for _, c := range cases {
		r := Analyze(c.text, at(t, c.now))
		gotIn, gotOut := dateString(r.Entities.CheckIn), dateString(r.Entities.CheckOut)
		if gotIn != c.in || gotOut != c.out {
			t.Errorf("%s %q: got %q..%q, want %q..%q", c.now[:10], c.text, gotIn, gotOut, c.in, c.out)
		}
	}
}

// Relative dates follow the hotel's calendar day, not UTC's.
func TestDatesInHotelTimeZone(t *testing.T) {
	late := at(t, "2026-11-22T23:30:00-03:00") // 02:30 on the 23rd in UTC
	if got := Analyze("mañana", late).Entities.CheckIn.String(); got != "2026-11-23" {
		t.Errorf("mañana at 23:30 in Buenos Aires = %s, want 2026-11-23", got)
	}
	if got := Analyze("mañana", late.UTC()).Entities.CheckIn.String(); got != "2026-11-24" {
		t.Errorf("mañana at 02:30 UTC = %s, want 2026-11-24", got)
	}
	loc, err := time.LoadLocation("Europe/Madrid")
	if err == nil {
		now := time.Date(2026, 11, 22, 0, 30, 0, 0, loc)
		if got := Analyze("hoy", now).Entities.CheckIn.String(); got != "2026-11-22" {
			t.Errorf("hoy at 00:30 Madrid = %s", got)
		}
	}
}

func TestNightsAndGuests(t *testing.T) {
	cases := []struct {
		text                     string
		nights, adults, children int
	}{
		{"3 noches", 3, 0, 0},
		{"two nights", 2, 0, 0},
		{"una noche", 1, 0, 0},
		{"una semana", 7, 0, 0},
		{"for a week", 7, 0, 0},
		{"un par de noches", 2, 0, 0},
		{"2 personas", 0, 2, 0},
		{"dos adultos y un niño", 0, 2, 1},
		{"2 adultos + 2 niños", 0, 2, 2},
		{"para 2", 0, 2, 0},
		{"p/ 2", 0, 2, 0},
		{"p/2 el finde", 2, 2, 0}, // the weekend is two nights
		{"hab p/ 4", 0, 4, 0},
		{"para dos", 0, 2, 0},
		{"para 2 noches", 2, 0, 0},
		{"para el 2 de diciembre", 0, 0, 0},
		{"somos 4", 0, 4, 0},
		{"we are 3", 0, 3, 0},
		{"we're 3", 0, 3, 0},
		{"for two", 0, 2, 0},
		{"a couple", 0, 2, 0},
		{"somos una pareja", 0, 2, 0},
		{"mi esposa y yo", 0, 2, 0},
		{"con mi marido y mis 3 hijos", 0, 2, 3},
		{"2 adults and 1 child", 0, 2, 1},
		{"two adults and a child", 0, 2, 1},
		{"somos 4 personas, 2 adultos y 2 niños", 0, 2, 2},
		{"solo yo", 0, 1, 0},
		{"hablar con una persona", 0, 0, 0},
		{"a las 2 pm", 0, 0, 0},
	}
	for _, c := range cases {
		e := Analyze(c.text, at(t, sunday)).Entities
		if e.Nights != c.nights || e.Adults != c.adults || e.Children != c.children {
			t.Errorf("%q: nights %d adults %d children %d, want %d %d %d", c.text, e.Nights, e.Adults, e.Children, c.nights, c.adults, c.children)
		}
	}
}

func TestRoomType(t *testing.T) {
	cases := map[string]string{
		"una habitación individual": "single", "hab sencilla": "single", "a single room": "single",
		"una doble": "double", "habitación matrimonial": "double", "cama de matrimonio": "double", "king room": "double",
		"twin": "twin", "una habitación con dos camas": "twin", "two single beds": "twin", "camas separadas": "twin",
		"la suite": "suite", "junior suite": "suite",
		"habitación familiar": "family", "a family room": "family",
		"una habitación": "", "family of four": "",
	}
	for text, want := range cases {
		if got := Analyze(text, at(t, sunday)).Entities.RoomType; got != want {
			t.Errorf("%q: room type %q, want %q", text, got, want)
		}
	}
}

func TestEmail(t *testing.T) {
	cases := map[string]string{
		"mi correo es Ana.Lopez@Gmail.com.":        "ana.lopez@gmail.com",
		"write to tom.h@example.co.uk, thanks":     "tom.h@example.co.uk",
		"enviar a jperez@empresa.com.ar por favor": "jperez@empresa.com.ar",
		"un @ suelto":    "",
		"user@localhost": "",
		"@twitter":       "",
	}
	for text, want := range cases {
		if got := Analyze(text, at(t, sunday)).Entities.Email; got != want {
			t.Errorf("%q: email %q, want %q", text, got, want)
		}
	}
}

func TestAnswer(t *testing.T) {
	cases := map[string]Answer{
		"sí": Yes, "si": Yes, "Sí, confirmo": Yes, "si por favor": Yes, "dale": Yes, "Dale!!": Yes, "confirmar": Yes,
		"ok": Yes, "OK perfecto": Yes, "yes": Yes, "yes please": Yes, "de acuerdo": Yes, "👍": Yes, "siii": Yes,
		"no": No, "No, gracias": No, "no thanks": No, "nope": No, "cancelar": No, "mejor no": No,
		"si tienen parking avisame": "", "no tengo wifi en la habitación": "", "hola": "", "quiero reservar": "",
		"cancelar mi reserva": "", "no se puede?": "",
	}
	for text, want := range cases {
		if got := Analyze(text, at(t, sunday)).Answer; got != want {
			t.Errorf("%q: answer %q, want %q", text, got, want)
		}
	}
}

func TestUrgent(t *testing.T) {
	for _, text := range []string{"URGENTE", "es una emergencia", "urgent please", "asap", "necesito ayuda ahora mismo", "lo antes posible", "right now", "as soon as possible"} {
		if !Analyze(text, at(t, sunday)).Urgent {
			t.Errorf("%q: not urgent", text)
		}
	}
	for _, text := range []string{"hola", "quiero reservar para ahora en diciembre", "ya llegué"} {
		if Analyze(text, at(t, sunday)).Urgent {
			t.Errorf("%q: urgent", text)
		}
	}
}

func TestIntentsNormalisation(t *testing.T) {
	cases := map[string]Intent{
		"holaaa":                        Greeting,
		"buenasss":                      Greeting,
		"kiero reservar":                MakeReservation,
		"quiero reserbar una abitacion": MakeReservation,
		"qiero reservar":                MakeReservation,
		"xfa reservame una hab":         MakeReservation,
		"hola! quiero reservar":         MakeReservation,
		"hola, tienen disponibilidad?":  CheckAvailability,
		"tienen hab?":                   CheckAvailability,
		"disponiblidad para el finde":   CheckAvailability,
		"q precio tiene":                Pricing,
		"cuánto cuesta?":                Pricing,
		"cuanto sale x noche":           Pricing,
		"tarifa":                        Pricing,
		"dónde están?":                  HotelInfo,
		"a qué hora es el check-in":     HotelInfo,
		"wifi?":                         HotelInfo,
		"tienen piscina tb?":            HotelInfo,
		"parking":                       HotelInfo,
		"salir más tarde":               LateCheckout,
		"late checkout":                 LateCheckout,
		"hablar con una persona":        HumanHandoff,
		"recepción por favor, quiero hablar con alguien": HumanHandoff,
		"talk to an agent":    HumanHandoff,
		"cancelar mi reserva": CancelReservation,
		"gracias, adiós":      Goodbye,
		"chau":                Goodbye,
		"bye":                 Goodbye,
		"hi":                  Greeting,
		"":                    Unknown,
		"🙂":                   Unknown,
		"asdf qwer":           Unknown,
		// "me llamo" is an introduction, not "llámame"
		"me llamo Ana García López": Unknown,
		"me pueden llamar?":         HumanHandoff,
	}
	for text, want := range cases {
		r := Analyze(text, at(t, sunday))
		if r.Intent != want {
			t.Errorf("%q: intent %s, want %s", text, r.Intent, want)
		}
		if r.Confidence < 0 || r.Confidence > 1 || (r.Intent != Unknown) != (r.Confidence > 0) {
			t.Errorf("%q: confidence %v for %s", text, r.Confidence, r.Intent)
		}
	}
}

func TestTopics(t *testing.T) {
	cases := map[string][]string{
		"cual es la dirección?":                     {TopicAddress},
		"a qué hora es el check in y el check out?": {TopicCheckInTime, TopicCheckOutTime},
		"tienen wifi, parking y desayuno?":          {TopicParking, TopicWifi, TopicBreakfast},
		"is there a pool? do you accept dogs?":      {TopicPool, TopicPets},
		"what amenities do you have":                {TopicAmenities},
		"quiero reservar":                           nil,
	}
	for text, want := range cases {
		r := Analyze(text, at(t, sunday))
		if !slices.Equal(r.Entities.Topics, want) {
			t.Errorf("%q: topics %v, want %v", text, r.Entities.Topics, want)
		}
		if want != nil && r.Intent != HotelInfo {
			t.Errorf("%q: intent %s, want hotel_info", text, r.Intent)
		}
	}
}

func TestLanguage(t *testing.T) {
	cases := map[string]string{
		"hola, tienen habitación?": "es", "hi, do you have a room?": "en", "asdf": "es", "ok": "es",
		"¿Cuánto cuesta?": "es", "how much is it": "en",
	}
	for text, want := range cases {
		if got := Analyze(text, at(t, sunday)).Language; got != want {
			t.Errorf("%q: language %s, want %s", text, got, want)
		}
	}
}

func TestIntentsList(t *testing.T) {
	all := Intents()
	if len(all) != 10 {
		t.Fatalf("Intents() has %d, want 10", len(all))
	}
	seen := map[Intent]bool{}
	for _, in := range all {
		if seen[in] || in == "" {
			t.Errorf("duplicate or empty intent %q", in)
		}
		seen[in] = true
	}
	for _, in := range business {
		if !seen[in] {
			t.Errorf("business intent %s missing from Intents()", in)
		}
	}
}

// Patterns are compiled at start-up; a malformed one must fail loudly in tests.
func TestCompileRejectsBadPatterns(t *testing.T) {
	for _, src := range []string{"", "~", "a ~", "a|", "a ~x b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("compile(%q) did not panic", src)
				}
			}()
			compile(src)
		}()
	}
}

func TestLongInputIsBounded(t *testing.T) {
	long := strings.Repeat("quiero reservar del 5 al 7 de diciembre ñ ", 2000)
	r := Analyze(long, at(t, sunday))
	if r.Intent != MakeReservation || r.Entities.CheckIn.String() != "2026-12-05" {
		t.Errorf("long message: %+v", r)
	}
}

func checkInvariants(t *testing.T, text string, r Result) {
	t.Helper()
	if !slices.Contains(Intents(), r.Intent) {
		t.Fatalf("%q: intent %q", text, r.Intent)
	}
	if r.Confidence < 0 || r.Confidence > 1 {
		t.Fatalf("%q: confidence %v", text, r.Confidence)
	}
	if r.Language != "es" && r.Language != "en" {
		t.Fatalf("%q: language %q", text, r.Language)
	}
	if r.Answer != "" && r.Answer != Yes && r.Answer != No {
		t.Fatalf("%q: answer %q", text, r.Answer)
	}
	e := r.Entities
	for _, d := range []pms.Date{e.CheckIn, e.CheckOut} {
		if d.IsZero() {
			continue
		}
		if _, ok := validDate(d.Year, int(d.Month), d.Day); !ok {
			t.Fatalf("%q: invalid date %+v", text, d)
		}
	}
	if !e.CheckIn.IsZero() && !e.CheckOut.IsZero() && !e.CheckIn.Before(e.CheckOut) {
		t.Fatalf("%q: check-out %s not after check-in %s", text, e.CheckOut, e.CheckIn)
	}
	if e.Nights < 0 || e.Adults < 0 || e.Children < 0 {
		t.Fatalf("%q: negative counts %+v", text, e)
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, e := range loadCorpus(f) {
		f.Add(e.Text, int64(1795338000), int16(60))
	}
	for _, s := range []string{"", "@", "a@b.c", "1/1/1", "31/12/99", "0-0-0", "99999999999999999999", "del 31 al 1",
		"entre el 31 y el 30", "el 31", "29/02/2027", "5-", "-5", "nov", "nov 0", "2100-12-31", "💥💥", "\xff\xfe", "p/", "x/",
		"check-", "hay que", "un par de", "a couple of", "fin de", "pasado", "del 5 al 7 de diciembre de 2100", "ñ́", "İ", "ǅ"} {
		f.Add(s, int64(0), int16(-720))
		f.Add(s, int64(4102444799), int16(840))
	}
	f.Fuzz(func(t *testing.T, text string, unix int64, offsetMin int16) {
		// any instant between 1970 and 2100, any offset within a day
		unix %= 4102444800
		if unix < 0 {
			unix = -unix
		}
		loc := time.FixedZone("", int(offsetMin%1440)*60)
		r := Analyze(text, time.Unix(unix, 0).In(loc))
		checkInvariants(t, text, r)
	})
}

func BenchmarkAnalyze(b *testing.B) {
	corpus := loadCorpus(b)
	texts := make([]string, len(corpus))
	for i, e := range corpus {
		texts[i] = e.Text
	}
	now := at(b, defaultNow)
	// reference measured in the same run: the least any analyzer does, a
	// lowercase copy split into words
	b.StopTimer()
	refStart := time.Now()
	for i := 0; i < b.N; i++ {
		sinkInt += len(strings.Fields(strings.ToLower(texts[i%len(texts)])))
	}
	ref := time.Since(refStart)
	b.StartTimer()
	for i := 0; i < b.N; i++ {
		sinkResult = Analyze(texts[i%len(texts)], now)
	}
	b.StopTimer()
	if ref > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(ref), "x_lower_fields")
	}
}

var (
	sinkInt    int
	sinkResult Result
)

// A caller's zero or far-off clock is a bug upstream, not a reason to panic.
func TestOddClocks(t *testing.T) {
	for _, now := range []time.Time{{}, time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC), time.Unix(0, 0)} {
		for _, text := range []string{"mañana", "15/12", "el viernes", "este finde", "del 30 de diciembre al 2 de enero", "el 5"} {
			checkInvariants(t, text, Analyze(text, now))
		}
	}
}
