package agent

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

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
	switch {
	case e.Adults > 0:
		c.setParty(e.Adults, e.Children, e.ChildAges)
	case e.Children > 0:
		c.setParty(c.Adults, e.Children, e.ChildAges)
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
		t.text(t.say(textAskDates, view{}))
		return pms.Stay{}, false
	}
	if co.IsZero() && c.Nights > 0 {
		co = ci.AddDays(c.Nights)
		c.CheckOut, c.Nights = co.String(), 0
	}
	if co.IsZero() {
		t.st.Step = stepAskCheckout
		t.text(t.say(textAskCheckout, view{CheckIn: formatDate(t.lang, ci, t.now)}))
		return pms.Stay{}, false
	}
	if !ci.Before(co) {
		c.CheckIn, c.CheckOut, c.Nights = "", "", 0
		t.st.Step = stepAskDates
		t.text(t.say(textBadDates, view{}))
		return pms.Stay{}, false
	}
	if ci.Before(pms.DateOf(t.now)) {
		// Refused here: no PMS is asked about a stay no hotel can sell.
		t.pastStay(ci)
		return pms.Stay{}, false
	}
	if c.Adults < 1 {
		t.st.Step = stepAskGuests
		t.text(t.say(textAskGuests, view{}))
		return pms.Stay{}, false
	}
	return pms.Stay{CheckIn: ci, CheckOut: co, Adults: c.Adults, Children: c.Children, ChildAges: agesOf(c.Children, c.ChildAges)}, true
}

func (t *turn) stayView(s pms.Stay) view {
	return view{
		Hotel:    t.hotelName(),
		CheckIn:  formatDate(t.lang, s.CheckIn, t.now),
		CheckOut: formatDate(t.lang, s.CheckOut, t.now),
		Nights:   s.Nights(),
		Party:    t.party(s),
	}
}

// party is "2 adultos y 1 niño (7 años)": the stay's party, with the
// children's ages when known.
func (t *turn) party(s pms.Stay) string {
	p := formatParty(t.lang, s.Adults, s.Children)
	if ages := agesOf(s.Children, s.ChildAges); ages != nil {
		p += t.say(textPartyAges, view{Ages: formatAges(t.lang, ages), N: ages[len(ages)-1]})
	}
	return p
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
		switch {
		case t.stayRefused(err, s):
		case errors.Is(err, pms.ErrInvalid):
			t.invalidStay(s)
		default:
			t.pmsFailed()
		}
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
			Name:       t.local(o.RoomType.Name),
			Names:      o.RoomType.Name,
			Category:   roomCategory(o.RoomType.Name),
			Available:  o.Available,
			TotalPrice: o.TotalPrice,
			Currency:   av.Currency,
			MaxAdults:  o.RoomType.MaxAdults,
			Capacity:   o.RoomType.Capacity(),
		})
	}
	wanted := t.st.Context.RoomType
	matching := t.namedOffers(offers)
	if len(matching) == 0 && wanted != "" {
		matching = offersOfCategory(offers, wanted)
	}
	// The room types the guest asked for go first.
	if len(matching) > 0 {
		first := make([]OfferState, 0, len(offers))
		for _, i := range matching {
			first = append(first, offers[i])
		}
		for i, o := range offers {
			if !slices.Contains(matching, i) {
				first = append(first, o)
			}
		}
		offers = first
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
			t.selectOffer(offers[0])
			return
		case wanted == "" && len(matching) == 0 && len(offers) == 1:
			t.selectOffer(offers[0])
			return
		}
	}
	t.offersReply()
}

