package email

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/tracing"
	"github.com/agentehotel/agente-caddy/test/fakesmtp"
)

// Each SMTP send is a client span under the reply's send, with the server
// it went to; a refused send carries the error.
func TestSendIsASpanUnderTheReply(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := tracing.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx, reply := tracer.Start(context.Background(), "outbox.send", trace.SpanKindConsumer)

	srv := fakesmtp.Start(t, fakesmtp.Options{})
	s := &Sender{Addr: srv.Addr(), From: "reservas@hotel-bcn.example"}
	in := chat.Message{Channel: chat.Gmail, ID: "CAF=abc123@mail.gmail.com", From: "guest1@barcelona.com", Subject: "Consulta"}
	if err := s.SendReply(ctx, in, chat.Reply{Text: "Gracias"}); err != nil {
		t.Fatal(err)
	}
	refused := &Sender{Addr: srv.Addr(), From: "not an address"}
	if err := refused.SendReply(ctx, in, chat.Reply{Text: "Gracias"}); err == nil {
		t.Fatal("a sender without a valid From sent")
	}
	reply.End()

	var smtp []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "smtp.send" {
			smtp = append(smtp, s)
		}
	}
	if len(smtp) != 2 {
		t.Fatalf("%d smtp.send spans, want 2", len(smtp))
	}
	for i, s := range smtp {
		if s.Parent().SpanID() != reply.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("send %d: parent %s kind %v, want a client span under the reply's", i, s.Parent().SpanID(), s.SpanKind())
		}
	}
	if smtp[0].Status().Code == codes.Error {
		t.Errorf("the delivered mail's span has an error: %s", smtp[0].Status().Description)
	}
	if smtp[1].Status().Code != codes.Error || !strings.Contains(smtp[1].Status().Description, "From") {
		t.Errorf("the refused send's span: status %v %q, want its error", smtp[1].Status().Code, smtp[1].Status().Description)
	}
}
