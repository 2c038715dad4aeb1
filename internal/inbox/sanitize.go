package inbox

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Postgres stores no NUL character in text or jsonb (SQLSTATE 22P05), and a
// guest can send one: a message carrying it would be refused, and with it
// its whole batch, on every redelivery. NUL means nothing in a message, so
// it is removed, the same way on every backend.

// escapedNUL is NUL as encoding/json writes it.
var escapedNUL = []byte(`\u0000`)

// withoutNULValue returns v with every NUL removed from its strings (keys
// included), through its JSON form; v itself when it has none.
func withoutNULValue[T any](v T) (T, bool) {
	b, err := json.Marshal(v)
	if err != nil || !bytes.Contains(b, escapedNUL) {
		return v, false
	}
	var tree any
	if json.Unmarshal(b, &tree) != nil {
		return v, false
	}
	if b, err = json.Marshal(stripNUL(tree)); err != nil {
		return v, false
	}
	var out T
	if json.Unmarshal(b, &out) != nil {
		return v, false
	}
	return out, true
}

// messageWithoutNUL is withoutNULValue for a guest's message. The common
// message (text, a tapped button) is checked field by field, which costs
// nothing next to the JSON form; one with attachments, a location,
// metadata or anything that could encode as escapedNUL takes that path.
func messageWithoutNUL(m chat.Message) (chat.Message, bool) {
	if plainMessage(&m) {
		return m, false
	}
	return withoutNULValue(m)
}

// plainMessage reports whether m has nothing but strings and a time, none
// of which holds NUL or the text \u0000 (which encodes as \\u0000).
func plainMessage(m *chat.Message) bool {
	if m.Media != nil || m.Location != nil || len(m.Errors) > 0 || m.System != nil || len(m.Metadata) > 0 || m.Email != nil {
		return false
	}
	for _, s := range m.References {
		if !plainText(s) {
			return false
		}
	}
	for _, s := range [...]string{m.TenantID, string(m.Channel), m.ID, m.From, m.To, m.Name, m.UserID, m.Username, string(m.Kind),
		m.Text, m.ReplyID, m.Subject, m.ContextID, m.Target, m.Emoji} {
		if !plainText(s) {
			return false
		}
	}
	return true
}

func plainText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && !strings.Contains(s, string(escapedNUL))
}

// withoutNUL is withoutNULValue for a value kept as JSON.
func withoutNUL(v any) any {
	out, _ := withoutNULValue(v)
	return out
}

func stripNUL(v any) any {
	switch t := v.(type) {
	case string:
		return strings.ReplaceAll(t, "\x00", "")
	case []any:
		for i := range t {
			t[i] = stripNUL(t[i])
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[strings.ReplaceAll(k, "\x00", "")] = stripNUL(e)
		}
		return out
	}
	return v
}
