// Package whatsapptest writes the webhook bodies the WhatsApp Cloud API
// posts for one message from a guest, field for field in Meta's order, for
// the end-to-end tests and the unit tests of the modules that read them.
// Tests that send a deliberately odd body keep it literal.
package whatsapptest

import (
	"encoding/json"
	"strconv"
	"time"
)

// EntryID is the WhatsApp Business Account id a Message carries unless it
// names another.
const EntryID = "102290129340398"

// DisplayPhoneNumber is the business number's display form in the metadata.
const DisplayPhoneNumber = "15550783881"

// Message is one message from a guest to a hotel's business number.
type Message struct {
	EntryID       string // entry[0].id; "" is EntryID
	PhoneNumberID string // value.metadata.phone_number_id; "" leaves value.metadata out
	From          string // the guest's number, digits as Meta sends them
	ID            string // wamid
	Name          string // the guest's profile name; "" leaves value.contacts out
	Text          string // the body of a text message
	// Interactive, when set, makes this an interactive message (a tapped
	// button or list row) instead of a text message, e.g.
	// {"type":"button_reply","button_reply":{"id":"x","title":"X"}}.
	Interactive map[string]any
	Metadata    map[string]any // the message's own metadata object; nil leaves it out
}

// ButtonReply is the Interactive of a tapped reply button.
func ButtonReply(id, title string) map[string]any {
	return map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": id, "title": title}}
}

// ListReply is the Interactive of a chosen list row.
func ListReply(id, title string) map[string]any {
	return map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": id, "title": title}}
}

// The value object of the envelope's one change; the envelope around it is
// the same for every message.
type (
	value struct {
		MessagingProduct string        `json:"messaging_product"`
		Metadata         *metadata     `json:"metadata,omitempty"`
		Contacts         []contact     `json:"contacts,omitempty"`
		Messages         []wireMessage `json:"messages"`
	}
	metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	contact struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	}
	wireMessage struct {
		From        string         `json:"from"`
		ID          string         `json:"id"`
		Timestamp   string         `json:"timestamp"`
		Type        string         `json:"type"`
		Text        *textBody      `json:"text,omitempty"`
		Interactive map[string]any `json:"interactive,omitempty"`
		Metadata    map[string]any `json:"metadata,omitempty"`
	}
	textBody struct {
		Body string `json:"body"`
	}
)

// JSON is the webhook body carrying m, stamped with the current time.
func (m Message) JSON() string { return JSONOf(m) }

// JSONOf is the webhook body carrying msgs in one change, as Meta batches
// the messages that arrive together, stamped with the current time. The
// entry, the business number and whether the metadata is there are the
// first message's; each message with a Name adds its guest's contact.
func JSONOf(msgs ...Message) string {
	if len(msgs) == 0 {
		panic("whatsapptest.JSONOf: no message")
	}
	first := msgs[0]
	now := strconv.FormatInt(time.Now().Unix(), 10)
	v := value{MessagingProduct: "whatsapp", Messages: make([]wireMessage, 0, len(msgs))}
	for _, m := range msgs {
		msg := wireMessage{From: m.From, ID: m.ID, Timestamp: now, Metadata: m.Metadata}
		if m.Interactive != nil {
			msg.Type, msg.Interactive = "interactive", m.Interactive
		} else {
			msg.Type, msg.Text = "text", &textBody{Body: m.Text}
		}
		v.Messages = append(v.Messages, msg)
		if m.Name != "" {
			c := contact{WaID: m.From}
			c.Profile.Name = m.Name
			v.Contacts = append(v.Contacts, c)
		}
	}
	if first.PhoneNumberID != "" {
		v.Metadata = &metadata{DisplayPhoneNumber: DisplayPhoneNumber, PhoneNumberID: first.PhoneNumberID}
	}
	id := first.EntryID
	if id == "" {
		id = EntryID
	}
	idJSON, _ := json.Marshal(id)
	valueJSON, err := json.Marshal(v)
	if err != nil {
		panic(err) // only Metadata and Interactive could hold something unencodable
	}
	return `{"object":"whatsapp_business_account","entry":[{"id":` + string(idJSON) +
		`,"changes":[{"field":"messages","value":` + string(valueJSON) + `}]}]}`
}
