package agent

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// Steps of a conversation: what the agent last asked and is waiting for.
const (
	stepAskDates       = "ask_dates"
	stepAskCheckout    = "ask_checkout"
	stepAskGuests      = "ask_guests"
	stepChooseRoom     = "choose_room"
	stepConfirmBooking = "confirm_booking"
	stepAskChildAges   = "ask_child_ages"
	stepPartyTooLarge  = "party_too_large"
	stepAskBookingID   = "ask_booking_id"
	stepConfirmCancel  = "confirm_cancel"
	stepLateCheckout   = "late_checkout"
)

// Reply ids of buttons and list rows. They are stable: a tap is handled by its
// id, whatever its title says.
const (
	BtnConfirmBooking   = "confirm_booking"
	BtnChangeDates      = "change_dates"
	BtnAbortBooking     = "abort_booking"
	BtnConfirmCancel    = "confirm_cancel"
	BtnKeepBooking      = "keep_booking"
	BtnMenuAvailability = "menu_availability"
	BtnMenuInfo         = "menu_info"
	BtnMenuHuman        = "menu_human"
	BtnLateCheckoutYes  = "late_checkout_request"
	BtnLateCheckoutNo   = "late_checkout_no"
	roomReplyPrefix     = "room_" // + PMS room type id
)

// WhatsApp's limits on a message, in characters unless they count items: it
// refuses a reply that exceeds them.
const (
	maxButtons      = 3
	maxButtonTitle  = 20
	maxButtonsBody  = 1024
	maxListRows     = 10
	maxRowTitle     = 24
	maxRowDesc      = 72
	maxSectionTitle = 24
	maxTextBody     = 4096
)

// alternativeShifts are the check-in moves (days) tried when a stay is sold
// out, in order; at most maxAlternatives are offered.
var alternativeShifts = []int{1, -1, 2, 7}

const maxAlternatives = 2

// turn is one message being answered.
type turn struct {
	o   *Orchestrator
	ctx context.Context
	m   chat.Message
	h   HotelContext
	s   *Session
	st  *State
	now time.Time // in the hotel's zone

	lang    string
	res     nlp.Result
	intent  nlp.Intent // metric label
	failed  bool       // a PMS call failed (counted as status="error")
	replies []chat.Reply

	info    *pms.HotelInfo
	infoErr error
}

func knownIntent(in nlp.Intent) nlp.Intent {
	for _, k := range nlp.Intents() {
		if in == k {
			return in
		}
	}
	return nlp.Unknown
}

func (t *turn) run() {
	t.lang = t.st.Language
	if t.lang == "" {
		t.lang = t.h.Language
	}
	t.intent = nlp.Unknown
	text := strings.TrimSpace(t.m.Text)

	if t.st.Handoff {
		// A person has the conversation: stay silent, but still count what
		// the guest asked.
		if text != "" {
			t.intent = knownIntent(t.o.analyze(text, t.now).Intent)
		}
		return
	}
	if t.m.Name != "" && t.st.Context.Name == "" {
		t.st.Context.Name = t.m.Name
	}
	if t.m.ReplyID != "" && (t.m.Kind == chat.KindButtonReply || t.m.Kind == chat.KindListReply) {
		if t.onButton(t.m.ReplyID) {
			return
		}
	}
	if t.m.Kind == chat.KindWelcome {
		t.greet()
		return
	}
	if text == "" {
		// Once: a guest who sends five photos gets one answer.
		if !t.st.Noticed {
			t.st.Noticed = true
			t.text(t.say(unreadableText(t.m.Kind), view{}))
		}
		return
	}
	t.st.Noticed = false
	t.res = t.o.analyze(text, t.now)
	t.intent = knownIntent(t.res.Intent)
	t.pickLanguage(text)
	if !isDetailStep(t.st.Step) {
		t.readDetails(text, "")
	}
	if t.res.Urgent && !t.h.BusinessHours.Contains(t.now) {
		t.afterHours()
		return
	}
	if t.onStep(text) {
		return
	}
	t.dispatch()
}

// unreadableText is what a message without words gets: what the agent
// cannot do with it and what the guest can do instead.
func unreadableText(k chat.Kind) textKey {
	switch k {
	case chat.KindImage, chat.KindVideo, chat.KindDocument:
		return textMediaUnreadable
	case chat.KindAudio:
		return textVoiceUnreadable
	case chat.KindLocation:
		return textLocationReceived
	}
	return textUnsupported
}

