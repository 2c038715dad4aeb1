package tracing

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The traceparent stored in a row brings the next span back into the trace,
// as a child of the span that stored it.
func TestParentRoundTrip(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx, accept := tracer.Start(context.Background(), "accept", trace.SpanKindProducer)
	stored := Parent(ctx)
	accept.End()

	_, process := tracer.Start(WithParent(context.Background(), stored), "process", trace.SpanKindConsumer)
	process.End()
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	a, p := spans[0], spans[1]
	if p.SpanContext().TraceID() != a.SpanContext().TraceID() || p.Parent().SpanID() != a.SpanContext().SpanID() {
		t.Errorf("process is not a child of accept: trace %s parent %s, want %s %s",
			p.SpanContext().TraceID(), p.Parent().SpanID(), a.SpanContext().TraceID(), a.SpanContext().SpanID())
	}
	if want := "00-" + a.SpanContext().TraceID().String() + "-" + a.SpanContext().SpanID().String() + "-01"; stored != want {
		t.Errorf("stored %q, want %q", stored, want)
	}
}

func TestNoTraceStoresNothing(t *testing.T) {
	if p := Parent(context.Background()); p != "" {
		t.Errorf("Parent without a span: %q, want empty", p)
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01"} {
		if sc := trace.SpanContextFromContext(WithParent(context.Background(), bad)); sc.IsValid() {
			t.Errorf("WithParent(%q) gave a valid span context %v", bad, sc)
		}
	}
}

// Without tracing, starting and ending spans allocates nothing: the webhook's
// path pays for none.
func TestOffCostsNothing(t *testing.T) {
	ctx := context.Background()
	var zero Tracer
	allocs := testing.AllocsPerRun(100, func() {
		c, s := zero.Start(ctx, "inbox.accept", trace.SpanKindProducer)
		_, child := Start(c, "pms.availability", trace.SpanKindClient)
		End(child, nil)
		End(s, nil)
		_ = Parent(c)
	})
	if allocs != 0 {
		t.Errorf("%.0f allocations per span pair without tracing, want 0", allocs)
	}
}

func TestEndRecordsTheError(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx, parent := tracer.Start(context.Background(), "process", trace.SpanKindConsumer)
	_, child := Start(ctx, "whatsapp.send", trace.SpanKindClient)
	End(child, errors.New("graph: 400"))
	End(parent, nil)
	s := rec.Ended()[0]
	if s.Name() != "whatsapp.send" || s.Status().Code != codes.Error || s.Status().Description != "graph: 400" || len(s.Events()) != 1 {
		t.Errorf("%s: status %v %q, %d events; want the error recorded", s.Name(), s.Status().Code, s.Status().Description, len(s.Events()))
	}
	if rec.Ended()[1].Status().Code == codes.Error {
		t.Error("the parent got the child's error")
	}
}
