package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

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

// WhatsApp's limits (reference/external-apis.md).
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
	for _, k := range Intents {
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
	if t.m.ReplyID != "" && (t.m.Kind == chat.KindButtonReply || t.m.Kind == chat.KindListReply) {
		if t.onButton(t.m.ReplyID) {
			return
		}
	}
	if text == "" {
		t.text(t.say("unsupported", view{}))
		return
	}
	t.res = t.o.analyze(text, t.now)
	t.intent = knownIntent(t.res.Intent)
	t.pickLanguage(text)
	if t.m.Name != "" && t.st.Context.Name == "" {
		t.st.Context.Name = t.m.Name
	}
	if e := strings.TrimSpace(t.res.Entities.Email); e != "" {
		t.st.Context.Email = e
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

// pickLanguage answers in the guest's language. A short message ("ok", "2")
// says little about it, so only the first message or one of three words or
// more changes the conversation's language.
func (t *turn) pickLanguage(text string) {
	l := supportedLanguage(t.res.Language)
	if l == "" {
		return
	}
	if t.st.Language == "" || (l != t.st.Language && len(strings.Fields(text)) >= 3) {
		t.st.Language = l
	}
	t.lang = t.st.Language
}

func (t *turn) say(key string, v view) string { return say(t.lang, key, v) }

// ---- replies ----

func (t *turn) text(s string) {
	t.replies = append(t.replies, chat.Reply{Kind: chat.ReplyText, Text: truncate(s, maxTextBody)})
}

func (t *turn) button(id, titleKey string) chat.Button {
	return chat.Button{ID: id, Title: truncate(t.say(titleKey, view{}), maxButtonTitle)}
}

// ask sends body with reply buttons when interactive messages are on, or
// body plus a hint telling what to type otherwise.
func (t *turn) ask(body, hint, image string, buttons ...chat.Button) {
	if !t.h.Flags.InteractiveMessages {
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
		if t.st.Step == stepConfirmBooking && t.st.Pending != nil {
			t.book()
		} else {
			t.text(t.say("nothing_pending", view{}))
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
		t.handoff("")
	case id == BtnLateCheckoutYes:
		t.intent = nlp.LateCheckout
		if t.st.Step == stepLateCheckout {
			t.handoff("late_requested")
		} else {
			t.lateCheckout()
		}
	case id == BtnLateCheckoutNo:
		t.intent = nlp.LateCheckout
		t.clearFlow()
		t.text(t.say("late_declined", view{}))
	default:
		return false
	}
	return true
}

// onStep handles a text that answers what the agent last asked. It reports
// false when the message is about something else (it is then dispatched by
// intent, and the pending question stays).
func (t *turn) onStep(text string) bool {
	e := t.res.Entities
	switch t.st.Step {
	case stepConfirmBooking:
		switch {
		case t.res.Answer == nlp.Yes || t.matchesTitle(text, "btn_confirm"):
			t.intent = nlp.MakeReservation
			t.book()
		case t.matchesTitle(text, "btn_change_dates") || t.startsWithKeyword(text, "kw_change"):
			t.intent = nlp.MakeReservation
			if hasStayEntities(e) {
				t.mergeSlots()
				t.reservation(false)
			} else {
				t.changeDates()
			}
		case t.res.Answer == nlp.No || t.matchesTitle(text, "btn_abort"):
			t.intent = nlp.MakeReservation
			t.abortBooking()
		case hasSlotEntities(e):
			t.intent = nlp.MakeReservation
			t.mergeSlots()
			t.reservation(false)
		case isBookingIntent(t.intent) || t.intent == nlp.Unknown:
			t.intent = nlp.MakeReservation
			t.confirmPrompt()
		default:
			return false
		}
		return true

	case stepChooseRoom:
		if hasStayEntities(e) {
			t.intent = nlp.MakeReservation
			t.mergeSlots()
			t.reservation(false)
			return true
		}
		if off, ok := t.chosenOffer(text); ok {
			t.intent = nlp.MakeReservation
			t.selectOffer(off)
			return true
		}
		switch {
		case t.res.Answer == nlp.No:
			t.intent = nlp.MakeReservation
			t.abortBooking()
		case e.RoomType != "":
			// A room type that is not on offer: look again, saying so.
			t.intent = nlp.MakeReservation
			t.mergeSlots()
			t.reservation(true)
		case isBookingIntent(t.intent) || t.intent == nlp.Unknown:
			t.intent = nlp.MakeReservation
			t.offersReply()
		default:
			return false
		}
		return true

	case stepAskDates, stepAskCheckout, stepAskGuests:
		if n, ok := bareNumber(text); ok {
			switch {
			case t.st.Step == stepAskGuests && n >= 1 && n <= 20:
				t.st.Context.Adults, t.st.Context.Children = n, 0
				t.intent = nlp.MakeReservation
				t.reservation(false)
				return true
			case t.st.Step == stepAskCheckout && n >= 1 && n <= 60:
				t.st.Context.Nights, t.st.Context.CheckOut = n, ""
				t.intent = nlp.MakeReservation
				t.reservation(false)
				return true
			}
		}
		switch {
		case hasSlotEntities(e):
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

	case stepAskBookingID:
		if id := t.findBookingID(text); id != "" {
			t.intent = nlp.CancelReservation
			t.cancelLookup(id)
			return true
		}
		switch {
		case t.res.Answer == nlp.No:
			t.intent = nlp.CancelReservation
			t.clearFlow()
			t.text(t.say("booking_aborted", view{}))
		case t.intent == nlp.CancelReservation || t.intent == nlp.Unknown:
			t.intent = nlp.CancelReservation
			t.text(t.say("cancel_ask_id", view{}))
		default:
			return false
		}
		return true

	case stepConfirmCancel:
		switch {
		case t.res.Answer == nlp.Yes || t.matchesTitle(text, "btn_confirm_cancel"):
			t.intent = nlp.CancelReservation
			t.doCancel()
		case t.res.Answer == nlp.No || t.matchesTitle(text, "btn_keep_booking"):
			t.intent = nlp.CancelReservation
			t.keepBooking()
		case t.intent == nlp.CancelReservation || t.intent == nlp.Unknown:
			t.intent = nlp.CancelReservation
			t.cancelPrompt()
		default:
			return false
		}
		return true

	case stepLateCheckout:
		switch {
		case t.res.Answer == nlp.Yes || t.matchesTitle(text, "btn_late_yes"):
			t.intent = nlp.LateCheckout
			t.handoff("late_requested")
		case t.res.Answer == nlp.No || t.matchesTitle(text, "btn_late_no"):
			t.intent = nlp.LateCheckout
			t.clearFlow()
			t.text(t.say("late_declined", view{}))
		default:
			t.clearFlow()
			return false
		}
		return true
	}
	return false
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
		t.handoff("")
	case nlp.Goodbye:
		t.clearFlow()
		t.text(t.say("goodbye", view{}))
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
func (t *turn) matchesTitle(text, key string) bool {
	f := fold(strings.Trim(text, " .!¡?¿"))
	for _, lang := range []string{langES, langEN} {
		if f == fold(say(lang, key, view{})) {
			return true
		}
	}
	return false
}

func (t *turn) startsWithKeyword(text, key string) bool {
	words := strings.Fields(fold(text))
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
}

// clearStay forgets the stay being discussed (not who the guest is).
func (t *turn) clearStay() {
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights, c.Adults, c.Children, c.RoomType = "", "", 0, 0, 0, ""
}

// ---- PMS access ----

// pmsFailed answers a PMS failure with an apology and counts it.
func (t *turn) pmsFailed() {
	t.failed = true
	t.text(t.say("pms_error", view{Phone: t.h.EmergencyPhone}))
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
	if info, err := t.hotelInfoData(); err == nil && info.Name != "" {
		return info.Name
	}
	return t.say("the_hotel", view{})
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
	return t.say("stale", v)
}

// ---- reservation ----

// mergeSlots takes the stay details of this message into the session: new
// values replace old ones; a new check-in alone keeps the stay's length.
func (t *turn) mergeSlots() {
	e := t.res.Entities
	c := &t.st.Context
	oldIn, _ := pms.ParseDate(c.CheckIn)
	oldOut, _ := pms.ParseDate(c.CheckOut)
	switch {
	case !e.CheckIn.IsZero():
		c.CheckIn = e.CheckIn.String()
		switch {
		case !e.CheckOut.IsZero():
			c.CheckOut, c.Nights = e.CheckOut.String(), 0
		case e.Nights > 0:
			c.CheckOut, c.Nights = "", e.Nights
		case !oldIn.IsZero() && !oldOut.IsZero() && oldIn.Before(oldOut):
			c.CheckOut, c.Nights = e.CheckIn.AddDays(pms.Stay{CheckIn: oldIn, CheckOut: oldOut}.Nights()).String(), 0
		default:
			c.CheckOut = ""
		}
	case !e.CheckOut.IsZero():
		c.CheckOut, c.Nights = e.CheckOut.String(), 0
	case e.Nights > 0:
		c.CheckOut, c.Nights = "", e.Nights
	}
	if e.Adults > 0 {
		c.Adults, c.Children = e.Adults, e.Children
	} else if e.Children > 0 {
		c.Children = e.Children
	}
	if e.RoomType != "" {
		c.RoomType = e.RoomType
	}
	t.st.Pending = nil
}

// stay is the stay collected so far and whether it is complete; when it is
// not, the question to ask has been sent.
func (t *turn) stay() (pms.Stay, bool) {
	c := &t.st.Context
	ci, _ := pms.ParseDate(c.CheckIn)
	co, _ := pms.ParseDate(c.CheckOut)
	if ci.IsZero() {
		t.st.Step = stepAskDates
		t.text(t.say("ask_dates", view{}))
		return pms.Stay{}, false
	}
	if co.IsZero() && c.Nights > 0 {
		co = ci.AddDays(c.Nights)
		c.CheckOut, c.Nights = co.String(), 0
	}
	if co.IsZero() {
		t.st.Step = stepAskCheckout
		t.text(t.say("ask_checkout", view{CheckIn: formatDate(t.lang, ci, t.now)}))
		return pms.Stay{}, false
	}
	if !ci.Before(co) {
		c.CheckIn, c.CheckOut, c.Nights = "", "", 0
		t.st.Step = stepAskDates
		t.text(t.say("bad_dates", view{}))
		return pms.Stay{}, false
	}
	if ci.Before(pms.DateOf(t.now)) {
		c.CheckIn, c.CheckOut, c.Nights = "", "", 0
		t.st.Step = stepAskDates
		t.text(t.say("past_dates", view{CheckIn: formatDate(t.lang, ci, t.now)}))
		return pms.Stay{}, false
	}
	if c.Adults < 1 {
		t.st.Step = stepAskGuests
		t.text(t.say("ask_guests", view{}))
		return pms.Stay{}, false
	}
	return pms.Stay{CheckIn: ci, CheckOut: co, Adults: c.Adults, Children: c.Children}, true
}

func (t *turn) stayView(s pms.Stay) view {
	return view{
		Hotel:    t.hotelName(),
		CheckIn:  formatDate(t.lang, s.CheckIn, t.now),
		CheckOut: formatDate(t.lang, s.CheckOut, t.now),
		Nights:   s.Nights(),
		Party:    formatParty(t.lang, s.Adults, s.Children),
	}
}

// reservation moves the booking conversation on: asks for what is missing,
// or looks up availability and shows the offers (showOffers, or when the
// guest's room type is not clear) or goes straight to the confirmation when
// the guest asked to book and one offer fits.
func (t *turn) reservation(showOffers bool) {
	t.st.Pending = nil
	s, ok := t.stay()
	if !ok {
		return
	}
	av, err := t.o.pms.Availability(t.ctx, t.h.Hotel, s)
	if err != nil {
		if errors.Is(err, pms.ErrInvalid) {
			v := t.stayView(s)
			t.clearFlow()
			t.st.Context.CheckIn, t.st.Context.CheckOut = "", ""
			t.st.Step = stepAskDates
			t.text(t.say("invalid_stay", v))
			return
		}
		t.pmsFailed()
		return
	}
	if len(av.Offers) == 0 {
		t.soldOut(s)
		return
	}
	offers := make([]OfferState, 0, len(av.Offers))
	for _, o := range av.Offers {
		offers = append(offers, OfferState{
			RoomTypeID: o.RoomType.ID,
			Name:       o.RoomType.Name,
			Category:   roomCategory(o.RoomType.Name),
			Available:  o.Available,
			TotalPrice: o.TotalPrice,
			Currency:   av.Currency,
		})
	}
	wanted := t.st.Context.RoomType
	var matching []OfferState
	for _, o := range offers {
		if wanted != "" && o.Category == wanted {
			matching = append(matching, o)
		}
	}
	// The room type the guest asked for goes first.
	if len(matching) > 0 {
		rest := make([]OfferState, 0, len(offers))
		rest = append(rest, matching...)
		for _, o := range offers {
			if o.Category != wanted {
				rest = append(rest, o)
			}
		}
		offers = rest
	}
	if len(offers) > maxListRows {
		offers = offers[:maxListRows]
	}
	t.st.LastOffer = offers
	t.st.OfferStale = av.Stale
	t.st.OfferAsOf = ""
	if av.Stale && !av.AsOf.IsZero() {
		t.st.OfferAsOf = av.AsOf.UTC().Format(time.RFC3339)
	}
	if !showOffers {
		switch {
		case len(matching) == 1:
			t.selectOffer(matching[0])
			return
		case wanted == "" && len(offers) == 1:
			t.selectOffer(offers[0])
			return
		}
	}
	t.offersReply()
}

// offersReply shows st.LastOffer: numbered text, buttons (up to three) or a
// list, saying so first when the room type the guest wants is not among them.
func (t *turn) offersReply() {
	c := t.st.Context
	ci, _ := pms.ParseDate(c.CheckIn)
	co, _ := pms.ParseDate(c.CheckOut)
	s := pms.Stay{CheckIn: ci, CheckOut: co, Adults: c.Adults, Children: c.Children}
	if len(t.st.LastOffer) == 0 || ci.IsZero() || co.IsZero() {
		t.reservation(true)
		return
	}
	t.st.Step = stepChooseRoom
	missing := c.RoomType
	for _, o := range t.st.LastOffer {
		if o.Category == c.RoomType {
			missing = ""
		}
	}
	labels := t.offerLabels(t.st.LastOffer)
	var lines []string
	for i, o := range t.st.LastOffer {
		lines = append(lines, t.say("offer_line", view{N: i + 1, Room: labels[i], Total: formatPrice(t.lang, o.TotalPrice, o.Currency)}))
	}
	v := t.stayView(s)
	v.Options = strings.Join(lines, "\n")
	var parts []string
	if missing != "" {
		parts = append(parts, t.say("offers_room_missing", view{Room: roomLabel(t.lang, missing, missing)}))
	}
	parts = append(parts, t.say("offers", v))
	if t.st.OfferStale {
		asOf, _ := time.Parse(time.RFC3339, t.st.OfferAsOf)
		parts = append(parts, t.staleNote(asOf))
	}
	body := strings.Join(parts, "\n\n")

	switch {
	case !t.h.Flags.InteractiveMessages:
		t.text(body + "\n\n" + t.say("offers_hint_text", view{}))
	case len(t.st.LastOffer) <= maxButtons:
		buttons := make([]chat.Button, 0, len(t.st.LastOffer))
		for i, o := range t.st.LastOffer {
			buttons = append(buttons, chat.Button{ID: roomReplyPrefix + strconv.Itoa(o.RoomTypeID), Title: truncate(labels[i], maxButtonTitle)})
		}
		t.ask(body+"\n\n"+t.say("offers_hint_buttons", view{}), "", t.h.PhotoURL, buttons...)
	default:
		rows := make([]chat.Row, 0, len(t.st.LastOffer))
		for i, o := range t.st.LastOffer {
			rows = append(rows, chat.Row{
				ID:          roomReplyPrefix + strconv.Itoa(o.RoomTypeID),
				Title:       truncate(labels[i], maxRowTitle),
				Description: truncate(t.say("offer_row", view{Total: formatPrice(t.lang, o.TotalPrice, o.Currency), Nights: s.Nights()}), maxRowDesc),
			})
		}
		t.replies = append(t.replies, chat.Reply{
			Kind:       chat.ReplyList,
			Text:       truncate(body+"\n\n"+t.say("offers_hint_buttons", view{}), maxTextBody),
			ListButton: truncate(t.say("list_button", view{}), maxButtonTitle),
			Sections:   []chat.Section{{Title: truncate(t.say("list_section", view{}), maxSectionTitle), Rows: rows}},
		})
	}
}

// offerLabels names each offer for the guest; two offers of one category
// keep their PMS names so that the choices stay distinct.
func (t *turn) offerLabels(offers []OfferState) []string {
	count := map[string]int{}
	for _, o := range offers {
		count[o.Category]++
	}
	out := make([]string, len(offers))
	for i, o := range offers {
		if o.Category != "" && count[o.Category] == 1 {
			out[i] = roomLabel(t.lang, o.Category, o.Name)
		} else {
			out[i] = o.Name
		}
	}
	return out
}

// chosenOffer reads which offer the guest picked: a room type, a number, a
// label, or "yes" when there was one offer.
func (t *turn) chosenOffer(text string) (OfferState, bool) {
	offers := t.st.LastOffer
	if want := t.res.Entities.RoomType; want != "" {
		for _, o := range offers {
			if o.Category == want {
				return o, true
			}
		}
	}
	if n, ok := bareNumber(text); ok && n >= 1 && n <= len(offers) {
		return offers[n-1], true
	}
	f := fold(strings.Trim(text, " .!¡?¿"))
	for i, l := range t.offerLabels(offers) {
		if f == fold(l) || f == fold(offers[i].Name) {
			return offers[i], true
		}
	}
	if t.res.Answer == nlp.Yes && len(offers) == 1 {
		return offers[0], true
	}
	return OfferState{}, false
}

// selectOffer makes the offer the pending booking and asks to confirm it.
func (t *turn) selectOffer(o OfferState) {
	c := t.st.Context
	t.st.Pending = &Pending{
		Kind:       "booking",
		RoomTypeID: o.RoomTypeID,
		RoomName:   o.Name,
		Category:   o.Category,
		CheckIn:    c.CheckIn,
		CheckOut:   c.CheckOut,
		Adults:     c.Adults,
		Children:   c.Children,
		TotalPrice: o.TotalPrice,
		Currency:   o.Currency,
	}
	t.confirmPrompt()
}

func (t *turn) pendingStay() pms.Stay {
	p := t.st.Pending
	ci, _ := pms.ParseDate(p.CheckIn)
	co, _ := pms.ParseDate(p.CheckOut)
	return pms.Stay{CheckIn: ci, CheckOut: co, Adults: p.Adults, Children: p.Children}
}

// confirmPrompt shows the pending booking and asks for the yes.
func (t *turn) confirmPrompt() {
	p := t.st.Pending
	if p == nil || p.Kind != "booking" {
		t.reservation(false)
		return
	}
	t.st.Step = stepConfirmBooking
	v := t.stayView(t.pendingStay())
	v.Room = roomLabel(t.lang, p.Category, p.RoomName)
	v.Total = formatPrice(t.lang, p.TotalPrice, p.Currency)
	body := t.say("confirm_prompt", v)
	if t.st.OfferStale {
		asOf, _ := time.Parse(time.RFC3339, t.st.OfferAsOf)
		body += "\n\n" + t.staleNote(asOf)
	}
	t.ask(body, t.say("confirm_hint_text", view{}), "",
		t.button(BtnConfirmBooking, "btn_confirm"),
		t.button(BtnChangeDates, "btn_change_dates"),
		t.button(BtnAbortBooking, "btn_abort"))
}

// bookingReference is the idempotency key of a booking: the session and the
// message that confirmed it, so a redelivered message books once.
func bookingReference(sessionID, messageID string, now time.Time) string {
	if messageID == "" {
		messageID = now.UTC().Format(time.RFC3339Nano)
	}
	h := sha256.Sum256([]byte(sessionID + "\x00" + messageID))
	return "AG" + strings.ToUpper(hex.EncodeToString(h[:10]))
}

// book books the pending offer through the PMS.
func (t *turn) book() {
	p := t.st.Pending
	if p == nil || p.Kind != "booking" {
		t.text(t.say("nothing_pending", view{}))
		return
	}
	if p.Reference == "" {
		p.Reference = bookingReference(t.s.ID, t.m.ID, t.now)
	}
	b, err := t.o.pms.CreateBooking(t.ctx, pms.BookingRequest{
		Hotel:      t.h.Hotel,
		RoomTypeID: p.RoomTypeID,
		Stay:       t.pendingStay(),
		Guest:      t.guest(),
		Reference:  p.Reference,
	})
	switch {
	case err == nil:
	case errors.Is(err, pms.ErrSoldOut):
		t.text(t.say("booking_sold_out", view{Room: roomLabel(t.lang, p.Category, p.RoomName)}))
		t.st.Context.RoomType = p.Category
		t.reservation(true)
		return
	case errors.Is(err, pms.ErrInvalid), errors.Is(err, pms.ErrNotFound):
		v := t.stayView(t.pendingStay())
		t.clearFlow()
		t.st.Context.CheckIn, t.st.Context.CheckOut = "", ""
		t.st.Step = stepAskDates
		t.text(t.say("invalid_stay", v))
		return
	default:
		// The pending booking and its reference stay: the guest's next "yes"
		// retries without risk of booking twice.
		t.pmsFailed()
		return
	}
	v := t.stayView(b.Stay)
	v.BookingID = b.ID
	v.Room = roomLabel(t.lang, p.Category, b.RoomName)
	v.Total = formatPrice(t.lang, b.TotalPrice, b.Currency)
	t.st.Bookings = appendCapped(t.st.Bookings, b.ID, maxBookings)
	t.clearFlow()
	t.clearStay()
	t.text(t.say("booked", v))
}

// guest is who the booking is for, from the channel and what the guest told us.
func (t *turn) guest() pms.Guest {
	g := pms.Guest{Email: t.st.Context.Email}
	first, last, _ := strings.Cut(strings.TrimSpace(t.st.Context.Name), " ")
	g.FirstName, g.LastName = first, strings.TrimSpace(last)
	switch t.m.Channel {
	case chat.WhatsApp:
		g.Phone = strings.TrimPrefix(t.s.Key.UserID, "+")
	case chat.Gmail:
		if g.Email == "" {
			g.Email = t.s.Key.UserID
		}
	}
	return g
}

func (t *turn) changeDates() {
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights = "", "", 0
	t.clearFlow()
	t.st.Step = stepAskDates
	t.text(t.say("ask_dates", view{}))
}

func (t *turn) abortBooking() {
	t.clearFlow()
	t.clearStay()
	t.text(t.say("booking_aborted", view{}))
}

// soldOut says nothing is free and looks for nearby dates that are.
func (t *turn) soldOut(s pms.Stay) {
	v := t.stayView(s)
	msg := t.say("sold_out", v)
	var alts []string
	today := pms.DateOf(t.now)
	for _, shift := range alternativeShifts {
		if len(alts) == maxAlternatives {
			break
		}
		alt := pms.Stay{CheckIn: s.CheckIn.AddDays(shift), CheckOut: s.CheckOut.AddDays(shift), Adults: s.Adults, Children: s.Children}
		if alt.CheckIn.Before(today) {
			continue
		}
		av, err := t.o.pms.Availability(t.ctx, t.h.Hotel, alt)
		if err != nil {
			break // suggestions are a courtesy; the answer stands without them
		}
		if len(av.Offers) > 0 {
			alts = append(alts, t.say("alternative", view{CheckIn: formatDate(t.lang, alt.CheckIn, t.now), CheckOut: formatDate(t.lang, alt.CheckOut, t.now)}))
		}
	}
	if len(alts) > 0 {
		msg += " " + t.say("sold_out_alternatives", view{Alternatives: strings.Join(alts, t.say("or", view{}))})
	} else {
		msg += " " + t.say("sold_out_other_dates", view{})
	}
	t.clearFlow()
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights = "", "", 0
	t.st.Step = stepAskDates
	t.text(msg)
}

// ---- cancellation ----

var bookingIDRE = regexp.MustCompile(`(?i)\b([a-z]{2,10}-?\d{3,}|\d{5,})\b`)

// findBookingID finds a booking number in the text: one booked in this
// conversation, or something shaped like one.
func (t *turn) findBookingID(text string) string {
	up := strings.ToUpper(text)
	for i := len(t.st.Bookings) - 1; i >= 0; i-- {
		if strings.Contains(up, strings.ToUpper(t.st.Bookings[i])) {
			return t.st.Bookings[i]
		}
	}
	if m := bookingIDRE.FindString(text); m != "" {
		return strings.ToUpper(m)
	}
	return ""
}

func (t *turn) startCancel(text string) {
	id := t.findBookingID(text)
	if id == "" && len(t.st.Bookings) > 0 {
		id = t.st.Bookings[len(t.st.Bookings)-1]
	}
	if id == "" {
		t.clearFlow()
		t.st.Step = stepAskBookingID
		t.text(t.say("cancel_ask_id", view{}))
		return
	}
	t.cancelLookup(id)
}

// owns reports whether the booking is the guest's: booked in this
// conversation or under the guest's phone or email. Someone else's booking is
// answered as not found, so its existence does not leak.
func (t *turn) owns(b pms.Booking) bool {
	for _, id := range t.st.Bookings {
		if id == b.ID {
			return true
		}
	}
	digits := func(s string) string {
		var out strings.Builder
		for _, r := range s {
			if r >= '0' && r <= '9' {
				out.WriteRune(r)
			}
		}
		return out.String()
	}
	switch t.m.Channel {
	case chat.WhatsApp:
		if p := digits(b.Guest.Phone); p != "" && p == digits(t.s.Key.UserID) {
			return true
		}
	case chat.Gmail:
		if b.Guest.Email != "" && strings.EqualFold(b.Guest.Email, t.s.Key.UserID) {
			return true
		}
	}
	return false
}

func (t *turn) cancelLookup(id string) {
	b, err := t.o.pms.GetBooking(t.ctx, t.h.Hotel, id)
	switch {
	case errors.Is(err, pms.ErrNotFound) || (err == nil && !t.owns(b)):
		t.clearFlow()
		t.st.Step = stepAskBookingID
		t.text(t.say("cancel_not_found", view{BookingID: id}))
		return
	case err != nil:
		t.pmsFailed()
		return
	}
	if b.Status == pms.BookingCancelled || b.Status == pms.BookingRefunded {
		t.clearFlow()
		t.text(t.say("cancel_already", view{BookingID: b.ID}))
		return
	}
	t.clearFlow()
	t.st.Pending = &Pending{
		Kind:       "cancel",
		BookingID:  b.ID,
		RoomTypeID: b.RoomTypeID,
		RoomName:   b.RoomName,
		Category:   roomCategory(b.RoomName),
		CheckIn:    b.Stay.CheckIn.String(),
		CheckOut:   b.Stay.CheckOut.String(),
		Adults:     b.Stay.Adults,
		Children:   b.Stay.Children,
		TotalPrice: b.TotalPrice,
		Currency:   b.Currency,
	}
	t.cancelPrompt()
}

func (t *turn) cancelPrompt() {
	p := t.st.Pending
	if p == nil || p.Kind != "cancel" {
		t.startCancel("")
		return
	}
	t.st.Step = stepConfirmCancel
	v := t.stayView(t.pendingStay())
	v.BookingID = p.BookingID
	v.Room = roomLabel(t.lang, p.Category, p.RoomName)
	v.Total = formatPrice(t.lang, p.TotalPrice, p.Currency)
	t.ask(t.say("cancel_prompt", v), t.say("cancel_hint_text", view{}), "",
		t.button(BtnConfirmCancel, "btn_confirm_cancel"),
		t.button(BtnKeepBooking, "btn_keep_booking"))
}

func (t *turn) doCancel() {
	p := t.st.Pending
	b, err := t.o.pms.CancelBooking(t.ctx, t.h.Hotel, p.BookingID)
	switch {
	case errors.Is(err, pms.ErrNotFound):
		t.clearFlow()
		t.text(t.say("cancel_not_found", view{BookingID: p.BookingID}))
		return
	case err != nil:
		t.pmsFailed()
		return
	}
	t.clearFlow()
	t.text(t.say("cancelled", view{BookingID: b.ID}))
}

func (t *turn) keepBooking() {
	id := ""
	if p := t.st.Pending; p != nil && p.Kind == "cancel" {
		id = p.BookingID
	}
	t.clearFlow()
	if id == "" {
		t.text(t.say("booking_aborted", view{}))
		return
	}
	t.text(t.say("cancel_kept", view{BookingID: id}))
}

// ---- information, handoff, hours ----

func (t *turn) hotelInfo() {
	info, err := t.hotelInfoData()
	if err != nil {
		t.pmsFailed()
		return
	}
	addr := info.Address
	if info.City != "" && !strings.Contains(addr, info.City) {
		addr += ", " + info.City
	}
	v := view{
		Hotel:        t.hotelName(),
		Address:      addr,
		CheckInTime:  info.CheckInTime,
		CheckOutTime: info.CheckOutTime,
		Amenities:    strings.Join(info.Amenities, ", "),
		Phone:        info.Phone,
	}
	var lines []string
	for _, topic := range t.res.Entities.Topics {
		switch topic {
		case "address":
			lines = append(lines, t.say("info_address", v))
		case "checkin_time":
			lines = append(lines, t.say("info_checkin", v))
		case "checkout_time":
			lines = append(lines, t.say("info_checkout", v))
		case "amenities":
			lines = append(lines, t.say("info_amenities", v))
		default:
			kws, ok := amenityKeywords[topic]
			if !ok {
				continue
			}
			found := ""
			for _, a := range info.Amenities {
				for _, kw := range kws {
					if found == "" && strings.Contains(fold(a), kw) {
						found = a
					}
				}
			}
			if found != "" {
				lines = append(lines, t.say("info_has", view{Amenity: found}))
			} else {
				lines = append(lines, t.say("info_hasnt", view{Topic: t.say("topic_"+topic, view{})}))
			}
		}
	}
	if len(lines) == 0 {
		lines = append(lines, t.say("info_general", v))
	}
	if info.Stale {
		lines = append(lines, t.staleNote(time.Time{}))
	}
	t.text(strings.Join(lines, "\n"))
}

func (t *turn) lateCheckout() {
	info, err := t.hotelInfoData()
	if err != nil {
		t.pmsFailed()
		return
	}
	t.clearFlow()
	t.st.Step = stepLateCheckout
	body := t.say("late_checkout", view{CheckOutTime: info.CheckOutTime})
	if info.Stale {
		body += "\n\n" + t.staleNote(time.Time{})
	}
	t.ask(body, t.say("late_hint_text", view{}), "",
		t.button(BtnLateCheckoutYes, "btn_late_yes"),
		t.button(BtnLateCheckoutNo, "btn_late_no"))
}

// emergencyPhone is the number to give outside hours: the configured one, or
// the hotel's as the PMS knows it (best effort).
func (t *turn) emergencyPhone() string {
	if t.h.EmergencyPhone != "" {
		return t.h.EmergencyPhone
	}
	if info, err := t.hotelInfoData(); err == nil {
		return info.Phone
	}
	return ""
}

// handoff passes the conversation to a person: replies once, then the agent
// stays silent until ResetHandoff or the session expires. textKey overrides
// the default message.
func (t *turn) handoff(textKey string) {
	t.clearFlow()
	t.st.Handoff = true
	v := view{Hotel: t.hotelName(), Hours: t.h.BusinessHours.String(), Opens: clockString(t.h.BusinessHours.Open)}
	switch {
	case textKey != "":
		t.text(t.say(textKey, v))
	case t.h.BusinessHours.Contains(t.now):
		t.text(t.say("handoff", v))
	default:
		v.Phone = t.emergencyPhone()
		t.text(t.say("handoff_after_hours", v))
	}
}

// afterHours answers an urgent message outside business hours: who to call
// now and when a person will answer. The conversation is not handed off, so
// the agent keeps answering what it can.
func (t *turn) afterHours() {
	t.text(t.say("after_hours", view{
		Hours: t.h.BusinessHours.String(),
		Opens: clockString(t.h.BusinessHours.Open),
		Phone: t.emergencyPhone(),
	}))
}

func (t *turn) greet() {
	first, _, _ := strings.Cut(strings.TrimSpace(t.m.Name), " ")
	body := t.say("greeting", view{Hotel: t.hotelName(), Guest: first})
	if !t.h.Flags.InteractiveMessages {
		t.text(body)
		return
	}
	t.ask(body, "", t.h.PhotoURL,
		t.button(BtnMenuAvailability, "btn_menu_availability"),
		t.button(BtnMenuInfo, "btn_menu_info"),
		t.button(BtnMenuHuman, "btn_menu_human"))
}

func (t *turn) help() {
	switch t.st.Step {
	case stepChooseRoom:
		t.offersReply()
		return
	case stepConfirmBooking:
		t.confirmPrompt()
		return
	case stepConfirmCancel:
		t.cancelPrompt()
		return
	}
	body := t.say("help", view{})
	if !t.h.Flags.InteractiveMessages {
		t.text(body)
		return
	}
	t.ask(body, "", "",
		t.button(BtnMenuAvailability, "btn_menu_availability"),
		t.button(BtnMenuInfo, "btn_menu_info"),
		t.button(BtnMenuHuman, "btn_menu_human"))
}
