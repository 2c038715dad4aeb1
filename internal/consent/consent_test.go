package consent_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/consent"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func TestParseWholeMessageCommands(t *testing.T) {
	cases := []struct {
		text string
		cmd  consent.Command
		lang string
	}{
		{"STOP", consent.OptOut, ""},
		{"stop.", consent.OptOut, ""},
		{" Stop!! 🙏", consent.OptOut, ""},
		{"BAJA", consent.OptOut, "es"},
		{"¡Baja, por favor!", consent.OptOut, "es"},
		{"Darme de baja", consent.OptOut, "es"},
		{"Hola, quiero darme de baja", consent.OptOut, "es"},
		{"No quiero más mensajes", consent.OptOut, "es"},
		{"no quiero recibir mas mensajes, gracias", consent.OptOut, "es"},
		{"unsubscribe", consent.OptOut, "en"},
		{"Stop messages please", consent.OptOut, "en"},
		{"I don't want any more messages", consent.OptOut, "en"},
		{"I don’t want any more messages", consent.OptOut, "en"},
		{"opt-out", consent.OptOut, "en"},
		{"START", consent.OptIn, ""},
		{"Alta", consent.OptIn, "es"},
		{"quiero volver a recibir mensajes", consent.OptIn, "es"},
		{"subscribe", consent.OptIn, "en"},
		{"Start messages", consent.OptIn, "en"},
		// A command word inside a sentence is no command.
		{"quiero parar en Madrid", consent.None, ""},
		{"stop at the station first?", consent.None, ""},
		{"¿La piscina es de baja profundidad?", consent.None, ""},
		{"quiero darme de alta en el programa de puntos", consent.None, ""},
		{"When does breakfast start?", consent.None, ""},
		{"por favor", consent.None, ""},
		{"", consent.None, ""},
	}
	for _, c := range cases {
		cmd, lang := consent.Parse(c.text)
		if cmd != c.cmd || lang != c.lang {
			t.Errorf("Parse(%q) = %v %q, want %v %q", c.text, cmd, lang, c.cmd, c.lang)
		}
	}
}

func TestGuestKey(t *testing.T) {
	if got := consent.GuestKey(chat.WhatsApp, "+34 600-111-222"); got != "34600111222" {
		t.Errorf("WhatsApp: %q", got)
	}
	if got := consent.GuestKey(chat.Gmail, " Ana@Example.COM "); got != "ana@example.com" {
		t.Errorf("email: %q", got)
	}
}

func TestStores(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) { storeContract(t, consent.NewMemory()) })
	t.Run("postgres", func(t *testing.T) { storeContract(t, consent.NewPostgres(testservices.MigratedPostgres(t))) })
}

// storeContract: a guest without a record accepts messages; a change is
// recorded once, with its time and text, under the guest's normalised key;
// repeating the same answer changes nothing; other hotels, channels and
// guests are untouched.
func storeContract(t *testing.T, s consent.Store) {
	ctx := context.Background()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, found, err := s.Get(ctx, "h1", chat.WhatsApp, "34600111222"); err != nil || found {
		t.Fatalf("a new guest: found %v, %v", found, err)
	}
	out := consent.Record{TenantID: "h1", Channel: chat.WhatsApp, Guest: "+34600111222", OptedOut: true, ChangedAt: at, MessageID: "wamid.1", Text: "STOP"}
	if changed, err := s.Set(ctx, out); err != nil || !changed {
		t.Fatalf("opting out: changed %v, %v", changed, err)
	}
	again := out
	again.MessageID, again.Text, again.ChangedAt = "wamid.2", "baja", at.Add(time.Minute)
	if changed, err := s.Set(ctx, again); err != nil || changed {
		t.Fatalf("opting out twice: changed %v, %v", changed, err)
	}
	r, found, err := s.Get(ctx, "h1", chat.WhatsApp, "34600111222")
	if err != nil || !found || !r.OptedOut || r.MessageID != "wamid.1" || r.Text != "STOP" || !r.ChangedAt.Equal(at) || r.Guest != "34600111222" {
		t.Fatalf("after opting out: %+v found %v, %v", r, found, err)
	}
	for _, other := range []struct {
		tenant  string
		channel chat.Channel
		guest   string
	}{{"h2", chat.WhatsApp, "34600111222"}, {"h1", chat.Gmail, "34600111222"}, {"h1", chat.WhatsApp, "34600111223"}} {
		if _, found, err := s.Get(ctx, other.tenant, other.channel, other.guest); err != nil || found {
			t.Errorf("%+v: found %v, %v", other, found, err)
		}
	}
	in := consent.Record{TenantID: "h1", Channel: chat.WhatsApp, Guest: "34600111222", ChangedAt: at.Add(time.Hour), MessageID: "wamid.3", Text: "ALTA"}
	if changed, err := s.Set(ctx, in); err != nil || !changed {
		t.Fatalf("opting in: changed %v, %v", changed, err)
	}
	if r, _, _ := s.Get(ctx, "h1", chat.WhatsApp, "34600111222"); r.OptedOut || r.Text != "ALTA" {
		t.Fatalf("after opting in: %+v", r)
	}
	h, err := s.History(ctx, "h1", chat.WhatsApp, "+34 600 111 222")
	if err != nil || len(h) != 2 || !h[0].OptedOut || h[0].Text != "STOP" || h[1].OptedOut || h[1].Text != "ALTA" || !h[1].ChangedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("history: %+v, %v", h, err)
	}
	// Erasure forgets the answer and its history, of this guest only.
	other := consent.Record{TenantID: "h2", Channel: chat.WhatsApp, Guest: "34600111222", OptedOut: true, ChangedAt: at, Text: "STOP"}
	if _, err := s.Set(ctx, other); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Erase(ctx, "h1", chat.WhatsApp, "+34 600 111 222"); err != nil || n != 3 {
		t.Fatalf("erasing: %d records, %v; want 3 (the answer and two changes)", n, err)
	}
	if _, found, err := s.Get(ctx, "h1", chat.WhatsApp, "34600111222"); err != nil || found {
		t.Errorf("after erasing: found %v, %v", found, err)
	}
	if h, err := s.History(ctx, "h1", chat.WhatsApp, "34600111222"); err != nil || len(h) != 0 {
		t.Errorf("history after erasing: %+v, %v", h, err)
	}
	if r, found, err := s.Get(ctx, "h2", chat.WhatsApp, "34600111222"); err != nil || !found || !r.OptedOut {
		t.Errorf("another hotel's guest after erasing: %+v found %v, %v", r, found, err)
	}
}
