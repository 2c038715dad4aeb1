package agent

import "github.com/agentehotel/agente-caddy/internal/pms"

// textKey names a reply text of the locale files (locales/<lang>.yaml). It
// is a struct so that no string converts to one by itself: a text is said by
// one of the keys declared here, each of which TestLocalesHaveEveryKey looks
// up in every locale file.
type textKey struct{ name string }

// textKeys are the keys declared with newTextKey, in declaration order.
var textKeys []textKey

func newTextKey(name string) textKey {
	k := textKey{name}
	textKeys = append(textKeys, k)
	return k
}

// Keys built from a value, one per room category, amenity topic or guest
// detail; TestLocalesHaveEveryKey looks them up for every value there is.
func roomText(category string) textKey        { return textKey{"room_" + category} }
func topicText(topic string) textKey          { return textKey{"topic_" + topic} }
func detailText(d pms.GuestDetail) textKey    { return textKey{"detail_" + string(d)} }
func badDetailText(d pms.GuestDetail) textKey { return textKey{"bad_" + string(d)} }

var (
	textGreeting            = newTextKey("greeting")
	textHelp                = newTextKey("help")
	textUnsupported         = newTextKey("unsupported")
	textMediaUnreadable     = newTextKey("media_unreadable")
	textVoiceUnreadable     = newTextKey("voice_unreadable")
	textLocationReceived    = newTextKey("location_received")
	textAskDates            = newTextKey("ask_dates")
	textAskCheckout         = newTextKey("ask_checkout")
	textAskGuests           = newTextKey("ask_guests")
	textBadDates            = newTextKey("bad_dates")
	textPastDates           = newTextKey("past_dates")
	textInvalidStay         = newTextKey("invalid_stay")
	textPartyTooLarge       = newTextKey("party_too_large")
	textPartyTooLargeHint   = newTextKey("party_too_large_hint")
	textOffers              = newTextKey("offers")
	textOfferLine           = newTextKey("offer_line")
	textOfferRow            = newTextKey("offer_row")
	textOffersRoomMissing   = newTextKey("offers_room_missing")
	textOffersHintText      = newTextKey("offers_hint_text")
	textOffersHintButtons   = newTextKey("offers_hint_buttons")
	textListButton          = newTextKey("list_button")
	textListSection         = newTextKey("list_section")
	textChooseWhich         = newTextKey("choose_which")
	textSoldOut             = newTextKey("sold_out")
	textSoldOutAlternatives = newTextKey("sold_out_alternatives")
	textSoldOutOtherDates   = newTextKey("sold_out_other_dates")
	textAlternative         = newTextKey("alternative")
	textOr                  = newTextKey("or")
	textConfirmPrompt       = newTextKey("confirm_prompt")
	textConfirmHintText     = newTextKey("confirm_hint_text")
	textBtnConfirm          = newTextKey("btn_confirm")
	textBtnChangeDates      = newTextKey("btn_change_dates")
	textBtnAbort            = newTextKey("btn_abort")
	textKwChange            = newTextKey("kw_change")
	textBooked              = newTextKey("booked")
	textTotalChanged        = newTextKey("total_changed")
	textAskChildAges        = newTextKey("ask_child_ages")
	textPartyAges           = newTextKey("party_ages")
	textAskFullName         = newTextKey("ask_full_name")
	textAskFirstName        = newTextKey("ask_first_name")
	textAskLastName         = newTextKey("ask_last_name")
	textAskEmail            = newTextKey("ask_email")
	textAskEmailOptional    = newTextKey("ask_email_optional")
	textAskEmailToo         = newTextKey("ask_email_too")
	textBadEmailOptional    = newTextKey("bad_email_optional")
	textAskPhone            = newTextKey("ask_phone")
	textBadFullName         = newTextKey("bad_full_name")
	textDetailRefused       = newTextKey("detail_refused")
	textBookingFailed       = newTextKey("booking_failed")
	textDetailsHandoff      = newTextKey("details_handoff")
	textBookingAborted      = newTextKey("booking_aborted")
	textNothingPending      = newTextKey("nothing_pending")
	textBookingSoldOut      = newTextKey("booking_sold_out")
	textPmsError            = newTextKey("pms_error")
	textStale               = newTextKey("stale")
	textCancelAskID         = newTextKey("cancel_ask_id")
	textCancelNotFound      = newTextKey("cancel_not_found")
	textCancelAlready       = newTextKey("cancel_already")
	textCancelPrompt        = newTextKey("cancel_prompt")
	textCancelHintText      = newTextKey("cancel_hint_text")
	textBtnConfirmCancel    = newTextKey("btn_confirm_cancel")
	textBtnKeepBooking      = newTextKey("btn_keep_booking")
	textCancelled           = newTextKey("cancelled")
	textCancelKept          = newTextKey("cancel_kept")
	textInfoGeneral         = newTextKey("info_general")
	textInfoAddress         = newTextKey("info_address")
	textInfoCheckin         = newTextKey("info_checkin")
	textInfoCheckout        = newTextKey("info_checkout")
	textInfoAmenities       = newTextKey("info_amenities")
	textInfoHas             = newTextKey("info_has")
	textPricePerNight       = newTextKey("price_per_night")
	textInfoHasnt           = newTextKey("info_hasnt")
	textLateCheckout        = newTextKey("late_checkout")
	textLateHintText        = newTextKey("late_hint_text")
	textBtnLateYes          = newTextKey("btn_late_yes")
	textBtnLateNo           = newTextKey("btn_late_no")
	textLateRequested       = newTextKey("late_requested")
	textLateDeclined        = newTextKey("late_declined")
	textHandoff             = newTextKey("handoff")
	textHandoffAfterHours   = newTextKey("handoff_after_hours")
	textAfterHours          = newTextKey("after_hours")
	textTheHotel            = newTextKey("the_hotel")
	textGoodbye             = newTextKey("goodbye")
	textBtnMenuAvailability = newTextKey("btn_menu_availability")
	textBtnMenuInfo         = newTextKey("btn_menu_info")
	textBtnMenuHuman        = newTextKey("btn_menu_human")
)
