package agent

import (
	"strings"
	"unicode"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// The booking's guest details are collected after the room is chosen and
// before the confirmation, one question at a time, asking only what the PMS
// needs (pms.GuestRequirementsOf) and the channel did not already give: a
// WhatsApp profile name of two words or more is the name, a WhatsApp sender
// is the phone, a Gmail sender is the email. Every reply is read for every
// detail ("Juan Pérez, juan@example.com"), and an introduced name or phone
// ("me llamo…", "mi teléfono es…") is taken from any message.
//
// An email is also asked, once and optionally, of a WhatsApp guest when the
// PMS does not need one (wantsEmail): the confirmation by email is what a
// hotel's guest expects, and the summary and the confirmation then name it.
// The guest may decline ("sin email", "no thanks") and books without.

// Steps that wait for a guest detail.
const (
	stepAskGuestName = "ask_guest_name"
	stepAskLastName  = "ask_last_name"
	stepAskEmail     = "ask_email"
	stepAskPhone     = "ask_phone"
)

// maxDetailTries is how many replies in a row may fail to give the detail
// asked before a person takes over: a guest stuck in a loop with a bot is
// worse off than one waiting for staff.
const maxDetailTries = 3

// contactPhoneDigits is how long a number must be to be read as a phone from
// a reply that was not asked for one (shorter ones are room numbers, prices).
const contactPhoneDigits = 9

func isDetailStep(step string) bool {
	switch step {
	case stepAskGuestName, stepAskLastName, stepAskEmail, stepAskPhone:
		return true
	}
	return false
}

func detailOfStep(step string) pms.GuestDetail {
	switch step {
	case stepAskLastName:
		return pms.GuestLastName
	case stepAskEmail:
		return pms.GuestEmail
	case stepAskPhone:
		return pms.GuestPhone
	}
	return pms.GuestFirstName
}

func stepOfDetail(d pms.GuestDetail) string {
	switch d {
	case pms.GuestLastName:
		return stepAskLastName
	case pms.GuestEmail:
		return stepAskEmail
	case pms.GuestPhone:
		return stepAskPhone
	}
	return stepAskGuestName
}

func (t *turn) requirements() pms.GuestFields { return pms.GuestRequirementsOf(t.o.pms) }

func (t *turn) refused(d pms.GuestDetail) bool {
	for _, r := range t.st.Context.Refused {
		if r == string(d) {
			return true
		}
	}
	return false
}

// guest is who the booking is for: the name the guest gave, else the
// channel's profile name only when it is a full name ("Ana García"; a
// nickname such as "Sue" or "JP" is not who the booking is for, so the name
// is asked), and the contacts the guest gave, else the channel's (unless
// the PMS refused them).
func (t *turn) guest() pms.Guest {
	c := t.st.Context
	g := pms.Guest{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone}
	if g.FirstName == "" && g.LastName == "" {
		if f, l := nlp.SplitProfileName(c.Name); l != "" {
			g.FirstName, g.LastName = f, l
		}
	}
	switch t.s.Key.Channel {
	case chat.WhatsApp:
		// A guest known by a user id gave no number: the PMS asks for one
		// if it needs it.
		if g.Phone == "" && !t.refused(pms.GuestPhone) && !isUserID(t.s.Key.UserID) {
			g.Phone = strings.TrimPrefix(t.s.Key.UserID, "+")
		}
	case chat.Gmail:
		if g.Email == "" && !t.refused(pms.GuestEmail) {
			g.Email = t.s.Key.UserID
		}
	}
	return g
}

func detailValue(g pms.Guest, d pms.GuestDetail) string {
	switch d {
	case pms.GuestFirstName:
		return g.FirstName
	case pms.GuestLastName:
		return g.LastName
	case pms.GuestEmail:
		return g.Email
	case pms.GuestPhone:
		return g.Phone
	}
	return ""
}

// holder is the guest as the confirmation shows them: "Ana García
// (ana@example.com, +34600111222)".
func (t *turn) holder() string {
	g := t.guest()
	name := strings.TrimSpace(g.FirstName + " " + g.LastName)
	var contacts []string
	if g.Email != "" {
		contacts = append(contacts, g.Email)
	}
	if g.Phone != "" {
		contacts = append(contacts, displayPhone(g.Phone))
	}
	switch {
	case name == "":
		return strings.Join(contacts, ", ")
	case len(contacts) == 0:
		return name
	}
	return name + " (" + strings.Join(contacts, ", ") + ")"
}

// readDetails takes the guest details a message states. Outside a detail
// step only introduced ones count; in one, the reply itself is read for the
// detail asked, and a long enough number is a phone. It reports whether
// anything was read.
func (t *turn) readDetails(text string, step string) bool {
	c := &t.st.Context
	read := false
	if e := strings.TrimSpace(t.res.Entities.Email); e != "" {
		c.Email = e
		read = true
	}
	plain := t.res.Intent == nlp.Unknown && t.res.Answer == "" && !hasSlotEntities(t.res.Entities)
	switch {
	case step == stepAskGuestName && t.typedButton(text):
	case step == stepAskGuestName:
		// Slots before intents: the reply is the name, words in it
		// included ("Sue Park"), unless it clearly asks for something else.
		if f, l, ok := nlp.ReadAnsweredName(text, t.now); ok {
			c.FirstName, c.LastName = f, l
			read = true
		} else if f, l, ok := nlp.ParseFullName(text, nlp.NameAnswered, plain); ok {
			c.FirstName, c.LastName = f, l
			read = true
		}
	case step == stepAskLastName && t.typedButton(text):
	case step == stepAskLastName:
		if f, l, ok := nlp.ParseFullName(text, nlp.NameIntroduced, false); ok && l != "" {
			c.FirstName, c.LastName = f, l
			read = true
		} else if l, ok := nlp.ReadAnsweredSurname(text, t.guest().FirstName); ok {
			c.FirstName, c.LastName = t.guest().FirstName, l
			read = true
		} else if l, ok := nlp.ParseSurname(text, t.guest().FirstName, plain); ok {
			c.FirstName, c.LastName = t.guest().FirstName, l
			read = true
		}
	default:
		if f, l, ok := nlp.ParseFullName(text, nlp.NameIntroduced, false); ok {
			c.FirstName, c.LastName = f, l
			read = true
		}
	}
	if p, ok := nlp.ParseLabelledPhone(text); ok {
		c.Phone = p
		read = true
	} else if isDetailStep(step) {
		min := contactPhoneDigits
		if step == stepAskPhone {
			min = nlp.MinPhoneDigits
		}
		if p, ok := nlp.ParsePhone(text, min); ok {
			c.Phone = p
			read = true
		}
	}
	return read
}

// typedButton reports whether text is one of the booking's button titles,
// typed: an answer to the prompt, not a name.
func (t *turn) typedButton(text string) bool {
	return t.matchesTitle(text, textBtnConfirm) || t.matchesTitle(text, textBtnChangeDates) ||
		t.matchesTitle(text, textBtnAbort)
}

// askGuestDetail asks for the first detail the booking still lacks (or
// the optional email, wantsEmail) and reports whether it did; false means
// the booking can go ahead.
func (t *turn) askGuestDetail() bool {
	missing := t.requirements().Missing(t.guest())
	if len(missing) == 0 && t.wantsEmail() {
		missing = []pms.GuestDetail{pms.GuestEmail}
	}
	if len(missing) == 0 {
		return false
	}
	t.st.Step = stepOfDetail(missing[0])
	t.text(t.detailQuestion(missing[0]))
	return true
}

func (t *turn) detailQuestion(d pms.GuestDetail) string {
	switch d {
	case pms.GuestLastName:
		return t.say(textAskLastName, view{Guest: t.guest().FirstName})
	case pms.GuestEmail:
		if t.wantsEmail() {
			return t.say(textAskEmailOptional, view{})
		}
		return t.say(textAskEmail, view{})
	case pms.GuestPhone:
		return t.say(textAskPhone, view{})
	}
	key := textAskFirstName
	if t.requirements().LastName {
		key = textAskFullName
	}
	q := t.say(key, view{})
	// The email with the holder, in one question: a guest who gives both
	// is asked nothing more.
	if t.wantsEmail() || (t.requirements().Email && t.guest().Email == "") {
		q += " " + t.say(textAskEmailToo, view{})
	}
	return q
}

// wantsEmail reports whether the guest is to be asked, optionally, for an
// email for the confirmation: on WhatsApp (a mail's sender is its own
// email), with the hotel's email question on (Flags.AskEmail), when the
// PMS does not need one (then it is asked as a required detail), while
// none is known and the guest has not declined.
func (t *turn) wantsEmail() bool {
	return t.h.Flags.AskEmail && t.s.Key.Channel == chat.WhatsApp && !t.st.Context.EmailDeclined &&
		!t.requirements().Email && strings.TrimSpace(t.guest().Email) == ""
}

// emailRefusals are the folded words of a guest declining to give an email.
var emailRefusals = []string{"sin email", "sin e mail", "sin mail", "sin correo", "no email", "no e mail", "no mail",
	"no correo", "no tengo", "no uso", "prefiero no", "mejor no", "no hace falta", "no gracias", "no thanks",
	"no thank you", "rather not", "dont have", "do not have", "without", "skip", "none", "ninguno", "no need"}

// declinesEmail reports whether a reply to the optional email question
// declines it: a plain no, or one of emailRefusals.
func declinesEmail(text string, answer nlp.Answer) bool {
	if answer == nlp.No {
		return true
	}
	words := strings.FieldsFunc(strings.ReplaceAll(nlp.Fold(text), "'", ""), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	padded := " " + strings.Join(words, " ") + " "
	for _, r := range emailRefusals {
		if strings.Contains(padded, " "+r+" ") {
			return true
		}
	}
	return false
}

// onDetailStep handles the reply to a guest-detail question. It reports
// false when the message is about something else.
func (t *turn) onDetailStep(text string) bool {
	p := t.st.Pending
	if p == nil || p.Kind != "booking" {
		t.st.Step = ""
		return false
	}
	asked := detailOfStep(t.st.Step)
	optional := asked == pms.GuestEmail && t.wantsEmail()
	read := t.readDetails(text, t.st.Step)
	switch {
	case detailValue(t.guest(), asked) != "":
		t.intent = nlp.MakeReservation
		t.st.DetailTries = 0
		t.confirmPrompt()
	case optional && declinesEmail(text, t.res.Answer):
		t.intent = nlp.MakeReservation
		t.st.Context.EmailDeclined = true
		t.st.DetailTries = 0
		t.confirmPrompt()
	case read:
		// Another detail than the one asked: take it and ask again.
		t.intent = nlp.MakeReservation
		t.confirmPrompt()
	default:
		return t.otherBookingReply(func() { t.detailNotUnderstood(asked) })
	}
	return true
}

// detailNotUnderstood says what was wrong with the reply and asks again, or
// hands the guest to a person after maxDetailTries.
func (t *turn) detailNotUnderstood(d pms.GuestDetail) {
	t.st.DetailTries++
	if t.st.DetailTries >= maxDetailTries {
		t.bookingHandoff(textDetailsHandoff)
		return
	}
	key := badDetailText(d)
	switch {
	case d == pms.GuestFirstName && t.requirements().LastName:
		key = textBadFullName
	case d == pms.GuestEmail && t.wantsEmail():
		key = textBadEmailOptional
	}
	t.text(t.say(key, view{}))
}

// detailRefused answers a booking the PMS refused because of one guest
// detail: the detail is forgotten (a channel's value is not used again) and
// asked for; the stay and the pending booking stay as they are.
func (t *turn) detailRefused(d pms.GuestDetail) {
	c := &t.st.Context
	g := t.guest()
	switch d {
	case pms.GuestFirstName:
		c.FirstName, c.LastName = "", g.LastName
	case pms.GuestLastName:
		c.FirstName, c.LastName = g.FirstName, ""
	case pms.GuestEmail:
		c.Email = ""
	case pms.GuestPhone:
		c.Phone = ""
	}
	if (d == pms.GuestEmail || d == pms.GuestPhone) && !t.refused(d) {
		c.Refused = append(c.Refused, string(d))
	}
	t.st.Step = stepOfDetail(d)
	t.st.DetailTries = 0
	t.text(t.say(textDetailRefused, view{Detail: t.say(detailText(d), view{})}) + " " + t.detailQuestion(d))
}

// bookingHandoff gives a booking the agent cannot complete to a person. The
// stay the guest asked for stays in the session, for staff to see.
func (t *turn) bookingHandoff(key textKey) {
	v := view{Hotel: t.hotelName()}
	if p := t.st.Pending; p != nil && p.Kind == "booking" {
		s := t.pendingStay()
		v.CheckIn, v.CheckOut = formatDate(t.lang, s.CheckIn, t.now), formatDate(t.lang, s.CheckOut, t.now)
	}
	t.clearFlow()
	t.st.Handoff = true
	t.text(t.say(key, v))
}

// displayPhone is how a phone is shown back: numbers stored without their
// '+' (WhatsApp senders) get it back.
func displayPhone(p string) string {
	if p == "" || strings.HasPrefix(p, "+") {
		return p
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return p
		}
	}
	if len(p) >= 10 {
		return "+" + p
	}
	return p
}
