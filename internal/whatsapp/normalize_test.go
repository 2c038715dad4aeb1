package whatsapp

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

const (
	testPhoneNumberID = "106540352242922"
	testWABA          = "102290129340398"
)

var fixedNow = time.Date(2025, 10, 22, 10, 30, 0, 0, time.UTC)

func testOpts() NormalizeOptions { return NormalizeOptions{Now: func() time.Time { return fixedNow }} }

// envelope wraps raw message JSON objects in a Meta envelope of one entry and
// one change.
func envelope(messages ...string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + testWABA + `","changes":[{"field":"messages","value":{
 "messaging_product":"whatsapp",
 "metadata":{"display_phone_number":"15550783881","phone_number_id":"` + testPhoneNumberID + `"},
 "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
 "messages":[` + strings.Join(messages, ",") + `]}}]}]}`)
}

func valueEnvelope(value string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + testWABA + `","changes":[{"field":"messages","value":` + value + `}]}]}`)
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func TestNormalizeMessageKinds(t *testing.T) {
	base := func(m chat.Message) chat.Message {
		m.Channel = chat.WhatsApp
		m.From = "16505551234"
		m.To = testPhoneNumberID
		m.Name = "Sheena"
		m.Timestamp = ts(1739321024)
		return m
	}
	cases := []struct {
		name string
		msg  string
		want chat.Message
	}{
		{"text", `{"from":"16505551234","id":"wamid.1","timestamp":"1739321024","type":"text","text":{"body":"Hola"}}`,
			base(chat.Message{ID: "wamid.1", Kind: chat.KindText, Text: "Hola"})},
		{"text quoting a business message", `{"context":{"from":"15550783881","id":"wamid.biz"},"from":"16505551234","id":"wamid.1","timestamp":"1739321024","type":"text","text":{"body":"esa"}}`,
			base(chat.Message{ID: "wamid.1", Kind: chat.KindText, Text: "esa", ContextID: "wamid.biz"})},
		{"button_reply", `{"context":{"from":"15550783881","id":"wamid.buttons"},"from":"16505551234","id":"wamid.2","timestamp":"1739321024","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"confirm_yes","title":"Sí, confirmar"}}}`,
			base(chat.Message{ID: "wamid.2", Kind: chat.KindButtonReply, Text: "Sí, confirmar", ReplyID: "confirm_yes", ContextID: "wamid.buttons"})},
		{"list_reply", `{"context":{"from":"15550783881","id":"wamid.list"},"from":"16505551234","id":"wamid.3","timestamp":"1739321024","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"room_double","title":"Doble","description":"120 € / noche"}}}`,
			base(chat.Message{ID: "wamid.3", Kind: chat.KindListReply, Text: "Doble", ReplyID: "room_double", ContextID: "wamid.list"})},
		{"template quick-reply button", `{"context":{"from":"15550783881","id":"wamid.tpl"},"from":"16505551234","id":"wamid.4","timestamp":"1739321024","type":"button","button":{"payload":"CHECKIN_OK","text":"Perfecto"}}`,
			base(chat.Message{ID: "wamid.4", Kind: chat.KindButtonReply, Text: "Perfecto", ReplyID: "CHECKIN_OK", ContextID: "wamid.tpl"})},
		{"image with caption", `{"from":"16505551234","id":"wamid.5","timestamp":"1739321024","type":"image","image":{"caption":"mi reserva","mime_type":"image/jpeg","sha256":"abc=","id":"9001"}}`,
			base(chat.Message{ID: "wamid.5", Kind: chat.KindImage, Text: "mi reserva", Media: &chat.Media{ID: "9001", MimeType: "image/jpeg", SHA256: "abc=", Caption: "mi reserva"}})},
		{"audio", `{"from":"16505551234","id":"wamid.6","timestamp":"1739321024","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"def=","id":"9002","voice":true}}`,
			base(chat.Message{ID: "wamid.6", Kind: chat.KindAudio, Media: &chat.Media{ID: "9002", MimeType: "audio/ogg; codecs=opus", SHA256: "def=", Voice: true}})},
		{"location", `{"from":"16505551234","id":"wamid.7","timestamp":"1739321024","type":"location","location":{"latitude":40.4168,"longitude":-3.7038,"name":"Puerta del Sol","address":"Madrid"}}`,
			base(chat.Message{ID: "wamid.7", Kind: chat.KindLocation, Location: &chat.Location{Latitude: 40.4168, Longitude: -3.7038, Name: "Puerta del Sol", Address: "Madrid"}})},
		{"unsupported with errors", `{"from":"16505551234","id":"wamid.8","timestamp":"1739321024","type":"unsupported","errors":[{"code":131051,"details":"Message type is not currently supported","title":"Unsupported message type"}]}`,
			base(chat.Message{ID: "wamid.8", Kind: chat.KindUnsupported, Errors: []chat.Error{{Code: 131051, Title: "Unsupported message type"}}})},
		{"unknown type", `{"from":"16505551234","id":"wamid.9","timestamp":"1739321024","type":"hologram","hologram":{"x":1}}`,
			base(chat.Message{ID: "wamid.9", Kind: chat.KindUnsupported})},
		{"reaction", `{"from":"16505551234","id":"wamid.10","timestamp":"1739321024","type":"reaction","reaction":{"message_id":"wamid.biz","emoji":"👍"}}`,
			base(chat.Message{ID: "wamid.10", Kind: chat.KindReaction, Target: "wamid.biz", Emoji: "👍"})},
		{"video keeps media and caption", `{"from":"16505551234","id":"wamid.11","timestamp":"1739321024","type":"video","video":{"id":"9003","mime_type":"video/mp4","caption":"la habitación"}}`,
			base(chat.Message{ID: "wamid.11", Kind: chat.KindVideo, Text: "la habitación", Media: &chat.Media{ID: "9003", MimeType: "video/mp4", Caption: "la habitación"}})},
		{"interactive flow reply", `{"from":"16505551234","id":"wamid.12","timestamp":"1739321024","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"response_json":"{}"}}}`,
			base(chat.Message{ID: "wamid.12", Kind: chat.KindFlowReply})},
		{"text without text object", `{"from":"16505551234","id":"wamid.13","timestamp":"1739321024","type":"text","text":null}`,
			base(chat.Message{ID: "wamid.13", Kind: chat.KindUnsupported})},
		{"location off the globe", `{"from":"16505551234","id":"wamid.14","timestamp":"1739321024","type":"location","location":{"latitude":1e300,"longitude":0}}`,
			base(chat.Message{ID: "wamid.14", Kind: chat.KindUnsupported})},
		{"from with plus, spaces and dashes", `{"from":"+1 650-555-1234","id":"wamid.15","timestamp":"1739321024","type":"text","text":{"body":"hi"}}`,
			base(chat.Message{ID: "wamid.15", Kind: chat.KindText, Text: "hi"})},
		{"missing timestamp takes the clock", `{"from":"16505551234","id":"wamid.16","type":"text","text":{"body":"hi"}}`,
			func() chat.Message {
				m := base(chat.Message{ID: "wamid.16", Kind: chat.KindText, Text: "hi"})
				m.Timestamp = fixedNow
				return m
			}()},
		{"default metadata allowlist", `{"from":"16505551234","id":"wamid.17","timestamp":"1739321024","type":"text","text":{"body":"hi"},"metadata":{"language_hint":"es","tenant_id":"evil"}}`,
			base(chat.Message{ID: "wamid.17", Kind: chat.KindText, Text: "hi", Metadata: map[string]any{"language_hint": "es"}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Normalize(envelope(c.msg), testOpts())
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if len(b.Messages) != 1 {
				t.Fatalf("got %d messages, want 1", len(b.Messages))
			}
			if got := b.Messages[0]; !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestNormalizeMetaReference(t *testing.T) {
	b, err := Normalize(readFixture(t, "meta_reference_text.json"), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	want := chat.Message{Channel: chat.WhatsApp, ID: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
		From: "16505551234", To: "106540352242922", Name: "Sheena", Timestamp: ts(1739321024), Kind: chat.KindText, Text: "Hola"}
	if len(b.Messages) != 1 || !reflect.DeepEqual(b.Messages[0], want) {
		t.Fatalf("got %+v", b.Messages)
	}
	if !reflect.DeepEqual(b.PhoneNumberIDs, []string{"106540352242922"}) || !reflect.DeepEqual(b.WABAIDs, []string{"102290129340398"}) {
		t.Fatalf("business ids %v %v", b.PhoneNumberIDs, b.WABAIDs)
	}
}

// The original system's staging payloads (testdata/seed_*.json) lack ids,
// metadata and phone_number_id: they still normalise, with a stable synthetic
// id.
func TestNormalizeSeedPayloads(t *testing.T) {
	t.Run("whatsapp_tenant_madrid", func(t *testing.T) {
		body := readFixture(t, "seed_whatsapp_tenant_madrid.json")
		b, err := Normalize(body, testOpts())
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Messages) != 1 {
			t.Fatalf("%d messages", len(b.Messages))
		}
		m := b.Messages[0]
		if m.From != "34600111222" || m.Kind != chat.KindText || m.Text != "Hola, quiero reservar una habitación para el 1 de noviembre" ||
			!m.Timestamp.Equal(ts(1698844800)) || m.To != "" || m.Channel != chat.WhatsApp {
			t.Fatalf("got %+v", m)
		}
		if !strings.HasPrefix(m.ID, "nid.") {
			t.Fatalf("synthetic id %q", m.ID)
		}
		again, _ := Normalize(body, testOpts())
		if again.Messages[0].ID != m.ID {
			t.Fatal("synthetic id is not stable across redeliveries")
		}
		other, _ := Normalize([]byte(strings.Replace(string(body), "1 de noviembre", "2 de noviembre", 1)), testOpts())
		if other.Messages[0].ID == m.ID {
			t.Fatal("different messages share a synthetic id")
		}
		if b.PhoneNumberIDs != nil || b.WABAIDs != nil {
			t.Fatalf("business ids %q %q", b.PhoneNumberIDs, b.WABAIDs)
		}
	})
	t.Run("whatsapp_malicious_metadata", func(t *testing.T) {
		body := readFixture(t, "seed_whatsapp_malicious_metadata.json")
		before := testutil.ToFloat64(chat.MetadataFilteredKeys)
		b, err := Normalize(body, testOpts())
		if err != nil || len(b.Messages) != 1 {
			t.Fatalf("err=%v messages=%d", err, len(b.Messages))
		}
		if b.Messages[0].Text != "Test metadata injection" {
			t.Fatalf("message not kept: %+v", b.Messages[0])
		}
		// The default allowlist (chat.DefaultAllowedMetadata) knows none of the three keys.
		if b.Messages[0].Metadata != nil {
			t.Fatalf("metadata %v survived the default allowlist", b.Messages[0].Metadata)
		}
		if got := testutil.ToFloat64(chat.MetadataFilteredKeys) - before; got != 3 {
			t.Fatalf("metadata_filtered_keys_total grew by %v, want 3", got)
		}
		// The original system's staging smoke test expects safe_key
		// preserved: that is an allowlist which includes it (configurable in
		// the Caddyfile).
		opts := testOpts()
		opts.Metadata = chat.NewMetadataFilter(append(append([]string{}, chat.DefaultAllowedMetadata...), "safe_key"))
		before = testutil.ToFloat64(chat.MetadataFilteredKeys)
		b, _ = Normalize(body, opts)
		if !reflect.DeepEqual(b.Messages[0].Metadata, map[string]any{"safe_key": "should_pass"}) {
			t.Fatalf("metadata %v", b.Messages[0].Metadata)
		}
		if got := testutil.ToFloat64(chat.MetadataFilteredKeys) - before; got != 2 {
			t.Fatalf("metadata_filtered_keys_total grew by %v, want 2 (malicious_key, x_tenant_override)", got)
		}
	})
	t.Run("non-object metadata is dropped, message kept", func(t *testing.T) {
		before := testutil.ToFloat64(chat.MetadataFilteredKeys)
		b, err := Normalize(envelope(`{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"x"},"metadata":["x_tenant_override"]}`), testOpts())
		if err != nil || len(b.Messages) != 1 || b.Messages[0].Metadata != nil {
			t.Fatalf("err=%v %+v", err, b.Messages)
		}
		if got := testutil.ToFloat64(chat.MetadataFilteredKeys) - before; got != 1 {
			t.Fatalf("grew by %v", got)
		}
	})
}

func TestNormalizeStatusesAndErrors(t *testing.T) {
	body := valueEnvelope(`{"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + testPhoneNumberID + `"},
	"statuses":[
	 {"id":"wamid.a","status":"sent","timestamp":"1739321025","recipient_id":"16505551234","conversation":{"id":"c"},"pricing":{"billable":true}},
	 {"id":"wamid.a","status":"delivered","timestamp":"1739321026","recipient_id":"16505551234"},
	 {"id":"wamid.a","status":"read","timestamp":"1739321027","recipient_id":"16505551234"},
	 {"id":"wamid.b","status":"failed","timestamp":"1739321028","recipient_id":"+1 650 555 1234","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"more than 24 hours"}}]}
	],
	"errors":[{"code":130429,"title":"Rate limit hit"}]}`)
	b, err := Normalize(body, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 0 || len(b.Statuses) != 4 {
		t.Fatalf("messages %d statuses %d", len(b.Messages), len(b.Statuses))
	}
	want := chat.Status{Channel: chat.WhatsApp, MessageID: "wamid.b", Status: "failed", Recipient: "16505551234", Timestamp: ts(1739321028),
		Errors: []chat.Error{{Code: 131047, Title: "Re-engagement message", Message: "Re-engagement message", Details: "more than 24 hours"}}}
	if !reflect.DeepEqual(b.Statuses[3], want) {
		t.Fatalf("got %+v", b.Statuses[3])
	}
	for i, s := range []string{"sent", "delivered", "read", "failed"} {
		if b.Statuses[i].Status != s {
			t.Fatalf("status %d = %q", i, b.Statuses[i].Status)
		}
	}
	if !reflect.DeepEqual(b.Errors, []chat.Error{{Code: 130429, Title: "Rate limit hit"}}) {
		t.Fatalf("errors %+v", b.Errors)
	}
	if b.Len() != 5 {
		t.Fatalf("Len %d", b.Len())
	}
}

func TestNormalizeBatch(t *testing.T) {
	msg := func(id, from, text string) string {
		return `{"from":"` + from + `","id":"` + id + `","timestamp":"1739321024","type":"text","text":{"body":"` + text + `"}}`
	}
	change := func(pnid string, msgs ...string) string {
		return `{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + pnid + `"},"messages":[` + strings.Join(msgs, ",") + `]}}`
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[
	 {"id":"waba1","changes":[` + change("pn1", msg("m1", "111", "a"), msg("m2", "112", "b")) + `,` + change("pn2", msg("m3", "113", "c")) + `]},
	 {"id":"waba2","changes":[` + change("pn3", msg("m4", "114", "d"), msg("m5", "115", "e"), msg("m6", "116", "f")) + `,
	   {"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]}`)
	b, err := Normalize(body, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	var ids, tos []string
	for _, m := range b.Messages {
		ids = append(ids, m.ID)
		tos = append(tos, m.To)
	}
	if !reflect.DeepEqual(ids, []string{"m1", "m2", "m3", "m4", "m5", "m6"}) || !reflect.DeepEqual(tos, []string{"pn1", "pn1", "pn2", "pn3", "pn3", "pn3"}) {
		t.Fatalf("ids %v tos %v", ids, tos)
	}
	if !reflect.DeepEqual(b.PhoneNumberIDs, []string{"pn1", "pn2", "pn3"}) || !reflect.DeepEqual(b.WABAIDs, []string{"waba1", "waba2"}) {
		t.Fatalf("%v %v", b.PhoneNumberIDs, b.WABAIDs)
	}
	// The account's own field is kept with what it says, for whoever it
	// goes to (an unrouted one is stored with it).
	if len(b.Fields) != 1 || b.Fields[0].Field != "account_update" || b.Fields[0].WABAID != "waba2" ||
		string(b.Fields[0].Value) != `{"event":"VERIFIED_ACCOUNT"}` {
		t.Fatalf("fields %+v", b.Fields)
	}
	parts := b.ByBusiness()
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	if p := parts[2]; len(p.Messages) != 3 || p.PhoneNumberIDs[0] != "pn3" || p.WABAIDs[0] != "waba2" || p.Messages[0].ID != "m4" {
		t.Fatalf("part 3: %+v", p)
	}
	stamped := b.ForTenant("hotel_madrid")
	for _, m := range stamped.Messages {
		if m.TenantID != "hotel_madrid" {
			t.Fatalf("not stamped: %+v", m)
		}
	}
	if b.Messages[0].TenantID != "" {
		t.Fatal("ForTenant modified its receiver")
	}
	if got := (Batch{Messages: []chat.Message{{ID: "x"}}}).ByBusiness(); len(got) != 1 {
		t.Fatalf("hand-built batch split into %d", len(got))
	}
}

func TestNormalizeErrors(t *testing.T) {
	good := `{"from":"16505551234","id":"wamid.ok","timestamp":"1739321024","type":"text","text":{"body":"ok"}}`
	cases := []struct {
		name     string
		body     string
		kinds    []ErrorKind
		messages int
		statuses int
	}{
		{"no entry", `{"object":"whatsapp_business_account"}`, []ErrorKind{ErrMissingEntry}, 0, 0},
		{"null entry", `{"entry":null}`, []ErrorKind{ErrMissingEntry}, 0, 0},
		{"empty entry", `{"entry":[]}`, []ErrorKind{ErrMissingEntry}, 0, 0},
		{"empty object", `{}`, []ErrorKind{ErrMissingEntry}, 0, 0},
		{"no changes", `{"entry":[{"id":"1"}]}`, []ErrorKind{ErrMissingChanges}, 0, 0},
		{"empty changes", `{"entry":[{"id":"1","changes":[]}]}`, []ErrorKind{ErrMissingChanges}, 0, 0},
		{"null value", `{"entry":[{"changes":[{"field":"messages","value":null}]}]}`, []ErrorKind{ErrMissingMessages}, 0, 0},
		{"no value", `{"entry":[{"changes":[{"field":"messages"}]}]}`, []ErrorKind{ErrMissingMessages}, 0, 0},
		{"contacts only", string(valueEnvelope(`{"contacts":[{"wa_id":"1"}],"messages":[]}`)), []ErrorKind{ErrMissingMessages}, 0, 0},
		{"null messages and statuses", string(valueEnvelope(`{"messages":null,"statuses":null}`)), []ErrorKind{ErrMissingMessages}, 0, 0},
		{"array", `[]`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"string", `"entry"`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"JSON null", `null`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"empty body", ``, []ErrorKind{ErrUnexpected}, 0, 0},
		{"malformed JSON", `{"entry":[{"changes":[`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"trailing garbage", `{"entry":[]} x`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"entry is an object", `{"entry":{"changes":[]}}`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"changes is a string", `{"entry":[{"changes":"x"}]}`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"waba id is a number", `{"entry":[{"id":123,"changes":[]}]}`, []ErrorKind{ErrUnexpected}, 0, 0},
		{"messages is an object", string(valueEnvelope(`{"messages":{"from":"1"}}`)), []ErrorKind{ErrUnexpected}, 0, 0},
		{"phone_number_id is a number drops the change", string(valueEnvelope(`{"metadata":{"phone_number_id":106540352242922},"messages":[` + good + `]}`)), []ErrorKind{ErrUnexpected}, 0, 0},
		{"timestamp is a number", string(envelope(`{"from":"1","id":"w","timestamp":1739321024,"type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"from is a number", string(envelope(`{"from":16505551234,"id":"w","timestamp":"1","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"message is a string", string(envelope(`"hola"`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"message is null", string(envelope(`null`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"no sender", string(envelope(`{"id":"w","timestamp":"1","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"sender not a phone", string(envelope(`{"from":"guest@example.com","id":"w","timestamp":"1","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"sender too long", string(envelope(`{"from":"1234567890123456","id":"w","timestamp":"1","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"huge timestamp", string(envelope(`{"from":"1","id":"w","timestamp":"99999999999999999999999","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"timestamp past year 9999", string(envelope(`{"from":"1","id":"w","timestamp":"253402300800","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"negative timestamp", string(envelope(`{"from":"1","id":"w","timestamp":"-5","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		// The unreadable location costs the location, not the message.
		{"latitude overflows float64", string(envelope(`{"from":"1","id":"w","timestamp":"1","type":"location","location":{"latitude":1e400,"longitude":0}}`, good)), []ErrorKind{ErrUnexpected}, 2, 0},
		{"huge integer where a string is expected", string(envelope(`{"from":"1","id":123456789012345678901234567890,"timestamp":"1","type":"text","text":{"body":"x"}}`, good)), []ErrorKind{ErrUnexpected}, 1, 0},
		{"status without id", string(valueEnvelope(`{"statuses":[{"status":"read","timestamp":"1"},{"id":"w","status":"read","timestamp":"1"}]}`)), []ErrorKind{ErrUnexpected}, 0, 1},
		{"status of wrong type", string(valueEnvelope(`{"statuses":[{"id":"w","status":7,"timestamp":"1"},{"id":"w","status":"read","timestamp":"1"}]}`)), []ErrorKind{ErrUnexpected}, 0, 1},
		{"one good entry, one without changes, one empty change",
			`{"entry":[{"id":"a","changes":[{"field":"messages","value":{"messages":[` + good + `]}}]},{"id":"b"},{"id":"c","changes":[{"field":"messages","value":{}}]}]}`,
			[]ErrorKind{ErrMissingChanges, ErrMissingMessages}, 1, 0},
		{"salvage keeps good entries around a bad one",
			`{"entry":[{"id":"a","changes":[{"field":"messages","value":{"messages":[` + good + `]}}]},{"id":1},{"id":"c","changes":[{"value":{"messages":[` + good + `]}}]}]}`,
			[]ErrorKind{ErrUnexpected}, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counters := map[ErrorKind]float64{}
			for _, k := range c.kinds {
				counters[k] = testutil.ToFloat64(chat.NormalizationErrors.WithLabelValues("whatsapp", string(k)))
			}
			b, err := Normalize([]byte(c.body), testOpts())
			var ne *NormalizeError
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v, want *NormalizeError", err)
			}
			var got []ErrorKind
			for _, k := range ne.Unwrap() {
				got = append(got, k.(ErrorKind))
			}
			if !reflect.DeepEqual(got, c.kinds) {
				t.Fatalf("kinds %v, want %v (%v)", got, c.kinds, err)
			}
			for _, k := range c.kinds {
				if !errors.Is(err, k) {
					t.Fatalf("errors.Is(err, %s) = false", k)
				}
				if testutil.ToFloat64(chat.NormalizationErrors.WithLabelValues("whatsapp", string(k))) <= counters[k] {
					t.Fatalf("message_normalization_errors_total{error_type=%q} did not grow", k)
				}
			}
			if len(b.Messages) != c.messages || len(b.Statuses) != c.statuses {
				t.Fatalf("messages %d statuses %d, want %d %d", len(b.Messages), len(b.Statuses), c.messages, c.statuses)
			}
			for _, m := range b.Messages {
				if m.ID != "wamid.ok" && m.ID != "w" {
					t.Fatalf("unexpected message kept: %+v", m)
				}
			}
		})
	}
}

func TestNormalizeErrorMessageLocatesProblem(t *testing.T) {
	_, err := Normalize(envelope(`{"from":"1","id":"w","timestamp":1,"type":"text"}`), testOpts())
	if err == nil || !strings.Contains(err.Error(), "unexpected at entry[0].changes[0].value.messages[0]") || !strings.Contains(err.Error(), `"timestamp"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestNormalizeObservesLatency(t *testing.T) {
	h := chat.NormalizationLatency.WithLabelValues("whatsapp")
	count := func() uint64 {
		m := readHistogram(t, h)
		return m
	}
	before := count()
	Normalize(envelope(), testOpts())
	Normalize([]byte(`x`), testOpts())
	if got := count() - before; got != 2 {
		t.Fatalf("observations grew by %d, want 2", got)
	}
}

// The fast one-pass decode and the level-by-level salvage must agree on
// every envelope the fast path accepts.
func TestSalvageAgreesWithFastPath(t *testing.T) {
	for _, name := range []string{"meta_reference_text.json", "seed_whatsapp_tenant_madrid.json", "seed_whatsapp_malicious_metadata.json"} {
		checkPathsAgree(t, readFixture(t, name))
	}
	checkPathsAgree(t, batchBody(50))
}

func checkPathsAgree(t testing.TB, body []byte) {
	var env wireEnvelope
	if json.Unmarshal(body, &env) != nil {
		return
	}
	fast, fp, _ := normalize(body, testOpts(), false)
	slow, sp := salvage(body, testOpts())
	if !reflect.DeepEqual(fast, slow) || !reflect.DeepEqual(fp, sp) {
		t.Fatalf("fast and salvage paths disagree on %s\nfast %+v %v\nslow %+v %v", body, fast, fp, slow, sp)
	}
}
