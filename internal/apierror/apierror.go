// Package apierror writes the one error shape every agente-caddy route answers
// with: {"error": "...", "status": N}, and the JSON successes alongside it
// with the same headers.
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
	write(w, status, b)
}

// WriteJSON answers status with v as JSON. A v that does not marshal is a
// 500 error document instead.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Write(w, http.StatusInternalServerError, "internal error")
		return
	}
	write(w, status, b)
}

// write sends the JSON document b followed by a newline. nosniff keeps a
// browser from reading the document as anything but JSON.
func write(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
