package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// TestRepliesAndUnroutedRoutes: an operator reads a hotel's replies with the
// channel's last word on each (a failed one with Meta's reason), and the
// events no hotel could be found for.
func TestRepliesAndUnroutedRoutes(t *testing.T) {
	store, err := tenancy.NewMemoryStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ib := inbox.NewMemory(inbox.Options{InstanceID: "admin-test"})
	a := newAPI(t, Options{Tenants: store, Flags: flags.New(flags.Options{Defaults: flags.Defaults("test")}), Deliveries: ib})
	a.expect("POST", "/admin/tenants", `{"tenant_id":"hotel_a","name":"Hotel A"}`, 201)

	go func() { _ = ib.RunSender(ctx, &inbox.LogSender{}) }()
	for _, to := range []string{"34600000001", "34600000002"} {
		if err := ib.Enqueue(ctx, inbox.OutboundReply{TenantID: "hotel_a", Channel: chat.WhatsApp, To: to, InReplyTo: "wamid.in-" + to,
			Reply: chat.Reply{Kind: chat.ReplyText, Text: "Hola " + to}}); err != nil {
			t.Fatal(err)
		}
	}
	sent := func() bool {
		recs, err := ib.Replies(ctx, inbox.Query{TenantID: "hotel_a"})
		return err == nil && len(recs) == 2 && recs[0].State == inbox.StateSent && recs[1].State == inbox.StateSent
	}
	for !sent() {
		if ctx.Err() != nil {
			t.Fatal("the replies were not sent")
		}
		time.Sleep(5 * time.Millisecond)
	}
	recs, _ := ib.Replies(ctx, inbox.Query{TenantID: "hotel_a", To: "34600000002"})
	if _, err := ib.Accept(ctx, nil, []chat.Status{
		{TenantID: "hotel_a", Channel: chat.WhatsApp, MessageID: recs[0].ProviderID, Status: "failed", Recipient: "34600000002",
			Timestamp: time.Unix(1_790_000_000, 0), Errors: []chat.Error{{Code: 131026, Title: "Message undeliverable"}}},
	}); err != nil {
		t.Fatal(err)
	}

	r := a.expect("GET", "/admin/tenants/hotel_a/replies?to=34600000002", "", 200)
	for _, want := range []string{`"to":"34600000002"`, `"in_reply_to":"wamid.in-34600000002"`, `"text":"Hola 34600000002"`, `"state":"sent"`,
		`"delivery_status":"failed"`, `"delivery_at":"2026-09-21T`, `"delivery_errors":[{"code":131026,"title":"Message undeliverable"`} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("replies to the failed guest: %s lacks %s", r.raw, want)
		}
	}
	if r := a.expect("GET", "/admin/tenants/hotel_a/replies", "", 200); strings.Count(r.raw, `"provider_id"`) != 2 || strings.Count(r.raw, `"delivery_status"`) != 1 {
		t.Errorf("all replies of the hotel: %s", r.raw)
	}
	a.expect("GET", "/admin/tenants/nowhere/replies", "", 404)
	a.expect("GET", "/admin/tenants/hotel_a/replies?limit=0", "", 400)
	a.expect("GET", "/admin/tenants/hotel_a/replies?limit=many", "", 400)
	a.expect("POST", "/admin/tenants/hotel_a/replies", "", 405)

	if _, err := ib.AcceptUnrouted(ctx, []inbox.UnroutedEvent{{Channel: chat.WhatsApp, Field: "account_update", Kind: inbox.UnroutedField,
		WABAID: "102290129340398", Payload: map[string]any{"event": "VERIFIED_ACCOUNT"}}}); err != nil {
		t.Fatal(err)
	}
	r = a.expect("GET", "/admin/unrouted?limit=10", "", 200)
	for _, want := range []string{`"field":"account_update"`, `"kind":"field"`, `"waba_id":"102290129340398"`, `"payload":{"event":"VERIFIED_ACCOUNT"}`} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("unrouted: %s lacks %s", r.raw, want)
		}
	}

	// Without an inbox the routes say so.
	bare := newAPI(t, Options{Tenants: store})
	bare.expect("GET", "/admin/unrouted", "", 503)
	bare.expect("GET", "/admin/tenants/hotel_a/replies", "", 503)
}
