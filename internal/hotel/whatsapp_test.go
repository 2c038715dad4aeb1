package hotel

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

const graphToken = "EAAhotel-test"

// whatsAppService is a Service that sends WhatsApp replies to a fake Graph
// API, with flags at their built-in defaults but for those in flagValues.
func whatsAppService(t *testing.T, flagValues map[string]bool) (*Service, *fakegraph.Server, *tenancy.MemoryStore) {
	t.Helper()
	g := fakegraph.Start(t, graphToken)
	g.AllowPhoneNumberIDs(madridPNID)
	defaults := flags.Defaults("test")
	for k, v := range flagValues {
		defaults[k] = v
	}
	dir := directory(t)
	s, err := New(Config{WhatsApp: WhatsAppConfig{AccessToken: graphToken, APIBase: g.BaseURL(), PhoneNumberID: madridPNID}},
		Deps{Tenants: dir, Flags: flags.New(flags.Options{Defaults: defaults}), Keeper: &mapKeeper{}})
	if err != nil {
		t.Fatal(err)
	}
	return s, g, dir
}

// guestWrites accepts one WhatsApp text message from guest to the Madrid
// hotel's number.
func guestWrites(t *testing.T, s *Service, guest, wamid, text string) {
	t.Helper()
	body := whatsapptest.Message{PhoneNumberID: madridPNID, From: guest, ID: wamid, Name: "Ana García", Text: text}.JSON()
	if _, err := accept(t, s, chat.WhatsApp, body, s.DefaultRoute()); err != nil {
		t.Fatal(err)
	}
}

func waitMessages(t *testing.T, g *fakegraph.Server, n int) []fakegraph.Message {
	t.Helper()
	msgs, err := g.WaitForMessages(n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestMarkReadWhenTheMessageIsTakenIntoWork(t *testing.T) {
	s, g, _ := whatsAppService(t, nil)
	guestWrites(t, s, madridGuest, "wamid.read-1", "Hola")
	s.Start()
	defer s.Stop()
	msgs := waitMessages(t, g, 1)
	reads := g.Reads()
	if len(reads) != 1 || reads[0].MessageID != "wamid.read-1" || !reads[0].Typing || reads[0].PhoneNumberID != madridPNID {
		t.Fatalf("reads %+v", reads)
	}
	if reads[0].Received.After(msgs[0].Received) {
		t.Fatal("the read receipt came after the reply: its typing indicator would outlive it")
	}
}

func TestMarkReadSkipsWhatIsNotMetasOrIsTurnedOff(t *testing.T) {
	t.Run("synthetic id", func(t *testing.T) {
		s, g, _ := whatsAppService(t, nil)
		guestWrites(t, s, madridGuest, "", "Hola") // no id: Normalize makes up "nid.…"
		s.Start()
		defer s.Stop()
		waitMessages(t, g, 1)
		if reads := g.Reads(); len(reads) != 0 {
			t.Fatalf("a made-up id was marked read: %+v", reads)
		}
	})
	t.Run("flag off", func(t *testing.T) {
		s, g, _ := whatsAppService(t, map[string]bool{flags.WhatsAppMarkRead: false})
		guestWrites(t, s, madridGuest, "wamid.off-1", "Hola")
		s.Start()
		defer s.Stop()
		waitMessages(t, g, 1)
		if reads := g.Reads(); len(reads) != 0 {
			t.Fatalf("marked read with %s off: %+v", flags.WhatsAppMarkRead, reads)
		}
	})
}

// A read receipt Meta refuses costs the guest nothing: the failure is
// counted and the reply goes out.
func TestMarkReadFailureDoesNotFailTheMessage(t *testing.T) {
	s, g, _ := whatsAppService(t, nil)
	failed := testutil.ToFloat64(readReceipts.WithLabelValues("failed"))
	g.FailNext(1, 131000) // the first call is the read receipt
	guestWrites(t, s, madridGuest, "wamid.fail-1", "Hola")
	s.Start()
	defer s.Stop()
	waitMessages(t, g, 1)
	if n := len(g.Reads()); n != 0 {
		t.Fatalf("%d reads recorded", n)
	}
	if got := testutil.ToFloat64(readReceipts.WithLabelValues("failed")); got != failed+1 {
		t.Fatalf("failed receipts %v, want %v", got, failed+1)
	}
	recs := messages(t, s)
	if len(recs) != 1 || recs[0].State != "done" || recs[0].Attempts != 1 {
		t.Fatalf("the message: %+v", recs)
	}
}
