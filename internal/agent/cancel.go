package agent

import (
	"errors"
	"regexp"
	"strings"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

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
	if !t.mayChangeBookings() {
		t.refuseUnverified(id)
		return
	}
	if id == "" && len(t.st.Bookings) > 0 && t.m.Channel != chat.Gmail {
		id = t.st.Bookings[len(t.st.Bookings)-1]
	}
	if id == "" {
		t.clearFlow()
		t.st.Step = stepAskBookingID
		t.text(t.say(textCancelAskID, view{}))
		return
	}
	t.cancelLookup(id)
}

// owns reports whether the booking is the guest's: booked in this
// conversation or under the guest's phone (or a number the guest had before
// changing it) or email. Someone else's booking is
// answered as not found, so its existence does not leak.
func (t *turn) owns(b pms.Booking) bool {
	if t.m.Channel == chat.Gmail {
		// By email, the address on the booking, whoever booked it.
		return t.mayChangeBookings() && b.Guest.Email != "" && strings.EqualFold(b.Guest.Email, t.s.Key.UserID)
	}
	for _, id := range t.st.Bookings {
		if id == b.ID {
			return true
		}
	}
	switch t.m.Channel {
	case chat.WhatsApp:
		p := digitsOf(b.Guest.Phone)
		if p == "" {
			return false
		}
		for _, id := range append([]string{t.s.Key.UserID}, t.st.FormerIDs...) {
			if !isUserID(id) && p == digitsOf(id) {
				return true
			}
		}
	case chat.Gmail:
		if b.Guest.Email != "" && strings.EqualFold(b.Guest.Email, t.s.Key.UserID) {
			return true
		}
	}
	return false
}

func (t *turn) cancelLookup(id string) {
	if !t.mayChangeBookings() {
		t.refuseUnverified(id)
		return
	}
	b, err := t.o.pms.GetBooking(t.ctx, t.h.Hotel, id)
	switch {
	case errors.Is(err, pms.ErrNotFound) || (err == nil && !t.owns(b)):
		t.clearFlow()
		t.st.Step = stepAskBookingID
		t.text(t.say(textCancelNotFound, view{BookingID: id}))
		return
	case err != nil:
		t.pmsFailed()
		return
	}
	if b.Status == pms.BookingCancelled || b.Status == pms.BookingRefunded {
		t.clearFlow()
		t.text(t.say(textCancelAlready, view{BookingID: b.ID}))
		return
	}
	t.clearFlow()
	t.st.Pending = &Pending{
		Kind:       "cancel",
		BookingID:  b.ID,
		RoomTypeID: b.RoomTypeID,
		RoomName:   b.RoomName,
		RoomNames:  t.roomTypeNames(b.RoomTypeID),
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
	v.Room = t.roomName(p.RoomNames, p.RoomName)
	v.Total = formatPrice(t.lang, p.TotalPrice, p.Currency)
	t.ask(t.say(textCancelPrompt, v), t.say(textCancelHintText, view{}), "",
		t.button(BtnConfirmCancel, textBtnConfirmCancel),
		t.button(BtnKeepBooking, textBtnKeepBooking))
}

func (t *turn) doCancel() {
	p := t.st.Pending
	if !t.mayChangeBookings() {
		// The confirmation must be as authentic as the request.
		t.refuseUnverified(p.BookingID)
		return
	}
	b, err := t.o.pms.CancelBooking(t.ctx, t.h.Hotel, p.BookingID)
	switch {
	case errors.Is(err, pms.ErrNotFound):
		t.clearFlow()
		t.text(t.say(textCancelNotFound, view{BookingID: p.BookingID}))
		return
	case err != nil:
		t.pmsFailed()
		return
	}
	t.clearFlow()
	t.text(t.say(textCancelled, view{BookingID: b.ID}))
}

func (t *turn) keepBooking() {
	id := ""
	if p := t.st.Pending; p != nil && p.Kind == "cancel" {
		id = p.BookingID
	}
	t.clearFlow()
	if id == "" {
		t.text(t.say(textBookingAborted, view{}))
		return
	}
	t.text(t.say(textCancelKept, view{BookingID: id}))
}
