// Package chat holds the channel-neutral shapes of a conversation: the inbound
// Message every channel normalises to, the delivery Status events, and the
// Reply the agent produces. Channel adapters (WhatsApp, email) translate to and
// from these; nothing else needs to know a channel's wire format.
package chat

import "time"

// Channel names where a message came from and where its reply goes.
type Channel string

const (
	WhatsApp Channel = "whatsapp"
	Gmail    Channel = "gmail"
)

// Kind is what an inbound message carries.
type Kind string

const (
	KindText        Kind = "text"
	KindButtonReply Kind = "button_reply"
	KindListReply   Kind = "list_reply"
	KindImage       Kind = "image"
	KindAudio       Kind = "audio"
	KindLocation    Kind = "location"
	KindUnsupported Kind = "unsupported"
	// Media the agent cannot look at; with a caption, the caption is Text.
	KindVideo    Kind = "video"
	KindDocument Kind = "document"
	KindSticker  Kind = "sticker"
	// Shared contact cards; Text is empty.
	KindContacts Kind = "contacts"
	// An order from the business's catalogue; Text is the guest's note.
	KindOrder Kind = "order"
	// A reply to a WhatsApp Flow; Text is empty, the answers are not read.
	KindFlowReply Kind = "flow_reply"
	// Events about another message (Target), never answered: a reaction
	// (Emoji; empty when the guest removed it), an edit, a deletion.
	KindReaction Kind = "reaction"
	KindEdit     Kind = "edit"
	KindRevoke   Kind = "revoke"
	// A notice from the channel itself (System), never answered.
	KindSystem Kind = "system"
	// The guest opened the chat for the first time and has written nothing
	// yet: answered with the greeting.
	KindWelcome Kind = "welcome"
)

// Silent reports whether a message of kind k is recorded but never
// answered: it tells of something done to another message, or comes from
// the channel rather than the guest.
func (k Kind) Silent() bool {
	switch k {
	case KindReaction, KindEdit, KindRevoke, KindSystem:
		return true
	}
	return false
}

// Message is one guest message, normalised. Text holds what the guest said in
// words whatever the kind: the body, a caption, a tapped button's title, or an
// email's body.
type Message struct {
	TenantID string  `json:"tenant_id"`
	Channel  Channel `json:"channel"`
	ID       string  `json:"id"`             // wamid or email message id; dedup key within a tenant
	From     string  `json:"from"`           // guest: E.164 digits without '+', a WhatsApp user id (see UserID), or an email address
	To       string  `json:"to,omitempty"`   // business side: WhatsApp phone_number_id or mailbox
	Name     string  `json:"name,omitempty"` // guest's profile name when the channel gives one
	// UserID is the guest's WhatsApp business-scoped user id (BSUID,
	// "CC.digits") when Meta gave one. A guest who hides the phone number
	// behind a username has no number: From is then the UserID, which is
	// also what a reply is addressed to.
	UserID    string    `json:"user_id,omitempty"`
	Username  string    `json:"username,omitempty"`   // the guest's WhatsApp username, for display
	Timestamp time.Time `json:"timestamp"`            // when the guest sent it
	Kind      Kind      `json:"kind"`                 // what it carries
	Text      string    `json:"text,omitempty"`       // words, see above
	ReplyID   string    `json:"reply_id,omitempty"`   // id of the tapped button or list row
	Subject   string    `json:"subject,omitempty"`    // email subject
	ContextID string    `json:"context_id,omitempty"` // id of the business message this answers
	Media     *Media    `json:"media,omitempty"`
	Location  *Location `json:"location,omitempty"`
	Errors    []Error   `json:"errors,omitempty"` // why an unsupported message could not be read
	// Target is the message a reaction, an edit or a deletion is about;
	// Emoji the reaction's.
	Target string  `json:"target_id,omitempty"`
	Emoji  string  `json:"emoji,omitempty"`
	System *System `json:"system,omitempty"`
	// Metadata is what survived the allowlist; see MetadataFilter.
	Metadata map[string]any `json:"metadata,omitempty"`
	// References is an email's thread, oldest first, ending with the
	// message it answers (Message-IDs without angle brackets): a reply
	// carries them on, so that mail clients thread it.
	References []string `json:"references,omitempty"`
	// Email is what the mailbox knew of an email's sender; nil for a
	// message that did not come from a mailbox the service reads.
	Email *EmailFacts `json:"email,omitempty"`
}

// EmailFacts are what the receiving mail server established about an email.
type EmailFacts struct {
	// Verified: the receiving server's Authentication-Results show the From
	// domain authenticated (DMARC pass, or aligned DKIM/SPF pass). Only a
	// verified mail may change or cancel a booking.
	Verified bool `json:"verified"`
	// Auth summarises those results ("spf=pass dkim=pass dmarc=pass"), or
	// says why there were none to trust.
	Auth string `json:"auth,omitempty"`
	// Attachments are the parts that were not read (file names or types).
	Attachments []string `json:"attachments,omitempty"`
}