// pickLanguage answers in the guest's language. A short message ("ok", "2")
// says little about it, so only the first message or one of three words or
// more changes the conversation's language; numbers are not words, and a
// reply giving a name, an email or a phone is data, not prose.
func (t *turn) pickLanguage(text string) {
	l := supportedLanguage(t.res.Language)
	if l == "" {
		return
	}
	if t.st.Language != "" && isDetailStep(t.st.Step) {
		return
	}
	if t.st.Language == "" || (l != t.st.Language && wordCount(text) >= 3) {
		t.st.Language = l
	}
	t.lang = t.st.Language
}

// wordCount counts the words of text that have a letter in them.
func wordCount(text string) int {
	n := 0
	for _, f := range strings.Fields(text) {
		if strings.IndexFunc(f, unicode.IsLetter) >= 0 {
			n++
		}
	}
	return n
}

func (t *turn) say(key textKey, v view) string { return say(t.lang, key, v) }

// interactive reports whether replies may carry buttons and lists: the flag
// is on and the channel shows them (email gets text and typed answers).
func (t *turn) interactive() bool {
	return t.h.Flags.InteractiveMessages && t.m.Channel == chat.WhatsApp
}

// ---- replies ----

func (t *turn) text(s string) {
	t.replies = append(t.replies, chat.Reply{Kind: chat.ReplyText, Text: truncate(s, maxTextBody)})
}

func (t *turn) button(id string, titleKey textKey) chat.Button {
	return chat.Button{ID: id, Title: truncate(t.say(titleKey, view{}), maxButtonTitle)}
}

// ask sends body with reply buttons when interactive messages are on, or
// body plus a hint telling what to type otherwise.
func (t *turn) ask(body, hint, image string, buttons ...chat.Button) {
	if !t.interactive() {
		t.text(body + "\n\n" + hint)
		return
	}
	if len(buttons) > maxButtons {
		buttons = buttons[:maxButtons]
	}
	t.replies = append(t.replies, chat.Reply{Kind: chat.ReplyButtons, Text: truncate(body, maxButtonsBody), ImageURL: image, Buttons: buttons})
}

// ---- routing ----

// onButton handles a tapped button or list row by its id. Unknown ids are
// left to the text.
func (t *turn) onButton(id string) bool {
	switch {
	case id == BtnConfirmBooking:
		t.intent = nlp.MakeReservation
		switch {
		case (t.st.Step == stepConfirmBooking || t.st.Step == stepAskChildAges) && t.st.Pending != nil:
			// Confirming again while the ages are asked books without them.
			t.book()
		case isDetailStep(t.st.Step) && t.st.Pending != nil:
			// An old confirmation button while a detail is missing: ask again.
			t.confirmPrompt()
		default:
			t.text(t.say(textNothingPending, view{}))
		}
	case id == BtnChangeDates:
		t.intent = nlp.MakeReservation
		t.changeDates()
	case id == BtnAbortBooking:
		t.intent = nlp.MakeReservation
		t.abortBooking()
	case strings.HasPrefix(id, roomReplyPrefix):
		t.intent = nlp.MakeReservation
		n, _ := strconv.Atoi(strings.TrimPrefix(id, roomReplyPrefix))
		for _, off := range t.st.LastOffer {
			if off.RoomTypeID == n && t.st.Step == stepChooseRoom {
				t.selectOffer(off)
				return true
			}
		}
		// An old list: look again with what we know.
		t.reservation(true)
	case id == BtnConfirmCancel:
		t.intent = nlp.CancelReservation
		if t.st.Step == stepConfirmCancel && t.st.Pending != nil {
			t.doCancel()
		} else {
			t.startCancel("")
		}
	case id == BtnKeepBooking:
		t.intent = nlp.CancelReservation
		t.keepBooking()
	case id == BtnMenuAvailability:
		t.intent = nlp.CheckAvailability
		t.reservation(true)
	case id == BtnMenuInfo:
		t.intent = nlp.HotelInfo
		t.hotelInfo()
	case id == BtnMenuHuman:
		t.intent = nlp.HumanHandoff
		t.handoff(textKey{})
	case id == BtnLateCheckoutYes:
		t.intent = nlp.LateCheckout
		if t.st.Step == stepLateCheckout {
			t.handoff(textLateRequested)
		} else {
			t.lateCheckout()
		}
	case id == BtnLateCheckoutNo:
		t.intent = nlp.LateCheckout
		t.clearFlow()
		t.text(t.say(textLateDeclined, view{}))
	default:
		return false
	}
	return true
}

// stepHandler is what the agent does in one step of a conversation.
type stepHandler struct {
	// answer handles a message that may answer the step's question. It
	// reports false when the message is about something else: it is then
	// dispatched by intent, and the question stays.
	answer func(t *turn, text string) bool
	// repeat asks the step's question again, for a message the agent did
	// not understand; nil gives the general help instead.
	repeat func(t *turn)
}

