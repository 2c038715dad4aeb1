package whatsapp

// FieldEvent is a change of a subscribed field other than messages: what
// hotel it is about (its account, and its business number when the value
// names one).
type FieldEvent struct {
	Field         string
	WABAID        string
	PhoneNumberID string
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
