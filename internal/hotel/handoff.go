package hotel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// HandoffConfig says how a hotel's staff hear that a guest waits for them.
type HandoffConfig struct {
	// Channels are each hotel's notification channels, by tenant id; the
	// channels under "*" serve every hotel without its own.
	Channels map[string][]HandoffChannel
	// ChannelsJSON, when Channels is nil, is read into it
	// (ParseHandoffChannels: the HANDOFF_CHANNELS variable).
	ChannelsJSON string
	// ConsoleURL is the admin console's base URL; the notification links
	// to ConsoleURL/console/#/t/{tenant}/c/{guest}. Default
	// http://localhost:8080.
	ConsoleURL string
	// WaitAlert is how long a guest may wait for a person before the
	// HandoffWaitTooLong alert fires (exported as
	// handoff_wait_alert_threshold_seconds). Default 15m.
	WaitAlert time.Duration
}

// The kinds of notification channel.
const (
	// HandoffEmail mails the reception (To) over the SMTP sender.
	HandoffEmail = "email"
	// HandoffSlack posts Slack's incoming-webhook payload ({"text",
	// "blocks"}) to URL.
	HandoffSlack = "slack"
	// HandoffWebhook posts a JSON document of the handoff to URL.
	HandoffWebhook = "webhook"
)

// HandoffChannel is one way to tell a hotel's staff.
type HandoffChannel struct {
	Kind string `json:"kind"`
	To   string `json:"to,omitempty"`
	URL  string `json:"url,omitempty"`
}

// ParseHandoffChannels reads HANDOFF_CHANNELS: a JSON object of tenant id
// (or "*") to a list of {"kind":"email","to":"..."},
// {"kind":"slack","url":"..."}, {"kind":"webhook","url":"..."}.
func ParseHandoffChannels(s string) (map[string][]HandoffChannel, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out map[string][]HandoffChannel
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("HANDOFF_CHANNELS: %v", err)
	}
	for tenant, chans := range out {
		for _, c := range chans {
			if err := c.validate(); err != nil {
				return nil, fmt.Errorf("HANDOFF_CHANNELS[%s]: %v", tenant, err)
			}
		}
	}
	return out, nil
}

func (c HandoffChannel) validate() error {
	switch c.Kind {
	case HandoffEmail:
		if _, err := email.ParseAddress(c.To); err != nil {
			return fmt.Errorf("email channel: to %q: %v", c.To, err)
		}
	case HandoffSlack, HandoffWebhook:
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s channel: url %q is not an http(s) URL", c.Kind, c.URL)
		}
	default:
		return fmt.Errorf("kind %q: want email, slack or webhook", c.Kind)
	}
	return nil
}

var (
	handoffNotifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "handoff_notifications_total",
		Help: "Notifications to a hotel's staff that a guest waits for a person, by channel kind (email|slack|webhook) and result (sent|failed).",
	}, []string{"kind", "result"})
	// Every instance reads the same shared figures; rules take their max.
	// The dashboard has them by hotel.
	handoffWaiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "handoff_waiting",
		Help: "Guests waiting for a person (conversations handed off and not yet resumed or closed), every hotel.",
	})
	handoffOldestWait = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "handoff_oldest_wait_seconds",
		Help: "How long the guest waiting longest for a person has waited, every hotel (0: nobody waits).",
	})
	handoffWaitAlert = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "handoff_wait_alert_threshold_seconds",
		Help: "The configured longest acceptable wait for a person (HANDOFF_WAIT_ALERT); HandoffWaitTooLong fires above it.",
	})
)

// handoffNotifier tells a hotel's staff that a guest waits for them.
type handoffNotifier struct {
	cfg   HandoffConfig
	email *email.Sender // nil: email channels fail (no SMTP)
	http  *http.Client
	log   *slog.Logger
	desk  staffDesk
	// attempts and backoff of one channel's delivery.
	attempts int
	backoff  time.Duration
	// wake pokes the notice loop (runNotices).
	wake wakeup.Signal
}

