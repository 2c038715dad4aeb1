package hotel

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

const (
	madridPNID  = "106540352242922"
	madridGuest = "34600111222"
	bcnGuest    = "34600222333"
)

// mapKeeper is a Keeper for one test: what a reload would carry over.
type mapKeeper struct {
	mu sync.Mutex
	m  map[string]any
}

func (k *mapKeeper) Keep(key string, create func() any) (any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]any{}
	}
	if v, ok := k.m[key]; ok {
		return v, nil
	}
	v := create()
	k.m[key] = v
	return v, nil
}

func directory(t testing.TB) *tenancy.MemoryStore {
	t.Helper()
	ts, err := tenancy.LoadSeed(strings.NewReader(`
tenants:
  - tenant_id: tenant_hotel_madrid
    name: Hotel Madrid Central
    identifiers: ["+34600111222", "guest1@madrid.com", "pnid:106540352242922"]
  - tenant_id: tenant_hotel_bcn
    name: Hotel Barcelona Beach
    identifiers: ["+34600222333", "guest1@barcelona.com", "pnid:222"]
`))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := tenancy.NewMemoryStore(ts)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func newService(t testing.TB, cfg Config, keeper Keeper) *Service {
	t.Helper()
	if keeper == nil {
		keeper = &mapKeeper{}
	}
	s, err := New(cfg, Deps{Tenants: directory(t), Flags: flags.New(flags.Options{}), Keeper: keeper})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func accept(t *testing.T, s *Service, channel chat.Channel, body string, route Route) (Answer, error) {
	t.Helper()
	in, err := s.Decoder().Decode(channel, []byte(body))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return s.Accept(context.Background(), in, s.Resolve(in, route))
}

func messages(t *testing.T, s *Service) []inbox.MessageRecord {
	t.Helper()
	recs, err := s.inbox.Messages(context.Background(), inbox.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestWebhookIsStoredForItsHotelAndAnswered(t *testing.T) {
	s := newService(t, Config{}, nil)
	body := whatsapptest.Message{PhoneNumberID: madridPNID, From: bcnGuest, ID: "wamid.1", Text: "Hola"}.JSON()
	answer, err := accept(t, s, chat.WhatsApp, body, s.DefaultRoute())
	if err != nil || answer["status"] != "ok" || len(answer) != 1 {
		t.Fatalf("answer %v, %v", answer, err)
	}
	recs := messages(t, s)
	// The business number decides before the guest's own phone.
	if len(recs) != 1 || recs[0].Message.TenantID != "tenant_hotel_madrid" || recs[0].State != "pending" {
		t.Fatalf("inbox: %+v", recs)
	}
	s.Start()
	defer s.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		replies, err := s.inbox.Replies(context.Background(), inbox.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(replies) > 0 && replies[0].State == "sent" {
			if replies[0].Reply.To != bcnGuest || !strings.Contains(replies[0].Reply.Reply.Text, "Hotel Madrid Central") {
				t.Fatalf("reply %+v", replies[0].Reply)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reply sent within 10s: %+v", replies)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMixedBatchResolvesEachPart(t *testing.T) {
	s := newService(t, Config{}, nil)
	madrid := whatsapptest.Message{PhoneNumberID: madridPNID, From: "34699000001", ID: "wamid.m", Text: "Hola"}.JSON()
	bcn := whatsapptest.Message{PhoneNumberID: "222", From: "34699000002", ID: "wamid.b", Text: "Hola"}.JSON()
	nobody := whatsapptest.Message{PhoneNumberID: "999", From: "34699000003", ID: "wamid.x", Text: "Hola"}.JSON()
	// One envelope with the three businesses' changes.
	body := `{"object":"whatsapp_business_account","entry":[` + entryOf(t, madrid) + `,` + entryOf(t, bcn) + `,` + entryOf(t, nobody) + `]}`
	in, err := s.Decoder().Decode(chat.WhatsApp, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	res := s.Resolve(in, Route{})
	got := map[string]string{}
	for _, p := range res.Parts {
		got[p.Messages[0].ID] = p.Tenant
	}
	if got["wamid.m"] != "tenant_hotel_madrid" || got["wamid.b"] != "tenant_hotel_bcn" || len(got) != 2 {
		t.Fatalf("parts: %v", got)
	}
	if len(res.Unrouted) != 1 || res.Unrouted[0].ItemID != "wamid.x" || res.Unrouted[0].PhoneNumberID != "999" {
		t.Fatalf("unrouted: %+v", res.Unrouted)
	}
	if res.Tenant != "tenant_hotel_madrid" || res.Result != tenancy.ResultHit {
		t.Fatalf("request tenant %q %s, want the first business's", res.Tenant, res.Result)
	}
	if _, err := s.Accept(context.Background(), in, res); err != nil {
		t.Fatal(err)
	}
	// The message no hotel owns is kept as unrouted; the others are stored,
	// each for its hotel.
	stored := map[string]string{}
	for _, r := range messages(t, s) {
		stored[r.Message.ID] = r.Message.TenantID
	}
	if len(stored) != 2 || stored["wamid.m"] != "tenant_hotel_madrid" || stored["wamid.b"] != "tenant_hotel_bcn" {
		t.Fatalf("stored %v", stored)
	}
}

// entryOf is the one entry of a single-message envelope.
func entryOf(t *testing.T, envelope string) string {
	t.Helper()
	i, j := strings.Index(envelope, `"entry":[`), strings.LastIndex(envelope, "]")
	if i < 0 || j < i {
		t.Fatalf("not an envelope: %s", envelope)
	}
	return envelope[i+len(`"entry":[`) : j]
}

func TestTrustedRouteDecidesByItsTenant(t *testing.T) {
	s := newService(t, Config{}, nil)
	in, err := s.Decoder().Decode(chat.WhatsApp, []byte(whatsapptest.Message{PhoneNumberID: madridPNID, From: madridGuest, ID: "wamid.t", Text: "Hola"}.JSON()))
	if err != nil {
		t.Fatal(err)
	}
	res := s.Resolve(in, Route{Tenant: "tenant_hotel_bcn"})
	if res.Tenant != "tenant_hotel_bcn" || res.Result != tenancy.ResultProvided || res.Parts[0].Messages[0].TenantID != "tenant_hotel_bcn" {
		t.Fatalf("%+v", res)
	}
}

func TestEmail(t *testing.T) {
	s := newService(t, Config{}, nil)
	mail := `{"from":"Guest <guest1@barcelona.com>","subject":"Hola","body":"Hola","timestamp":"2026-11-20T10:00:00Z"}`
	if _, err := accept(t, s, chat.Gmail, mail, Route{}); err != nil {
		t.Fatal(err)
	}
	if recs := messages(t, s); len(recs) != 1 || recs[0].Message.TenantID != "tenant_hotel_bcn" || recs[0].Message.From != "guest1@barcelona.com" {
		t.Fatalf("stored %+v", recs)
	}
	// A sender no hotel knows, without a default: no hotel, nothing stored.
	stranger := strings.Replace(mail, "guest1@barcelona.com", "nobody@example.com", 1)
	if _, err := accept(t, s, chat.Gmail, stranger, Route{}); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("stranger: %v, want ErrNoTenant", err)
	}
	// Not an email (no sender): its hotel is still resolved (by nothing: the
	// default), then it is the sender's mistake.
	in, err := s.Decoder().Decode(chat.Gmail, []byte(`{"subject":"Hola"}`))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	res := s.Resolve(in, Route{Default: "tenant_hotel_madrid"})
	var bad *InputError
	if _, err := s.Accept(context.Background(), in, res); res.Tenant != "tenant_hotel_madrid" || !errors.As(err, &bad) {
		t.Fatalf("no sender: tenant %q, %v", res.Tenant, err)
	}
	if n := len(messages(t, s)); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestDecodeRefusesWhatTheSenderGotWrong(t *testing.T) {
	d := Decoder{}
	var bad *InputError
	if _, err := d.Decode(chat.WhatsApp, []byte(`{"entry": [`)); !errors.As(err, &bad) || !errors.Is(err, whatsapp.ErrNotJSON) {
		t.Fatalf("invalid JSON: %v", err)
	}
	var spoof *chat.SpoofingError
	gmail := `{"from":"a@b.c","subject":"s","body":"b"}`
	if _, err := d.Decode(chat.WhatsApp, []byte(gmail)); !errors.As(err, &bad) || !errors.As(err, &spoof) {
		t.Fatalf("gmail payload on the WhatsApp route: %v", err)
	}
	// What could not be read of an envelope is reported, not refused.
	in, err := d.Decode(chat.WhatsApp, []byte(`{"entry":"x"}`))
	if err != nil || in.Unreadable == nil {
		t.Fatalf("malformed envelope: %+v %v", in, err)
	}
}

func TestAnswerInline(t *testing.T) {
	s := newService(t, Config{AnswerInline: true}, nil)
	answer, err := accept(t, s, chat.WhatsApp, whatsapptest.Message{PhoneNumberID: madridPNID, From: madridGuest, ID: "wamid.i", Text: "Hola"}.JSON(), Route{})
	if err != nil || answer["status"] != "ok" || answer["response_type"] != "text" || !strings.Contains(answer["content"].(string), "Hotel Madrid Central") {
		t.Fatalf("answer %v, %v", answer, err)
	}
}

// A reload builds a new Service while the old one runs: what the keeper
// holds (the memory inbox here) is the same for both, so nothing the old
// one accepted is lost to the new one.
func TestKeeperCarriesStateToTheNextService(t *testing.T) {
	keeper := &mapKeeper{}
	old := newService(t, Config{}, keeper)
	if _, err := accept(t, old, chat.WhatsApp, whatsapptest.Message{PhoneNumberID: madridPNID, From: madridGuest, ID: "wamid.k", Text: "Hola"}.JSON(), Route{}); err != nil {
		t.Fatal(err)
	}
	next := newService(t, Config{}, keeper)
	if recs := messages(t, next); len(recs) != 1 || recs[0].Message.ID != "wamid.k" {
		t.Fatalf("the next service sees %+v", recs)
	}
	if old.breaker != next.breaker {
		t.Fatal("the PMS breaker was not carried over")
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	for field, c := range map[string]Config{
		"inbox_lease":   {InboxLease: 100 * time.Millisecond},
		"inbox_workers": {InboxWorkers: -1},
		"senders":       {Senders: MaxWorkers + 1},
		"type":          {PMS: PMSConfig{Type: "opera"}},
		"api_key":       {PMS: PMSConfig{Type: "qloapps", BaseURL: "http://x"}},
		"time_zone":     {PMS: PMSConfig{TimeZone: "Mars/Olympus"}},
		"timeout":       {PMS: PMSConfig{Timeout: -time.Second}},
		"default":       {DefaultTenant: "bad id"},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := (Config{InboxLease: time.Second}).Validate(); err != nil {
		t.Fatal(err)
	}
}
