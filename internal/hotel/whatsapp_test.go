package hotel

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/inbox"
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

var resumeTemplate = tenancy.WhatsAppTemplate{Name: "reanudar_conversacion", Language: "es",
	BodyParameters: []string{tenancy.TemplateGuestName, tenancy.TemplateHotelName}}

func giveTemplate(t *testing.T, dir tenancy.Store, tenantID string, tpl tenancy.WhatsAppTemplate) {
	t.Helper()
	if _, err := dir.UpdateTenant(context.Background(), "test", tenantID, tenancy.TenantPatch{WhatsAppTemplate: &tpl}); err != nil {
		t.Fatal(err)
	}
}

var timestampRE = regexp.MustCompile(`"timestamp":"\d+"`)

// guestWroteAt accepts a WhatsApp message from guest stamped sentAt.
func guestWroteAt(t *testing.T, s *Service, guest, wamid string, sentAt time.Time) {
	t.Helper()
	body := whatsapptest.Message{PhoneNumberID: madridPNID, From: guest, ID: wamid, Name: "Ana García", Text: "Hola"}.JSON()
	body = timestampRE.ReplaceAllString(body, fmt.Sprintf(`"timestamp":"%d"`, sentAt.Unix()))
	if _, err := accept(t, s, chat.WhatsApp, body, s.DefaultRoute()); err != nil {
		t.Fatal(err)
	}
}