// namedOffers are the offers this message names by the PMS's names, in
// any of their languages ("la General Rooms", "delux", "the double room"
// to a Spanish name's English one), as indexes of offers. Taps name
// nothing: their text is a title, not the guest's words.
func (t *turn) namedOffers(offers []OfferState) []int {
	if t.m.ReplyID != "" || len(offers) == 0 {
		return nil
	}
	var names []string
	var owners []int
	for i, o := range offers {
		all := o.Names.All()
		if len(all) == 0 {
			all = []string{o.Name}
		}
		for _, n := range all {
			names, owners = append(names, n), append(owners, i)
		}
	}
	var picked []int
	for _, n := range nlp.MatchNames(t.m.Text, names) {
		if !slices.Contains(picked, owners[n]) {
			picked = append(picked, owners[n])
		}
	}
	return picked
}

// local is a PMS text in the guest's language, else in the hotel's, else
// in any the PMS has.
func (t *turn) local(x pms.Text) string { return x.In(t.lang, t.h.Language) }

// roomName is a room type's name for the guest: names in their language
// (local), else name, the one kept from before the names were.
func (t *turn) roomName(names pms.Text, name string) string {
	return cmp.Or(t.local(names), name)
}

func (t *turn) offerName(o OfferState) string { return t.roomName(o.Names, o.Name) }

// roomCategory is the kind of room the names say, in whichever language
// says it.
func roomCategory(names pms.Text) string {
	for _, n := range names.All() {
		if c := nlp.RoomCategoryOf(n); c != "" {
			return c
		}
	}
	return ""
}

// roomTypeNames are the names of the hotel's room type id in every
// language; nil when the PMS cannot say (the booking's own name is shown).
func (t *turn) roomTypeNames(id int) pms.Text {
	rts, err := t.o.pms.RoomTypes(t.ctx, t.h.Hotel)
	if err != nil {
		return nil
	}
	for _, rt := range rts {
		if rt.ID == id {
			return rt.Name
		}
	}
	return nil
}

// offersOfCategory are the offers a guest asking for a kind of room
// ("doble", "suite") may mean, as indexes: those whose names say they are
// of it; when none does, those whose names say no kind at all and whose
// size fits it. A hotel may call its rooms anything ("General Rooms"), and
// then only their size tells.
func offersOfCategory(offers []OfferState, category string) []int {
	var named, fitting []int
	for i, o := range offers {
		switch {
		case o.Category == category:
			named = append(named, i)
		case o.Category == "" && sizeFits(o, category):
			fitting = append(fitting, i)
		}
	}
	if len(named) > 0 {
		return named
	}
	return fitting
}

// sizeFits reports whether a room of the offer's size can be the kind of
// room asked for. A suite is a kind of room, not a size: only its name says.
func sizeFits(o OfferState, category string) bool {
	switch category {
	case nlp.RoomSingle:
		return true
	case nlp.RoomDouble, nlp.RoomTwin:
		return o.MaxAdults == 0 || o.MaxAdults >= 2
	case nlp.RoomFamily:
		return o.MaxAdults == 0 || o.Capacity >= 3
	}
	return false
}

