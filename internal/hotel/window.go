package hotel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// customerServiceWindow is how long after a guest's last message WhatsApp
// delivers the business's free-form messages; after it, only approved
// templates.
const customerServiceWindow = 24 * time.Hour

// Why a reply went out as the hotel's template (whatsapp_window_templates_total).
const (
	causeWindowClosed = "window_closed" // judged before sending
	causeMeta131047   = "meta_131047"   // Meta refused the reply
)

// windowSender is what the outbox sends through: the channel sender, except
// that a WhatsApp reply that can no longer reach its guest as it is goes out
// as the hotel's approved template (tenancy.WhatsAppTemplate) instead.
//
// Whether the guest is outside the window is judged from when they sent the
// message the reply answers (OutboundReply.GuestSentAt, WhatsApp's own
// timestamp, carried on the reply). The guest's last message is that one or a
// later one, so a reply within 24 hours of it is certainly inside the
// window, and the judgement costs no read of the inbox or the session. The
// one misjudgement it allows is a reply over a day late to a guest who wrote
// again meanwhile: the template, which asks them to pick the conversation up,
// serves them better than so stale an answer. Meta's 131047 catches the
// opposite case (clocks apart, a timestamp older than it says): the reply
// is then sent again as the template.
//
// A template goes to a guest once: the replies after it that could not
// reach them either (several replies to a message, several old messages)
// are recorded as sent under the template's wamid, until the guest writes
// again. A hotel without a template: the reply fails with the reason, and is
// not retried.
type windowSender struct {
	channel *channelSender
	tenants tenancy.Store
	log     *slog.Logger
	now     func() time.Time

	mu        sync.Mutex
	templated map[string]templateSent // conversation key → the last template sent there
}

// templateSent is a template that went to a guest, and when.
type templateSent struct {
	wamid string
	at    time.Time
}

func newWindowSender(channel *channelSender, tenants tenancy.Store, log *slog.Logger) *windowSender {
	return &windowSender{channel: channel, tenants: tenants, log: log, now: time.Now, templated: map[string]templateSent{}}
}

// Send delivers r, as the hotel's template when the guest is outside the
// 24-hour window.
func (w *windowSender) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	if r.Channel != chat.WhatsApp || w.channel.whatsapp == nil || r.Reply.Kind == chat.ReplyTemplate {
		return w.channel.Send(ctx, r)
	}
	if r.OutsideWindow {
		return w.sendTemplate(ctx, r, causeMeta131047)
	}
	if !r.GuestSentAt.IsZero() && w.now().Sub(r.GuestSentAt) >= customerServiceWindow {
		return w.sendTemplate(ctx, r, causeWindowClosed)
	}
	id, err := w.channel.Send(ctx, r)
	if outsideWindow(err) {
		return w.sendTemplate(ctx, r, causeMeta131047)
	}
	return id, err
}

// outsideWindow reports whether err is Meta's 131047: the guest is outside
// the 24-hour window. A send that went through is answered first: the
// targets errors.As needs escape to the heap, two allocations a reply.
func outsideWindow(err error) bool {
	if err == nil {
		return false
	}
	var ra retryAfter
	if errors.As(err, &ra) {
		return ra.SendError != nil && ra.Code == whatsapp.CodeOutsideWindow
	}
	var se *whatsapp.SendError
	return errors.As(err, &se) && se.Code == whatsapp.CodeOutsideWindow
}

func (w *windowSender) sendTemplate(ctx context.Context, r inbox.OutboundReply, cause string) (string, error) {
	log := w.log.With("tenant_id", r.TenantID, "to", r.To, "in_reply_to", r.InReplyTo, "cause", cause)
	key := r.ConversationKey()
	if sent, ok := w.lastTemplate(key); ok && !sent.at.Before(r.GuestSentAt) {
		windowTemplates.WithLabelValues(cause, "covered").Inc()
		log.Info("WhatsApp reply outside the 24-hour window: the hotel's template already went to the guest", "wamid", sent.wamid)
		return sent.wamid, nil
	}
	hotel, _ := w.tenants.Tenant(r.TenantID)
	tpl := hotel.WhatsAppTemplate
	if !tpl.Configured() {
		windowTemplates.WithLabelValues(cause, "not_configured").Inc()
		err := fmt.Errorf("the guest is outside WhatsApp's 24-hour customer-service window, where only an approved template reaches them, "+
			"and hotel %q has no WhatsApp template (admin API: whatsapp_template)", r.TenantID)
		log.Warn("WhatsApp reply not sent", "error", err)
		return "", inbox.Permanent(err)
	}
	guest := r.GuestName
	if guest == "" {
		guest = "+" + r.To
	}
	tr := r
	tr.Reply = chat.Reply{Kind: chat.ReplyTemplate, Template: &chat.Template{Name: tpl.Name, Language: tpl.Language,
		BodyParameters: tpl.BodyTexts(guest, hotel.Name)}}
	id, err := w.channel.Send(ctx, tr)
	if err != nil {
		windowTemplates.WithLabelValues(cause, "failed").Inc()
		log.Warn("sending the hotel's WhatsApp template", "template", tpl.Name, "error", err)
		return "", err
	}
	w.remember(key, templateSent{wamid: id, at: w.now()})
	windowTemplates.WithLabelValues(cause, "sent").Inc()
	log.Info("WhatsApp reply sent as the hotel's template: the guest is outside the 24-hour window", "template", tpl.Name, "wamid", id)
	return id, nil
}