// ConversationKey identifies one guest's conversation with one hotel: messages
// with the same key are handled in order.
func (m Message) ConversationKey() string {
	return m.TenantID + "|" + string(m.Channel) + "|" + m.From
}

// Media is an attachment (image, audio, video, document, sticker) as the
// channel describes it.
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"` // documents
	Voice    bool   `json:"voice,omitempty"`    // audio recorded as a voice note
}

// System is a channel's notice about the guest.
type System struct {
	// Type is the channel's name for it: customer_changed_number,
	// customer_identity_changed, user_changed_user_id...
	Type string `json:"type"`
	Body string `json:"body,omitempty"`
	// NewID is the guest's new identifier when Type says it changed: the
	// new phone number (E.164 digits) or the new user id. The message is
	// then the new identifier's (Message.From is NewID), so that it is
	// handled in order with what the guest writes from it, and FormerID is
	// the identifier it replaces.
	NewID    string `json:"new_id,omitempty"`
	FormerID string `json:"former_id,omitempty"`
}

// System types that move a guest to a new identifier.
const (
	SystemChangedNumber = "customer_changed_number"
	SystemChangedUserID = "user_changed_user_id"
)

// Location is a shared map pin.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Error is a channel-reported problem with a message or a delivery. Title is
// the short title (the message when the channel gave no title), Details the
// longer explanation.
type Error struct {
	Code    int    `json:"code"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
	Details string `json:"details,omitempty"`
}

// Status is a delivery receipt for a message the business sent.
type Status struct {
	TenantID  string    `json:"tenant_id"`
	Channel   Channel   `json:"channel"`
	MessageID string    `json:"message_id"` // the business message it is about
	Status    string    `json:"status"`     // sent | delivered | read | failed
	Recipient string    `json:"recipient"`  // phone digits, or the user id when Meta gave no number
	Timestamp time.Time `json:"timestamp"`
	Errors    []Error   `json:"errors,omitempty"`
	// RecipientUserID is the guest's business-scoped user id when Meta
	// gave one.
	RecipientUserID string `json:"recipient_user_id,omitempty"`
	// Conversation and Pricing are Meta's billing facts of the message,
	// when it sent them.
	Conversation *Conversation `json:"conversation,omitempty"`
	Pricing      *Pricing      `json:"pricing,omitempty"`
}

// Conversation is the billing conversation a delivered message opened or
// belongs to.
type Conversation struct {
	ID        string     `json:"id,omitempty"`
	Origin    string     `json:"origin,omitempty"` // service, utility, marketing, authentication, referral_conversion...
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Pricing is how the message is charged.
type Pricing struct {
	Billable *bool  `json:"billable,omitempty"`
	Model    string `json:"pricing_model,omitempty"` // CBP, PMP...
	Category string `json:"category,omitempty"`      // service, utility, marketing...
	Type     string `json:"type,omitempty"`          // regular, free_customer_service, free_entry_point...
}

// ReplyKind is the shape of an outbound reply.
type ReplyKind string

const (
	ReplyText    ReplyKind = "text"
	ReplyButtons ReplyKind = "buttons"
	ReplyList    ReplyKind = "list"
	ReplyImage   ReplyKind = "image"
	// ReplyTemplate is a WhatsApp message template the business has
	// had approved: the one message Meta delivers outside the 24-hour
	// customer-service window. Only the WhatsApp channel sends it.
	ReplyTemplate ReplyKind = "template"
)

// Reply is what the agent answers. Channels that cannot show buttons or lists
// render them as numbered text (see Plain).
type Reply struct {
	Kind       ReplyKind `json:"kind"`
	Text       string    `json:"text"`                  // body text (caption for an image)
	Header     string    `json:"header,omitempty"`      // buttons: optional header
	Footer     string    `json:"footer,omitempty"`      // buttons: optional footer
	ImageURL   string    `json:"image_url,omitempty"`   // image, or the header image of a buttons reply
	Buttons    []Button  `json:"buttons,omitempty"`     // buttons: at most 3
	ListButton string    `json:"list_button,omitempty"` // list: label of the button that opens it
	Sections   []Section `json:"sections,omitempty"`    // list: at most 10 rows in all
	Template   *Template `json:"template,omitempty"`    // template: which one, filled in
}

// Template names an approved WhatsApp message template and fills its body:
// BodyParameters are the texts of its {{1}}, {{2}}... in order.
type Template struct {
	Name           string   `json:"name"`
	Language       string   `json:"language"` // the approved translation's code, e.g. "es" or "en_US"
	BodyParameters []string `json:"body_parameters,omitempty"`
}

// Button is a quick-reply button.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is a titled group of list rows.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is one choice in a list.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// ResponseType is the label the original system echoed in test mode
// ("text", "interactive_buttons", "interactive_buttons_with_image",
// "interactive_list", "image").
func (r Reply) ResponseType() string {
	switch r.Kind {
	case ReplyButtons:
		if r.ImageURL != "" {
			return "interactive_buttons_with_image"
		}
		return "interactive_buttons"
	case ReplyList:
		return "interactive_list"
	case ReplyImage:
		return "image"
	case ReplyTemplate:
		return "template"
	default:
		return "text"
	}
}
