package e2e

// Traces end to end: the real binary exports its spans over OTLP/HTTP to a
// receiver in this test, and one guest message's spans form one tree from
// the webhook's request to the reply's POST to the Graph API.

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// receivedSpan is one span as the receiver decoded it.
type receivedSpan struct {
	service          string
	traceID          string
	spanID, parentID string
	name             string
	kind             tracepb.Span_SpanKind
	start, end       time.Time
	attrs            map[string]string
	statusCode       tracepb.Status_StatusCode
}

// spanReceiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf).
type spanReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*receivedSpan
}

func startSpanReceiver(t *testing.T) *spanReceiver {
	r := &spanReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
			http.Error(w, "not an OTLP trace export", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &export); err != nil {
			t.Errorf("OTLP receiver: undecodable export (%s): %v", req.Header.Get("Content-Type"), err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&export)
		answer, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *spanReceiver) add(export *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.GetResourceSpans() {
		service := attrMap(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, &receivedSpan{
					service:    service,
					traceID:    hex.EncodeToString(s.GetTraceId()),
					spanID:     hex.EncodeToString(s.GetSpanId()),
					parentID:   hex.EncodeToString(s.GetParentSpanId()),
					name:       s.GetName(),
					kind:       s.GetKind(),
					start:      time.Unix(0, int64(s.GetStartTimeUnixNano())),
					end:        time.Unix(0, int64(s.GetEndTimeUnixNano())),
					attrs:      attrMap(s.GetAttributes()),
					statusCode: s.GetStatus().GetCode(),
				})
			}
		}
	}
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = fmt.Sprint(v.GetBoolValue())
		case *commonpb.AnyValue_DoubleValue:
			out[kv.GetKey()] = fmt.Sprint(v.GetDoubleValue())
		}
	}
	return out
}

// trace is every span received so far in the trace of the first span
// matching match, or nil while there is none.
func (r *spanReceiver) trace(match func(*receivedSpan) bool) []*receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := ""
	for _, s := range r.spans {
		if match(s) {
			id = s.traceID
			break
		}
	}
	if id == "" {
		return nil
	}
	var out []*receivedSpan
	for _, s := range r.spans {
		if s.traceID == id {
			c := *s
			out = append(out, &c)
		}
	}
	return out
}

// otelEnv exports the process's traces to r, batched for a tenth of a
// second, under service name agente-caddy-e2e.
func (r *spanReceiver) otelEnv() map[string]string {
	return map[string]string{
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": r.srv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY":     "100",
		"OTEL_SERVICE_NAME":           "agente-caddy-e2e",
	}
}

