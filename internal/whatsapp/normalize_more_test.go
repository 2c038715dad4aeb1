package whatsapp

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

func only(t *testing.T, body []byte) chat.Message {
	t.Helper()
	b, err := Normalize(body, testOpts())
	if err != nil {
		t.Fatalf("error: %v", err)
	}
	if len(b.Messages) != 1 {
		t.Fatalf("%d messages, want 1", len(b.Messages))
	}
	return b.Messages[0]
}

func TestNormalizeMoreKinds(t *testing.T) {
	msg := func(rest string) []byte {
		return envelope(`{"from":"16505551234","id":"wamid.k","timestamp":"1739321024",` + rest + `}`)
	}
	cases := []struct {
		name  string
		body  []byte
		check func(m chat.Message) bool
	}{
		{"document with caption", msg(`"type":"document","document":{"id":"1","filename":"reserva.pdf","mime_type":"application/pdf","caption":"mi reserva"}`),
			func(m chat.Message) bool {
				return m.Kind == chat.KindDocument && m.Text == "mi reserva" && m.Media.Filename == "reserva.pdf"
			}},
		{"sticker", msg(`"type":"sticker","sticker":{"id":"2","mime_type":"image/webp","animated":false}`),
			func(m chat.Message) bool { return m.Kind == chat.KindSticker && m.Text == "" && m.Media.ID == "2" }},
		{"contacts", msg(`"type":"contacts","contacts":[{"name":{"formatted_name":"Ana"},"phones":[{"phone":"+34 600"}]}]`),
			func(m chat.Message) bool { return m.Kind == chat.KindContacts && m.Text == "" }},
		{"order", msg(`"type":"order","order":{"catalog_id":"c","text":"para el sábado","product_items":[{"product_retailer_id":"p","quantity":"1","item_price":"10","currency":"EUR"}]}`),
			func(m chat.Message) bool { return m.Kind == chat.KindOrder && m.Text == "para el sábado" }},
		{"reaction removed", msg(`"type":"reaction","reaction":{"message_id":"wamid.biz"}`),
			func(m chat.Message) bool {
				return m.Kind == chat.KindReaction && m.Target == "wamid.biz" && m.Emoji == ""
			}},
		{"edit", msg(`"type":"edit","edit":{"original_message_id":"wamid.old","message":{"type":"text","text":{"body":"corrected"}}}`),
			func(m chat.Message) bool { return m.Kind == chat.KindEdit && m.Target == "wamid.old" && m.Text == "" }},
		{"revoke", msg(`"type":"revoke","revoke":{"original_message_id":"wamid.old"}`),
			func(m chat.Message) bool { return m.Kind == chat.KindRevoke && m.Target == "wamid.old" }},
		{"changed number, new_wa_id a number", msg(`"type":"system","system":{"body":"Sheena changed from 16505551234 to 16505559999","new_wa_id":16505559999,"type":"customer_changed_number"}`),
			func(m chat.Message) bool {
				return m.Kind == chat.KindSystem && m.System.Type == chat.SystemChangedNumber && m.System.NewID == "16505559999" &&
					m.System.FormerID == "16505551234" && m.From == "16505559999"
			}},
		{"changed number, wa_id", msg(`"type":"system","system":{"body":"x","wa_id":"+1 650 555 9999","type":"customer_changed_number"}`),
			func(m chat.Message) bool { return m.System.NewID == "16505559999" }},
		{"identity changed", msg(`"type":"system","system":{"body":"x","identity":"abc","type":"customer_identity_changed"}`),
			func(m chat.Message) bool {
				return m.Kind == chat.KindSystem && m.System.NewID == "" && m.From == "16505551234"
			}},
		{"request_welcome", msg(`"type":"request_welcome"`),
			func(m chat.Message) bool { return m.Kind == chat.KindWelcome }},
		{"referral and forwarded go to metadata", msg(`"type":"text","text":{"body":"hola"},"context":{"forwarded":true,"frequently_forwarded":true},"referral":{"source_url":"https://fb.me/x","source_id":"1","source_type":"ad","headline":"Oferta","ctwa_clid":"abc"}`),
			func(m chat.Message) bool {
				ref, _ := m.Metadata[MetaReferral].(map[string]any)
				return m.Text == "hola" && m.Metadata[MetaForwarded] == true && m.Metadata[MetaFrequentlyForwarded] == true &&
					ref["source_type"] == "ad" && ref["ctwa_clid"] == "abc" && m.ContextID == ""
			}},
		{"NUL escapes are dropped", msg(`"type":"text","text":{"body":"ho\u0000la \\u0000"}`),
			func(m chat.Message) bool { return m.Text == `hola \u0000` }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if m := only(t, c.body); !c.check(m) {
				t.Fatalf("got %+v", m)
			}
		})
	}
}

