package inbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/jackc/pgx/v5/pgxpool"
)

// waitLimit bounds every wait in these tests; reaching it is a failure
// (something that should happen did not), never a timing assertion.
const waitLimit = 15 * time.Second

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is the clock every inbox in a test shares; tests move it.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(epoch.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is one store (a Postgres database or one memory backend) that any
// number of inbox instances can share.
type env struct {
	kind  string
	clock *fakeClock
	url   string       // postgres only
	mem   *inbox.Inbox // memory only: the backend every instance shares
}

func (e *env) options(id string) inbox.Options {
	return inbox.Options{
		InstanceID:   id,
		Workers:      4,
		PollInterval: 10 * time.Millisecond,
		Now:          e.clock.Now,
		Rand:         func() float64 { return 0 },
		Logger:       testLogger(),
	}
}

// instance opens another inbox on the shared store (its own pool on Postgres).
func (e *env) instance(t testing.TB, opts inbox.Options) *inbox.Inbox {
	ib, _ := e.instanceWithPool(t, opts)
	return ib
}

func (e *env) instanceWithPool(t testing.TB, opts inbox.Options) (*inbox.Inbox, *pgxpool.Pool) {
	t.Helper()
	if e.kind == "memory" {
		return inbox.SharedMemory(e.mem, opts), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(pool.Close) })
	return inbox.NewPostgres(pool, opts), pool
}

func openMemory(t testing.TB) *env {
	e := &env{kind: "memory", clock: newClock()}
	e.mem = inbox.NewMemory(e.options("mem"))
	return e
}

func openPostgres(t testing.TB) *env {
	t.Helper()
	url := testservices.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return &env{kind: "postgres", clock: newClock(), url: url}
}

// forEachBackend runs one behavioural test against memory and Postgres.
// The tests of this package run in parallel with each other: each has its
// own database, clock and memory backend.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) { f(t, openMemory(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, openPostgres(t)) })
}

// start runs fn(ctx) in the background; the returned stop cancels it and
// waits for it to return (also at cleanup).
func start(t *testing.T, fn func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitLimit):
				t.Errorf("run did not stop within %v", waitLimit)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func runInbox(t *testing.T, ib *inbox.Inbox, h inbox.Handler) (stop func()) {
	return start(t, func(ctx context.Context) error { return ib.Run(ctx, h) })
}

func runSender(t *testing.T, ib *inbox.Inbox, s inbox.Sender) (stop func()) {
	return start(t, func(ctx context.Context) error { return ib.RunSender(ctx, s) })
}

// waitFor polls cond until it holds; failing after waitLimit means the
// behaviour under test never happened.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testservices.Eventually(t, waitLimit, what, cond)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

const tenant = "hotel-1"

// guestMsg is message n of guest `from` (a digit string), sent n seconds
// after epoch.
func guestMsg(from, id string, n int) chat.Message {
	return chat.Message{
		TenantID:  tenant,
		Channel:   chat.WhatsApp,
		ID:        id,
		From:      from,
		To:        "PNID-1",
		Timestamp: epoch.Add(time.Duration(n) * time.Second),
		Kind:      chat.KindText,
		Text:      "text of " + id,
	}
}

func textReply(text string) []inbox.OutboundReply {
	return []inbox.OutboundReply{{Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}}
}

func mustAccept(t *testing.T, ib *inbox.Inbox, msgs ...chat.Message) inbox.AcceptResult {
	t.Helper()
	res, err := ib.Accept(ctxT(t), msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func messages(t *testing.T, ib *inbox.Inbox) map[string]inbox.MessageRecord {
	t.Helper()
	recs, err := ib.Messages(ctxT(t), inbox.Query{})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]inbox.MessageRecord, len(recs))
	for _, r := range recs {
		out[r.Message.ID] = r
	}
	return out
}

func replies(t *testing.T, ib *inbox.Inbox, q inbox.Query) []inbox.ReplyRecord {
	t.Helper()
	recs, err := ib.Replies(ctxT(t), q)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func pendingInbox(t *testing.T, ib *inbox.Inbox) int {
	t.Helper()
	s, err := ib.Stats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return s.InboxPending
}

// calls counts handler invocations per message id and records order per
// conversation; it fails the test if one conversation is handled twice at once.
type calls struct {
	t        *testing.T
	mu       sync.Mutex
	count    map[string]int
	order    map[string][]string
	inflight map[string]int
	by       map[string]string // message id → instance that handled it (last)
}

func newCalls(t *testing.T) *calls {
	return &calls{t: t, count: map[string]int{}, order: map[string][]string{}, inflight: map[string]int{}, by: map[string]string{}}
}

func (c *calls) enter(instance string, m chat.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := m.ConversationKey()
	c.inflight[k]++
	if c.inflight[k] > 1 {
		c.t.Errorf("conversation %s handled concurrently (message %s)", k, m.ID)
	}
	c.count[m.ID]++
	c.order[k] = append(c.order[k], m.ID)
	c.by[m.ID] = instance
}

func (c *calls) leave(m chat.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight[m.ConversationKey()]--
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.count {
		n += v
	}
	return n
}

func (c *calls) of(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[id]
}

// handler records the call and answers "re: <id>".
func (c *calls) handler(instance string) inbox.Handler {
	return func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
		c.enter(instance, m)
		defer c.leave(m)
		return textReply("re: " + m.ID), nil
	}
}

func convKey(from string) string { return fmt.Sprintf("%s|%s|%s", tenant, chat.WhatsApp, from) }

// testLogger discards logs unless INBOX_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("INBOX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