// lastTemplate is the template sent to conversation key within the window.
func (w *windowSender) lastTemplate(key string) (templateSent, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent, ok := w.templated[key]
	return sent, ok && w.now().Sub(sent.at) < customerServiceWindow
}

// remember records a template sent, and forgets those older than the window:
// a guest who has not answered one in a day may be sent another.
func (w *windowSender) remember(key string, sent templateSent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, s := range w.templated {
		if sent.at.Sub(s.at) >= customerServiceWindow {
			delete(w.templated, k)
		}
	}
	w.templated[key] = sent
}

// reengage answers WhatsApp's later word on a reply it had accepted: a
// failed receipt with 131047 (the guest was outside the 24-hour window; Meta
// often says so only in the receipt) queues the reply again, to go as the
// hotel's template. Only fresh receipts count, so a redelivered one queues
// nothing. The receipts are stored already and the webhook is answered
// whatever happens here, so a failure is logged, not returned.
//
// The receipt can beat the outbox's record of the send it is about (Meta
// answers the send, then the receipt races our UPDATE): a reply not found
// yet is looked for again by the reengage worker for a minute. That second
// look lives in this process only; a restart in that instant loses the
// template (the receipt itself is kept).
func (s *Service) reengage(ctx context.Context, statuses []chat.Status) {
	for _, st := range statuses {
		if st.Channel != chat.WhatsApp || st.Status != "failed" ||
			!slices.ContainsFunc(st.Errors, func(e chat.Error) bool { return e.Code == whatsapp.CodeOutsideWindow }) {
			continue
		}
		if found := s.reengageOne(ctx, st); !found {
			select {
			case s.reengageLater <- st:
			default:
				s.log.Error("too many 131047 receipts waiting for their replies; this one is not followed by the template",
					"tenant_id", st.TenantID, "wamid", st.MessageID)
			}
		}
	}
}

// reengageOne queues the template for the reply st is about, and reports
// whether that reply was found (false: not recorded yet, or unreadable).
func (s *Service) reengageOne(ctx context.Context, st chat.Status) bool {
	log := s.log.With("tenant_id", st.TenantID, "wamid", st.MessageID)
	recs, err := s.inbox.Replies(ctx, inbox.Query{TenantID: st.TenantID, ProviderID: st.MessageID, Limit: 1})
	if err != nil {
		log.Warn("finding the reply WhatsApp refused outside the 24-hour window", "error", err)
		return false
	}
	if len(recs) == 0 {
		return false
	}
	if recs[0].Reply.Reply.Kind == chat.ReplyTemplate || recs[0].Reply.OutsideWindow {
		return true // a template already: nothing else reaches the guest
	}
	again := recs[0].Reply
	again.OutsideWindow = true
	if err := s.inbox.Enqueue(ctx, again); err != nil {
		log.Warn("queueing the hotel's template after WhatsApp's 131047", "error", err)
		return false
	}
	log.Info("WhatsApp reported the guest outside the 24-hour window: the reply goes again as the hotel's template")
	return true
}

// reengageWaitLimit is how long a 131047 receipt waits for its reply to be
// recorded (the race is milliseconds; a minute covers a slow database).
const reengageWaitLimit = time.Minute

// runReengage looks again, with back-off, for the replies of 131047
// receipts that arrived before them.
func (s *Service) runReengage(ctx context.Context) error {
	type waiting struct {
		st          chat.Status
		next, until time.Time
		wait        time.Duration
	}
	var queue []waiting
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case st := <-s.reengageLater:
			now := time.Now()
			queue = append(queue, waiting{st: st, next: now.Add(100 * time.Millisecond), until: now.Add(reengageWaitLimit), wait: 100 * time.Millisecond})
		case now := <-tick.C:
			kept := queue[:0]
			for _, w := range queue {
				switch {
				case now.Before(w.next):
					kept = append(kept, w)
				case s.reengageOne(ctx, w.st):
				case now.After(w.until):
					s.log.Error("no reply found for a 131047 receipt within a minute; the hotel's template is not sent",
						"tenant_id", w.st.TenantID, "wamid", w.st.MessageID)
				default:
					w.wait = min(2*w.wait, 5*time.Second)
					w.next = now.Add(w.wait)
					kept = append(kept, w)
				}
			}
			queue = kept
		}
	}
}
