package agent

import (
	"slices"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/nlp"
)

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
		Amenities:    strings.Join(info.AmenitiesFor(t.lang), ", "),
		Phone:        info.Phone,
	}
	var lines []string
	for _, topic := range t.res.Entities.Topics {
		switch topic {
		case nlp.TopicAddress:
			lines = append(lines, t.say(textInfoAddress, v))
		case nlp.TopicCheckInTime:
			lines = append(lines, t.say(textInfoCheckin, v))
		case nlp.TopicCheckOutTime:
			lines = append(lines, t.say(textInfoCheckout, v))
		case nlp.TopicAmenities:
			lines = append(lines, t.say(textInfoAmenities, v))
		default:
			if !nlp.IsAmenityTopic(topic) {
				continue
			}
			if found := nlp.FindAmenity(topic, info.Amenities); found != "" {
				// the hotel's own words for it, in the guest's language
				if i := slices.Index(info.Amenities, found); i >= 0 {
					found = info.AmenitiesFor(t.lang)[i]
				}
				lines = append(lines, t.say(textInfoHas, view{Amenity: found}))
			} else {
				lines = append(lines, t.say(textInfoHasnt, view{Topic: t.say(topicText(topic), view{})}))
			}
		}
	}
	if len(lines) == 0 {
		lines = append(lines, t.say(textInfoGeneral, v))
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
	v := view{CheckOutTime: info.CheckOutTime}
	if d := t.res.Entities.CheckOut; !d.IsZero() {
		// "a late checkout on the 23rd": the day the guest means
		v.CheckOut = formatDate(t.lang, d, t.now)
	}
	body := t.say(textLateCheckout, v)
	if info.Stale {
		body += "\n\n" + t.staleNote(time.Time{})
	}
	t.ask(body, t.say(textLateHintText, view{}), "",
		t.button(BtnLateCheckoutYes, textBtnLateYes),
		t.button(BtnLateCheckoutNo, textBtnLateNo))
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
// stays silent until ResetHandoff or the session expires. reply overrides the
// default message, which says when staff answer; the zero textKey keeps it.
func (t *turn) handoff(reply textKey) {
	t.clearFlow()
	t.st.Handoff = true
	v := view{Hotel: t.hotelName(), Hours: t.h.BusinessHours.String(), Opens: clockString(t.h.BusinessHours.Open)}
	switch {
	case reply != (textKey{}):
		t.text(t.say(reply, v))
	case t.h.BusinessHours.Contains(t.now):
		t.text(t.say(textHandoff, v))
	default:
		v.Phone = t.emergencyPhone()
		t.text(t.say(textHandoffAfterHours, v))
	}
}

// afterHours answers an urgent message outside business hours: who to call
// now and when a person will answer. The conversation is not handed off, so
// the agent keeps answering what it can.
func (t *turn) afterHours() {
	t.text(t.say(textAfterHours, view{
		Hours: t.h.BusinessHours.String(),
		Opens: clockString(t.h.BusinessHours.Open),
		Phone: t.emergencyPhone(),
	}))
}

func (t *turn) greet() {
	first, _, _ := strings.Cut(strings.TrimSpace(t.m.Name), " ")
	body := t.say(textGreeting, view{Hotel: t.hotelName(), Guest: first})
	if !t.interactive() {
		t.text(body)
		return
	}
	t.ask(body, "", t.h.PhotoURL,
		t.button(BtnMenuAvailability, textBtnMenuAvailability),
		t.button(BtnMenuInfo, textBtnMenuInfo),
		t.button(BtnMenuHuman, textBtnMenuHuman))
}

// help answers a message the agent did not understand: the pending
// question again when its step has one to repeat, else what it can do.
func (t *turn) help() {
	if repeat := stepHandlers[t.st.Step].repeat; repeat != nil {
		repeat(t)
		return
	}
	body := t.say(textHelp, view{})
	if !t.interactive() {
		t.text(body)
		return
	}
	t.ask(body, "", "",
		t.button(BtnMenuAvailability, textBtnMenuAvailability),
		t.button(BtnMenuInfo, textBtnMenuInfo),
		t.button(BtnMenuHuman, textBtnMenuHuman))
}
