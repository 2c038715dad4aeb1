package hotel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/store"
)

// historyLimit is how many of a guest's messages, and of the replies to
// them, one conversation's history shows (the newest).
const historyLimit = 200

// openConversations returns the staff's view of the conversations:
// Postgres when configured, else memory kept across reloads.
func (s *Service) openConversations() (conversation.Store, error) {
	if s.deps.Postgres != nil {
		return conversation.NewPostgres(s.deps.Postgres), nil
	}
	return keep(s.deps.Keeper, "conversations:memory", func() conversation.Store { return conversation.NewMemory() })
}

func conversationKey(m chat.Message) conversation.Key {
	return conversation.Key{TenantID: m.TenantID, Channel: string(m.Channel), Guest: m.From}
}

// messageText is what a guest's message says, for staff.
func messageText(m chat.Message) string {
	if m.Text != "" {
		return m.Text
	}
	return "[" + string(m.Kind) + "]"
}

func replyText(r chat.Reply) string {
	if r.Text != "" {
		return r.Text
	}
	if r.Template != nil {
		return "[template " + r.Template.Name + "]"
	}
	return "[" + string(r.Kind) + "]"
}

// recordInbound notes the guest's message in the staff's view. A failure
// is logged, never the message's: the guest is answered all the same.
func (s *Service) recordInbound(ctx context.Context, m chat.Message) {
	if m.Kind.Silent() {
		return
	}
	at := m.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	if err := s.conversations.Inbound(ctx, conversationKey(m), m.Name, messageText(m), at); err != nil {
		s.log.Warn("recording a guest message for staff", "tenant_id", m.TenantID, "message_id", m.ID, "error", err)
	}
}

// recordTurn notes the agent's replies and a handoff; a fresh handoff
// tells the hotel's staff.
func (s *Service) recordTurn(ctx context.Context, m chat.Message, t agent.Turn) {
	k := conversationKey(m)
	now := time.Now()
	for _, r := range t.Replies {
		if err := s.conversations.Outbound(ctx, k, replyText(r), now); err != nil {
			s.log.Warn("recording a reply for staff", "tenant_id", m.TenantID, "message_id", m.ID, "error", err)
			break
		}
	}
	if t.BookingRef != "" {
		if err := s.conversations.SetBookingRef(ctx, k, t.BookingRef); err != nil {
			s.log.Warn("recording a booking for staff", "tenant_id", m.TenantID, "error", err)
		}
	}
	if !t.HandedOff {
		return
	}
	// The handoff and the notice it owes staff are one write: the notice
	// loop sends it, from whichever instance, even after a crash here. On
	// Postgres it commits with the message's outcome, and the loop is woken
	// after that, so the notice carries this turn's replies and booking.
	fresh, err := s.conversations.HandOff(ctx, k, now)
	if err != nil {
		s.log.Error("recording a handoff failed: staff are not told and do not see the guest waiting", "tenant_id", m.TenantID,
			"channel", m.Channel, "guest", m.From, "message_id", m.ID, "error", err)
		return
	}
	s.log.Info("conversation handed to staff", "tenant_id", m.TenantID, "channel", m.Channel, "guest", m.From, "message_id", m.ID, "fresh", fresh)
	if fresh && s.notifier != nil {
		store.AfterCommit(ctx, s.notifier.poke)
	}
}

// staffDesk serves the admin API's conversation routes.
type staffDesk struct{ s *Service }

var _ admin.Conversations = staffDesk{}

func (d staffDesk) List(ctx context.Context, f conversation.Filter) ([]conversation.Conversation, string, error) {
	return d.s.conversations.List(ctx, f)
}

func (d staffDesk) Detail(ctx context.Context, k conversation.Key) (admin.ConversationDetail, error) {
	s := d.s
	c, err := s.conversations.Get(ctx, k)
	if err != nil {
		return admin.ConversationDetail{}, err
	}
	ch := chat.Channel(c.Channel)
	msgs, replies, err := s.inbox.History(ctx, c.TenantID, ch, c.Guest, historyLimit)
	if err != nil {
		return admin.ConversationDetail{}, fmt.Errorf("reading the history: %w", err)
	}
	out := admin.ConversationDetail{Conversation: c, Messages: historyJSON(msgs, replies)}
	if st, found, err := s.orchestrator.GuestState(ctx, c.TenantID, ch, c.Guest); err == nil && found {
		if b := st.Context; b.CheckIn != "" || b.CheckOut != "" || b.Adults > 0 || b.RoomType != "" {
			out.Booking = b
		}
	}
	return out, nil
}

// historyJSON is a conversation's lines in time order: the guest's
// messages and the replies, as staff read them.
func historyJSON(msgs []inbox.MessageRecord, replies []inbox.ReplyRecord) []admin.MessageJSON {
	out := make([]admin.MessageJSON, 0, len(msgs)+len(replies))
	for _, m := range msgs {
		// The channel's time has whole seconds; our acceptance, a moment
		// later, orders the guest's words among the replies.
		at := m.Message.Timestamp
		if d := m.AcceptedAt.Sub(at); at.IsZero() || (d >= 0 && d < time.Minute) {
			at = m.AcceptedAt
		}
		out = append(out, admin.MessageJSON{ID: m.Message.ID, Direction: "in", Text: messageText(m.Message), At: at.UTC()})
	}
	for i, r := range replies {
		out = append(out, replyJSON(r, i))
	}
	slices.SortStableFunc(out, func(a, b admin.MessageJSON) int { return a.At.Compare(b.At) })
	return out
}

