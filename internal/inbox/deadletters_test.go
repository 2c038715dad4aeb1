package inbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
)

// fixableSender refuses every reply for good (a Graph 400 from a
// misconfigured template) until fixed, then sends, counting each text.
type fixableSender struct {
	fixed atomic.Bool
	mu    sync.Mutex
	sent  map[string]int
}

func (f *fixableSender) Send(_ context.Context, r inbox.OutboundReply) (string, error) {
	if !f.fixed.Load() {
		return "", inbox.Permanent(errors.New("graph 400: (#132001) Template name does not exist in the translation"))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent[r.Reply.Text]++
	return "wamid." + r.Reply.Text, nil
}

func (f *fixableSender) count(text string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[text]
}

// Dead letters are listed with their reason; a replay sends each exactly
// once and a second replay finds nothing; a dead message replayed by id is
// handled again.
func TestDeadLettersListedAndReplayedOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ib := e.instance(t, senderOptions(e))
		s := &fixableSender{sent: map[string]int{}}
		runSender(t, ib, s)
		if err := ib.Enqueue(ctxT(t), outReply("1", "r1"), outReply("2", "r2"), outReply("3", "r3")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "three replies failed", func() bool {
			d, _, err := ib.DeadLetters(ctxT(t), inbox.DeadLetterQuery{Kind: inbox.DeadOutbox})
			return err == nil && len(d) == 3
		})
		// Pages of two.
		page, next, err := ib.DeadLetters(ctxT(t), inbox.DeadLetterQuery{Limit: 2})
		if err != nil || len(page) != 2 || next == "" {
			t.Fatalf("first page %+v %q %v", page, next, err)
		}
		rest, next2, err := ib.DeadLetters(ctxT(t), inbox.DeadLetterQuery{Limit: 2, After: next})
		if err != nil || len(rest) != 1 || next2 != "" || rest[0].ID == page[0].ID || rest[0].ID == page[1].ID {
			t.Fatalf("second page %+v %q %v", rest, next2, err)
		}
		for _, d := range append(page, rest...) {
			if d.Kind != inbox.DeadOutbox || d.TenantID != tenant || !strings.Contains(d.Reason, "132001") || d.Guest == "" || d.Text == "" {
				t.Errorf("dead letter %+v", d)
			}
		}
		if _, _, err := ib.DeadLetters(ctxT(t), inbox.DeadLetterQuery{After: "nonsense"}); !errors.Is(err, inbox.ErrBadCursor) {
			t.Fatalf("bad cursor: %v", err)
		}
		// One by id, then the rest by filter, after the fix.
		s.fixed.Store(true)
		var r1 inbox.DeadLetter
		for _, d := range append(page, rest...) {
			if d.Text == "r1" {
				r1 = d
			}
		}
		if n, err := ib.Replay(ctxT(t), []inbox.DeadLetterRef{{Kind: inbox.DeadOutbox, ID: r1.ID}}); err != nil || n != 1 {
			t.Fatalf("replay one: %d %v", n, err)
		}
		if n, err := ib.Replay(ctxT(t), []inbox.DeadLetterRef{{Kind: inbox.DeadOutbox, ID: r1.ID}}); err != nil || n != 0 {
			t.Fatalf("replaying it again: %d %v", n, err)
		}
		if n, err := ib.ReplayMatching(ctxT(t), inbox.DeadOutbox, tenant); err != nil || n != 2 {
			t.Fatalf("replay the tenant's: %d %v", n, err)
		}
		waitFor(t, "each sent", func() bool { return s.count("r1") == 1 && s.count("r2") == 1 && s.count("r3") == 1 })
		if n, err := ib.ReplayMatching(ctxT(t), "", ""); err != nil || n != 0 {
			t.Fatalf("second replay of everything: %d %v", n, err)
		}
		if d, _, _ := ib.DeadLetters(ctxT(t), inbox.DeadLetterQuery{}); len(d) != 0 {
			t.Fatalf("dead letters left: %+v", d)
		}
		for _, text := range []string{"r1", "r2", "r3"} {
			if n := s.count(text); n != 1 {
				t.Errorf("%s sent %d times", text, n)
			}
		}

		// A message the handler gives up on, replayed by id.
		var healthy atomic.Bool
		var handled atomic.Int32
		runInbox(t, ib, func(_ context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			if !healthy.Load() {
				return nil, inbox.Permanent(errors.New("session store refused the row"))
			}
			handled.Add(1)
			return nil, nil
		})
		mustAccept(t, ib, guestMsg("9", "wamid.dead-1", 1))
		var dead []inbox.DeadLetter
		waitFor(t, "the message died", func() bool {
			dead, _, _ = ib.DeadLetters(ctxT(t), inbox.DeadLetterQuery{Kind: inbox.DeadInbox})
			return len(dead) == 1
		})
		if dead[0].Guest != "9" || !strings.Contains(dead[0].Reason, "session store") {
			t.Fatalf("dead message %+v", dead[0])
		}
		healthy.Store(true)
		if n, err := ib.Replay(ctxT(t), []inbox.DeadLetterRef{{Kind: inbox.DeadInbox, ID: dead[0].ID}}); err != nil || n != 1 {
			t.Fatalf("replay message: %d %v", n, err)
		}
		waitFor(t, "the message handled", func() bool { return handled.Load() == 1 })
		if n, _ := ib.ReplayMatching(ctxT(t), inbox.DeadInbox, ""); n != 0 {
			t.Fatalf("second replay took %d", n)
		}
		if _, err := ib.Replay(ctxT(t), []inbox.DeadLetterRef{{Kind: "other", ID: "1"}}); !errors.Is(err, inbox.ErrInvalid) {
			t.Fatalf("unknown kind: %v", err)
		}
	})
}
