package fakegraph

import (
	"encoding/json"
	"net/http"
)

// ExpireToken makes the token the fake accepts expire: every call with it
// is answered as Meta answers an expired access token (HTTP 401, code 190,
// subcode 463) until SetToken.
func (s *Server) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = true
}

// SetToken makes token the one the fake accepts from now on, valid: the
// operator's new token, or the old one working again. Calls with any other
// token get 401 code 190.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.expired = token, false
}

func writeExpiredToken(w http.ResponseWriter) {
	const msg = "Error validating access token: Session has expired on Friday, 20-Nov-26 10:00:00 PST. The current time is Friday, 20-Nov-26 10:05:00 PST."
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+msg+`"`)
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AFakeGraphTraceID",
	}})
}
