package agent

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Every text the agent says lives in this file, per language. Spanish is the
// default; a key missing in a language falls back to Spanish (a test keeps the
// two complete).

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
}

var texts = map[string]map[string]string{
	langES: {
		"greeting": "¡Hola{{if .Guest}}, {{.Guest}}{{end}}! Bienvenido/a a {{.Hotel}}. Puedo consultar disponibilidad y precios, " +
			"hacer o cancelar tu reserva y contarte todo sobre el hotel. ¿En qué te ayudo?",
		"help": "Perdona, no te he entendido. Puedo ayudarte con:\n" +
			"• disponibilidad y precios (p. ej. «doble del 5 al 7 de diciembre para 2»)\n" +
			"• hacer o cancelar una reserva\n" +
			"• información del hotel (dirección, horarios, servicios)\n" +
			"• hablar con una persona del equipo",
		"unsupported":  "Por ahora solo puedo leer mensajes de texto. ¿Me lo escribes?",
		"ask_dates":    "¿Para qué fechas? Dime el día de entrada y el de salida (p. ej. «del 5 al 7 de diciembre»).",
		"ask_checkout": "Entrada el {{.CheckIn}}. ¿Hasta qué día te quedas, o cuántas noches?",
		"ask_guests":   "¿Para cuántas personas? Dime adultos y niños, por favor.",
		"bad_dates":    "La fecha de salida tiene que ser posterior a la de entrada. ¿Qué fechas quieres?",
		"past_dates":   "El {{.CheckIn}} ya ha pasado. ¿Qué fechas quieres?",
		"invalid_stay": "No puedo buscar esa estancia ({{.CheckIn}} – {{.CheckOut}}, {{.Party}}). " +
			"Revisa las fechas o el número de personas, por favor.",
		"offers": "Disponibilidad en {{.Hotel}} del {{.CheckIn}} al {{.CheckOut}} " +
			"({{.Nights}} {{if eq .Nights 1}}noche{{else}}noches{{end}}, {{.Party}}):\n{{.Options}}",
		"offer_line":          "{{.N}}. {{.Room}}: {{.Total}} en total",
		"offer_row":           "{{.Total}} en total, {{.Nights}} {{if eq .Nights 1}}noche{{else}}noches{{end}}",
		"offers_room_missing": "No nos queda habitación {{.Room}} para esas fechas, pero tenemos estas opciones.",
		"offers_hint_text":    "¿Cuál quieres reservar? Responde con el número o el tipo de habitación.",
		"offers_hint_buttons": "¿Cuál quieres reservar?",
		"list_button":         "Ver habitaciones",
		"list_section":        "Habitaciones",
		"sold_out":            "Lo siento, no nos quedan habitaciones para {{.Party}} del {{.CheckIn}} al {{.CheckOut}}.",
		"sold_out_alternatives": "Sí tenemos disponibilidad {{.Alternatives}}. ¿Te interesa? " +
			"Dime las fechas que prefieras.",
		"sold_out_other_dates": "¿Quieres probar con otras fechas?",
		"alternative":          "del {{.CheckIn}} al {{.CheckOut}}",
		"or":                   " o ",
		"confirm_prompt": "Resumen de tu reserva en {{.Hotel}}:\n" +
			"• Habitación: {{.Room}}\n" +
			"• Entrada: {{.CheckIn}}\n" +
			"• Salida: {{.CheckOut}} ({{.Nights}} {{if eq .Nights 1}}noche{{else}}noches{{end}})\n" +
			"• Huéspedes: {{.Party}}\n" +
			"{{if .Holder}}• Titular: {{.Holder}}\n{{end}}" +
			"• Total: {{.Total}}\n" +
			"¿Confirmo la reserva?",
		"confirm_hint_text": "Responde SÍ para confirmar, CAMBIAR para cambiar las fechas o NO para cancelar.",
		"btn_confirm":       "Confirmar",
		"btn_change_dates":  "Cambiar fechas",
		"btn_abort":         "Cancelar",
		"kw_change":         "cambiar",
		"booked": "¡Reserva confirmada! ✅\n" +
			"Número de reserva: {{.BookingID}}\n" +
			"Habitación: {{.Room}}\n" +
			"Entrada: {{.CheckIn}} · Salida: {{.CheckOut}} ({{.Nights}} {{if eq .Nights 1}}noche{{else}}noches{{end}})\n" +
			"Huéspedes: {{.Party}}\n" +
			"Total: {{.Total}}\n" +
			"Guarda el número de reserva por si necesitas cambiarla o cancelarla.",
		"ask_full_name":     "Para hacer la reserva necesito el nombre y los apellidos del titular. ¿A nombre de quién la hago?",
		"ask_first_name":    "¿A nombre de quién hago la reserva?",
		"ask_last_name":     "Gracias{{if .Guest}}, {{.Guest}}{{end}}. ¿Me dices tus apellidos para la reserva?",
		"ask_email":         "¿A qué correo electrónico te enviamos la confirmación de la reserva?",
		"ask_phone":         "¿Me das un teléfono de contacto para la reserva? (p. ej. +34 600 111 222)",
		"bad_full_name":     "No he entendido el nombre. Escríbeme el nombre y los apellidos del titular, p. ej. «Ana García López».",
		"bad_first_name":    "No he entendido el nombre. ¿A nombre de quién hago la reserva? (p. ej. «Ana García»)",
		"bad_last_name":     "No he entendido los apellidos. Escríbemelos, p. ej. «García López».",
		"bad_email":         "Eso no parece una dirección de correo válida. Escríbemela completa, p. ej. nombre@ejemplo.com.",
		"bad_phone":         "Eso no parece un teléfono válido. Escríbemelo con el prefijo del país, p. ej. +34 600 111 222.",
		"detail_refused":    "El sistema de reservas no ha aceptado {{.Detail}}.",
		"detail_first_name": "el nombre",
		"detail_last_name":  "los apellidos",
		"detail_email":      "el correo electrónico",
		"detail_phone":      "el teléfono",
		"booking_failed": "No he podido completar la reserva{{if .CheckIn}} del {{.CheckIn}} al {{.CheckOut}}{{end}}. " +
			"Un compañero del equipo de {{.Hotel}} te contactará por aquí para terminarla.",
		"details_handoff":  "No consigo tomar bien tus datos. Un compañero del equipo de {{.Hotel}} te contactará por aquí para terminar la reserva.",
		"booking_aborted":  "De acuerdo, no he hecho ninguna reserva. ¿Te ayudo con algo más?",
		"nothing_pending":  "No tengo ninguna reserva pendiente de confirmar. Dime fechas y personas y te busco habitación.",
		"booking_sold_out": "Vaya, la última habitación {{.Room}} para esas fechas se acaba de reservar.",
		"pms_error": "Lo siento, ahora mismo no puedo consultar el sistema de reservas. " +
			"Inténtalo de nuevo en unos minutos{{if .Phone}} o llámanos al {{.Phone}}{{end}}.",
		"stale":            "Ojo: no he podido actualizar los datos{{if .AsOf}} (son de {{.AsOf}}){{end}} y pueden no estar al día.",
		"cancel_ask_id":    "¿Cuál es el número de la reserva que quieres cancelar?",
		"cancel_not_found": "No encuentro ninguna reserva tuya con el número {{.BookingID}}. ¿Puedes revisarlo?",
		"cancel_already":   "La reserva {{.BookingID}} ya estaba cancelada.",
		"cancel_prompt": "Vas a cancelar la reserva {{.BookingID}}:\n" +
			"• Habitación: {{.Room}}\n" +
			"• Entrada: {{.CheckIn}} · Salida: {{.CheckOut}}\n" +
			"• Total: {{.Total}}\n" +
			"¿La cancelo?",
		"cancel_hint_text":   "Responde SÍ para cancelarla o NO para mantenerla.",
		"btn_confirm_cancel": "Sí, cancelar",
		"btn_keep_booking":   "No, mantener",
		"cancelled":          "Reserva {{.BookingID}} cancelada. Esperamos verte pronto.",
		"cancel_kept":        "Perfecto, tu reserva {{.BookingID}} sigue en pie.",
		"info_general": "{{.Hotel}}\n" +
			"📍 {{.Address}}\n" +
			"🕒 Check-in desde las {{.CheckInTime}} · check-out hasta las {{.CheckOutTime}}\n" +
			"✨ Servicios: {{.Amenities}}{{if .Phone}}\n📞 {{.Phone}}{{end}}",
		"info_address":    "Estamos en {{.Address}}.",
		"info_checkin":    "El check-in es a partir de las {{.CheckInTime}}.",
		"info_checkout":   "El check-out es hasta las {{.CheckOutTime}}.",
		"info_amenities":  "Servicios del hotel: {{.Amenities}}.",
		"info_has":        "Sí: {{.Amenity}}.",
		"info_hasnt":      "No me consta {{.Topic}}; si quieres, te paso con recepción para confirmarlo.",
		"topic_parking":   "que tengamos parking",
		"topic_wifi":      "que tengamos wifi",
		"topic_breakfast": "que sirvamos desayuno",
		"topic_pool":      "que tengamos piscina",
		"topic_pets":      "que se admitan mascotas",
		"late_checkout": "El check-out es hasta las {{.CheckOutTime}}. Un late check-out depende de la ocupación del día; " +
			"¿quieres que se lo pida a recepción?",
		"late_hint_text":      "Responde SÍ para pedirlo.",
		"btn_late_yes":        "Sí, pedirlo",
		"btn_late_no":         "No, gracias",
		"late_requested":      "Hecho: he pasado tu petición de late check-out a recepción. Una persona del equipo te contestará por aquí.",
		"late_declined":       "De acuerdo. ¿Te ayudo con algo más?",
		"handoff":             "Te paso con una persona del equipo de {{.Hotel}}; te responderá por aquí en cuanto pueda.",
		"handoff_after_hours": "Te paso con una persona del equipo de {{.Hotel}}. Ahora estamos fuera del horario de atención ({{.Hours}}); te responderán a partir de las {{.Opens}}.{{if .Phone}} Si es urgente, llama al {{.Phone}}.{{end}}",
		"after_hours": "Nuestro horario de atención es de {{.Hours}} y ahora estamos fuera de él." +
			"{{if .Phone}} Si es urgente, llama a la recepción al {{.Phone}}.{{end}}" +
			" Ante una emergencia (riesgo para personas o bienes), llama al 112." +
			" Si sigue siendo necesario, escríbenos a partir de las {{.Opens}} y te atenderá una persona.",
		"the_hotel":             "nuestro hotel",
		"goodbye":               "¡Gracias por escribirnos! Aquí estamos para lo que necesites. 👋",
		"btn_menu_availability": "Ver disponibilidad",
		"btn_menu_info":         "Info del hotel",
		"btn_menu_human":        "Hablar con persona",
		"room_single":           "Individual",
		"room_double":           "Doble",
		"room_twin":             "Twin (2 camas)",
		"room_suite":            "Suite",
		"room_family":           "Familiar",
	},
	langEN: {
		"greeting": "Hi{{if .Guest}} {{.Guest}}{{end}}! Welcome to {{.Hotel}}. I can check availability and prices, " +
			"make or cancel a booking and tell you about the hotel. How can I help?",
		"help": "Sorry, I didn't understand. I can help with:\n" +
			"• availability and prices (e.g. \"double room from 5 to 7 December for 2\")\n" +
			"• making or cancelling a booking\n" +
			"• hotel information (address, times, services)\n" +
			"• talking to a member of staff",
		"unsupported":  "For now I can only read text messages. Could you type it?",
		"ask_dates":    "For which dates? Tell me the check-in and check-out days (e.g. \"from 5 to 7 December\").",
		"ask_checkout": "Check-in on {{.CheckIn}}. Until which day, or how many nights?",
		"ask_guests":   "For how many people? Adults and children, please.",
		"bad_dates":    "The check-out date must be after the check-in date. Which dates would you like?",
		"past_dates":   "{{.CheckIn}} has already passed. Which dates would you like?",
		"invalid_stay": "I can't search that stay ({{.CheckIn}} – {{.CheckOut}}, {{.Party}}). " +
			"Please check the dates or the number of guests.",
		"offers": "Availability at {{.Hotel}} from {{.CheckIn}} to {{.CheckOut}} " +
			"({{.Nights}} {{if eq .Nights 1}}night{{else}}nights{{end}}, {{.Party}}):\n{{.Options}}",
		"offer_line":          "{{.N}}. {{.Room}}: {{.Total}} in total",
		"offer_row":           "{{.Total}} in total, {{.Nights}} {{if eq .Nights 1}}night{{else}}nights{{end}}",
		"offers_room_missing": "We have no {{.Room}} room left for those dates, but these are available.",
		"offers_hint_text":    "Which one would you like to book? Reply with the number or the room type.",
		"offers_hint_buttons": "Which one would you like to book?",
		"list_button":         "See rooms",
		"list_section":        "Rooms",
		"sold_out":            "Sorry, we have no rooms left for {{.Party}} from {{.CheckIn}} to {{.CheckOut}}.",
		"sold_out_alternatives": "We do have availability {{.Alternatives}}. Interested? " +
			"Tell me the dates you prefer.",
		"sold_out_other_dates": "Would you like to try other dates?",
		"alternative":          "from {{.CheckIn}} to {{.CheckOut}}",
		"or":                   " or ",
		"confirm_prompt": "Your booking at {{.Hotel}}:\n" +
			"• Room: {{.Room}}\n" +
			"• Check-in: {{.CheckIn}}\n" +
			"• Check-out: {{.CheckOut}} ({{.Nights}} {{if eq .Nights 1}}night{{else}}nights{{end}})\n" +
			"• Guests: {{.Party}}\n" +
			"{{if .Holder}}• Lead guest: {{.Holder}}\n{{end}}" +
			"• Total: {{.Total}}\n" +
			"Shall I confirm it?",
		"confirm_hint_text": "Reply YES to confirm, CHANGE to change the dates or NO to cancel.",
		"btn_confirm":       "Confirm",
		"btn_change_dates":  "Change dates",
		"btn_abort":         "Cancel",
		"kw_change":         "change",
		"booked": "Booking confirmed! ✅\n" +
			"Booking number: {{.BookingID}}\n" +
			"Room: {{.Room}}\n" +
			"Check-in: {{.CheckIn}} · Check-out: {{.CheckOut}} ({{.Nights}} {{if eq .Nights 1}}night{{else}}nights{{end}})\n" +
			"Guests: {{.Party}}\n" +
			"Total: {{.Total}}\n" +
			"Keep the booking number in case you need to change or cancel it.",
		"ask_full_name":     "To make the booking I need the lead guest's first and last name. Who should I book it for?",
		"ask_first_name":    "Who should I make the booking for?",
		"ask_last_name":     "Thanks{{if .Guest}}, {{.Guest}}{{end}}. What is your surname, for the booking?",
		"ask_email":         "Which email address should we send the booking confirmation to?",
		"ask_phone":         "Could you give me a contact phone number for the booking? (e.g. +44 7911 123456)",
		"bad_full_name":     "I didn't get the name. Please write the lead guest's first and last name, e.g. \"Anna Smith\".",
		"bad_first_name":    "I didn't get the name. Who should I make the booking for? (e.g. \"Anna Smith\")",
		"bad_last_name":     "I didn't get the surname. Please write it, e.g. \"Smith\".",
		"bad_email":         "That doesn't look like a valid email address. Please write it in full, e.g. name@example.com.",
		"bad_phone":         "That doesn't look like a valid phone number. Please write it with the country code, e.g. +44 7911 123456.",
		"detail_refused":    "The booking system did not accept {{.Detail}}.",
		"detail_first_name": "the first name",
		"detail_last_name":  "the surname",
		"detail_email":      "the email address",
		"detail_phone":      "the phone number",
		"booking_failed": "I couldn't complete the booking{{if .CheckIn}} from {{.CheckIn}} to {{.CheckOut}}{{end}}. " +
			"A member of the {{.Hotel}} team will contact you here to finish it.",
		"details_handoff":  "I can't seem to take down your details. A member of the {{.Hotel}} team will contact you here to finish the booking.",
		"booking_aborted":  "All right, I haven't booked anything. Anything else I can help with?",
		"nothing_pending":  "There is no booking waiting for confirmation. Tell me dates and guests and I'll find you a room.",
		"booking_sold_out": "Oh no, the last {{.Room}} room for those dates has just been booked.",
		"pms_error": "Sorry, I can't reach the booking system right now. " +
			"Please try again in a few minutes{{if .Phone}} or call us on {{.Phone}}{{end}}.",
		"stale":            "Note: I couldn't refresh this information{{if .AsOf}} (it is from {{.AsOf}}){{end}}, so it may be out of date.",
		"cancel_ask_id":    "What is the number of the booking you want to cancel?",
		"cancel_not_found": "I can't find a booking of yours with number {{.BookingID}}. Could you check it?",
		"cancel_already":   "Booking {{.BookingID}} was already cancelled.",
		"cancel_prompt": "You are about to cancel booking {{.BookingID}}:\n" +
			"• Room: {{.Room}}\n" +
			"• Check-in: {{.CheckIn}} · Check-out: {{.CheckOut}}\n" +
			"• Total: {{.Total}}\n" +
			"Shall I cancel it?",
		"cancel_hint_text":   "Reply YES to cancel it or NO to keep it.",
		"btn_confirm_cancel": "Yes, cancel",
		"btn_keep_booking":   "No, keep it",
		"cancelled":          "Booking {{.BookingID}} cancelled. We hope to see you soon.",
		"cancel_kept":        "Great, your booking {{.BookingID}} stays as it is.",
		"info_general": "{{.Hotel}}\n" +
			"📍 {{.Address}}\n" +
			"🕒 Check-in from {{.CheckInTime}} · check-out until {{.CheckOutTime}}\n" +
			"✨ Services: {{.Amenities}}{{if .Phone}}\n📞 {{.Phone}}{{end}}",
		"info_address":    "We are at {{.Address}}.",
		"info_checkin":    "Check-in is from {{.CheckInTime}}.",
		"info_checkout":   "Check-out is until {{.CheckOutTime}}.",
		"info_amenities":  "Hotel services: {{.Amenities}}.",
		"info_has":        "Yes: {{.Amenity}}.",
		"info_hasnt":      "I have no record of {{.Topic}}; if you like, I can pass you to reception to check.",
		"topic_parking":   "parking at the hotel",
		"topic_wifi":      "wifi at the hotel",
		"topic_breakfast": "breakfast being served",
		"topic_pool":      "a pool at the hotel",
		"topic_pets":      "pets being allowed",
		"late_checkout": "Check-out is until {{.CheckOutTime}}. A late check-out depends on the day's occupancy; " +
			"shall I ask reception for you?",
		"late_hint_text":      "Reply YES to request it.",
		"btn_late_yes":        "Yes, request it",
		"btn_late_no":         "No, thanks",
		"late_requested":      "Done: I've passed your late check-out request to reception. A member of staff will answer you here.",
		"late_declined":       "All right. Anything else I can help with?",
		"handoff":             "I'm passing you to a member of the {{.Hotel}} team; they will answer you here as soon as they can.",
		"handoff_after_hours": "I'm passing you to a member of the {{.Hotel}} team. We are outside our service hours ({{.Hours}}) right now; they will answer from {{.Opens}}.{{if .Phone}} If it is urgent, call {{.Phone}}.{{end}}",
		"after_hours": "Our service hours are {{.Hours}} and we are outside them right now." +
			"{{if .Phone}} If it is urgent, call reception on {{.Phone}}.{{end}}" +
			" In an emergency (danger to people or property), call 112." +
			" If you still need help, write to us from {{.Opens}} and a person will assist you.",
		"the_hotel":             "our hotel",
		"goodbye":               "Thanks for writing to us! We're here whenever you need us. 👋",
		"btn_menu_availability": "Check availability",
		"btn_menu_info":         "Hotel info",
		"btn_menu_human":        "Talk to a person",
		"room_single":           "Single",
		"room_double":           "Double",
		"room_twin":             "Twin",
		"room_suite":            "Suite",
		"room_family":           "Family",
	},
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

var templates = func() map[string]map[string]*template.Template {
	out := map[string]map[string]*template.Template{}
	for lang, byKey := range texts {
		out[lang] = map[string]*template.Template{}
		for key, src := range byKey {
			out[lang][key] = template.Must(template.New(lang + "/" + key).Option("missingkey=error").Parse(src))
		}
	}
	return out
}()

// say renders a text in lang (Spanish when lang or the key is missing).
func say(lang, key string, v view) string {
	t, ok := templates[lang][key]
	if !ok {
		t, ok = templates[langES][key]
	}
	if !ok {
		return key // a missing text is a bug the templates test catches
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return key
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

// roomLabel is the room's name as the guest reads it: the category's name in
// their language when known, else the PMS's name.
func roomLabel(lang, category, pmsName string) string {
	if category != "" {
		return say(lang, "room_"+category, view{})
	}
	return pmsName
}

// truncate cuts s to at most n characters (runes), for WhatsApp's limits.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
