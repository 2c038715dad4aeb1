package whatsapp

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

func TestCheckChannel(t *testing.T) {
	gmail := readFixture(t, "seed_gmail_tenant_bcn.json")
	wa := readFixture(t, "seed_whatsapp_tenant_madrid.json")
	cases := []struct {
		name  string
		route chat.Channel
		body  string
		claim chat.Channel // "" = accepted
	}{
		{"whatsapp on whatsapp", chat.WhatsApp, string(wa), ""},
		{"gmail on gmail", chat.Gmail, string(gmail), ""},
		{"gmail on whatsapp", chat.WhatsApp, string(gmail), chat.Gmail},
		{"whatsapp on gmail", chat.Gmail, string(wa), chat.WhatsApp},
		{"both shapes on whatsapp", chat.WhatsApp, `{"entry":[],"from":"a@b.c","subject":"s"}`, chat.Gmail},
		{"both shapes on gmail", chat.Gmail, `{"entry":[],"from":"a@b.c","subject":"s"}`, chat.WhatsApp},
		{"claimed channel field", chat.WhatsApp, `{"channel":"gmail","entry":[]}`, chat.Gmail},
		{"claimed channel field, other case", chat.Gmail, `{"channel":"WhatsApp","from":"a@b.c","body":"x"}`, chat.WhatsApp},
		{"claimed own channel", chat.WhatsApp, `{"channel":"whatsapp","entry":[]}`, ""},
		{"claimed unknown channel", chat.WhatsApp, `{"channel":"sms","entry":[]}`, "sms"},
		{"object alone is a Meta envelope", chat.Gmail, `{"object":"whatsapp_business_account"}`, chat.WhatsApp},
		{"entry of odd type is still an envelope", chat.Gmail, `{"entry":5}`, chat.WhatsApp},
		{"gmail without subject", chat.WhatsApp, `{"from":"a@b.c","body":"hola"}`, chat.Gmail},
		{"from alone is not gmail", chat.WhatsApp, `{"from":"a@b.c"}`, ""},
		{"array is left to the normaliser", chat.WhatsApp, `[{"from":"a@b.c","body":"x"}]`, ""},
		{"neither shape is left to the normaliser", chat.WhatsApp, `{"hello":1}`, ""},
		{"invalid JSON is left to the JSON check", chat.Gmail, `{`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.ToFloat64(ChannelSpoofingDetected)
			err := CheckChannel(c.route, []byte(c.body))
			grew := testutil.ToFloat64(ChannelSpoofingDetected) - before
			if c.claim == "" {
				if err != nil || grew != 0 {
					t.Fatalf("err=%v counter+%v, want accepted", err, grew)
				}
				return
			}
			var se *SpoofingError
			if !errors.As(err, &se) || se.Route != c.route || se.Claim != c.claim {
				t.Fatalf("err = %#v, want SpoofingError{%s, %s}", err, c.route, c.claim)
			}
			if grew != 1 {
				t.Fatalf("channel_spoofing_detected_total grew by %v", grew)
			}
		})
	}
}
