package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// wireValueRaws are a change's messages and statuses left undecoded, so that a
// malformed one is lost alone.
type wireValueRaws struct {
	messages  []json.RawMessage
	statuses  []json.RawMessage
	malformed bool // some part of the value was unreadable and already reported
}

// salvage reads an envelope that failed the one-pass decode because some
// field has the wrong JSON type. It walks the envelope level by level and
// reports each unreadable part as ErrUnexpected, keeping the rest. It is the
// slow path: a well-formed envelope never comes here.
func salvage(body []byte, opts NormalizeOptions) (Batch, []Problem) {
	n := &normalizer{opts: opts}
	if !isObject(body) {
		n.problem(ErrUnexpected, -1, -1, -1, false, "not a JSON object")
		return n.batch, n.problems
	}
	var env struct {
		Entry json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		n.problem(ErrUnexpected, -1, -1, -1, false, jsonDetail(err))
		return n.batch, n.problems
	}
	entries, ok := rawArray(env.Entry)
	if !ok {
		n.problem(ErrUnexpected, -1, -1, -1, false, "entry is not an array")
		return n.batch, n.problems
	}
	if len(entries) == 0 {
		n.problem(ErrMissingEntry, -1, -1, -1, false, "")
		return n.batch, n.problems
	}
	for ei, rawEntry := range entries {
		var e struct {
			ID      string          `json:"id"`
			Changes json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(rawEntry, &e); err != nil {
			n.problem(ErrUnexpected, ei, -1, -1, false, jsonDetail(err))
			continue
		}
		n.batch.First.note("", e.ID, "")
		changes, ok := rawArray(e.Changes)
		if !ok {
			n.problem(ErrUnexpected, ei, -1, -1, false, "changes is not an array")
			continue
		}
		if len(changes) == 0 {
			n.problem(ErrMissingChanges, ei, -1, -1, false, "")
			continue
		}
		for ci, rawChange := range changes {
			n.salvageChange(ei, ci, e.ID, rawChange)
		}
	}
	return n.batch, n.problems
}

func (n *normalizer) salvageChange(ei, ci int, wabaID string, rawChange json.RawMessage) {
	var c struct {
		Field string          `json:"field"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(rawChange, &c); err != nil {
		n.problem(ErrUnexpected, ei, ci, -1, false, jsonDetail(err))
		return
	}
	if isNull(c.Value) {
		n.change(ei, ci, wabaID, c.Field, nil, nil)
		return
	}
	var rv struct {
		Metadata json.RawMessage `json:"metadata"`
		Contacts json.RawMessage `json:"contacts"`
		Messages json.RawMessage `json:"messages"`
		Statuses json.RawMessage `json:"statuses"`
		Errors   json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(c.Value, &rv); err != nil {
		n.problem(ErrUnexpected, ei, ci, -1, false, "value: "+jsonDetail(err))
		return
	}
	var v wireValue
	if !isNull(rv.Metadata) {
		// Without a readable business number the change's tenant is
		// unknowable: drop the whole change.
		if err := json.Unmarshal(rv.Metadata, &v.Metadata); err != nil {
			n.problem(ErrUnexpected, ei, ci, -1, false, "value.metadata: "+jsonDetail(err))
			return
		}
	}
	raws := &wireValueRaws{}
	// Contacts only carry display names: an unreadable list costs the names,
	// not the messages.
	if !isNull(rv.Contacts) {
		if err := json.Unmarshal(rv.Contacts, &v.Contacts); err != nil {
			v.Contacts = nil
			raws.malformed = true
			n.problem(ErrUnexpected, ei, ci, -1, false, "value.contacts: "+jsonDetail(err))
		}
	}
	var ok bool
	if raws.messages, ok = rawArray(rv.Messages); !ok {
		raws.malformed = true
		n.problem(ErrUnexpected, ei, ci, -1, false, "value.messages is not an array")
	}
	if raws.statuses, ok = rawArray(rv.Statuses); !ok {
		raws.malformed = true
		n.problem(ErrUnexpected, ei, ci, -1, false, "value.statuses is not an array")
	}
	errs, ok := rawArray(rv.Errors)
	if !ok {
		raws.malformed = true
		n.problem(ErrUnexpected, ei, ci, -1, false, "value.errors is not an array")
	}
	for _, re := range errs {
		var we wireError
		if err := json.Unmarshal(re, &we); err != nil {
			raws.malformed = true
			n.problem(ErrUnexpected, ei, ci, -1, false, "value.errors: "+jsonDetail(err))
			continue
		}
		v.Errors = append(v.Errors, we)
	}
	n.change(ei, ci, wabaID, c.Field, &v, raws)
}

// rawArray splits a JSON array into its elements; absent and null are an
// empty array, anything else not an array is !ok.
func rawArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	if isNull(raw) {
		return nil, true
	}
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, false
	}
	return out, true
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// The fields without which a message or a status means nothing: one of
// them unreadable costs the item. Any other unreadable field (a context, a
// referral, pricing) costs that field alone.
var (
	essentialMessageFields = map[string]bool{"from": true, "id": true, "timestamp": true, "type": true}
	essentialStatusFields  = map[string]bool{"id": true, "status": true, "timestamp": true, "recipient_id": true}
)

// lenient decodes one message or status whose one-pass decode failed, field
// by field: it returns what could be read and the names of the fields that
// could not, or an error when the item is not an object or an essential
// field is unreadable.
func lenient[T any](raw json.RawMessage, essential map[string]bool) (*T, []string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, fmt.Errorf("%s", jsonDetail(err))
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := new(T)
	var bad []string
	for _, k := range keys {
		one, err := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if err != nil {
			return nil, nil, err
		}
		// Decoded into a scratch value first: a field that fails half way
		// must leave nothing behind.
		if err := json.Unmarshal(one, new(T)); err != nil {
			if essential[strings.ToLower(k)] {
				return nil, nil, fmt.Errorf("%s", jsonDetail(err))
			}
			bad = append(bad, k)
			continue
		}
		_ = json.Unmarshal(one, out)
	}
	return out, bad, nil
}

// dropNULEscapes removes every \u0000 escape from a JSON text. A NUL has no
// meaning in a guest's words and Postgres refuses it in jsonb, so a message
// carrying one would never be stored: Meta would redeliver it for days. An
// escaped backslash followed by "u0000" is text, and stays. body is not
// modified; the result shares it when there is nothing to drop.
func dropNULEscapes(body []byte) []byte {
	const esc = `\u0000`
	if !bytes.Contains(body, []byte(esc)) {
		return body
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 >= len(body) {
			out = append(out, c)
			continue
		}
		if bytes.HasPrefix(body[i:], []byte(esc)) {
			i += len(esc) - 1
			continue
		}
		out = append(out, c, body[i+1])
		i++
	}
	return out
}
