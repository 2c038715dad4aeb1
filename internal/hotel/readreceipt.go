package hotel

import (
	"context"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
)

// markReadTimeout bounds a read receipt. The typing indicator it starts lasts
// 25 seconds at most, so a receipt slower than a few seconds is not worth
// holding the guest's message for.
const markReadTimeout = 5 * time.Second

// metaMessageIDPrefix starts every message id Meta gives; the ids Normalize
// makes up for messages without one ("nid.…") are not Meta's to mark.
const metaMessageIDPrefix = "wamid."

// markRead tells a WhatsApp guest, as a worker takes their message into work,
// that it was read and that a reply is being typed (flags.WhatsAppMarkRead):
// a WhatsApp message with Meta's id. It runs before the orchestrator so
// that the indicator never outlives the reply. It is best effort: a failure
// is logged and counted, and the message is handled all the same.
func (s *Service) markRead(ctx context.Context, m chat.Message) {
	wa := s.sender.whatsapp
	if wa == nil || m.Channel != chat.WhatsApp || !strings.HasPrefix(m.ID, metaMessageIDPrefix) ||
		!s.deps.Flags.Enabled(ctx, flags.WhatsAppMarkRead) {
		return
	}
	if s.token != nil && !s.token.st.works() {
		// The Graph API refuses the token: a receipt would be refused too,
		// and a typing indicator would promise a reply that is held.
		readReceipts.WithLabelValues("skipped").Inc()
		return
	}
	from := m.To // the business number the guest wrote to
	if from == "" {
		from = s.sender.defaultPhoneNumberID
	}
	ctx, cancel := context.WithTimeout(ctx, markReadTimeout)
	defer cancel()
	if err := wa.MarkRead(ctx, from, m.ID); err != nil {
		readReceipts.WithLabelValues("failed").Inc()
		s.log.Warn("marking a WhatsApp message read", "tenant_id", m.TenantID, "message_id", m.ID, "error", err)
		return
	}
	readReceipts.WithLabelValues("sent").Inc()
}
