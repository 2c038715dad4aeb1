package hotel

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/consent"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// countedConsent counts the reads of its store.
type countedConsent struct {
	consent.Store
	gets atomic.Int64
}

func (c *countedConsent) Get(ctx context.Context, tenantID string, channel chat.Channel, guest string) (consent.Record, bool, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, tenantID, channel, guest)
}

// On Postgres the sender checks each reply against the consent its claim
// read: a reply queued before the guest opted out is suppressed, the
// opt-out's confirmation still goes, another guest's reply goes, all
// without a read of their own. A reply addressed in another form than the
// one consent keeps ("+34 600 111 222", as staff may write it) is not
// looked up by the claim under its stored form, so it is checked against
// the store, and suppressed too.
func TestRepliesQueuedBeforeAnOptOutAreSuppressedOnPostgres(t *testing.T) {
	pool := testservices.MigratedPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ib := inbox.NewPostgres(pool, inbox.Options{InstanceID: "t", PollInterval: 10 * time.Millisecond, Logger: quiet})
	const tenant, guest = "tenant_hotel_madrid", "34600111222"
	reply := func(to, inReplyTo, text string) inbox.OutboundReply {
		return inbox.OutboundReply{TenantID: tenant, Channel: chat.WhatsApp, To: to, InReplyTo: inReplyTo,
			Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}
	}
	if err := ib.Enqueue(ctx,
		reply(guest, "wamid.before", "queued before"),
		reply("+34 600 111 222", "", "staff, in another form"),
		reply(guest, "wamid.stop", "the confirmation"),
		reply("34600999999", "wamid.other", "another guest's")); err != nil {
		t.Fatal(err)
	}
	consents := &countedConsent{Store: consent.NewPostgres(pool)}
	if _, err := consents.Set(ctx, consent.Record{TenantID: tenant, Channel: chat.WhatsApp, Guest: guest, OptedOut: true,
		ChangedAt: time.Now(), MessageID: "wamid.stop", Text: "STOP"}); err != nil {
		t.Fatal(err)
	}
	logged := &inbox.LogSender{Logger: quiet}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ib.RunSender(rctx, consentSender{store: consents, next: logged}) }()
	defer func() { stop(); <-done }()
	states := map[string]inbox.ReplyRecord{}
	testservices.Eventually(t, 15*time.Second, "every reply sent or suppressed", func() bool {
		rs, err := ib.Replies(ctx, inbox.Query{})
		if err != nil {
			return false
		}
		for _, r := range rs {
			states[r.Reply.Reply.Text] = r
		}
		for _, r := range rs {
			if r.State == inbox.StatePending {
				return false
			}
		}
		return len(rs) == 4
	})
	for text, want := range map[string]string{"queued before": inbox.StateSuppressed, "staff, in another form": inbox.StateSuppressed,
		"the confirmation": inbox.StateSent, "another guest's": inbox.StateSent} {
		if got := states[text]; got.State != want {
			t.Errorf("%q: %s (%s), want %s", text, got.State, got.LastError, want)
		}
	}
	if n := consents.gets.Load(); n != 1 {
		t.Errorf("the sender read consent %d times, want once (the reply in another form); the claim read the others'", n)
	}
}
