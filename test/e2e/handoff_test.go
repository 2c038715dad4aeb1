package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

// TestHandoffResumedThroughAdminAPI: a guest who asks for a person gets one
// handoff reply and then silence from the agent, until an operator hands
// the conversation back with POST /admin/tenants/{id}/conversations/{guest}/resume.
func TestHandoffResumedThroughAdminAPI(t *testing.T) {
	in := Start(t, Options{Env: map[string]string{"ENVIRONMENT": "test"}})
	guest := newGuestPhone()
	n := 0
	say := func(text string) string {
		t.Helper()
		n++
		body := whatsapptest.Message{PhoneNumberID: madridPNID, From: guest, ID: fmt.Sprintf("wamid.handoff-%s-%d", guest, n), Text: text}.JSON()
		status, got := postWhatsApp(t, in, "/webhooks/whatsapp", body, nil)
		if status != 200 {
			t.Fatalf("%q: %d %s", text, status, got)
		}
		return got
	}
	if got := say("quiero hablar con una persona, por favor"); !strings.Contains(got, `"response_type"`) {
		t.Fatalf("handoff request got no reply: %s", got)
	}
	if got := say("hola?"); strings.Contains(got, `"response_type"`) {
		t.Fatalf("the agent answered during a handoff: %s", got)
	}

	token, code := Run(t, map[string]string{"JWT_SECRET_KEY": config.DevDefaults["JWT_SECRET_KEY"]}, "admin-token", "--sub", "e2e-handoff")
	if code != 0 {
		t.Fatalf("admin-token: %d %s", code, token)
	}
	auth := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(token)}
	path := "/admin/tenants/tenant_hotel_madrid/conversations/" + guest + "/resume"
	status, _, body := Do(t, "POST", in.URL(path), nil, auth)
	if status != 200 || !strings.Contains(body, `"was_handed_off":true`) {
		t.Fatalf("resume: %d %s", status, body)
	}
	if got := say("hola, ¿a qué hora es el check-in?"); !strings.Contains(got, `"response_type"`) {
		t.Fatalf("the agent stayed silent after the resume: %s", got)
	}
	if status, _, body := Do(t, "POST", in.URL(path), nil, nil); status != 401 {
		t.Fatalf("resume without a token: %d %s", status, body)
	}
}
