package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// Meta's limits on outbound messages, in characters as the WhatsApp Cloud API
// documents them, counted in UTF-16 code units as Meta counts them: a
// character outside the Basic Multilingual Plane (most emoji) counts 2. A
// count in code units is never below a count in code points, so a text cut to
// fit it fits either way.
const (
	MaxTextBody          = 4096
	MaxButtons           = 3
	MaxButtonTitle       = 20
	MaxButtonID          = 256
	MaxButtonBody        = 1024
	MaxHeaderFooter      = 60
	MaxListBody          = 4096
	MaxListButton        = 20
	MaxListRows          = 10
	MaxListSections      = 10
	MaxSectionTitle      = 24
	MaxRowTitle          = 24
	MaxRowID             = 200
	MaxRowDescription    = 72
	MaxImageCaption      = 1024
	DefaultListButton    = "Ver opciones"
	truncationMark       = "…"
	truncationMarkUnits  = 1 // U+2026 is one UTF-16 code unit
	messagingProductName = "whatsapp"
)

// ErrInvalidReply is a reply that cannot be sent as it is whatever Meta's
// state: no body, an over-long or repeated button id, a bad image URL, a bad
// recipient. Sending it again cannot succeed.
var ErrInvalidReply = errors.New("whatsapp: invalid reply")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidReply, fmt.Sprintf(format, a...))
}

// Wire shapes of a Cloud API send request (POST /{phone_number_id}/messages).
type (
	// addressee is where a message goes: `to` a phone number, or
	// `recipient` a business-scoped user id (a guest without a number;
	// Meta reads `to` as a phone number).
	addressee struct {
		To        string `json:"to,omitempty"`
		Recipient string `json:"recipient,omitempty"`
	}
	outMessage struct {
		MessagingProduct string `json:"messaging_product"`
		RecipientType    string `json:"recipient_type"`
		addressee
		Type        string          `json:"type"`
		Text        *outText        `json:"text,omitempty"`
		Interactive *outInteractive `json:"interactive,omitempty"`
		Image       *outImage       `json:"image,omitempty"`
	}
	outText struct {
		PreviewURL bool   `json:"preview_url"`
		Body       string `json:"body"`
	}
	outInteractive struct {
		Type   string     `json:"type"`
		Header *outHeader `json:"header,omitempty"`
		Body   outBody    `json:"body"`
		Footer *outBody   `json:"footer,omitempty"`
		Action outAction  `json:"action"`
	}
	outHeader struct {
		Type  string    `json:"type"`
		Text  string    `json:"text,omitempty"`
		Image *outImage `json:"image,omitempty"`
	}
	outBody struct {
		Text string `json:"text"`
	}
	outAction struct {
		Buttons  []outButton  `json:"buttons,omitempty"`
		Button   string       `json:"button,omitempty"`
		Sections []outSection `json:"sections,omitempty"`
	}
	outButton struct {
		Type  string   `json:"type"`
		Reply outReply `json:"reply"`
	}
	outReply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	outSection struct {
		Title string   `json:"title"`
		Rows  []outRow `json:"rows"`
	}
	outRow struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description,omitempty"`
	}
	outImage struct {
		Link    string `json:"link"`
		Caption string `json:"caption,omitempty"`
	}
)