func newHandoffNotifier(cfg HandoffConfig, sender *email.Sender, desk staffDesk, log *slog.Logger) *handoffNotifier {
	if cfg.ConsoleURL == "" {
		cfg.ConsoleURL = "http://localhost:8080"
	}
	cfg.ConsoleURL = strings.TrimRight(cfg.ConsoleURL, "/")
	return &handoffNotifier{cfg: cfg, email: sender, http: &http.Client{Timeout: 10 * time.Second}, log: log, desk: desk,
		attempts: 3, backoff: time.Second, wake: wakeup.New()}
}

// HandoffNotice is what staff are told (the generic webhook's document).
type HandoffNotice struct {
	Event        string       `json:"event"` // "handoff"
	TenantID     string       `json:"tenant_id"`
	Hotel        string       `json:"hotel"`
	Channel      string       `json:"channel"`
	Guest        string       `json:"guest"`
	Name         string       `json:"name"`
	WaitingSince time.Time    `json:"waiting_since"`
	Link         string       `json:"link"`
	LastMessages []NoticeLine `json:"last_messages"`
	Booking      *agent.Slots `json:"booking,omitempty"`
	channels     []HandoffChannel
}

// NoticeLine is one of the last messages in a notice.
type NoticeLine struct {
	Direction string    `json:"direction"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
}

// noticeLines is how many of the last messages a notice carries.
const noticeLines = 6

func (n *handoffNotifier) channelsFor(tenantID string) []HandoffChannel {
	if cs, ok := n.cfg.Channels[tenantID]; ok {
		return cs
	}
	return n.cfg.Channels["*"]
}

// Notices are owed in the conversations store, written with the handoff
// itself (conversation.Store.HandOff), so a crash before they are sent
// loses none: whichever instance runs the notice loop next sends them.
const (
	// noticeLease is how long a claimed notice is hidden from other
	// instances: longer than one delivery (three tries per channel).
	noticeLease = 2 * time.Minute
	// noticeAttempts is how many claims a notice gets before it is given up.
	noticeAttempts = 5
	// noticePoll is how often the loop looks for notices nobody poked it for
	// (another instance's handoffs, a crashed instance's claims).
	noticePoll = 5 * time.Second
	// noticeBatch is how many notices one claim takes (and sends at once).
	noticeBatch = 20
)

// poke wakes the notice loop (a handoff was just recorded).
func (n *handoffNotifier) poke() { n.wake.Wake() }

// runNotices sends the owed handoff notices until ctx ends.
func (s *Service) runNotices(ctx context.Context) error {
	n := s.notifier
	t := time.NewTicker(noticePoll)
	defer t.Stop()
	for {
		for {
			due, err := s.conversations.ClaimNotices(ctx, time.Now(), noticeLease, noticeBatch, noticeAttempts)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("claiming handoff notices", "error", err)
				}
				break
			}
			var wg sync.WaitGroup
			for _, c := range due {
				wg.Go(func() { s.sendNotice(ctx, c) })
			}
			wg.Wait()
			if len(due) < noticeBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake.C():
		case <-t.C:
		}
	}
}

// sendNotice tells the hotel's channels of one handoff, then clears the
// notice, unless a channel failed and attempts remain.
func (s *Service) sendNotice(ctx context.Context, c conversation.Notice) {
	n := s.notifier
	chans := n.channelsFor(c.TenantID)
	if len(chans) == 0 {
		s.log.Warn("guest waits for a person, and the hotel has no notification channel", "tenant_id", c.TenantID, "guest", c.Guest)
	} else {
		err := n.deliver(ctx, n.notice(ctx, c, s.hotelContext(ctx, c.TenantID).Name, chans))
		if err != nil && c.Attempt < noticeAttempts {
			s.log.Info("handoff notice will be sent again", "tenant_id", c.TenantID, "guest", c.Guest, "attempt", c.Attempt, "retry_in", noticeLease, "error", err)
			return
		}
		if err != nil {
			s.log.Warn("handoff notice given up", "tenant_id", c.TenantID, "guest", c.Guest, "attempts", c.Attempt, "error", err)
		}
	}
	if err := s.conversations.NoticeDone(ctx, c.Key, c.WaitingSince); err != nil && ctx.Err() == nil {
		s.log.Warn("clearing a sent handoff notice (it may be sent again)", "tenant_id", c.TenantID, "guest", c.Guest, "error", err)
	}
}

// notice is what staff are told of c: the hotel, the guest, the last
// messages and the booking being collected.
func (n *handoffNotifier) notice(ctx context.Context, c conversation.Notice, hotel string, chans []HandoffChannel) HandoffNotice {
	notice := HandoffNotice{Event: "handoff", TenantID: c.TenantID, Hotel: hotel, Channel: wireChannel(chat.Channel(c.Channel)), Guest: c.Guest,
		Name: c.Name, WaitingSince: c.WaitingSince.UTC(), Link: n.link(c.TenantID, c.Guest), channels: chans}
	d, err := n.desk.Detail(ctx, c.Key)
	if err != nil {
		n.log.Warn("reading the conversation for a handoff notice", "tenant_id", c.TenantID, "guest", c.Guest, "error", err)
		notice.LastMessages = []NoticeLine{{Direction: "in", Text: c.LastText, At: c.LastMessageAt.UTC()}}
		return notice
	}
	lines := d.Messages
	if len(lines) > noticeLines {
		lines = lines[len(lines)-noticeLines:]
	}
	for _, l := range lines {
		notice.LastMessages = append(notice.LastMessages, NoticeLine{Direction: l.Direction, Text: l.Text, At: l.At})
	}
	if b, ok := d.Booking.(agent.Slots); ok {
		notice.Booking = &b
	}
	return notice
}

func wireChannel(ch chat.Channel) string {
	if ch == chat.Gmail {
		return "email"
	}
	return string(ch)
}

func (n *handoffNotifier) link(tenantID, guest string) string {
	return n.cfg.ConsoleURL + "/console/#/t/" + url.PathEscape(tenantID) + "/c/" + url.PathEscape(guest)
}

// deliver sends the notice to each of its channels, three tries each, and
// returns the channels' errors (nil: every channel has it).
func (n *handoffNotifier) deliver(ctx context.Context, notice HandoffNotice) error {
	ctx, cancel := context.WithTimeout(ctx, noticeLease-10*time.Second)
	defer cancel()
	var errs []error
	for _, c := range notice.channels {
		var err error
		for attempt := 1; attempt <= n.attempts; attempt++ {
			if err = n.send(ctx, c, notice); err == nil {
				break
			}
			if attempt < n.attempts {
				select {
				case <-ctx.Done():
				case <-time.After(n.backoff * time.Duration(attempt)):
				}
			}
		}
		target := c.To + c.URL
		if c.Kind != HandoffEmail {
			target = redactURL(c.URL)
		}
		if err != nil {
			handoffNotifications.WithLabelValues(c.Kind, "failed").Inc()
			n.log.Warn("handoff notification failed", "tenant_id", notice.TenantID, "guest", notice.Guest, "kind", c.Kind, "target", target, "error", err)
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Kind, target, err))
			continue
		}
		handoffNotifications.WithLabelValues(c.Kind, "sent").Inc()
		n.log.Info("handoff notification sent", "tenant_id", notice.TenantID, "guest", notice.Guest, "kind", c.Kind, "target", target)
	}
	return errors.Join(errs...)
}

// redactURL keeps a webhook URL's host: its path is often the secret.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

func (n *handoffNotifier) send(ctx context.Context, c HandoffChannel, notice HandoffNotice) error {
	switch c.Kind {
	case HandoffEmail:
		if n.email == nil {
			return errors.New("no SMTP server configured (SMTP_ADDR)")
		}
		subject := fmt.Sprintf("[%s] %s waits for a person", notice.Hotel, guestLabel(notice))
		return n.email.Send(ctx, c.To, subject, chat.Reply{Kind: chat.ReplyText, Text: notice.plainText()})
	case HandoffSlack:
		return n.post(ctx, c.URL, notice.slack())
	case HandoffWebhook:
		return n.post(ctx, c.URL, notice)
	}
	return fmt.Errorf("unknown channel kind %q", c.Kind)
}

func (n *handoffNotifier) post(ctx context.Context, target string, doc any) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

func guestLabel(n HandoffNotice) string {
	if n.Name != "" {
		return n.Name + " (" + n.Guest + ")"
	}
	return n.Guest
}

func (n HandoffNotice) plainText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s asked for a person at %s (%s), waiting since %s.\n\n", guestLabel(n), n.Hotel, n.Channel, n.WaitingSince.Format(time.RFC1123))
	b.WriteString("Last messages:\n")
	for _, l := range n.LastMessages {
		who := "Guest"
		if l.Direction == "out" {
			who = "Hotel"
		}
		fmt.Fprintf(&b, "  %s %s: %s\n", l.At.Format("15:04"), who, l.Text)
	}
	if n.Booking != nil {
		fmt.Fprintf(&b, "\nBooking in progress: %s to %s, %d adults, room %s\n", n.Booking.CheckIn, n.Booking.CheckOut, n.Booking.Adults, n.Booking.RoomType)
	}
	fmt.Fprintf(&b, "\nAnswer the guest: %s\n", n.Link)
	return b.String()
}

// slack is Slack's incoming-webhook payload: text for notifications,
// blocks for the message.
func (n HandoffNotice) slack() map[string]any {
	var lines []string
	for _, l := range n.LastMessages {
		who := "Guest"
		if l.Direction == "out" {
			who = "Hotel"
		}
		lines = append(lines, fmt.Sprintf("*%s* %s", who, slackEscape(l.Text)))
	}
	text := fmt.Sprintf("%s waits for a person at %s", guestLabel(n), n.Hotel)
	return map[string]any{
		"text": text,
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn",
				"text": fmt.Sprintf(":bellhop_bell: *%s* waits for a person at *%s* (%s)", slackEscape(guestLabel(n)), slackEscape(n.Hotel), n.Channel)}},
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(lines, "\n")}},
			map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button",
				"text": map[string]any{"type": "plain_text", "text": "Answer"}, "url": n.Link}}},
		},
	}
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// watchWaiting exports who waits, and for how long, every 15 seconds.
func (s *Service) watchWaiting(ctx context.Context) error {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		if w, err := s.conversations.Waiting(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("counting waiting guests", "error", err)
			}
		} else {
			count, oldest := 0, time.Time{}
			for _, sum := range w {
				count += sum.Count
				if oldest.IsZero() || sum.Oldest.Before(oldest) {
					oldest = sum.Oldest
				}
			}
			handoffWaiting.Set(float64(count))
			if oldest.IsZero() {
				handoffOldestWait.Set(0)
			} else {
				handoffOldestWait.Set(time.Since(oldest).Seconds())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// waitingSummary is the dashboard's handoffs_waiting section.
func (s *Service) waitingSummary(ctx context.Context) map[string]any {
	out := map[string]any{"total": 0, "by_tenant": map[string]any{}}
	w, err := s.conversations.Waiting(ctx)
	if err != nil {
		out["error"] = "conversations unavailable"
		return out
	}
	total := 0
	by := map[string]any{}
	var oldest time.Time
	for tenant, sum := range w {
		total += sum.Count
		by[tenant] = map[string]any{"waiting": sum.Count, "oldest_since": sum.Oldest.UTC()}
		if oldest.IsZero() || sum.Oldest.Before(oldest) {
			oldest = sum.Oldest
		}
	}
	out["total"], out["by_tenant"] = total, by
	if !oldest.IsZero() {
		out["oldest_wait_seconds"] = int(time.Since(oldest).Seconds())
	}
	return out
}
