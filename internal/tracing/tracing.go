// Package tracing carries one guest message's trace from the webhook's
// request through the inbox and outbox rows to the background work that
// answers it, with the OpenTelemetry API only: the provider (an SDK one
// exporting through the OTEL_* variables, or the no-op) is chosen by whoever
// builds the application.
//
// Work that starts a trace of its own (the inbox's accept, its workers, the
// outbox's senders) takes a Tracer from the provider it was given. Work
// below it (the orchestrator, the PMS calls, the Graph and SMTP sends) starts
// its spans with Start, which uses the provider of the span already in the
// context: those packages need no configuration, and without tracing they
// start nothing.
package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of every span of ours.
const Scope = "github.com/agentehotel/agente-caddy"

// Tracer starts the spans of work that begins a trace of its own (or
// continues one stored in a row). The zero Tracer, from a nil provider,
// starts none and costs nothing, not even a context value: without tracing
// the webhook's path allocates nothing for it.
type Tracer struct{ t trace.Tracer }

// NewTracer is provider's Tracer; nil provider: the zero Tracer.
func NewTracer(provider trace.TracerProvider) Tracer {
	if provider == nil {
		return Tracer{}
	}
	return Tracer{provider.Tracer(Scope)}
}

// On reports whether t makes spans.
func (t Tracer) On() bool { return t.t != nil }

// Start starts span name of kind as a child of ctx's span.
func (t Tracer) Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if t.t == nil {
		return ctx, off
	}
	return t.t.Start(ctx, name, trace.WithSpanKind(kind))
}

// StartAt is Start for a span that began at start (before it could be
// named: a claim's items are known when the claim returns).
func (t Tracer) StartAt(ctx context.Context, name string, kind trace.SpanKind, start time.Time) (context.Context, trace.Span) {
	if t.t == nil {
		return ctx, off
	}
	return t.t.Start(ctx, name, trace.WithSpanKind(kind), trace.WithTimestamp(start))
}

// off is the span of work done without tracing.
var off trace.Span = noop.Span{}

// Start starts span name of kind as a child of ctx's span, with that span's
// provider; when ctx's span records nothing (no tracing, or not sampled) it
// starts none and costs nothing.
func Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, off
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, trace.WithSpanKind(kind))
}

// End ends span, recording err as its error status when not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Parent is the W3C traceparent of ctx's span, the form stored on inbox and
// outbox rows; "" when ctx carries no valid span (tracing off: nothing is
// stored).
func Parent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + flags
}

// WithParent is ctx carrying the remote span traceparent names, so the next
// span started from it continues that trace; ctx unchanged when traceparent
// is empty or malformed.
func WithParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