// Wire shape of a template message, as Meta documents it (it carries no
// recipient_type).
type (
	outTemplateMessage struct {
		MessagingProduct string `json:"messaging_product"`
		addressee
		Type     string      `json:"type"`
		Template outTemplate `json:"template"`
	}
	outTemplate struct {
		Name       string                 `json:"name"`
		Language   outTemplateLanguage    `json:"language"`
		Components []outTemplateComponent `json:"components,omitempty"`
	}
	outTemplateLanguage struct {
		Code string `json:"code"`
	}
	outTemplateComponent struct {
		Type       string                 `json:"type"`
		Parameters []outTemplateParameter `json:"parameters"`
	}
	outTemplateParameter struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// Wire shape of a read receipt with typing indicator, sent to the same
// endpoint as messages.
type (
	outMarkRead struct {
		MessagingProduct string          `json:"messaging_product"`
		Status           string          `json:"status"`
		MessageID        string          `json:"message_id"`
		TypingIndicator  outTypingOption `json:"typing_indicator"`
	}
	outTypingOption struct {
		Type string `json:"type"`
	}
)

// Render is the JSON body Send posts for r to recipient `to`. It fits r into
// Meta's limits rather than letting Meta reject it:
//
//   - Text longer than the field's limit (body 4096, button body 1024,
//     header/footer 60, button title 20, list button 20, section and row
//     title 24, row description 72, caption 1024; all in UTF-16 code units)
//     is cut and ends in "…". The cut never splits a character (a surrogate
//     pair) and backs off rather than split an emoji sequence (skin tone,
//     ZWJ family, flag) or a letter from its combining accent.
//   - Buttons: more than 3 buttons, a body over 1024 characters, or titles
//     that are equal once cut become a list (one section, the full title in
//     the row description when it was cut; a header image is dropped, lists
//     cannot show one). No buttons: sent as text.
//   - Lists: more than 10 rows in all become numbered plain text
//     (chat.Reply.Plain); empty sections are dropped; several sections where
//     one has no title are merged into one; no label → DefaultListButton;
//     a section without a title (a lone one, or the merged one) is titled
//     with the list's label, as Meta requires a title on every section.
//   - Ids are never cut (they carry meaning): an empty, too long or repeated
//     button/row id, an empty body, or an image URL that is not absolute
//     http(s) is ErrInvalidReply.
//
// A template reply (chat.ReplyTemplate) is sent as it is: a name and a
// language are required, and each body parameter has its runs of white space
// (new lines, tabs, repeated spaces, which Meta refuses in parameters) folded
// into one space and must not be blank.
func Render(to string, r chat.Reply) ([]byte, error) {
	if r.Kind == chat.ReplyTemplate {
		m, err := templateMessage(to, r.Template)
		if err != nil {
			return nil, err
		}
		return json.Marshal(m)
	}
	m, err := build(to, r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// RenderMarkRead is the body MarkRead posts for the guest's message
// messageID: the read receipt with a text typing indicator.
func RenderMarkRead(messageID string) ([]byte, error) {
	if isBlank(messageID) {
		return nil, invalid("no message id to mark as read")
	}
	return json.Marshal(outMarkRead{MessagingProduct: messagingProductName, Status: "read", MessageID: messageID,
		TypingIndicator: outTypingOption{Type: "text"}})
}

// address is where a message to guest `to` goes: a business-scoped user id
// as `recipient`, a phone number as `to` in '+' and E.164 digits.
func address(to string) (addressee, error) {
	if IsUserID(to) {
		return addressee{Recipient: to}, nil
	}
	digits, ok := e164Digits(to)
	if !ok {
		return addressee{}, invalid("recipient %q is neither a phone number nor a user id", to)
	}
	return addressee{To: "+" + digits}, nil
}

func templateMessage(to string, t *chat.Template) (*outTemplateMessage, error) {
	rcpt, err := address(to)
	if err != nil {
		return nil, err
	}
	if t == nil || isBlank(t.Name) || isBlank(t.Language) {
		return nil, invalid("a template needs a name and a language")
	}
	m := &outTemplateMessage{MessagingProduct: messagingProductName, addressee: rcpt, Type: "template",
		Template: outTemplate{Name: t.Name, Language: outTemplateLanguage{Code: t.Language}}}
	if len(t.BodyParameters) > 0 {
		body := outTemplateComponent{Type: "body", Parameters: make([]outTemplateParameter, len(t.BodyParameters))}
		for i, p := range t.BodyParameters {
			text := strings.Join(strings.Fields(p), " ")
			if text == "" {
				return nil, invalid("template %q: body parameter %d is blank", t.Name, i+1)
			}
			body.Parameters[i] = outTemplateParameter{Type: "text", Text: text}
		}
		m.Template.Components = []outTemplateComponent{body}
	}
	return m, nil
}

func build(to string, r chat.Reply) (*outMessage, error) {
	rcpt, err := address(to)
	if err != nil {
		return nil, err
	}
	m := &outMessage{MessagingProduct: messagingProductName, RecipientType: "individual", addressee: rcpt}
	switch r.Kind {
	case chat.ReplyButtons:
		return buttons(m, r)
	case chat.ReplyList:
		return list(m, r)
	case chat.ReplyImage:
		return image(m, r)
	default:
		return text(m, r.Text)
	}
}

func text(m *outMessage, body string) (*outMessage, error) {
	if isBlank(body) {
		return nil, invalid("empty text")
	}
	m.Type = "text"
	m.Text = &outText{Body: truncate(body, MaxTextBody)}
	return m, nil
}

func image(m *outMessage, r chat.Reply) (*outMessage, error) {
	if err := checkURL(r.ImageURL); err != nil {
		return nil, err
	}
	m.Type = "image"
	m.Image = &outImage{Link: r.ImageURL, Caption: truncate(r.Text, MaxImageCaption)}
	return m, nil
}

func buttons(m *outMessage, r chat.Reply) (*outMessage, error) {
	if len(r.Buttons) == 0 {
		return text(m, r.Plain())
	}
	if isBlank(r.Text) {
		return nil, invalid("buttons without body text")
	}
	if err := checkIDs(len(r.Buttons), func(i int) string { return r.Buttons[i].ID }, MaxButtonID, "button"); err != nil {
		return nil, err
	}
	asList := len(r.Buttons) > MaxButtons || utf16Len(r.Text) > MaxButtonBody
	titles := map[string]bool{}
	out := make([]outButton, len(r.Buttons))
	for i, b := range r.Buttons {
		t := truncate(b.Title, MaxButtonTitle)
		if isBlank(t) || titles[t] {
			// Meta wants distinct, non-empty button titles; rows need not be.
			asList = true
		}
		titles[t] = true
		out[i] = outButton{Type: "reply", Reply: outReply{ID: b.ID, Title: t}}
	}
	if asList {
		rows := make([]chat.Row, len(r.Buttons))
		for i, b := range r.Buttons {
			rows[i] = chat.Row{ID: b.ID, Title: b.Title}
		}
		lr := r
		lr.Kind, lr.Buttons, lr.ImageURL = chat.ReplyList, nil, ""
		lr.Sections = []chat.Section{{Rows: rows}}
		return list(m, lr)
	}
	in := &outInteractive{Type: "button", Body: outBody{Text: r.Text}, Action: outAction{Buttons: out}}
	switch {
	case r.ImageURL != "":
		if err := checkURL(r.ImageURL); err != nil {
			return nil, err
		}
		in.Header = &outHeader{Type: "image", Image: &outImage{Link: r.ImageURL}}
	case !isBlank(r.Header):
		in.Header = &outHeader{Type: "text", Text: truncate(r.Header, MaxHeaderFooter)}
	}
	if !isBlank(r.Footer) {
		in.Footer = &outBody{Text: truncate(r.Footer, MaxHeaderFooter)}
	}
	m.Type, m.Interactive = "interactive", in
	return m, nil
}

func list(m *outMessage, r chat.Reply) (*outMessage, error) {
	var sections []chat.Section
	rows, untitled := 0, false
	for _, s := range r.Sections {
		if len(s.Rows) == 0 {
			continue
		}
		sections = append(sections, s)
		rows += len(s.Rows)
		untitled = untitled || isBlank(s.Title)
	}
	if rows == 0 || rows > MaxListRows {
		pr := r
		pr.Sections = sections
		return text(m, pr.Plain())
	}
	if isBlank(r.Text) {
		return nil, invalid("list without body text")
	}
	if len(sections) > 1 && untitled {
		var all []chat.Row
		for _, s := range sections {
			all = append(all, s.Rows...)
		}
		sections = []chat.Section{{Rows: all}}
	}
	var ids []string
	for _, s := range sections {
		for _, row := range s.Rows {
			ids = append(ids, row.ID)
		}
	}
	if err := checkIDs(len(ids), func(i int) string { return ids[i] }, MaxRowID, "row"); err != nil {
		return nil, err
	}
	label := r.ListButton
	if isBlank(label) {
		label = DefaultListButton
	}
	in := &outInteractive{Type: "list", Body: outBody{Text: truncate(r.Text, MaxListBody)},
		Action: outAction{Button: truncate(label, MaxListButton)}}
	for _, s := range sections {
		title := s.Title
		if isBlank(title) {
			// Meta requires every section's title, a lone section's too;
			// the label of the button that opens the list (the agent's, in
			// the guest's language) names its rows as well.
			title = label
		}
		os := outSection{Title: truncate(title, MaxSectionTitle), Rows: make([]outRow, len(s.Rows))}
		for i, row := range s.Rows {
			title, desc := row.Title, row.Description
			if utf16Len(title) > MaxRowTitle && desc == "" {
				desc = title // keep the whole title readable
			}
			os.Rows[i] = outRow{ID: row.ID, Title: truncate(title, MaxRowTitle), Description: truncate(desc, MaxRowDescription)}
			if isBlank(os.Rows[i].Title) {
				return nil, invalid("row %q has no title", row.ID)
			}
		}
		in.Action.Sections = append(in.Action.Sections, os)
	}
	if !isBlank(r.Header) {
		in.Header = &outHeader{Type: "text", Text: truncate(r.Header, MaxHeaderFooter)}
	}
	if !isBlank(r.Footer) {
		in.Footer = &outBody{Text: truncate(r.Footer, MaxHeaderFooter)}
	}
	m.Type, m.Interactive = "interactive", in
	return m, nil
}

func checkIDs(n int, id func(int) string, max int, what string) error {
	seen := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		s := id(i)
		switch {
		case s == "":
			return invalid("%s %d has no id", what, i)
		case utf16Len(s) > max:
			return invalid("%s id %q is longer than %d characters", what, truncate(s, 40), max)
		case seen[s]:
			return invalid("%s id %q is repeated", what, s)
		}
		seen[s] = true
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("image URL %q is not an absolute http(s) URL", truncate(s, 80))
	}
	return nil
}

// utf16Len is s's length in UTF-16 code units. Invalid UTF-8 counts as the
// U+FFFD that JSON encoding puts in its place.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// truncate cuts s to at most max UTF-16 code units, ending in "…" when cut.
// It cuts between whole characters, so never inside a surrogate pair, and
// backs off to the start of a grapheme the cut would split (see
// splitsGrapheme) unless that leaves nothing.
func truncate(s string, max int) string {
	if utf16Len(s) <= max {
		return s
	}
	keep, cut := max-truncationMarkUnits, 0
	for i, r := range s {
		if n := utf16.RuneLen(r); n <= keep {
			keep -= n
			continue
		}
		cut = i
		break
	}
	for c := cut; c > 0; {
		_, size := utf8.DecodeLastRuneInString(s[:c])
		if !splitsGrapheme(s, c) {
			cut = c
			break
		}
		c -= size
	}
	return s[:cut] + truncationMark
}

// splitsGrapheme reports whether cutting s at byte i separates characters
// that display as one: a base from its combining marks, variation selector,
// skin tone or tag characters; the two sides of a zero-width joiner; or the
// two regional indicators of a flag. It is the part of Unicode's grapheme
// rules that emoji and accented text need, not all of them.
func splitsGrapheme(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return false
	}
	next, _ := utf8.DecodeRuneInString(s[i:])
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	switch {
	case extendsGrapheme(next), prev == zeroWidthJoiner:
		return true
	case isRegionalIndicator(prev) && isRegionalIndicator(next):
		// Flags pair up from the start of a run of indicators: the cut
		// splits one when an odd number of them stands before it.
		n := 0
		for j := i; j > 0; {
			r, size := utf8.DecodeLastRuneInString(s[:j])
			if !isRegionalIndicator(r) {
				break
			}
			n++
			j -= size
		}
		return n%2 == 1
	}
	return false
}

const zeroWidthJoiner = '\u200d'

// extendsGrapheme is a character that belongs to the one before it.
func extendsGrapheme(r rune) bool {
	switch {
	case r == zeroWidthJoiner,
		r >= 0xFE00 && r <= 0xFE0F, // variation selectors (emoji or text style)
		r >= 0xE0100 && r <= 0xE01EF,
		r >= 0x1F3FB && r <= 0x1F3FF, // skin tones
		r >= 0xE0020 && r <= 0xE007F: // tags (subdivision flags)
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc)
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isBlank(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
