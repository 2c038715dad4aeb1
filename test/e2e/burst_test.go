package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/loadgen"
)

// TestOneHotelsBurstDoesNotHoldBackAnother is the backlog scenario
// end to end, on Postgres and through the shipped configuration: 10,000
// signed messages for one hotel from 1,000 guests, acknowledged as fast as
// 16 connections send them, and then one message for another hotel. The
// workers take hotels in turn, so the other hotel's guest is answered
// ahead of the burst's backlog instead of after it (the old queue took
// the oldest first: 138 s behind such a burst). It prints the other
// guest's wait, from its acknowledgement to its reply at the Graph API, and
// how many of the burst's replies went out in between; it holds the latter
// to a tenth of what was left of the burst when the message came (a count,
// not a time, so the machine's speed does not decide it).
func TestOneHotelsBurstDoesNotHoldBackAnother(t *testing.T) {
	const burst, guests = 10_000, 1_000
	// Eight conversations at a time (64 by default): the agent's turns
	// then fall behind the acknowledgements on any machine, so the burst
	// leaves a backlog in the inbox's line for the other hotel to jump.
	// With the default the workers kept up with all but 990 of the burst.
	s := startAgentStack(t, map[string]string{"RATE_LIMIT_WEBHOOK_POST": "1000000", "FEATURE_FLAGS": noReadReceipts["FEATURE_FLAGS"],
		"INBOX_WORKERS": "8"})
	const hotelBPNID = "109876543210988"
	s.addHotel("hotel_b_burst", "Hotel B", hotelBPNID)
	s.graph.AllowPhoneNumberIDs(agentPhoneNumberID, hotelBPNID)

	prefix := fmt.Sprintf("burst-%d", time.Now().UnixNano())
	res := allAnswered(t, loadgen.Config{URL: s.in.URL("/webhooks/whatsapp"), Connections: 16,
		Requests: loadgen.Bodies(burst, guests, devSecret, agentPhoneNumberID, prefix, "hola")})
	left := burst - s.graph.MessageCount()
	if left < burst/10 {
		// The workers kept up with the burst: nothing was in the way to
		// jump, and the test would show nothing.
		t.Fatalf("only %d of the burst's %d messages were left unanswered when it was acknowledged: no backlog to measure against", left, burst)
	}
	acked := s.postWebhook(loadgen.Bodies(1, 1, devSecret, hotelBPNID, prefix+"-b", "hola")[0])
	var answered time.Time
	var before int
	deadline := time.Now().Add(2 * time.Minute)
	for answered.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("the other hotel's guest got no reply within 2 minutes of its acknowledgement")
		}
		time.Sleep(5 * time.Millisecond)
		answered, before = answeredAhead(s.graph.Messages(), hotelBPNID, acked)
	}
	if _, err := s.graph.WaitForMessages(burst+1, 2*time.Minute); err != nil {
		t.Fatalf("the burst did not drain: %v", err)
	}
	drained := time.Now()
	t.Logf("burst of %d messages (%d guests) acknowledged in %.1f s (%.0f/s); %d of them unanswered when the other hotel's message came; "+
		"its guest answered %.0f ms after its acknowledgement, with %d of the burst's replies sent in between; the burst drained %.1f s after the other's acknowledgement",
		burst, guests, res.Elapsed.Seconds(), res.RPS(), left, float64(answered.Sub(acked).Microseconds())/1000, before, drained.Sub(acked).Seconds())
	if before > left/10 {
		t.Fatalf("%d of the burst's %d waiting replies went out before the other hotel's guest was answered: the other hotel waited behind the burst", before, left)
	}
}

// postWebhook posts a prepared signed webhook, fails the test unless it is
// acknowledged, and returns when it was.
func (s *agentStack) postWebhook(r loadgen.Request) time.Time {
	s.t.Helper()
	h := map[string]string{}
	for k := range r.Header {
		h[k] = r.Header.Get(k)
	}
	if status, _, body := Do(s.t, http.MethodPost, s.in.URL("/webhooks/whatsapp"), r.Body, h); status != http.StatusOK {
		s.t.Fatalf("webhook: %d %s", status, body)
	}
	return time.Now()
}

// answeredAhead reads the replies at the Graph API: when the first reply
// from the business number pnid went out (zero: none yet), and how many
// replies from other numbers went out between acked and then.
func answeredAhead(msgs []fakegraph.Message, pnid string, acked time.Time) (answered time.Time, before int) {
	for _, m := range msgs {
		if m.PhoneNumberID == pnid {
			answered = m.Received
			break
		}
	}
	if answered.IsZero() {
		return answered, 0
	}
	for _, m := range msgs {
		if m.PhoneNumberID != pnid && m.Received.After(acked) && m.Received.Before(answered) {
			before++
		}
	}
	return answered, before
}
