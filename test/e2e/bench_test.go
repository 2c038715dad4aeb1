package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
)

// benchConcurrency is how many clients post at once: the figures are
// throughput, not the latency of one request.
const benchConcurrency = 16

// benchSlices is how many turns the reference and the agent take.
const benchSlices = 4

// benchGuests spreads the messages over this many conversations, so
// per-conversation ordering does not serialise the benchmark.
const benchGuests = 256

// benchTarget is a running binary and the fake Graph API its replies go to
// (nil for the reference).
type benchTarget struct {
	in    *Instance
	graph *fakegraph.Server
}

type signedBody struct {
	body   []byte
	header map[string]string
}

var benchRound atomic.Int64

// benchBodies are n signed webhooks, each a new message (unique wamid) from
// one of benchGuests guests. Signed before the clock starts, so the client's
// own work is not measured.
func benchBodies(n int, text string) []signedBody {
	round := benchRound.Add(1)
	out := make([]signedBody, n)
	for i := range out {
		guest := fmt.Sprintf("3462%07d", i%benchGuests)
		body := textMessage(guest, fmt.Sprintf("wamid.bench-%d-%d", round, i), text)
		out[i] = signedBody{body: body, header: signed(string(body))}
	}
	return out
}

// fire posts every body to url from benchConcurrency goroutines and returns
// the wall time. Anything but 200 fails the benchmark.
func fire(b *testing.B, client *http.Client, url string, bodies []signedBody) time.Duration {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) || failed.Load() != nil {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(bodies[i].body)))
				for k, v := range bodies[i].header {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Store(fmt.Errorf("%s: status %d", url, resp.StatusCode))
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return d
}

// waitReplies waits until the target's fake Graph API holds n messages.
func (bt *benchTarget) waitReplies(b *testing.B, n int) {
	b.Helper()
	timeout := 30*time.Second + time.Duration(n)*5*time.Millisecond
	if _, err := bt.graph.WaitForMessages(n, timeout); err != nil {
		b.Fatalf("%v\n%s", err, bt.in.Logs())
	}
}

// BenchmarkAgent measures the binary over loopback with 16 concurrent
// clients, each figure next to plain Caddy (`respond "ok"`, same binary,
// same client, the same signed bodies) measured in the same run:
//
//   - ack/memory, ack/postgres: acknowledged webhooks (one new message each,
//     signature checked, tenant resolved, inbox write, 200). The workers
//     answer the acknowledged messages meanwhile, as they would in
//     production; the next round starts once every reply is out.
//   - reply/memory, reply/postgres: a guest's availability question from the
//     POST to the fake Graph API accepting the answer (inbox, orchestrator,
//     demo PMS behind its resilience layer, outbox, WhatsApp sender).
//
// ns/op is the agent's wall time per request (1/throughput); respond_ns/op
// the reference's; x_respond their ratio; acks/s, replies/s and respond/s
// the throughputs.
func BenchmarkAgent(b *testing.B) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency}}
	defer client.CloseIdleConnections()
	ref := &benchTarget{in: Start(b, Options{Config: "test/e2e/testdata/respond.Caddyfile", ReadyPath: "/"})}
	noLimits := map[string]string{"RATE_LIMIT_ENABLED": "false"}

	memGraph := fakegraph.Start(b, agentGraphToken)
	mem := &benchTarget{graph: memGraph, in: Start(b, Options{Env: map[string]string{
		"RATE_LIMIT_ENABLED":       "false",
		"WHATSAPP_API_BASE":        memGraph.BaseURL(),
		"WHATSAPP_ACCESS_TOKEN":    agentGraphToken,
		"WHATSAPP_PHONE_NUMBER_ID": agentPhoneNumberID,
	}})}
	pgStack := startAgentStack(b, noLimits)
	pg := &benchTarget{in: pgStack.in, graph: pgStack.graph}

	question := "hola, tienen habitación doble " + stayPhrase(time.Now()) + " para 2?"
	for _, c := range []struct {
		name   string
		target *benchTarget
		text   string
		reply  bool
	}{
		{"ack/memory", mem, "hola", false},
		{"ack/postgres", pg, "hola", false},
		{"reply/memory", mem, question, true},
		{"reply/postgres", pg, question, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			bodies := benchBodies(b.N, c.text)
			agentURL, refURL := c.target.in.URL("/webhooks/whatsapp"), ref.in.URL("/webhooks/whatsapp")
			b.StopTimer()
			// The reference and the agent take turns on slices of the
			// bodies, so load from elsewhere on a shared machine falls on
			// both alike.
			var refTime, agentTime time.Duration
			for k := range benchSlices {
				part := bodies[k*len(bodies)/benchSlices : (k+1)*len(bodies)/benchSlices]
				if len(part) == 0 {
					continue
				}
				refTime += fire(b, client, refURL, part)
				base := len(c.target.graph.Messages())
				b.StartTimer()
				start := time.Now()
				fire(b, client, agentURL, part)
				if c.reply {
					c.target.waitReplies(b, base+len(part))
				}
				agentTime += time.Since(start)
				b.StopTimer()
				if !c.reply {
					// The next slice starts with the replies to this one out.
					c.target.waitReplies(b, base+len(part))
				}
			}
			unit := "acks/s"
			if c.reply {
				unit = "replies/s"
			}
			b.ReportMetric(float64(b.N)/agentTime.Seconds(), unit)
			b.ReportMetric(float64(refTime.Nanoseconds())/float64(b.N), "respond_ns/op")
			b.ReportMetric(float64(b.N)/refTime.Seconds(), "respond/s")
			b.ReportMetric(float64(agentTime)/float64(refTime), "x_respond")
		})
	}
}
