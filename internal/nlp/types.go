package nlp

import (
	"github.com/agentehotel/agente-caddy/internal/pms"
	"time"
)

type Intent string

const (
	Greeting          Intent = "greeting"
	CheckAvailability Intent = "check_availability"
	MakeReservation   Intent = "make_reservation"
	CancelReservation Intent = "cancel_reservation"
	Pricing           Intent = "pricing"
	HotelInfo         Intent = "hotel_info"
	LateCheckout      Intent = "late_checkout"
	HumanHandoff      Intent = "human_handoff"
	Goodbye           Intent = "goodbye"
	Unknown           Intent = "unknown"
)

type Answer string // "yes", "no", ""
const (
	Yes Answer = "yes"
	No  Answer = "no"
)

type Entities struct {
	CheckIn, CheckOut pms.Date
	Nights            int
	Adults, Children  int
	RoomType          string /* single|double|twin|suite|family */
	Email             string
	Topics            []string /* address checkin_time checkout_time amenities parking wifi breakfast pool pets */
}
type Result struct {
	Intent     Intent
	Confidence float64
	Language   string /* es|en */
	Answer     Answer
	Urgent     bool
	Entities   Entities
}

var _ = time.Now