// offersReply shows st.LastOffer: numbered text, buttons (up to three) or a
// list, saying so first when the room type the guest wants is not among them.
func (t *turn) offersReply() {
	c := t.st.Context
	ci, _ := pms.ParseDate(c.CheckIn)
	co, _ := pms.ParseDate(c.CheckOut)
	s := pms.Stay{CheckIn: ci, CheckOut: co, Adults: c.Adults, Children: c.Children, ChildAges: agesOf(c.Children, c.ChildAges)}
	if len(t.st.LastOffer) == 0 || ci.IsZero() || co.IsZero() {
		t.reservation(true)
		return
	}
	t.st.Step = stepChooseRoom
	var lines []string
	for i, o := range t.st.LastOffer {
		lines = append(lines, t.say(textOfferLine, view{N: i + 1, Room: t.offerName(o), Total: formatPrice(t.lang, o.TotalPrice, o.Currency)}))
	}
	v := t.stayView(s)
	v.Options = strings.Join(lines, "\n")
	var parts []string
	if c.RoomType != "" && len(offersOfCategory(t.st.LastOffer, c.RoomType)) == 0 {
		// The guest's own word for the room, in their language.
		parts = append(parts, t.say(textOffersRoomMissing, view{Room: t.say(roomText(c.RoomType), view{})}))
	}
	parts = append(parts, t.say(textOffers, v))
	if t.st.OfferStale {
		asOf, _ := time.Parse(time.RFC3339, t.st.OfferAsOf)
		parts = append(parts, t.staleNote(asOf))
	}
	body := strings.Join(parts, "\n\n")

	switch {
	case !t.interactive():
		t.text(body + "\n\n" + t.say(textOffersHintText, view{}))
	case len(t.st.LastOffer) <= maxButtons:
		buttons := make([]chat.Button, 0, len(t.st.LastOffer))
		for _, o := range t.st.LastOffer {
			buttons = append(buttons, chat.Button{ID: roomReplyPrefix + strconv.Itoa(o.RoomTypeID), Title: truncate(t.offerName(o), maxButtonTitle)})
		}
		t.ask(body+"\n\n"+t.say(textOffersHintButtons, view{}), "", t.h.PhotoURL, buttons...)
	default:
		rows := make([]chat.Row, 0, len(t.st.LastOffer))
		for _, o := range t.st.LastOffer {
			rows = append(rows, chat.Row{
				ID:          roomReplyPrefix + strconv.Itoa(o.RoomTypeID),
				Title:       truncate(t.offerName(o), maxRowTitle),
				Description: truncate(t.say(textOfferRow, view{Total: formatPrice(t.lang, o.TotalPrice, o.Currency), Nights: s.Nights()}), maxRowDesc),
			})
		}
		t.replies = append(t.replies, chat.Reply{
			Kind:       chat.ReplyList,
			Text:       truncate(body+"\n\n"+t.say(textOffersHintButtons, view{}), maxTextBody),
			ListButton: truncate(t.say(textListButton, view{}), maxButtonTitle),
			Sections:   []chat.Section{{Title: truncate(t.say(textListSection, view{}), maxSectionTitle), Rows: rows}},
		})
	}
}

// pickedOffers are the offers the guest's reply picks, as indexes: by the
// PMS's name, whole or in part ("la General Rooms", "delux"), or by the kind
// of room asked for ("la doble"). Several mean the reply fits them alike;
// none, that it names none.
func (t *turn) pickedOffers() []int {
	offers := t.st.LastOffer
	if named := t.namedOffers(offers); len(named) > 0 {
		return named
	}
	if want := t.res.Entities.RoomType; want != "" {
		return offersOfCategory(offers, want)
	}
	return nil
}

// askWhich asks which of the offers (indexes of st.LastOffer) the guest
// wants, naming them with their numbers in the list: short, for a reply
// that chose none or several. With buttons, three or fewer are buttons;
// the list already sent still answers a tap.
func (t *turn) askWhich(idx []int) {
	t.st.Step = stepChooseRoom
	offers := t.st.LastOffer
	names := make([]string, 0, len(idx))
	for _, i := range idx {
		names = append(names, fmt.Sprintf("%s (%d)", t.offerName(offers[i]), i+1))
	}
	body := t.say(textChooseWhich, view{Options: joinList(names, t.say(textOr, view{}))})
	if !t.interactive() || len(idx) > maxButtons {
		t.text(body)
		return
	}
	buttons := make([]chat.Button, 0, len(idx))
	for _, i := range idx {
		buttons = append(buttons, chat.Button{ID: roomReplyPrefix + strconv.Itoa(offers[i].RoomTypeID), Title: truncate(t.offerName(offers[i]), maxButtonTitle)})
	}
	t.ask(body, "", "", buttons...)
}