// stepHandlers has an entry for every step the agent can wait in.
var stepHandlers = map[string]stepHandler{
	stepAskDates:       {answer: (*turn).onStayQuestion},
	stepAskCheckout:    {answer: (*turn).onStayQuestion},
	stepAskGuests:      {answer: (*turn).onStayQuestion},
	stepChooseRoom:     {answer: (*turn).onChooseRoom, repeat: (*turn).offersReply},
	stepAskGuestName:   {answer: (*turn).onDetailStep},
	stepAskLastName:    {answer: (*turn).onDetailStep},
	stepAskEmail:       {answer: (*turn).onDetailStep},
	stepAskPhone:       {answer: (*turn).onDetailStep},
	stepConfirmBooking: {answer: (*turn).onConfirmBooking, repeat: (*turn).confirmPrompt},
	stepAskChildAges:   {answer: (*turn).onChildAges},
	stepPartyTooLarge:  {answer: (*turn).onPartyTooLarge},
	stepAskBookingID:   {answer: (*turn).onBookingID},
	stepConfirmCancel:  {answer: (*turn).onConfirmCancel, repeat: (*turn).cancelPrompt},
	stepLateCheckout:   {answer: (*turn).onLateCheckoutOffer},
}

// onStep handles a text that answers what the agent last asked; false when
// there is no question or the message is about something else.
func (t *turn) onStep(text string) bool {
	h, ok := stepHandlers[t.st.Step]
	if !ok {
		return false
	}
	return h.answer(t, text)
}

// onConfirmBooking handles the reply to the booking's confirmation prompt.
func (t *turn) onConfirmBooking(text string) bool {
	e := t.res.Entities
	named := t.namedOffers(t.st.LastOffer)
	switch {
	case t.res.Answer == nlp.Yes || t.matchesTitle(text, textBtnConfirm):
		t.intent = nlp.MakeReservation
		t.book()
	case t.matchesTitle(text, textBtnChangeDates) || t.startsWithKeyword(text, textKwChange):
		t.intent = nlp.MakeReservation
		if hasStayEntities(e) {
			t.mergeSlots()
			t.reservation(false)
		} else {
			t.changeDates()
		}
	case t.res.Answer == nlp.No || t.matchesTitle(text, textBtnAbort) || nlp.ChangeOfMind(text) == nlp.CancelReservation:
		// "mejor cancela" before the yes: nothing is booked, the booking
		// being made is dropped
		t.intent = nlp.MakeReservation
		t.abortBooking()
	case hasSlotEntities(e):
		t.intent = nlp.MakeReservation
		t.mergeSlots()
		t.reservation(false)
	case t.intent == nlp.Pricing && e.PerNight && t.perNight():
	case len(named) == 1:
		// Another room of the offers, by name: the same stay in it.
		t.intent = nlp.MakeReservation
		t.selectOffer(t.st.LastOffer[named[0]])
	case isBookingIntent(t.intent) || t.intent == nlp.Unknown:
		t.intent = nlp.MakeReservation
		t.confirmPrompt()
	default:
		return false
	}
	return true
}

// otherBookingReply answers a reply to a booking's question that did not
// answer it, as every such question does: a new stay is searched, a no
// drops the booking, and a message about booking, or not understood, gets
// notAnswered. It reports false for a message about something else.
func (t *turn) otherBookingReply(notAnswered func()) bool {
	newStay, no := hasSlotEntities(t.res.Entities), t.res.Answer == nlp.No
	if t.st.Pending != nil && t.st.Pending.Kind == "booking" && nlp.ChangeOfMind(t.m.Text) == nlp.CancelReservation {
		// "mejor cancela" while booking: nothing is booked yet, so it is
		// the booking being made that is dropped.
		t.intent = nlp.CancelReservation
		t.abortBooking()
		return true
	}
	if !newStay && !no && !isBookingIntent(t.intent) && t.intent != nlp.Unknown {
		return false
	}
	t.intent = nlp.MakeReservation
	switch {
	case newStay:
		t.mergeSlots()
		t.reservation(false)
	case no:
		t.abortBooking()
	default:
		notAnswered()
	}
	return true
}

