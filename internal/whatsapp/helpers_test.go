package whatsapp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func readHistogram(t testing.TB, o prometheus.Observer) uint64 {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// batchBody is an envelope of n text messages from n guests, Meta style.
func batchBody(n int) []byte {
	msgs := make([]string, n)
	contacts := make([]string, n)
	for i := range msgs {
		from := fmt.Sprintf("3460011%04d", i)
		contacts[i] = `{"profile":{"name":"Guest ` + fmt.Sprint(i) + `"},"wa_id":"` + from + `"}`
		msgs[i] = `{"from":"` + from + `","id":"wamid.HBgLMzQ2MDAxMTEyMjIVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0` + fmt.Sprintf("%04d", i) + `","timestamp":"1739321024","type":"text","text":{"body":"Hola, ¿tienen habitación doble para el 5 de noviembre? Somos dos adultos."}}`
	}
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + testWABA + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` + testPhoneNumberID + `"},"contacts":[` + strings.Join(contacts, ",") + `],"messages":[` + strings.Join(msgs, ",") + `]}}]}]}`)
}