// selectOffer makes the offer the pending booking and asks to confirm it.
func (t *turn) selectOffer(o OfferState) {
	c := t.st.Context
	t.st.Pending = &Pending{
		Kind:       "booking",
		RoomTypeID: o.RoomTypeID,
		RoomName:   t.offerName(o),
		RoomNames:  o.Names,
		Category:   o.Category,
		CheckIn:    c.CheckIn,
		CheckOut:   c.CheckOut,
		Adults:     c.Adults,
		Children:   c.Children,
		ChildAges:  agesOf(c.Children, c.ChildAges),
		TotalPrice: o.TotalPrice,
		Currency:   o.Currency,
	}
	t.st.LastQuote = &Quote{Room: t.offerName(o), RoomNames: o.Names, TotalPrice: o.TotalPrice, Currency: o.Currency, Nights: t.pendingStay().Nights()}
	t.confirmPrompt()
}

// perNight answers "¿y por noche?": the price of one night of the offers
// on show, else of the room last chosen. It reports false when there is
// no price to divide.
func (t *turn) perNight() bool {
	var lines []string
	if len(t.st.LastOffer) > 0 {
		if s, ok := t.stay(); ok && s.Nights() > 0 {
			for _, o := range t.st.LastOffer {
				lines = append(lines, t.perNightLine(Quote{Room: t.offerName(o), TotalPrice: o.TotalPrice, Currency: o.Currency, Nights: s.Nights()}))
			}
		}
	} else if q := t.st.LastQuote; q != nil && q.Nights > 0 {
		lines = append(lines, t.perNightLine(*q))
	}
	if len(lines) == 0 {
		return false
	}
	t.intent = nlp.Pricing
	t.text(strings.Join(lines, "\n"))
	return true
}

func (t *turn) perNightLine(q Quote) string {
	return t.say(textPricePerNight, view{Room: t.roomName(q.RoomNames, q.Room), Nights: q.Nights,
		Total: formatPrice(t.lang, q.TotalPrice/float64(q.Nights), q.Currency),
		Quote: formatPrice(t.lang, q.TotalPrice, q.Currency)})
}

func (t *turn) pendingStay() pms.Stay {
	p := t.st.Pending
	ci, _ := pms.ParseDate(p.CheckIn)
	co, _ := pms.ParseDate(p.CheckOut)
	return pms.Stay{CheckIn: ci, CheckOut: co, Adults: p.Adults, Children: p.Children, ChildAges: agesOf(p.Children, p.ChildAges)}
}