// finishedReplies waits until the outbox has sent or given up every reply.
func finishedReplies(t *testing.T, s *Service) []inbox.ReplyRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := s.inbox.Replies(context.Background(), inbox.Query{})
		if err != nil {
			t.Fatal(err)
		}
		done := len(recs) > 0
		for _, r := range recs {
			done = done && r.State != "pending"
		}
		if done {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("replies still pending: %+v", recs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantTemplate(t *testing.T, m fakegraph.Message, params ...string) {
	t.Helper()
	tpl := m.Request.Template
	if m.Request.Type != "template" || tpl == nil || tpl.Name != "reanudar_conversacion" || tpl.Language.Code != "es" ||
		len(tpl.Components) != 1 || tpl.Components[0].Type != "body" {
		t.Fatalf("sent %s, want the hotel's template", m.Raw)
	}
	var got []string
	for _, p := range tpl.Components[0].Parameters {
		got = append(got, p.Text)
	}
	if !slices.Equal(got, params) {
		t.Fatalf("parameters %q, want %q", got, params)
	}
}

// A guest whose message is over a day old is outside the window: the reply
// goes out as the hotel's template, filled with their name and the hotel's.
func TestReplyOutsideTheWindowGoesAsTheHotelsTemplate(t *testing.T) {
	s, g, dir := whatsAppService(t, nil)
	giveTemplate(t, dir, "tenant_hotel_madrid", resumeTemplate)
	sent := testutil.ToFloat64(windowTemplates.WithLabelValues(causeWindowClosed, "sent"))
	guestWroteAt(t, s, madridGuest, "wamid.old-1", time.Now().Add(-25*time.Hour))
	s.Start()
	defer s.Stop()
	recs := finishedReplies(t, s)
	msgs := g.Messages()
	if len(msgs) != 1 || g.Calls() != 2 { // the read receipt and the template: no free-form attempt
		t.Fatalf("%d messages in %d calls: %+v", len(msgs), g.Calls(), msgs)
	}
	wantTemplate(t, msgs[0], "Ana García", "Hotel Madrid Central")
	if len(recs) != 1 || recs[0].State != "sent" || recs[0].ProviderID != msgs[0].WAMID {
		t.Fatalf("outbox %+v", recs)
	}
	if got := testutil.ToFloat64(windowTemplates.WithLabelValues(causeWindowClosed, "sent")); got != sent+1 {
		t.Fatalf("window_closed templates %v, want %v", got, sent+1)
	}
}

// Within the window by its timestamp, but Meta says 131047: the reply is
// sent again as the template, at once.
func TestMetasReEngagementErrorSendsTheTemplate(t *testing.T) {
	s, g, dir := whatsAppService(t, nil)
	giveTemplate(t, dir, "tenant_hotel_madrid", resumeTemplate)
	g.CloseWindow(madridGuest)
	guestWrites(t, s, madridGuest, "wamid.late-1", "Hola")
	s.Start()
	defer s.Stop()
	recs := finishedReplies(t, s)
	msgs := g.Messages()
	if len(msgs) != 1 || g.Calls() != 3 { // read receipt, refused reply, template
		t.Fatalf("%d messages in %d calls", len(msgs), g.Calls())
	}
	wantTemplate(t, msgs[0], "Ana García", "Hotel Madrid Central")
	if len(recs) != 1 || recs[0].State != "sent" || recs[0].Attempts != 1 || recs[0].ProviderID != msgs[0].WAMID {
		t.Fatalf("outbox %+v", recs)
	}
}

// Meta takes the reply, then says in a receipt that the guest was outside
// the window (131047), and the receipt arrives before the outbox has
// recorded the send: the template follows all the same, once, and a
// redelivered receipt sends nothing more.
func TestA131047ReceiptBeforeItsReplyIsRecorded(t *testing.T) {
	s, g, dir := whatsAppService(t, map[string]bool{flags.WhatsAppMarkRead: false})
	giveTemplate(t, dir, "tenant_hotel_madrid", resumeTemplate)
	receipt := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"phone_number_id":%q},
		"statuses":[{"id":%q,"status":"failed","timestamp":"%d","recipient_id":%q,"errors":[{"code":131047,"title":"Re-engagement message"}]}]}}]}]}`,
		madridPNID, g.NextWAMID(madridPNID), time.Now().Unix(), madridGuest)
	for range 2 {
		if _, err := accept(t, s, chat.WhatsApp, receipt, s.DefaultRoute()); err != nil {
			t.Fatal(err)
		}
	}
	guestWrites(t, s, madridGuest, "wamid.race-1", "Hola")
	s.Start()
	defer s.Stop()
	msgs := waitMessages(t, g, 2)
	if msgs[0].Request.Type != "text" {
		t.Fatalf("first sent %s, want the reply itself", msgs[0].Raw)
	}
	wantTemplate(t, msgs[1], "Ana García", "Hotel Madrid Central")
	finishedReplies(t, s)
	time.Sleep(300 * time.Millisecond) // a second template would be on its way by now
	if n := len(g.Messages()); n != 2 {
		t.Fatalf("%d messages, want the reply and one template", n)
	}
}

// A hotel without a template: the reply fails at once, saying why.
func TestReplyOutsideTheWindowWithoutTemplateFails(t *testing.T) {
	s, g, _ := whatsAppService(t, nil)
	guestWroteAt(t, s, madridGuest, "wamid.old-2", time.Now().Add(-48*time.Hour))
	s.Start()
	defer s.Stop()
	recs := finishedReplies(t, s)
	if len(recs) != 1 || recs[0].State != "failed" || recs[0].Attempts != 1 ||
		!strings.Contains(recs[0].LastError, `hotel "tenant_hotel_madrid" has no WhatsApp template`) {
		t.Fatalf("outbox %+v", recs)
	}
	if n := len(g.Messages()); n != 0 {
		t.Fatalf("%d messages reached the Graph API", n)
	}
}

// windowSenderTo is a windowSender on the fake at clock now.
func windowSenderTo(t *testing.T, g *fakegraph.Server, dir tenancy.Store, now time.Time) *windowSender {
	t.Helper()
	cs := newChannelSender(WhatsAppConfig{AccessToken: graphToken, APIBase: g.BaseURL(), PhoneNumberID: madridPNID}, SMTPConfig{}, slog.Default())
	w := newWindowSender(cs, dir, slog.Default())
	w.now = func() time.Time { return now }
	return w
}

// One template per guest: the other replies that cannot reach them are
// recorded under its wamid, until the guest writes again.
func TestOneTemplateCoversTheRepliesBeforeTheGuestWritesAgain(t *testing.T) {
	g := fakegraph.Start(t, graphToken)
	dir := directory(t)
	giveTemplate(t, dir, "tenant_hotel_madrid", resumeTemplate)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	w := windowSenderTo(t, g, dir, now)
	reply := func(inReplyTo string, sentAt time.Time) inbox.OutboundReply {
		return inbox.OutboundReply{TenantID: "tenant_hotel_madrid", Channel: chat.WhatsApp, To: madridGuest, PhoneNumberID: madridPNID,
			InReplyTo: inReplyTo, GuestSentAt: sentAt, Reply: chat.Reply{Kind: chat.ReplyText, Text: "Hola"}}
	}
	first, err := w.Send(context.Background(), reply("wamid.a", now.Add(-30*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []inbox.OutboundReply{reply("wamid.a", now.Add(-30*time.Hour)), reply("wamid.b", now.Add(-26*time.Hour))} {
		if id, err := w.Send(context.Background(), r); err != nil || id != first {
			t.Fatalf("reply to %s: %q %v, want the template's %q", r.InReplyTo, id, err, first)
		}
	}
	if n := len(g.Messages()); n != 1 {
		t.Fatalf("%d templates sent, want 1", n)
	}
	// The guest wrote after the template; Meta still finds them outside
	// (its clock is the one that counts): a new template.
	g.CloseWindow(madridGuest)
	w.now = func() time.Time { return now.Add(2 * time.Hour) }
	if id, err := w.Send(context.Background(), reply("wamid.c", now.Add(time.Hour))); err != nil || id == first {
		t.Fatalf("after the guest wrote again: %q %v", id, err)
	}
	// A day after the last template, another may go.
	w.now = func() time.Time { return now.Add(27 * time.Hour) }
	if _, err := w.Send(context.Background(), reply("wamid.d", now.Add(-20*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if n := len(g.Messages()); n != 3 {
		t.Fatalf("%d templates sent, want 3", n)
	}
	for _, m := range g.Messages() {
		wantTemplate(t, m, "+"+madridGuest, "Hotel Madrid Central") // no profile name on these replies
	}
}

// Inside the window, email, and development without credentials are sent
// as they are.
func TestWindowSenderLeavesOtherRepliesAlone(t *testing.T) {
	g := fakegraph.Start(t, graphToken)
	dir := directory(t)
	now := time.Now()
	w := windowSenderTo(t, g, dir, now)
	in := inbox.OutboundReply{TenantID: "tenant_hotel_madrid", Channel: chat.WhatsApp, To: madridGuest, PhoneNumberID: madridPNID,
		GuestSentAt: now.Add(-23 * time.Hour), Reply: chat.Reply{Kind: chat.ReplyText, Text: "Hola"}}
	if _, err := w.Send(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	unknown := in
	unknown.GuestSentAt = time.Time{} // no timestamp: Meta decides
	if _, err := w.Send(context.Background(), unknown); err != nil {
		t.Fatal(err)
	}
	if m := g.Messages(); len(m) != 2 || m[0].Request.Type != "text" || m[1].Request.Type != "text" {
		t.Fatalf("sent %+v", m)
	}
	dev := newWindowSender(newChannelSender(WhatsAppConfig{}, SMTPConfig{}, slog.Default()), dir, slog.Default())
	old := in
	old.GuestSentAt = now.Add(-72 * time.Hour)
	if id, err := dev.Send(context.Background(), old); err != nil || !strings.HasPrefix(id, "logged-") {
		t.Fatalf("without credentials: %q %v, want it logged as it is", id, err)
	}
}
