package whatsapp

import "encoding/json"

// FieldEvent is a change of a subscribed field other than messages: what
// hotel it is about (its account, and its business number when the value
// names one).
type FieldEvent struct {
	Field         string
	WABAID        string
	PhoneNumberID string
	// Value is the change's value as Meta sent it: what the event says (an
	// account's review decision, a template's new status, ...).
	Value json.RawMessage `json:",omitempty"`

	entry, change int // where in the envelope, to find Value
}

// withFieldValues fills each field event's Value from the envelope. Only
// webhooks that carry such fields pay for this second, shallow decode; one
// whose shape does not allow it keeps its events without values.
func withFieldValues(body []byte, fields []FieldEvent) {
	var env struct {
		Entry []struct {
			Changes []struct {
				Value json.RawMessage `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &env) != nil {
		return
	}
	for i, f := range fields {
		if f.entry < len(env.Entry) && f.change < len(env.Entry[f.entry].Changes) {
			if v := env.Entry[f.entry].Changes[f.change].Value; !isNull(v) {
				fields[i].Value = v
			}
		}
	}
}

// Business is the business number (value.metadata.phone_number_id) and
// account (entry[].id) a message or status arrived for.
type Business struct {
	PhoneNumberID string
	WABAID        string
}

// MessageBusiness is the business the i-th message arrived for; zero for a
// batch not built by Normalize.
func (b Batch) MessageBusiness(i int) Business {
	if i < 0 || i >= len(b.msgOrigin) {
		return Business{}
	}
	o := b.msgOrigin[i]
	return Business{PhoneNumberID: o.phoneNumberID, WABAID: o.wabaID}
}

// StatusBusiness is the business the i-th status arrived for.
func (b Batch) StatusBusiness(i int) Business {
	if i < 0 || i >= len(b.statusOrigin) {
		return Business{}
	}
	o := b.statusOrigin[i]
	return Business{PhoneNumberID: o.phoneNumberID, WABAID: o.wabaID}
}