// confirmPrompt shows the pending booking and asks for the yes.
func (t *turn) confirmPrompt() {
	p := t.st.Pending
	if p == nil || p.Kind != "booking" {
		t.reservation(false)
		return
	}
	if t.askGuestDetail() {
		return
	}
	t.st.Step = stepConfirmBooking
	v := t.stayView(t.pendingStay())
	v.Holder = t.holder()
	v.Room = t.roomName(p.RoomNames, p.RoomName)
	v.Total = formatPrice(t.lang, p.TotalPrice, p.Currency)
	body := t.say(textConfirmPrompt, v)
	if t.st.OfferStale {
		asOf, _ := time.Parse(time.RFC3339, t.st.OfferAsOf)
		body += "\n\n" + t.staleNote(asOf)
	}
	t.ask(body, t.say(textConfirmHintText, view{}), "",
		t.button(BtnConfirmBooking, textBtnConfirm),
		t.button(BtnChangeDates, textBtnChangeDates),
		t.button(BtnAbortBooking, textBtnAbort))
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
		t.text(t.say(textNothingPending, view{}))
		return
	}
	if s := t.pendingStay(); s.CheckIn.Before(pms.DateOf(t.now)) {
		// Confirmed after midnight of the check-in day (the session
		// outlives it): refused here, the PMS is not asked.
		t.pastStay(s.CheckIn)
		return
	}
	if t.askGuestDetail() {
		// Confirmed before the PMS's requirements were known (a session
		// from before they were asked): the missing detail first.
		return
	}
	if p.Children > 0 && len(p.ChildAges) != p.Children && !t.st.Context.ChildAgesAsked {
		// Asked once, as the booking is about to be made: a PMS that prices
		// or places children by age reads them, and books without them too.
		t.st.Context.ChildAgesAsked = true
		t.st.Step = stepAskChildAges
		t.text(t.say(textAskChildAges, view{N: p.Children}))
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
		t.text(t.say(textBookingSoldOut, view{Room: t.roomName(p.RoomNames, p.RoomName)}))
		t.st.Context.RoomType = p.Category
		t.reservation(true)
		return
	case t.stayRefused(err, t.pendingStay()):
		return
	case errors.Is(err, pms.ErrInvalid):
		// The stay was bookable a moment ago: what the PMS refuses is most
		// likely the guest's details. The dates stay.
		var ge *pms.InvalidGuestError
		if errors.As(err, &ge) && p.Refusals == 0 {
			p.Refusals++
			t.detailRefused(ge.Detail)
			return
		}
		t.failed = true
		t.bookingHandoff(textBookingFailed)
		return
	case errors.Is(err, pms.ErrNotFound):
		t.invalidStay(t.pendingStay())
		return
	default:
		// The pending booking and its reference stay: the guest's next "yes"
		// retries without risk of booking twice.
		t.pmsFailed()
		return
	}
	v := t.stayView(b.Stay)
	v.BookingID = b.ID
	v.Holder = t.holder()
	// The room in the guest's language: the booking's own name is in the
	// PMS's.
	v.Room = t.roomName(p.RoomNames, cmp.Or(b.RoomName, p.RoomName))
	// The total is the booking's, which may not be the quote; a PMS that
	// gives none leaves the quote.
	total := b.TotalPrice
	if total == 0 {
		total = p.TotalPrice
	}
	v.Total = formatPrice(t.lang, total, cmp.Or(b.Currency, p.Currency))
	msg := t.say(textBooked, v)
	if quote := formatPrice(t.lang, p.TotalPrice, p.Currency); quote != v.Total {
		msg += "\n\n" + t.say(textTotalChanged, view{Total: v.Total, Quote: quote})
	}
	t.st.Bookings = appendCapped(t.st.Bookings, b.ID, maxBookings)
	t.clearFlow()
	t.clearStay()
	t.text(msg)
}

// onChildAges handles the reply to the question of the children's ages:
// with one age per child the booking goes ahead with them; a reply that
// gives none (or not one per child) books without them, as they were asked
// once. A new stay or a no are answered as in any step of the booking.
func (t *turn) onChildAges(text string) bool {
	p := t.st.Pending
	if p == nil || p.Kind != "booking" {
		t.st.Step = ""
		return false
	}
	e := t.res.Entities
	ages := e.ChildAges
	if e.Adults > 0 || e.Children != len(ages) || !e.CheckIn.IsZero() || !e.CheckOut.IsZero() {
		ages = nil // the message says more than the ages: a new stay
	}
	if ages == nil && !hasStayEntities(e) {
		ages, _ = nlp.ParseChildAges(text)
	}
	if len(ages) == p.Children {
		p.ChildAges = agesOf(p.Children, ages)
		t.st.Context.ChildAges = p.ChildAges
		t.intent = nlp.MakeReservation
		t.book()
		return true
	}
	return t.otherBookingReply(t.book)
}

// stayRefused answers the stays a PMS refuses for what they are: one that
// starts before today, a party no room holds. It reports whether err was
// one of them.
func (t *turn) stayRefused(err error, s pms.Stay) bool {
	var past *pms.PastStayError
	var large *pms.PartyTooLargeError
	switch {
	case errors.As(err, &past):
		t.pastStay(s.CheckIn)
	case errors.As(err, &large):
		t.partyTooLarge(s, large.MaxGuests)
	default:
		return false
	}
	return true
}

// pastStay answers a stay that starts before today in the hotel's zone:
// its dates are forgotten and others asked for.
func (t *turn) pastStay(checkIn pms.Date) {
	t.clearFlow()
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights = "", "", 0
	t.st.Step = stepAskDates
	t.text(t.say(textPastDates, view{CheckIn: formatDate(t.lang, checkIn, t.now)}))
}

