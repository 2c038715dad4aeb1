// Package apierror writes the one error shape every agente-caddy route answers
// with: {"error": "...", "status": N}.
package apierror

import (
	"encoding/json"
	"net/http"
)

// Body is the JSON error document.
type Body struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// Write answers status with msg as the JSON error document. An empty msg
// becomes the status text.
func Write(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	b, _ := json.Marshal(Body{Error: msg, Status: status})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
