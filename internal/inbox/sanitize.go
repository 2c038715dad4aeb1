package inbox

import (
	"bytes"
	"encoding/json"
	"strings"
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