// partyTooLarge answers a party no room of the hotel holds with the largest
// room's size (maxGuests, 0 when unknown). The agent books one room per
// booking, so several rooms are for a person of the team; or the guest
// names a smaller party, for whom the same dates are searched.
func (t *turn) partyTooLarge(s pms.Stay, maxGuests int) {
	t.clearFlow()
	t.st.Step = stepPartyTooLarge
	v := t.stayView(s)
	v.N = maxGuests
	t.ask(t.say(textPartyTooLarge, v), t.say(textPartyTooLargeHint, view{}), "",
		t.button(BtnMenuHuman, textBtnMenuHuman),
		t.button(BtnAbortBooking, textBtnAbort))
}

// onPartyTooLarge handles the reply to partyTooLarge: yes is a person, a
// number or a party is a new search, no drops the booking.
func (t *turn) onPartyTooLarge(text string) bool {
	if n, ok := bareNumber(text); ok && n >= 1 && n <= 20 {
		t.partyOf(n)
		return true
	}
	switch {
	case hasSlotEntities(t.res.Entities):
		t.intent = nlp.MakeReservation
		t.mergeSlots()
		t.reservation(false)
	case t.res.Answer == nlp.Yes:
		t.intent = nlp.HumanHandoff
		t.handoff(textKey{})
	case t.res.Answer == nlp.No:
		t.intent = nlp.MakeReservation
		t.abortBooking()
	default:
		t.clearFlow()
		return false
	}
	return true
}

// partyOf searches the stay again for a party of n adults: a bare number
// answering how many guests.
func (t *turn) partyOf(n int) {
	t.st.Context.setParty(n, 0, nil)
	t.intent = nlp.MakeReservation
	t.reservation(false)
}

// invalidStay answers a stay the PMS will not look up or book: the guest is
// asked for other dates.
func (t *turn) invalidStay(s pms.Stay) {
	v := t.stayView(s)
	t.clearFlow()
	t.st.Context.CheckIn, t.st.Context.CheckOut = "", ""
	t.st.Step = stepAskDates
	t.text(t.say(textInvalidStay, v))
}

func (t *turn) changeDates() {
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights = "", "", 0
	t.clearFlow()
	t.st.Step = stepAskDates
	t.text(t.say(textAskDates, view{}))
}

func (t *turn) abortBooking() {
	t.clearFlow()
	t.clearStay()
	t.text(t.say(textBookingAborted, view{}))
}

// soldOut says nothing is free and looks for nearby dates that are.
func (t *turn) soldOut(s pms.Stay) {
	v := t.stayView(s)
	msg := t.say(textSoldOut, v)
	var alts []string
	today := pms.DateOf(t.now)
	for _, shift := range alternativeShifts {
		if len(alts) == maxAlternatives {
			break
		}
		alt := s
		alt.CheckIn, alt.CheckOut = s.CheckIn.AddDays(shift), s.CheckOut.AddDays(shift)
		if alt.CheckIn.Before(today) {
			continue
		}
		av, err := t.o.pms.Availability(t.ctx, t.h.Hotel, alt)
		if err != nil {
			break // suggestions are a courtesy; the answer stands without them
		}
		if len(av.Offers) > 0 {
			alts = append(alts, t.say(textAlternative, view{CheckIn: formatDate(t.lang, alt.CheckIn, t.now), CheckOut: formatDate(t.lang, alt.CheckOut, t.now)}))
		}
	}
	if len(alts) > 0 {
		msg += " " + t.say(textSoldOutAlternatives, view{Alternatives: strings.Join(alts, t.say(textOr, view{}))})
	} else {
		msg += " " + t.say(textSoldOutOtherDates, view{})
	}
	t.clearFlow()
	c := &t.st.Context
	c.CheckIn, c.CheckOut, c.Nights = "", "", 0
	t.st.Step = stepAskDates
	t.text(msg)
}