// onChooseRoom handles the reply to the offers. A number comes first: "the
// second" also reads as a date. A yes, or a request to book, that picks no
// room is asked which one, briefly: the offers were just sent.
func (t *turn) onChooseRoom(text string) bool {
	e := t.res.Entities
	offers := t.st.LastOffer
	if n, ok := nlp.ParseChoice(text, len(offers)); ok {
		t.intent = nlp.MakeReservation
		t.selectOffer(offers[n-1])
		return true
	}
	if hasStayEntities(e) {
		t.intent = nlp.MakeReservation
		t.mergeSlots()
		t.reservation(false)
		return true
	}
	picked := t.pickedOffers()
	switch {
	case len(picked) == 1:
		t.intent = nlp.MakeReservation
		t.selectOffer(offers[picked[0]])
	case len(picked) > 1:
		t.intent = nlp.MakeReservation
		t.askWhich(picked)
	case t.res.Answer == nlp.Yes && len(offers) == 1:
		t.intent = nlp.MakeReservation
		t.selectOffer(offers[0])
	case t.res.Answer == nlp.No || nlp.ChangeOfMind(text) == nlp.CancelReservation:
		t.intent = nlp.MakeReservation
		t.abortBooking()
	case e.RoomType != "":
		// A room type that is not on offer: look again, saying so.
		t.intent = nlp.MakeReservation
		t.mergeSlots()
		t.reservation(true)
	case t.intent == nlp.Pricing && e.PerNight && t.perNight():
	case t.intent == nlp.CheckAvailability || t.intent == nlp.Pricing:
		t.offersReply()
	case t.res.Answer == nlp.Yes || t.intent == nlp.MakeReservation || t.intent == nlp.Unknown:
		t.intent = nlp.MakeReservation
		t.askWhich(allOffers(len(offers)))
	default:
		return false
	}
	return true
}

