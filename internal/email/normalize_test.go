package email

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

var fixedNow = time.Date(2025, 10, 22, 11, 0, 0, 0, time.UTC)

func opts() NormalizeOptions { return NormalizeOptions{Now: func() time.Time { return fixedNow }} }

func payload(fields map[string]any) []byte {
	b, _ := json.Marshal(fields)
	return b
}

func TestNormalizeSeedPayload(t *testing.T) {
	body, err := os.ReadFile("testdata/seed_gmail_tenant_bcn.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Normalize(body, opts())
	if err != nil {
		t.Fatal(err)
	}
	want := chat.Message{
		Channel:   chat.Gmail,
		ID:        m.ID,
		From:      "guest1@barcelona.com",
		Timestamp: time.Date(2025, 10, 22, 10, 30, 0, 0, time.UTC),
		Kind:      chat.KindText,
		Text:      "Buenos días, quisiera saber si tienen disponibilidad para 2 personas del 5 al 7 de noviembre.",
		Subject:   "Consulta disponibilidad habitación",
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got  %+v\nwant %+v", m, want)
	}
	if !strings.HasPrefix(m.ID, "sha256:") || len(m.ID) != len("sha256:")+32 {
		t.Fatalf("id %q", m.ID)
	}
	again, _ := Normalize(body, opts())
	if again.ID != m.ID {
		t.Fatal("redelivery gets another id")
	}
	other, _ := Normalize([]byte(strings.Replace(string(body), "2 personas", "3 personas", 1)), opts())
	if other.ID == m.ID {
		t.Fatal("different emails share an id")
	}
}

func TestNormalizeFields(t *testing.T) {
	t.Run("display name, message id, to, metadata", func(t *testing.T) {
		before := testutil.ToFloat64(chat.MetadataFilteredKeys)
		m, err := Normalize(payload(map[string]any{
			"from":       `"Ana García" <Ana.Garcia@Example.COM>`,
			"to":         "Reservas <reservas@hotel-bcn.example>",
			"subject":    "  Reserva  ",
			"body":       "Hola",
			"timestamp":  "Wed, 22 Oct 2025 12:30:00 +0200",
			"message_id": "<CAF=abc123@mail.gmail.com>",
			"metadata":   map[string]any{"language_hint": "es", "tenant_id": "tenant_hotel_madrid", "from_full": "spoofed"},
		}), opts())
		if err != nil {
			t.Fatal(err)
		}
		if m.From != "ana.garcia@example.com" || m.Name != "Ana García" || m.To != "reservas@hotel-bcn.example" || m.ID != "CAF=abc123@mail.gmail.com" ||
			m.Subject != "Reserva" || !m.Timestamp.Equal(time.Date(2025, 10, 22, 10, 30, 0, 0, time.UTC)) {
			t.Fatalf("%+v", m)
		}
		wantMD := map[string]any{"language_hint": "es", "from_full": `"Ana García" <Ana.Garcia@Example.COM>`}
		if !reflect.DeepEqual(m.Metadata, wantMD) {
			t.Fatalf("metadata %v", m.Metadata)
		}
		if got := testutil.ToFloat64(chat.MetadataFilteredKeys) - before; got != 1 {
			t.Fatalf("filtered %v, want 1 (tenant_id)", got)
		}
		if !IsMessageID(m.ID) {
			t.Fatal("IsMessageID")
		}
	})
	t.Run("bare address has no from_full", func(t *testing.T) {
		m, err := Normalize(payload(map[string]any{"from": "guest@example.com", "body": "Hola"}), opts())
		if err != nil || m.Metadata != nil || m.Name != "" || !m.Timestamp.Equal(fixedNow) {
			t.Fatalf("%v %+v", err, m)
		}
		if IsMessageID(m.ID) {
			t.Fatal("a hash is not a Message-ID")
		}
	})
	t.Run("subject stands in for an empty body", func(t *testing.T) {
		m, err := Normalize(payload(map[string]any{"from": "guest@example.com", "subject": "¿Tienen parking?", "body": "\n> old\n"}), opts())
		if err != nil || m.Text != "¿Tienen parking?" {
			t.Fatalf("%v %+v", err, m)
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		for _, ts := range []any{"2025-10-22T10:30:00Z", "2025-10-22T12:30:00+02:00", "2025-10-22T10:30:00.000Z", 1761129000, "1761129000", "Wed, 22 Oct 2025 10:30:00 +0000"} {
			m, err := Normalize(payload(map[string]any{"from": "g@example.com", "body": "x", "timestamp": ts}), opts())
			if err != nil || !m.Timestamp.Equal(time.Date(2025, 10, 22, 10, 30, 0, 0, time.UTC)) {
				t.Fatalf("%v: %v %v", ts, err, m.Timestamp)
			}
		}
	})
}

func TestNormalizeErrors(t *testing.T) {
	cases := []struct {
		name string
		body string
		kind ErrorKind
	}{
		{"not JSON", `{`, ErrUnexpected},
		{"array", `[]`, ErrUnexpected},
		{"null", `null`, ErrUnexpected},
		{"empty", ``, ErrUnexpected},
		{"from is a number", `{"from":5,"body":"x"}`, ErrUnexpected},
		{"body is an object", `{"from":"a@b.c","body":{"text":"x"}}`, ErrUnexpected},
		{"no from", `{"subject":"s","body":"x"}`, ErrMissingFrom},
		{"blank from", `{"from":"  ","body":"x"}`, ErrMissingFrom},
		{"from is not an address", `{"from":"34600111222","body":"x"}`, ErrInvalidFrom},
		{"from with CRLF", `{"from":"a@b.c\r\nBcc: x@y.z","body":"x"}`, ErrInvalidFrom},
		{"no content", `{"from":"a@b.c","subject":" ","body":"-- \nsig"}`, ErrMissingContent},
		{"bad timestamp", `{"from":"a@b.c","body":"x","timestamp":"yesterday"}`, ErrInvalidTimestamp},
		{"huge unix timestamp", `{"from":"a@b.c","body":"x","timestamp":99999999999999999999}`, ErrInvalidTimestamp},
		{"float timestamp", `{"from":"a@b.c","body":"x","timestamp":1.5e9}`, ErrInvalidTimestamp},
		{"timestamp object", `{"from":"a@b.c","body":"x","timestamp":{}}`, ErrInvalidTimestamp},
		{"year 1900", `{"from":"a@b.c","body":"x","timestamp":"1900-01-01T00:00:00Z"}`, ErrInvalidTimestamp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counter := chat.NormalizationErrors.WithLabelValues("gmail", string(c.kind))
			before := testutil.ToFloat64(counter)
			_, err := Normalize([]byte(c.body), opts())
			var ne *NormalizeError
			if !errors.As(err, &ne) || ne.Kind != c.kind || !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %s", err, c.kind)
			}
			if testutil.ToFloat64(counter) != before+1 {
				t.Fatal("message_normalization_errors_total not counted")
			}
		})
	}
}

