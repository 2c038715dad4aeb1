package mailbox

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/test/mailfixtures"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

type collected struct {
	mu   sync.Mutex
	msgs []chat.Message
}

func (c *collected) accept(_ context.Context, msgs []chat.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *collected) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, m := range c.msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

func runWorker(t *testing.T, w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	return func() { cancel(); <-done }
}

// TestWorkerAgainstDovecot: mail delivered into a real Dovecot is read at
// once (IDLE), machines are left alone, and a restart of the worker goes
// on from where it stood: nothing lost, nothing read twice.
func TestWorkerAgainstDovecot(t *testing.T) {
	dc := testservices.StartDovecot(t, "hotel")
	dc.Append("hotel", mailfixtures.Raw("gmail_reply"))
	state := &MemoryState{}
	col := &collected{}
	cfg := Config{TenantID: "bcn", Addr: dc.Addr(), Username: "hotel", Password: testservices.DovecotPassword,
		Address: mailfixtures.Mailbox, AuthservID: mailfixtures.AuthservID, PollInterval: time.Minute}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := NewWorker(cfg, state, col.accept, log)
	if err != nil {
		t.Fatal(err)
	}
	stop := runWorker(t, w)
	want := []string{"CAF1gmail-reply-0001@mail.gmail.test"}
	testservices.Eventually(t, 10*time.Second, "the mail already there is read", func() bool { return slices.Equal(col.ids(), want) })

	// While the worker idles, a newsletter and a guest's mail arrive: the
	// guest's is read within seconds (IDLE, not the one-minute poll).
	start := time.Now()
	dc.Append("hotel", mailfixtures.Raw("newsletter_html"))
	dc.Append("hotel", mailfixtures.Raw("latin1_qp"))
	want = append(want, "5F3A2B1C.8090605@web.test")
	testservices.Eventually(t, 20*time.Second, "new mail is read while idling", func() bool { return slices.Equal(col.ids(), want) })
	t.Logf("read %s after it was delivered", time.Since(start).Round(time.Millisecond))
	stop()

	// Delivered while the worker is down: read after the restart, and
	// nothing before it again.
	dc.Append("hotel", mailfixtures.Raw("out_of_office"))
	dc.Append("hotel", mailfixtures.Raw("apple_mail_reply"))
	w2, _ := NewWorker(cfg, state, col.accept, log)
	stop = runWorker(t, w2)
	defer stop()
	want = append(want, "9F1E2D3C-4B5A-6978-8899-AABBCCDDEEFF@icloud.test")
	testservices.Eventually(t, 10*time.Second, "mail delivered while down is read once", func() bool { return slices.Equal(col.ids(), want) })
	time.Sleep(500 * time.Millisecond)
	if got := col.ids(); !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	// The guests' mails are flagged \Seen (the last one of the first run
	// may have been read just as the worker stopped); the machines' are
	// left for the reception to see.
	raws, flags := dc.Messages("hotel")
	for i, raw := range raws {
		m, _ := Parse(raw, ParseOptions{})
		seen := slices.Contains(flags[i], `\Seen`)
		switch m.MessageID {
		case "CAF1gmail-reply-0001@mail.gmail.test", "9F1E2D3C-4B5A-6978-8899-AABBCCDDEEFF@icloud.test":
			if !seen {
				t.Errorf("%s not flagged \\Seen: %v", m.MessageID, flags[i])
			}
		case "20260302060000.abcdef@news.traveldeals.test", "ooo-5566@company.test":
			if seen {
				t.Errorf("machine mail %s flagged \\Seen", m.MessageID)
			}
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestFirstSightReadsOnlyRecentUnseenMail: connected to a mailbox for the
// first time, the worker leaves the reception's mail alone: what was read
// already, and what is older than FirstSight.
func TestFirstSightReadsOnlyRecentUnseenMail(t *testing.T) {
	dc := testservices.StartDovecot(t, "hotel")
	dc.AppendAt("hotel", mailfixtures.Raw("gmail_reply"), []string{`\Seen`}, time.Now().Add(-time.Hour))
	dc.AppendAt("hotel", mailfixtures.Raw("outlook_reply"), nil, time.Now().Add(-5*24*time.Hour))
	dc.AppendAt("hotel", mailfixtures.Raw("apple_mail_reply"), nil, time.Now().Add(-time.Hour))
	col := &collected{}
	w, _ := NewWorker(Config{TenantID: "bcn", Addr: dc.Addr(), Username: "hotel", Password: testservices.DovecotPassword},
		&MemoryState{}, col.accept, nil)
	stop := runWorker(t, w)
	defer stop()
	want := []string{"9F1E2D3C-4B5A-6978-8899-AABBCCDDEEFF@icloud.test"}
	testservices.Eventually(t, 10*time.Second, "the recent unseen mail is read", func() bool { return len(col.ids()) > 0 })
	time.Sleep(500 * time.Millisecond)
	if got := col.ids(); !slices.Equal(got, want) {
		t.Fatalf("read %v, want only %v", got, want)
	}
}
