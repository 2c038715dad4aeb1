package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tracing"
)

// TestTraceFollowsAMessageThroughItsRows: the span that accepts a message
// is the parent of the one that processes it, whose completion is the
// parent of the reply's send, all in the trace of the caller's span; the
// context travels in the rows (on Postgres, the trace_parent column), not
// in memory of the process.
func TestTraceFollowsAMessageThroughItsRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		opts := e.options("a")
		opts.TracerProvider = tp
		ib, pool := e.instanceWithPool(t, opts)

		ctx, request := tp.Tracer("test").Start(ctxT(t), "request")
		mustAcceptCtx(t, ctx, ib, guestMsg("1", "m1", 1))
		request.End()
		if pool != nil {
			var stored string
			if err := pool.QueryRow(ctxT(t), `SELECT trace_parent FROM inbox_messages WHERE message_id = 'm1'`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if want := spanNamed(t, rec, "inbox.accept"); stored != tracing.Parent(contextOf(want)) {
				t.Errorf("trace_parent %q, want the accept span's %q", stored, tracing.Parent(contextOf(want)))
			}
		}
		runInbox(t, ib, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
			_, span := tracing.Start(ctx, "handler", trace.SpanKindInternal)
			span.End()
			return textReply("hola"), nil
		})
		runSender(t, ib, inbox.SenderFunc(func(ctx context.Context, r inbox.OutboundReply) (string, error) {
			_, span := tracing.Start(ctx, "channel", trace.SpanKindInternal)
			span.End()
			return "wamid-1", nil
		}))
		waitFor(t, "the reply's send span to end", func() bool { return countSpans(rec, "outbox.send") > 0 })

		traceID := request.SpanContext().TraceID()
		for child, parent := range map[string]string{
			"inbox.accept":  "request",
			"inbox.process": "inbox.accept",
			"inbox.claim":   "inbox.process",
			"handler":       "inbox.process",
			"inbox.finish":  "inbox.process",
			"outbox.send":   "inbox.finish",
			"outbox.claim":  "outbox.send",
			"channel":       "outbox.send",
			"outbox.finish": "outbox.send",
		} {
			c, p := spanNamed(t, rec, child), spanNamed(t, rec, parent)
			if c.SpanContext().TraceID() != traceID {
				t.Errorf("%s is in trace %s, want the request's %s", child, c.SpanContext().TraceID(), traceID)
			}
			if c.Parent().SpanID() != p.SpanContext().SpanID() {
				t.Errorf("%s's parent is %s, want %s (%s)", child, c.Parent().SpanID(), parent, p.SpanContext().SpanID())
			}
		}
		for span, want := range map[string]map[string]string{
			"inbox.process": {"agente.outcome": "done", "messaging.message.id": "m1", "agente.tenant_id": tenant},
			"outbox.send":   {"agente.outcome": "done", "messaging.message.id": "wamid-1", "agente.in_reply_to": "m1"},
		} {
			got := map[string]string{}
			for _, kv := range spanNamed(t, rec, span).Attributes() {
				got[string(kv.Key)] = kv.Value.Emit()
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %s = %q, want %q", span, k, got[k], v)
				}
			}
		}
	})
}

func mustAcceptCtx(t *testing.T, ctx context.Context, ib *inbox.Inbox, msgs ...chat.Message) {
	t.Helper()
	if _, err := ib.Accept(ctx, msgs, nil); err != nil {
		t.Fatal(err)
	}
}

// spanNamed is the one ended span called name.
func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans called %s, want 1", len(found), name)
	}
	return found[0]
}

// contextOf is a context carrying s's span context, for tracing.Parent.
func contextOf(s sdktrace.ReadOnlySpan) context.Context {
	return trace.ContextWithSpanContext(context.Background(), s.SpanContext())
}

// TestConcurrentAcceptsKeepTheirOwnTraces: webhooks accepted at once share
// one statement on Postgres (pgaccept.go's group commit); each message's
// row still holds the context of the span that accepted it, and the worker
// continues each message's own trace.
func TestConcurrentAcceptsKeepTheirOwnTraces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		opts := e.options("a")
		opts.TracerProvider = tp
		ib := e.instance(t, opts)

		const n = 40
		requests := make([]trace.SpanContext, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, request := tp.Tracer("test").Start(ctxT(t), "request")
				defer request.End()
				requests[i] = request.SpanContext()
				// Two messages per webhook, so a group mixes batches. Not
				// mustAcceptCtx: t.Fatal belongs to the test's goroutine.
				if _, err := ib.Accept(ctx, []chat.Message{guestMsg(fmt.Sprint(i), fmt.Sprintf("m%d-a", i), 1), guestMsg(fmt.Sprint(i), fmt.Sprintf("m%d-b", i), 2)}, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		runInbox(t, ib, func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) { return nil, nil })
		waitFor(t, "every message processed", func() bool { return countSpans(rec, "inbox.process") == 2*n })

		byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Ended() {
			byID[s.SpanContext().SpanID()] = s
		}
		for _, s := range rec.Ended() {
			if s.Name() != "inbox.process" {
				continue
			}
			id := attr(s, "messaging.message.id")
			var i int
			var half string
			if _, err := fmt.Sscanf(id, "m%d-%s", &i, &half); err != nil {
				t.Fatalf("message id %q: %v", id, err)
			}
			accept := byID[s.Parent().SpanID()]
			if accept == nil || accept.Name() != "inbox.accept" || accept.Parent().SpanID() != requests[i].SpanID() ||
				s.SpanContext().TraceID() != requests[i].TraceID() {
				t.Errorf("message %s is processed in trace %s under %v, want its own request's trace %s", id,
					s.SpanContext().TraceID(), s.Parent().SpanID(), requests[i].TraceID())
			}
		}
	})
}

func countSpans(rec *tracetest.SpanRecorder, name string) int {
	n := 0
	for _, s := range rec.Ended() {
		if s.Name() == name {
			n++
		}
	}
	return n
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