// TestSpanTreeOfOneMessage: one guest message asking for a room, with the
// memory inbox and with Postgres. Its trace is one tree: Caddy's server span
// of the webhook, the inbox accept under it, the processing (continued from
// the trace context stored with the message), its claim, the steps around
// the orchestrator, the orchestrator and its PMS calls, and the reply's send (continued from the context stored
// with the reply) with its POST to the Graph API. The tree is printed. With
// the memory inbox the message comes after a reload, which keeps the app's
// tracer provider.
func TestSpanTreeOfOneMessage(t *testing.T) {
	for _, store := range []string{"memory", "postgres"} {
		t.Run(store, func(t *testing.T) {
			rec := startSpanReceiver(t)
			var in *Instance
			var graph *fakegraph.Server
			if store == "postgres" {
				s := startAgentStack(t, rec.otelEnv())
				in, graph = s.in, s.graph
			} else {
				// Without POSTGRES_URL the directory is caddy/dev-tenants.yaml,
				// which gives the business number to tenant_hotel_madrid.
				graph = fakegraph.Start(t, agentGraphToken)
				graph.AllowPhoneNumberIDs(agentPhoneNumberID)
				env := rec.otelEnv()
				env["WHATSAPP_API_BASE"] = graph.BaseURL()
				env["WHATSAPP_ACCESS_TOKEN"] = agentGraphToken
				env["WHATSAPP_PHONE_NUMBER_ID"] = agentPhoneNumberID
				in = Start(t, Options{Env: env})
			}
			guest := newGuestPhone()
			wamid := "wamid.trace-" + store + "-" + guest
			w := newWebhookClient(1)
			if store == "memory" {
				// The provider outlives a reload: the message after it is
				// traced like the first (checked below).
				caddyfile, err := os.ReadFile(filepath.Join(RepoRoot(), "Caddyfile"))
				if err != nil {
					t.Fatal(err)
				}
				loads := strings.Count(in.Logs(), "load complete")
				in.Reload(caddyfile)
				testservices.Eventually(t, 10*time.Second, "the config is reloaded", func() bool {
					return strings.Count(in.Logs(), "load complete") > loads
				})
			}
			status, got, err := w.post(in.URL("/webhooks/whatsapp"), textMessage(guest, wamid, "hola, tienen habitación doble "+stayPhrase(time.Now())+" para 2?"))
			if err != nil || status != http.StatusOK {
				t.Fatalf("webhook: %d %q %v", status, got, err)
			}
			var reply fakegraph.Message
			deadline := time.Now().Add(15 * time.Second)
			for {
				if r := repliesTo(graph.Messages(), guest); len(r) > 0 {
					reply = r[0]
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no reply to %s at the fake Graph API\n%s", guest, in.Logs())
				}
				_, _ = graph.WaitForMessages(len(graph.Messages())+1, 100*time.Millisecond)
			}

			// The send's span ends after the fake answered; the batch
			// leaves within OTEL_BSP_SCHEDULE_DELAY.
			isAccept := func(s *receivedSpan) bool {
				return s.name == "inbox.accept" && s.attrs["messaging.message.id"] == wamid
			}
			var spans []*receivedSpan
			deadline = time.Now().Add(15 * time.Second)
			for {
				spans = rec.trace(isAccept)
				// The spans that end last: the processing, the send (which
				// may end first), the request's.
				if slices.ContainsFunc(spans, func(s *receivedSpan) bool { return s.name == "outbox.send" }) &&
					slices.ContainsFunc(spans, func(s *receivedSpan) bool { return s.name == "inbox.process" }) &&
					slices.ContainsFunc(spans, func(s *receivedSpan) bool { return s.kind == tracepb.Span_SPAN_KIND_SERVER }) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the message's trace did not arrive whole; received:\n%s", printTree(spans))
				}
				time.Sleep(50 * time.Millisecond)
			}
			tree := printTree(spans)
			t.Logf("the span tree of one message (%s inbox), webhook to Meta:\n%s", store, tree)

			byID := map[string]*receivedSpan{}
			for _, s := range spans {
				byID[s.spanID] = s
			}
			one := func(name string) *receivedSpan {
				t.Helper()
				var found []*receivedSpan
				for _, s := range spans {
					if s.name == name {
						found = append(found, s)
					}
				}
				if len(found) != 1 {
					t.Fatalf("%d spans %s in the trace, want 1:\n%s", len(found), name, tree)
				}
				return found[0]
			}
			parentOf := func(s *receivedSpan) *receivedSpan { return byID[s.parentID] }
			under := func(s *receivedSpan, ancestor *receivedSpan) bool {
				for p := parentOf(s); p != nil; p = parentOf(p) {
					if p == ancestor {
						return true
					}
				}
				return false
			}

			var roots []*receivedSpan
			for _, s := range spans {
				if parentOf(s) == nil {
					roots = append(roots, s)
				}
				if s.service != "agente-caddy-e2e" {
					t.Errorf("span %s of service %q, want OTEL_SERVICE_NAME's agente-caddy-e2e", s.name, s.service)
				}
				if s.statusCode == tracepb.Status_STATUS_CODE_ERROR {
					t.Errorf("span %s has an error status", s.name)
				}
			}
			if len(roots) != 1 || roots[0].kind != tracepb.Span_SPAN_KIND_SERVER || roots[0].name != "agente-caddy" {
				t.Fatalf("want one root, Caddy's server span of the webhook; roots %d:\n%s", len(roots), tree)
			}
			server := roots[0]
			accept, process := one("inbox.accept"), one("inbox.process")
			claim, turn, send := one("inbox.claim"), one("agent.turn"), one("outbox.send")
			graphPost := one("whatsapp.send")
			for _, c := range []struct {
				child, parent *receivedSpan
			}{{accept, server}, {process, accept}, {claim, process}, {one("hotel.context"), process}, {one("consent.check"), process},
				{one("conversation.record_inbound"), process}, {turn, process}, {one("conversation.record_turn"), process},
				{one("inbox.finish"), process}, {graphPost, send}} {
				if parentOf(c.child) != c.parent {
					t.Errorf("%s is not a child of %s:\n%s", c.child.name, c.parent.name, tree)
				}
			}
			if !under(send, process) {
				t.Errorf("the reply's send is not under the message's processing:\n%s", tree)
			}
			pmsCalls := 0
			for _, s := range spans {
				if strings.HasPrefix(s.name, "pms.") {
					pmsCalls++
					if !under(s, turn) || s.attrs["pms.operation"] == "" || s.attrs["pms.breaker.state"] == "" {
						t.Errorf("PMS span %s: not under the orchestrator or without operation and breaker state: %v", s.name, s.attrs)
					}
				}
			}
			if pmsCalls == 0 {
				t.Errorf("no PMS call in the trace of a question about a room:\n%s", tree)
			}
			for span, want := range map[*receivedSpan]map[string]string{
				process:   {"agente.tenant_id": agentTenant, "messaging.message.id": wamid, "agente.outcome": "done"},
				turn:      {"agente.tenant_id": agentTenant, "messaging.message.id": wamid},
				send:      {"agente.tenant_id": agentTenant, "agente.in_reply_to": wamid, "messaging.message.id": reply.WAMID, "agente.outcome": "done"},
				graphPost: {"http.response.status_code": "200", "messaging.message.id": reply.WAMID},
			} {
				for k, v := range want {
					if span.attrs[k] != v {
						t.Errorf("%s: %s = %q, want %q", span.name, k, span.attrs[k], v)
					}
				}
			}
		})
	}
}

