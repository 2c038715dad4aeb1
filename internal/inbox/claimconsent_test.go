package inbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// consentRecorder sends every reply and keeps the consent its claim read,
// by the reply's text.
type consentRecorder struct {
	mu   sync.Mutex
	seen map[string]*inbox.RecipientConsent
}

func (c *consentRecorder) Send(_ context.Context, r inbox.OutboundReply) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]*inbox.RecipientConsent{}
	}
	c.seen[r.Reply.Text] = r.ClaimedConsent
	return "wamid.out-" + r.Reply.Text, nil
}

func (c *consentRecorder) consent(text string) (rc *inbox.RecipientConsent, sent bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc, sent = c.seen[text]
	return rc, sent
}

// The Postgres outbox's claim hands each reply to the sender with its
// recipient's guest_consent row as committed when the claim ran, not when
// the reply was queued: a reply queued before its guest opted out carries
// the opt-out, one to a guest without a row carries none, and a later
// claim sees a later change. The memory outbox reads none (the sender
// reads the store itself).
func TestOutboxClaimReadsTheRecipientsCurrentConsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib, pool := e.instanceWithPool(t, senderOptions(e))
		if err := ib.Enqueue(ctxT(t), outReply("111", "queued before the opt-out"), outReply("222", "to a guest who never answered")); err != nil {
			t.Fatal(err)
		}
		stoppedAt := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
		setConsent := func(guest string, optedOut bool, messageID string, at time.Time) {
			t.Helper()
			if pool == nil {
				return
			}
			if _, err := pool.Exec(ctxT(t), `INSERT INTO guest_consent AS g (tenant_id, channel, guest, opted_out, changed_at, message_id, text)
				VALUES ($1, 'whatsapp', $2, $3, $4, $5, '')
				ON CONFLICT (tenant_id, channel, guest) DO UPDATE SET opted_out = excluded.opted_out,
					changed_at = excluded.changed_at, message_id = excluded.message_id`, tenant, guest, optedOut, at, messageID); err != nil {
				t.Fatal(err)
			}
		}
		setConsent("111", true, "wamid.stop", stoppedAt)
		s := &consentRecorder{}
		runSender(t, ib, s)
		waitFor(t, "both replies sent", func() bool {
			_, a := s.consent("queued before the opt-out")
			_, b := s.consent("to a guest who never answered")
			return a && b
		})
		out, _ := s.consent("queued before the opt-out")
		none, _ := s.consent("to a guest who never answered")
		if e.kind == "memory" {
			if out != nil || none != nil {
				t.Fatalf("the memory outbox read consent: %+v, %+v", out, none)
			}
			return
		}
		if out == nil || !out.Found || !out.OptedOut || out.MessageID != "wamid.stop" || !out.ChangedAt.Equal(stoppedAt) {
			t.Errorf("reply queued before the opt-out claimed with consent %+v, want the opt-out", out)
		}
		if none == nil || none.Found || none.OptedOut {
			t.Errorf("reply to a guest without consent record claimed with %+v, want found false", none)
		}

		setConsent("111", false, "wamid.start", stoppedAt.Add(time.Minute))
		if err := ib.Enqueue(ctxT(t), outReply("111", "after the opt-in")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the reply after the opt-in sent", func() bool { _, ok := s.consent("after the opt-in"); return ok })
		if in, _ := s.consent("after the opt-in"); in == nil || !in.Found || in.OptedOut || in.MessageID != "wamid.start" {
			t.Errorf("reply after the opt-in claimed with consent %+v, want the opt-in", in)
		}
	})
}