// replyJSON is a reply in the history: its delivery state as the channel
// last reported it.
func replyJSON(r inbox.ReplyRecord, i int) admin.MessageJSON {
	j := admin.MessageJSON{ID: r.Reply.ID, Direction: "out", Text: replyText(r.Reply.Reply), At: r.QueuedAt.UTC(),
		Staff: r.Reply.Staff != "", StaffName: r.Reply.Staff, Error: r.LastError}
	if j.ID == "" {
		j.ID = r.ProviderID
	}
	if j.ID == "" {
		j.ID = fmt.Sprintf("reply-%d-%d", r.QueuedAt.UnixNano(), i)
	}
	switch r.State {
	case inbox.StatePending, inbox.StateHeld:
		j.Status = "queued"
	case inbox.StateSent:
		j.Status = "sent"
		if r.DeliveryStatus != "" {
			j.Status = r.DeliveryStatus
		}
	case inbox.StateFailed:
		j.Status = "failed"
	case inbox.StateSuppressed:
		j.Error = "not sent: the guest opted out"
	}
	if j.Status == "failed" && j.Error == "" && len(r.DeliveryErrors) > 0 {
		e := r.DeliveryErrors[0]
		j.Error = fmt.Sprintf("%d %s", e.Code, e.Title)
	}
	return j
}

// Reply queues a staff reply to the guest through the outbox, addressed as
// the guest's last message was answered.
func (d staffDesk) Reply(ctx context.Context, k conversation.Key, staff, text string) (string, error) {
	s := d.s
	c, err := s.conversations.Get(ctx, k)
	if err != nil {
		return "", err
	}
	ch := chat.Channel(c.Channel)
	msgs, _, err := s.inbox.History(ctx, c.TenantID, ch, c.Guest, 1)
	if err != nil {
		return "", fmt.Errorf("reading the guest's last message: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	r := inbox.OutboundReply{TenantID: c.TenantID, Channel: ch, To: c.Guest, Staff: staff, ID: "staff-" + hex.EncodeToString(b[:]),
		GuestName: c.Name, Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}
	if len(msgs) > 0 {
		last := msgs[len(msgs)-1].Message
		r = inbox.AddressReplies(last, []inbox.OutboundReply{r})[0]
		r.GuestSentAt = last.Timestamp
	}
	if err := s.inbox.Enqueue(ctx, r); err != nil {
		return "", err
	}
	if err := s.conversations.Outbound(ctx, c.Key, text, time.Now()); err != nil {
		s.log.Warn("recording a staff reply", "tenant_id", k.TenantID, "error", err)
	}
	s.log.Info("staff reply queued", "tenant_id", c.TenantID, "channel", ch, "guest", c.Guest, "staff", staff, "reply_id", r.ID)
	return r.ID, nil
}

// SetState resumes (active) or closes a conversation; either way the agent
// answers the guest's next message.
func (d staffDesk) SetState(ctx context.Context, k conversation.Key, st conversation.State) (conversation.State, error) {
	s := d.s
	c, err := s.conversations.Get(ctx, k)
	if err != nil {
		return "", err
	}
	if _, err := s.orchestrator.ResetHandoff(ctx, c.TenantID, chat.Channel(c.Channel), c.Guest); err != nil {
		return "", err
	}
	return s.conversations.SetState(ctx, c.Key, st)
}

// resume is the admin API's resume route: the agent's session first (it
// works without a recorded conversation), then the staff's view.
func (s *Service) resume(ctx context.Context, tenantID, channel, guest string) (bool, error) {
	was, err := s.orchestrator.ResetHandoff(ctx, tenantID, chat.Channel(channel), guest)
	if err != nil {
		return false, err
	}
	if _, err := s.conversations.SetState(ctx, conversation.Key{TenantID: tenantID, Channel: channel, Guest: guest}, conversation.Active); err != nil &&
		!errors.Is(err, conversation.ErrNotFound) {
		return was, err
	}
	return was, nil
}

// deadLetterSummary is the dashboard's dead_letters section: how many of
// each kind wait for a replay (counted up to 1000).
func (s *Service) deadLetterSummary(ctx context.Context) map[string]any {
	out := map[string]any{"inbox": 0, "outbox": 0}
	for _, kind := range []string{inbox.DeadInbox, inbox.DeadOutbox} {
		items, _, err := s.inbox.DeadLetters(ctx, inbox.DeadLetterQuery{Kind: kind, Limit: 1000})
		if err != nil {
			out["error"] = "dead letters unavailable"
			return out
		}
		out[kind] = len(items)
	}
	return out
}