// printTree renders spans as an indented tree, children in start order:
// name, duration, offset from the root's start, and the key attributes.
func printTree(spans []*receivedSpan) string {
	byID := map[string]*receivedSpan{}
	for _, s := range spans {
		byID[s.spanID] = s
	}
	children := map[string][]*receivedSpan{}
	var roots []*receivedSpan
	for _, s := range spans {
		if byID[s.parentID] == nil {
			roots = append(roots, s)
			continue
		}
		children[s.parentID] = append(children[s.parentID], s)
	}
	byStart := func(a, b *receivedSpan) int { return a.start.Compare(b.start) }
	slices.SortFunc(roots, byStart)
	keys := []string{"agente.tenant_id", "messaging.message.id", "agente.channel", "agente.attempt", "agente.outcome",
		"agente.intent", "agente.replies", "pms.operation", "pms.cache", "pms.breaker.state", "pms.attempts",
		"http.route", "http.request.method", "http.response.status_code", "url.path", "agente.in_reply_to"}
	var b strings.Builder
	var walk func(s *receivedSpan, depth int, origin time.Time)
	walk = func(s *receivedSpan, depth int, origin time.Time) {
		fmt.Fprintf(&b, "%s%s  %s  (+%s)", strings.Repeat("  ", depth), s.name,
			s.end.Sub(s.start).Round(10*time.Microsecond), s.start.Sub(origin).Round(10*time.Microsecond))
		var attrs []string
		for _, k := range keys {
			if v, ok := s.attrs[k]; ok {
				attrs = append(attrs, k+"="+v)
			}
		}
		if len(attrs) > 0 {
			fmt.Fprintf(&b, "  [%s]", strings.Join(attrs, " "))
		}
		fmt.Fprintf(&b, "  trace=%s\n", s.traceID[:8])
		kids := children[s.spanID]
		slices.SortFunc(kids, byStart)
		for _, c := range kids {
			walk(c, depth+1, origin)
		}
	}
	for _, r := range roots {
		walk(r, 0, r.start)
	}
	return b.String()
}