func TestStripQuoted(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"plain", "Hola,\r\n\r\n¿tienen parking?\r\n", "Hola,\n\n¿tienen parking?"},
		{"gmail english", "Yes, please book it.\n\nOn Mon, Nov 3, 2025 at 10:00 AM Hotel <reservas@hotel.example> wrote:\n> Shall I book the double?\n> 120 EUR", "Yes, please book it."},
		{"gmail spanish", "Sí, confírmela.\n\nEl lun, 3 nov 2025 a las 10:00, Hotel (<reservas@hotel.example>) escribió:\n> ¿Reservo la doble?", "Sí, confírmela."},
		{"gmail spanish wrapped", "Sí.\n\nEl lun, 3 nov 2025 a las 10:00, Hotel Barcelona Reservas <\nreservas@hotel.example> escribió:\n> ¿Reservo?", "Sí."},
		{"gmail english wrapped", "Ok\n\nOn Mon, Nov 3, 2025 at 10:00 AM Hotel Barcelona Reservas <reservas@hotel.example>\nwrote:\n\n> x", "Ok"},
		{"signature", "Quiero cancelar.\n\n-- \nAna García\nCEO, Ejemplo SL", "Quiero cancelar."},
		{"iphone", "Llego tarde, a las 23h.\n\nEnviado desde mi iPhone", "Llego tarde, a las 23h."},
		{"outlook spanish", "Perfecto, gracias.\n\n________________________________\nDe: Hotel Barcelona <reservas@hotel.example>\nEnviado: lunes, 3 de noviembre de 2025 10:00\nPara: Ana\nAsunto: Reserva", "Perfecto, gracias.\n\n________________________________"},
		{"original message", "Ok.\n-----Original Message-----\nFrom: x", "Ok."},
		{"interleaved answers survive", "> ¿Cuántas personas?\n2 adultos\n> ¿Qué fechas?\ndel 5 al 7", "2 adultos\ndel 5 al 7"},
		{"a sentence with escribió is kept", "Mi hermano me escribió: que vengamos en tren", "Mi hermano me escribió: que vengamos en tren"},
		{"De: in prose is kept", "De: parte de mi madre, gracias\nPor todo", "De: parte de mi madre, gracias\nPor todo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := StripQuoted(c.body); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	seed, _ := os.ReadFile("testdata/seed_gmail_tenant_bcn.json")
	f.Add(seed)
	f.Add([]byte(`{"from":"\"A\" <a@b.c>","body":"x\n> y\n-- \nz","timestamp":1761129000,"message_id":"<a@b>","metadata":{"source":1}}`))
	f.Add([]byte(`{"from":"=?utf-8?q?Ana?= <a@b.c>","subject":"s","timestamp":"Wed, 22 Oct 2025 10:30:00 +0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Normalize(body, opts())
		if err != nil {
			var ne *NormalizeError
			if !errors.As(err, &ne) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if m.Channel != chat.Gmail || m.ID == "" || m.From == "" || m.Text == "" || m.Kind != chat.KindText {
			t.Fatalf("incomplete %+v", m)
		}
		if m.From != strings.ToLower(m.From) || strings.ContainsAny(m.From, "\r\n") {
			t.Fatalf("From %q", m.From)
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBridgeStatesAuthenticationResults: a bridged mail is verified only
// when the bridge relays the trusted receiving server's passing results.
func TestBridgeStatesAuthenticationResults(t *testing.T) {
	opts := NormalizeOptions{AuthservID: "mx.google.com"}
	cases := []struct {
		results  string
		verified bool
		facts    bool
	}{
		{"", false, false},
		{"mx.google.com; dkim=pass header.i=@guest.com; spf=pass smtp.mailfrom=guest.com; dmarc=pass (p=NONE) header.from=guest.com", true, true},
		{"mx.google.com; spf=softfail smtp.mailfrom=guest.com; dmarc=fail header.from=guest.com", false, true},
		{"mx.evil.com; dmarc=pass header.from=guest.com", false, true},
	}
	for _, c := range cases {
		body, _ := json.Marshal(map[string]string{"from": "Guest <guest@guest.com>", "subject": "x", "body": "cancel my booking", "authentication_results": c.results})
		m, err := Normalize(body, opts)
		if err != nil {
			t.Fatal(err)
		}
		if (m.Email != nil) != c.facts || (m.Email != nil && m.Email.Verified != c.verified) {
			t.Errorf("%q: email facts %+v", c.results, m.Email)
		}
	}
}
