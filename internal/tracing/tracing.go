// Package tracing carries one guest message's trace from the webhook's
// request through the inbox and outbox rows to the background work that
// answers it, with the OpenTelemetry API only: the provider (an SDK one
// exporting through the OTEL_* variables, or the no-op) is chosen by whoever
// builds the application.
//
// Work that starts a trace of its own (the inbox's accept, its workers, the
// outbox's senders) takes its tracer from the provider it was given. Work
// below it (the orchestrator, the PMS calls, the Graph and SMTP sends) starts
// its spans with Start, which uses the provider of the span already in the
// context: without tracing that is the no-op, so those packages need no
// configuration and cost a context value per span.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of every span of ours.
const Scope = "github.com/agentehotel/agente-caddy"

// Tracer is provider's tracer for our spans; nil provider: the no-op.
func Tracer(provider trace.TracerProvider) trace.Tracer {
	if provider == nil {
		return noop.NewTracerProvider().Tracer(Scope)
	}
	return provider.Tracer(Scope)
}

// Start starts span name as a child of ctx's span, with that span's provider
// (none in ctx: the no-op, which records nothing).
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(Scope).Start(ctx, name, opts...)
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
