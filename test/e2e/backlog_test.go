package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/loadgen"
)

// TestAHundredThousandPendingCostAMessageNoMore is the backlog
// test end to end, on Postgres and through the shipped configuration: an
// edge without workers accepts 2,000 signed messages and then 100,000
// (20,000 guests of 10 hotels, in webhooks of 100 messages as Meta batches
// them), and each time one `agente-caddy worker` process answers 2,000 of
// them and is stopped. What a message costs is counted, not timed: the
// database's pages read per message answered (pg_stat_database's blocks
// hit and read over the drain, the worker's start and stop included). The
// claim that sorted every pending row read thousands of pages a claim at
// this size; the ready line's claim reads about as many with 100,000
// pending as with 2,000. With the big backlog, one more hotel's guest
// writes just before the worker starts: that guest's wait and the replies
// sent before it are printed, and the latter held to a hundredth of the
// backlog (hotels take turns).
func TestAHundredThousandPendingCostAMessageNoMore(t *testing.T) {
	const hotels, guestsPerHotel, perBody = 10, 2_000, 100
	const small, large, sample = 2_000, 100_000, 2_000
	s := startAgentStack(t, map[string]string{"AGENTE_WORKERS": "off", "RATE_LIMIT_WEBHOOK_POST": "1000000",
		"FEATURE_FLAGS": noReadReceipts["FEATURE_FLAGS"]})
	pnids := []string{agentPhoneNumberID}
	for i := 1; i < hotels; i++ {
		pnid := fmt.Sprintf("1098765432100%02d", i)
		s.addHotel(fmt.Sprintf("hotel_backlog_%02d", i), fmt.Sprintf("Hotel %d", i), pnid)
		pnids = append(pnids, pnid)
	}
	const otherPNID = "109876543210099"
	s.addHotel("hotel_backlog_other", "Hotel Other", otherPNID)
	s.graph.AllowPhoneNumberIDs(append(pnids, otherPNID)...)
	run := time.Now().UnixNano()

	// fill has the edge accept n more messages, spread evenly over the
	// hotels and their guests.
	fill := func(n int, label string) time.Duration {
		var reqs []loadgen.Request
		for h, pnid := range pnids {
			reqs = append(reqs, loadgen.Batches(n/hotels, perBody, guestsPerHotel, devSecret, pnid, fmt.Sprintf("backlog-%d-%s-%d", run, label, h), "hola")...)
		}
		res := allAnswered(t, loadgen.Config{URL: s.in.URL("/webhooks/whatsapp"), Connections: 16, Requests: reqs})
		return res.Elapsed
	}
	// drain runs one worker process until n more replies are at the Graph
	// API and returns the pages read per message it finished and the
	// messages finished a second.
	drain := func(n int, before func()) (pages float64, finished int, rate float64) {
		done0 := s.inboxMessages("<> 'pending'")
		blocks0 := s.databaseStat("blks_hit + blks_read")
		replies0 := s.graph.MessageCount()
		if before != nil {
			before()
		}
		start := time.Now()
		startWorker(t, s.in)
		if _, err := s.graph.WaitForMessages(replies0+n, 3*time.Minute); err != nil {
			t.Fatalf("the worker did not answer %d messages: %v", n, err)
		}
		elapsed := time.Since(start)
		stopWorkers(t)
		blocks1 := s.databaseStat("blks_hit + blks_read")
		finished = s.inboxMessages("<> 'pending'") - done0
		if finished < n {
			t.Fatalf("%d replies at the Graph API but %d messages finished", n, finished)
		}
		return float64(blocks1-blocks0) / float64(finished), finished, float64(finished) / elapsed.Seconds()
	}

	filled := fill(small, "small")
	smallPages, smallDone, smallRate := drain(sample, nil)
	t.Logf("%d pending (accepted in %.1f s): one worker process finished %d, %.1f pages read per message, %.0f messages/s",
		small, filled.Seconds(), smallDone, smallPages, smallRate)

	filled = fill(large, "large")
	// The queues' tables are vacuumed and analyzed before the big drain, as
	// autovacuum does at some point after a backlog is written: whether its
	// pass over the fresh rows (tens of thousands of pages) fell within the
	// drain or not moved the count by more than the claims' own reads. And
	// the plans are then made from statistics taken with 100,000 messages
	// pending and the replies of 2,000 sent: a claim or outcome that let
	// them lead it through the partial index of open items would read every
	// open reply for each item, as the replies pile up (the worker finished
	// all 100,001 messages while 2,000 replies went out).
	if _, err := s.db.Exec(context.Background(), `VACUUM (ANALYZE) inbox_messages, inbox_ready, inbox_leases, outbox_replies, outbox_ready, outbox_leases`); err != nil {
		t.Fatal(err)
	}
	pending := s.inboxMessages("= 'pending'")
	if pending < large {
		t.Fatalf("%d messages pending after the big fill, want at least %d", pending, large)
	}
	other := loadgen.Bodies(1, 1, devSecret, otherPNID, fmt.Sprintf("backlog-%d-other", run), "hola")[0]
	var acked time.Time
	largePages, largeDone, largeRate := drain(sample, func() { acked = s.postWebhook(other) })
	answered, before := answeredAhead(s.graph.Messages(), otherPNID, acked)
	if answered.IsZero() {
		t.Fatalf("the other hotel's guest was not answered among the first %d replies of the drain", largeDone)
	}
	t.Logf("%d pending (accepted in %.1f s, %.0f messages/s): one worker process finished %d, %.1f pages read per message, %.0f messages/s; "+
		"another hotel's guest who wrote then was answered %.0f ms after the acknowledgement (the worker's start included), %d of the backlog's replies before it",
		pending, filled.Seconds(), float64(large)/filled.Seconds(), largeDone, largePages, largeRate,
		float64(answered.Sub(acked).Microseconds())/1000, before)
	if largePages > 3*smallPages+30 {
		t.Errorf("a message read %.1f pages with %d pending against %.1f with %d: the claims scan the backlog", largePages, pending, smallPages, small)
	}
	if before > large/100 {
		t.Errorf("%d of the backlog's replies went out before the other hotel's guest was answered: it waited behind the backlog", before)
	}
}

// inboxMessages counts the inbox messages in the state the condition on
// state selects.
func (s *agentStack) inboxMessages(stateCondition string) int {
	s.t.Helper()
	var n int
	if err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM inbox_messages WHERE state `+stateCondition).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}
