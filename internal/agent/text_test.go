package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/telemetry"
)

func TestTemplatesAreCompleteAndWithinLimits(t *testing.T) {
	full := view{Hotel: "H", Guest: "Ana", Room: "Doble", CheckIn: "vie 5 dic", CheckOut: "dom 7 dic", Nights: 2,
		Party: "2 adultos", Total: "260,00 €", BookingID: "DEMO-1", Phone: "+34", Hours: "08:00–22:00", Opens: "08:00",
		Options: "1. Doble", Alternatives: "x", Address: "Calle", CheckInTime: "15:00", CheckOutTime: "12:00",
		Amenities: "WiFi", Amenity: "Parking", Topic: "parking", AsOf: "08:00", N: 1,
		Holder: "Ana García (ana@example.com)", Detail: "el teléfono", Ages: "4 y 9", Quote: "250,00 €"}
	for _, lang := range []string{langES, langEN} {
		for key := range texts[langES] {
			if _, ok := texts[lang][key]; !ok {
				t.Errorf("%s has no text %q", lang, key)
			}
		}
		for key := range texts[lang] {
			if _, ok := texts[langES][key]; !ok {
				t.Errorf("%s text %q has no Spanish original", lang, key)
			}
			if got := say(lang, textKey{key}, full); got == key || strings.Contains(got, "<no value>") {
				t.Errorf("%s/%s does not render: %q", lang, key, got)
			}
			if strings.HasPrefix(key, "btn_") || key == "list_button" {
				if n := len([]rune(say(lang, textKey{key}, full))); n > maxButtonTitle {
					t.Errorf("%s/%s is %d characters, WhatsApp allows %d", lang, key, n, maxButtonTitle)
				}
			}
			if strings.HasPrefix(key, "room_") && len([]rune(say(lang, textKey{key}, full))) > maxButtonTitle {
				t.Errorf("%s/%s does not fit a button", lang, key)
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		lang   string
		amount float64
		cur    string
		want   string
	}{
		{langES, 260, "EUR", "260,00 €"},
		{langES, 1234.5, "EUR", "1.234,50 €"},
		{langEN, 1234.5, "EUR", "€1,234.50"},
		{langEN, 99.999, "USD", "USD 100.00"},
		{langES, 1000000, "USD", "1.000.000,00 USD"},
	} {
		if got := formatPrice(c.lang, c.amount, c.cur); got != c.want {
			t.Errorf("formatPrice(%s, %v, %s) = %q, want %q", c.lang, c.amount, c.cur, got, c.want)
		}
	}
	now := morning
	if got := formatDate(langES, date("2025-12-05"), now); got != "vie 5 dic" {
		t.Errorf("formatDate es = %q", got)
	}
	if got := formatDate(langEN, date("2026-01-02"), now); got != "Fri 2 Jan 2026" {
		t.Errorf("formatDate en next year = %q", got)
	}
	if got := formatParty(langES, 2, 1); got != "2 adultos y 1 niño" {
		t.Errorf("formatParty = %q", got)
	}
	if got := formatParty(langEN, 1, 2); got != "1 adult and 2 children" {
		t.Errorf("formatParty = %q", got)
	}
}

func TestBusinessHours(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2025, 11, 20, h, m, 0, 0, madridTZ) }
	var def BusinessHours
	for _, c := range []struct {
		b    BusinessHours
		t    time.Time
		want bool
	}{
		{def, at(7, 59), false},
		{def, at(8, 0), true},
		{def, at(21, 59), true},
		{def, at(22, 0), false},
		{BusinessHours{Open: 22 * time.Hour, Close: 6 * time.Hour}, at(23, 0), true},
		{BusinessHours{Open: 22 * time.Hour, Close: 6 * time.Hour}, at(5, 0), true},
		{BusinessHours{Open: 22 * time.Hour, Close: 6 * time.Hour}, at(12, 0), false},
	} {
		if got := c.b.Contains(c.t); got != c.want {
			t.Errorf("%v contains %v = %v, want %v", c.b, c.t.Format("15:04"), got, c.want)
		}
	}
	b, err := ParseBusinessHours("07:30-23:00")
	if err != nil || b.Open != 7*time.Hour+30*time.Minute || b.Close != 23*time.Hour || b.String() != "07:30–23:00" {
		t.Errorf("ParseBusinessHours = %+v, %v", b, err)
	}
	for _, bad := range []string{"", "8-22", "08:00", "25:00-26:00", "08:00-08:00", "08:60-22:00"} {
		if _, err := ParseBusinessHours(bad); err == nil {
			t.Errorf("ParseBusinessHours(%q) accepted", bad)
		}
	}
	if def.String() != "08:00–22:00" {
		t.Errorf("default hours %s", def)
	}
}

func TestMetricsArePreinitialisedAndCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := telemetry.Register(reg, Collectors()...); err != nil {
		t.Fatal(err)
	}
	if err := telemetry.Register(reg, Collectors()...); err != nil {
		t.Fatalf("a second registration (config reload) failed: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		series[mf.GetName()] = len(mf.GetMetric())
	}
	if series["orchestrator_messages_total"] != 2*len(nlp.Intents()) || series["orchestrator_latency_seconds"] != len(nlp.Intents()) {
		t.Fatalf("series before any message: %v", series)
	}

	e := newEnv(t, NewMemorySessions())
	c := e.guest()
	ok := testutil.ToFloat64(messagesTotal.WithLabelValues("greeting", "success"))
	count := func() uint64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "orchestrator_latency_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetValue() == "greeting" {
						return s.GetHistogram().GetSampleCount()
					}
				}
			}
		}
		return 0
	}
	before := count()
	c.say("hola")
	if got := testutil.ToFloat64(messagesTotal.WithLabelValues("greeting", "success")); got != ok+1 {
		t.Errorf("greeting successes %v → %v", ok, got)
	}
	if after := count(); after != before+1 {
		t.Errorf("greeting latency samples %d → %d", before, after)
	}
	if intentLabel("made_up") != "unknown" {
		t.Error("an unknown intent became a label value")
	}
	// A redelivered message answered from the session counts once more, under its intent.
	m := c.message(chat.KindText, "hola", "")
	c.deliver(m)
	c.deliver(m)
	if got := testutil.ToFloat64(messagesTotal.WithLabelValues("greeting", "success")); got != ok+3 {
		t.Errorf("greeting successes after redelivery = %v, want %v", got, ok+3)
	}
}