// A guest who uses a username has no phone number in the webhook: the
// business-scoped user id is the guest.
func TestNormalizeUserIDGuest(t *testing.T) {
	body := valueEnvelope(`{"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + testPhoneNumberID + `"},
	 "contacts":[{"profile":{"name":"Sheena","username":"@sheena"},"user_id":"US.13491208655302741918"}],
	 "messages":[{"from_user_id":"US.13491208655302741918","id":"wamid.u","timestamp":"1739321024","type":"text","text":{"body":"hola"}}]}`)
	b, err := Normalize(body, testOpts())
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("err %v, %d messages", err, len(b.Messages))
	}
	m := b.Messages[0]
	if m.From != "US.13491208655302741918" || m.UserID != m.From || m.Name != "Sheena" || m.Username != "@sheena" || m.Text != "hola" {
		t.Fatalf("got %+v", m)
	}
	if b.First.Guest != m.From {
		t.Fatalf("first guest %q", b.First.Guest)
	}
	// A phone number, when there is one, stays the guest's identifier.
	body = envelope(`{"from":"16505551234","from_user_id":"US.1349","id":"wamid.p","timestamp":"1739321024","type":"text","text":{"body":"hola"}}`)
	if m := only(t, body); m.From != "16505551234" || m.UserID != "US.1349" {
		t.Fatalf("got %+v", m)
	}
	// The user id from the only contact, when the message has none.
	body = valueEnvelope(`{"metadata":{"phone_number_id":"1"},"contacts":[{"user_id":"ES.ENT.77"}],"messages":[{"id":"w","timestamp":"1","type":"text","text":{"body":"x"}}]}`)
	if m := only(t, body); m.From != "ES.ENT.77" {
		t.Fatalf("got %+v", m)
	}
	// Something that is neither is still no sender.
	body = envelope(`{"from_user_id":"not an id","id":"w","timestamp":"1","type":"text","text":{"body":"x"}}`)
	body = []byte(strings.Replace(string(body), `"contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],`, "", 1))
	if b, err := Normalize(body, testOpts()); err == nil || len(b.Messages) != 0 {
		t.Fatalf("kept %+v (err %v)", b.Messages, err)
	}
	// A status of a message sent to a user id names no number.
	body = valueEnvelope(`{"metadata":{"phone_number_id":"1"},"statuses":[{"id":"wamid.s","status":"read","timestamp":"1","recipient_user_id":"US.1349"}]}`)
	b, err = Normalize(body, testOpts())
	if err != nil || len(b.Statuses) != 1 || b.Statuses[0].Recipient != "US.1349" || b.Statuses[0].RecipientUserID != "US.1349" {
		t.Fatalf("got %+v, %v", b.Statuses, err)
	}
}

func TestIsUserID(t *testing.T) {
	for s, want := range map[string]bool{
		"US.13491208655302741918": true, "US.ENT.11815799212886844830": true, "BR.abc123": true,
		"16505551234": false, "+34600111222": false, "us.123": false, "US.": false, "US.12 3": false, "": false,
	} {
		if IsUserID(s) != want {
			t.Errorf("IsUserID(%q) = %v", s, !want)
		}
	}
}

func TestNormalizeStatusBilling(t *testing.T) {
	body := valueEnvelope(`{"metadata":{"phone_number_id":"1"},"statuses":[{"id":"wamid.a","status":"sent","timestamp":"1739321025","recipient_id":"16505551234",
	 "conversation":{"id":"c1","expiration_timestamp":"1739407425","origin":{"type":"service"}},
	 "pricing":{"billable":false,"pricing_model":"PMP","category":"service","type":"free_customer_service"}}]}`)
	b, err := Normalize(body, testOpts())
	if err != nil || len(b.Statuses) != 1 {
		t.Fatalf("%v %+v", err, b.Statuses)
	}
	s := b.Statuses[0]
	exp := ts(1739407425)
	no := false
	if !reflect.DeepEqual(s.Conversation, &chat.Conversation{ID: "c1", Origin: "service", ExpiresAt: &exp}) ||
		!reflect.DeepEqual(s.Pricing, &chat.Pricing{Billable: &no, Model: "PMP", Category: "service", Type: "free_customer_service"}) {
		t.Fatalf("got %+v %+v", s.Conversation, s.Pricing)
	}
}

// One field of the wrong type costs that field, not its message or status.
func TestNormalizeBadFieldCostsTheField(t *testing.T) {
	body := envelope(
		`{"from":"16505551234","id":"wamid.1","timestamp":"1739321024","type":"text","text":{"body":"uno"},"context":"not an object"}`,
		`{"from":"16505551234","id":"wamid.2","timestamp":"1739321024","type":"text","text":{"body":"dos"},"referral":[1,2]}`,
		`{"from":"16505551234","id":"wamid.3","timestamp":"1739321024","type":"text","text":{"body":"tres"},"errors":{"code":"x"}}`,
		`{"from":"16505551234","id":7,"timestamp":"1739321024","type":"text","text":{"body":"sin id legible"}}`,
	)
	b, err := Normalize(body, testOpts())
	if err == nil {
		t.Fatal("no error reported")
	}
	var texts []string
	for _, m := range b.Messages {
		texts = append(texts, m.Text)
	}
	if !reflect.DeepEqual(texts, []string{"uno", "dos", "tres"}) {
		t.Fatalf("kept %q (%v)", texts, err)
	}
	if b.Messages[0].ContextID != "" || b.Messages[1].Metadata != nil {
		t.Fatalf("bad fields leaked: %+v", b.Messages[:2])
	}
	if got := err.Error(); !strings.Contains(got, "unreadable context") || !strings.Contains(got, "unreadable referral") {
		t.Fatalf("error %q does not name the fields", got)
	}
	body = valueEnvelope(`{"metadata":{"phone_number_id":"1"},"statuses":[{"id":"wamid.a","status":"sent","timestamp":"1","recipient_id":"1","pricing":"free"}]}`)
	if b, err := Normalize(body, testOpts()); err == nil || len(b.Statuses) != 1 || b.Statuses[0].Pricing != nil {
		t.Fatalf("status %+v, %v", b.Statuses, err)
	}
}
