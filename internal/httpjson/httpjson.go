// Package httpjson writes agente-caddy's JSON responses: every API answer
// (admin, health, canary) and the one error document every route answers
// with, {"error": "...", "status": N}. One writer, so every JSON answer
// carries the same headers.
package httpjson

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorBody is the JSON error document.
type ErrorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// Write answers status with v as JSON. A value that cannot be encoded is a
// bug: it answers 500 with the error document instead.
//
// The answer declares its length (Content-Length), so it is complete as
// soon as it is written: a handler may flush it and take the connection
// over (json_error closing a refused one), where a chunked answer would end
// only when the handler returns.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorBody{Error: "internal error", Status: status})
	}
	WriteEncoded(w, status, append(b, '\n'))
}

// WriteEncoded is Write of a value already encoded, for an answer that is
// the same every time: body is what Write would send (json.Marshal's
// bytes and a newline), sent with the same headers. It is not changed.
func WriteEncoded(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// Answers about live state: a cache in between must never replay one.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Error answers status with msg as the JSON error document. An empty msg
// becomes the status text.
func Error(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	Write(w, status, ErrorBody{Error: msg, Status: status})
}
