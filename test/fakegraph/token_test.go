package fakegraph

import (
	"net/http"
	"testing"
)

func TestExpiredTokenUntilANewOne(t *testing.T) {
	s := Start(t, token)
	s.ExpireToken()
	a := send(t, s, okText)
	e, _ := a.body["error"].(map[string]any)
	if a.status != http.StatusUnauthorized || errCode(a) != 190 || e["error_subcode"] != float64(463) || a.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("expired token: %d %v", a.status, a.body)
	}
	s.SetToken("EAAnew")
	if a := send(t, s, okText); a.status != http.StatusUnauthorized || errCode(a) != 190 {
		t.Fatalf("the old token after a new one: %d %v", a.status, a.body)
	}
	if a := post(t, s, "/v21.0/106540352242922/messages", "Bearer EAAnew", "application/json", okText); a.status != http.StatusOK {
		t.Fatalf("the new token: %d %v", a.status, a.body)
	}
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages accepted, want the one with the new token", n)
	}
}
