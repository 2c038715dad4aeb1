package agent

import (
	"strings"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Who wrote an email. A From address costs nothing to forge, so on the
// email channel a booking is only changed or cancelled by a mail the
// receiving server authenticated (chat.EmailFacts.Verified: DMARC, or
// aligned DKIM/SPF) that comes from the address on the booking. Any other
// mail may still ask questions and book.
var (
	textEmailUnverified = newTextKey("email_unverified")
	textAttachmentsNote = newTextKey("attachments_note")
)

// mayChangeBookings reports whether the message may change or cancel a
// booking: any message of a channel that authenticates its sender
// (WhatsApp), an email only when verified.
func (t *turn) mayChangeBookings() bool {
	if t.m.Channel != chat.Gmail {
		return true
	}
	return t.m.Email != nil && t.m.Email.Verified
}

// refuseUnverified says why an email cannot change a booking.
func (t *turn) refuseUnverified(bookingID string) {
	t.clearFlow()
	t.text(t.say(textEmailUnverified, view{BookingID: bookingID, Hotel: t.h.Name}))
}

// noteAttachments adds, once per message, that the email's attachments
// were not opened.
func (t *turn) noteAttachments() {
	if t.m.Channel != chat.Gmail || t.m.Email == nil || len(t.m.Email.Attachments) == 0 || t.st.Handoff {
		return
	}
	t.text(t.say(textAttachmentsNote, view{Topic: strings.Join(t.m.Email.Attachments, ", ")}))
}
