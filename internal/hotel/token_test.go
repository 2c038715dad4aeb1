package hotel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/health"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

const probeEvery = 200 * time.Millisecond

// graphService is a service sending WhatsApp replies to graph with token,
// probing a refused token every probeEvery.
func graphService(t *testing.T, graph *fakegraph.Server, token string, keeper Keeper, ready *health.Checker) *Service {
	t.Helper()
	s, err := New(Config{WhatsApp: WhatsAppConfig{AccessToken: token, APIBase: graph.BaseURL(), ProbeInterval: probeEvery}},
		Deps{Tenants: directory(t), Flags: flags.New(flags.Options{}), Keeper: keeper, Readiness: ready})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tokenDependency(t *testing.T, ready *health.Checker) health.Status {
	t.Helper()
	for _, d := range ready.Run(context.Background(), time.Second).Dependencies {
		if d.Name == "whatsapp_token" {
			return d
		}
	}
	t.Fatal("no whatsapp_token dependency in the readiness report")
	return health.Status{}
}

// heldWhileRefused has three guests write while the token is expired and
// returns once their replies are held.
func heldWhileRefused(t *testing.T, s *Service, graph *fakegraph.Server) {
	t.Helper()
	guests := []string{madridGuest, bcnGuest, madridGuest, "34600333444", madridGuest}
	texts := []string{"Hola", "Hola", "¿Dónde estáis?", "Hola", "¿A qué hora es el check-in?"}
	for i, g := range guests {
		if _, err := accept(t, s, chat.WhatsApp, guestText(g, fmt.Sprintf("wamid.t%d", i), texts[i]), Route{}); err != nil {
			t.Fatal(err)
		}
	}
	// Each guest's first reply is held; madridGuest's next two wait behind
	// it (a probe may have one of the three pending for a moment).
	testservices.Eventually(t, 10*time.Second, "every message handled and the replies held", func() bool {
		st, err := s.inbox.Stats(context.Background())
		return err == nil && st.InboxPending == 0 && st.OutboxHeld+st.OutboxPending == 5 && st.OutboxHeld >= 2
	})
	if n := len(graph.Messages()); n != 0 {
		t.Fatalf("%d messages accepted with an expired token", n)
	}
}

// wantSentOnceInOrder checks that every reply went out, each once, and to
// each guest in the order queued.
func wantSentOnceInOrder(t *testing.T, s *Service, graph *fakegraph.Server) {
	t.Helper()
	var rs []inbox.ReplyRecord
	testservices.Eventually(t, 10*time.Second, "every reply sent", func() bool {
		var err error
		rs, err = s.inbox.Replies(context.Background(), inbox.Query{})
		if err != nil || len(rs) != 5 {
			return false
		}
		for _, r := range rs {
			if r.State != inbox.StateSent {
				return false
			}
		}
		return true
	})
	queued := map[string][]string{} // guest → wamids in queue order
	for _, r := range rs {
		queued[r.Reply.To] = append(queued[r.Reply.To], r.ProviderID)
		if r.Attempts != 1 {
			t.Errorf("reply %s sent after %d attempts, want 1 (holds are none)", r.ProviderID, r.Attempts)
		}
	}
	arrived := map[string][]string{}
	for _, m := range graph.Messages() {
		to := strings.TrimPrefix(m.Request.To, "+")
		arrived[to] = append(arrived[to], m.WAMID)
	}
	if len(graph.Messages()) != 5 {
		t.Errorf("%d messages arrived, want 5", len(graph.Messages()))
	}
	for guest, want := range queued {
		if !slices.Equal(arrived[guest], want) {
			t.Errorf("to %s arrived %v, queued %v", guest, arrived[guest], want)
		}
	}
}

// An expired token holds every WhatsApp reply (none failed, none counted as
// an attempt), reports whatsapp_token down in readiness (advisory: the
// instance stays ready), sets whatsapp_token_valid to 0 and probes with one
// reply at most every probeEvery. When the token works again every held
// reply goes out once, in each guest's order.
func TestExpiredTokenHoldsRepliesUntilItWorksAgain(t *testing.T) {
	graph := fakegraph.Start(t, "EAAG-token")
	graph.ExpireToken()
	ready := new(health.Checker)
	s := graphService(t, graph, "EAAG-token", &mapKeeper{}, ready)
	if d := tokenDependency(t, ready); !d.Up {
		t.Fatalf("before any send: %+v", d)
	}
	s.Start()
	defer s.Stop()
	heldWhileRefused(t, s, graph)

	d := tokenDependency(t, ready)
	if d.Up || !d.Advisory || !strings.Contains(d.Error, "code 190") || !strings.Contains(d.Error, "held") {
		t.Errorf("readiness: %+v, want whatsapp_token down (advisory) with the reason", d)
	}
	if rep := ready.Run(context.Background(), time.Second); !rep.Ready {
		t.Errorf("the instance is unready: %+v", rep)
	}
	if v := testutil.ToFloat64(whatsappTokenValid); v != 0 {
		t.Errorf("whatsapp_token_valid %v, want 0", v)
	}
	held := 0
	for _, r := range must(s.inbox.Replies(context.Background(), inbox.Query{})) {
		switch {
		case r.Attempts > 1 || r.State != inbox.StateHeld && r.State != inbox.StatePending:
			t.Errorf("reply to %s: %s after %d attempts, want held or waiting, no attempt counted", r.Reply.To, r.State, r.Attempts)
		case r.State == inbox.StateHeld:
			held++
			if r.Attempts != 0 || !strings.Contains(r.LastError, "190") {
				t.Errorf("held reply to %s: %d attempts (%q), want none and the reason", r.Reply.To, r.Attempts, r.LastError)
			}
		}
	}
	if held < 2 {
		t.Errorf("%d replies held, want each guest's first", held)
	}
	// Probing: one call at most every probeEvery (plus the replies in flight
	// when the token was first refused, at most one per sender worker).
	start, calls := time.Now(), graph.Calls()
	time.Sleep(5 * probeEvery)
	if extra, limit := graph.Calls()-calls, int(time.Since(start)/probeEvery)+1; extra < 1 || extra > limit {
		t.Errorf("%d calls in %v of refusal, want between 1 and %d", extra, time.Since(start), limit)
	}
	if calls > 5 {
		t.Errorf("%d calls before probing, want one per sender worker at most", calls)
	}

	graph.SetToken("EAAG-token") // renewed
	wantSentOnceInOrder(t, s, graph)
	if d := tokenDependency(t, ready); !d.Up {
		t.Errorf("readiness after the token works: %+v", d)
	}
	if v := testutil.ToFloat64(whatsappTokenValid); v != 1 {
		t.Errorf("whatsapp_token_valid %v, want 1", v)
	}
}

// A reload (or restart) with a new token: the next service finds the held
// replies, probes the new token with one of them right away, and sends
// them all.
func TestHeldRepliesGoOutWithTheNextConfigsToken(t *testing.T) {
	graph := fakegraph.Start(t, "EAAG-old")
	graph.ExpireToken()
	keeper := &mapKeeper{}
	old := graphService(t, graph, "EAAG-old", keeper, new(health.Checker))
	old.Start()
	heldWhileRefused(t, old, graph)

	graph.SetToken("EAAG-new")
	ready := new(health.Checker)
	next := graphService(t, graph, "EAAG-new", keeper, ready)
	next.Start()
	defer next.Stop()
	old.Stop()
	wantSentOnceInOrder(t, next, graph)
	if d := tokenDependency(t, ready); !d.Up {
		t.Errorf("readiness with the new token: %+v", d)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