// allOffers is the indexes of n offers.
func allOffers(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// onStayQuestion handles the reply to a question about the stay: its dates,
// its check-out or its guests. A bare number answers the number of guests
// or of nights.
func (t *turn) onStayQuestion(text string) bool {
	if n, ok := bareNumber(text); ok {
		switch {
		case t.st.Step == stepAskGuests && n >= 1 && n <= 20:
			t.partyOf(n)
			return true
		case t.st.Step == stepAskCheckout && n >= 1 && n <= 60:
			t.st.Context.Nights, t.st.Context.CheckOut = n, ""
			t.intent = nlp.MakeReservation
			t.reservation(false)
			return true
		}
	}
	switch {
	case hasSlotEntities(t.res.Entities):
		if !isBookingIntent(t.intent) {
			t.intent = nlp.MakeReservation
		}
		t.mergeSlots()
		t.reservation(false)
	case t.res.Answer == nlp.No:
		t.intent = nlp.MakeReservation
		t.abortBooking()
	case t.intent == nlp.Unknown:
		t.intent = nlp.MakeReservation
		t.reservation(false)
	default:
		return false
	}
	return true
}

// onBookingID handles the reply to "which booking do you want to cancel?".
func (t *turn) onBookingID(text string) bool {
	if id := t.findBookingID(text); id != "" {
		t.intent = nlp.CancelReservation
		t.cancelLookup(id)
		return true
	}
	switch {
	case t.res.Answer == nlp.No:
		t.intent = nlp.CancelReservation
		t.clearFlow()
		t.text(t.say(textBookingAborted, view{}))
	case t.intent == nlp.CancelReservation || t.intent == nlp.Unknown:
		t.intent = nlp.CancelReservation
		t.text(t.say(textCancelAskID, view{}))
	default:
		return false
	}
	return true
}

// onConfirmCancel handles the reply to the cancellation's confirmation prompt.
func (t *turn) onConfirmCancel(text string) bool {
	switch {
	case t.res.Answer == nlp.Yes || t.matchesTitle(text, textBtnConfirmCancel):
		t.intent = nlp.CancelReservation
		t.doCancel()
	case t.res.Answer == nlp.No || t.matchesTitle(text, textBtnKeepBooking):
		t.intent = nlp.CancelReservation
		t.keepBooking()
	case t.intent == nlp.CancelReservation || t.intent == nlp.Unknown:
		t.intent = nlp.CancelReservation
		t.cancelPrompt()
	default:
		return false
	}
	return true
}

// onLateCheckoutOffer handles the reply to the offer to ask reception for a
// late check-out; anything but yes or no drops the offer.
func (t *turn) onLateCheckoutOffer(text string) bool {
	switch {
	case t.res.Answer == nlp.Yes || t.matchesTitle(text, textBtnLateYes):
		t.intent = nlp.LateCheckout
		t.handoff(textLateRequested)
	case t.res.Answer == nlp.No || t.matchesTitle(text, textBtnLateNo):
		t.intent = nlp.LateCheckout
		t.clearFlow()
		t.text(t.say(textLateDeclined, view{}))
	default:
		t.clearFlow()
		return false
	}
	return true
}

// dispatch answers a message by its intent.
func (t *turn) dispatch() {
	e := t.res.Entities
	switch t.intent {
	case nlp.Greeting:
		if hasStayEntities(e) {
			t.mergeSlots()
			t.reservation(true)
			return
		}
		t.greet()
	case nlp.CheckAvailability, nlp.Pricing:
		if t.intent == nlp.Pricing && e.PerNight && !hasStayEntities(e) && t.perNight() {
			return
		}
		t.mergeSlots()
		t.reservation(true)
	case nlp.MakeReservation:
		t.mergeSlots()
		t.reservation(false)
	case nlp.CancelReservation:
		t.startCancel(t.m.Text)
	case nlp.HotelInfo:
		t.hotelInfo()
	case nlp.LateCheckout:
		t.lateCheckout()
	case nlp.HumanHandoff:
		t.handoff(textKey{})
	case nlp.Goodbye:
		t.clearFlow()
		t.text(t.say(textGoodbye, view{}))
	default:
		if hasSlotEntities(e) {
			t.mergeSlots()
			t.reservation(true)
			return
		}
		t.help()
	}
}

func isBookingIntent(in nlp.Intent) bool {
	return in == nlp.CheckAvailability || in == nlp.MakeReservation || in == nlp.Pricing
}

func hasStayEntities(e nlp.Entities) bool {
	return !e.CheckIn.IsZero() || !e.CheckOut.IsZero() || e.Nights > 0 || e.Adults > 0 || e.Children > 0
}

func hasSlotEntities(e nlp.Entities) bool { return hasStayEntities(e) || e.RoomType != "" }

var bareNumberRE = regexp.MustCompile(`^\s*(\d{1,2})\s*[.)]?\s*$`)

func bareNumber(text string) (int, bool) {
	m := bareNumberRE.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// matchesTitle reports whether the guest typed a button's title (in either
// language): channels without buttons and guests who copy them.
func (t *turn) matchesTitle(text string, key textKey) bool {
	for _, lang := range []string{langES, langEN} {
		if typedAs(text, say(lang, key, view{})) {
			return true
		}
	}
	return false
}

// typedAs reports whether the guest's text is label, give or take case,
// accents and the spaces and punctuation around it: guests type what a
// button or an offer says.
func typedAs(text, label string) bool {
	return strings.TrimSpace(nlp.Fold(strings.Trim(text, " .!¡?¿"))) == strings.TrimSpace(nlp.Fold(label))
}

func (t *turn) startsWithKeyword(text string, key textKey) bool {
	words := strings.Fields(nlp.Fold(text))
	if len(words) == 0 {
		return false
	}
	for _, lang := range []string{langES, langEN} {
		if words[0] == say(lang, key, view{}) {
			return true
		}
	}
	return false
}

func (t *turn) clearFlow() {
	t.st.Step = ""
	t.st.Pending = nil
	t.st.LastOffer = nil
	t.st.OfferStale = false
	t.st.DetailTries = 0
}

// clearStay forgets the stay being discussed (not who the guest is).
func (t *turn) clearStay() {
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights, c.Adults, c.Children, c.RoomType = "", "", 0, 0, 0, ""
	c.ChildAges, c.ChildAgesAsked = nil, false
}

// ---- PMS access ----

// pmsFailed answers a PMS failure with an apology and counts it.
func (t *turn) pmsFailed() {
	t.failed = true
	t.text(t.say(textPmsError, view{Phone: t.h.EmergencyPhone}))
}

func (t *turn) hotelInfoData() (*pms.HotelInfo, error) {
	if t.info == nil && t.infoErr == nil {
		info, err := t.o.pms.HotelInfo(t.ctx, t.h.Hotel)
		if err != nil {
			t.infoErr = err
		} else {
			t.info = &info
		}
	}
	return t.info, t.infoErr
}

func (t *turn) hotelName() string {
	if t.h.Name != "" {
		return t.h.Name
	}
	if info, err := t.hotelInfoData(); err == nil && !info.Name.Empty() {
		return t.local(info.Name)
	}
	return t.say(textTheHotel, view{})
}

func (t *turn) staleNote(asOf time.Time) string {
	v := view{}
	if !asOf.IsZero() {
		a := asOf.In(t.h.Location)
		if pms.DateOf(a) == pms.DateOf(t.now) {
			v.AsOf = a.Format("15:04")
		} else {
			v.AsOf = formatDate(t.lang, pms.DateOf(a), t.now) + " " + a.Format("15:04")
		}
	}
	return t.say(textStale, v)
}
