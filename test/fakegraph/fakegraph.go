// Package fakegraph is a fake of the WhatsApp Cloud API send endpoint for
// tests: an httptest server that checks what Meta checks and answers what Meta
// answers (per Meta's WhatsApp Cloud API documentation), records every
// accepted message, and can be told to fail.
//
//	g := fakegraph.Start(t, "token")              // closed at the end of the test
//	client := whatsapp.Client{BaseURL: g.BaseURL(), Token: "token"}
//	...
//	msgs, err := g.WaitForMessages(1, 5*time.Second)
//	msgs[0].Request.Interactive.Action.Buttons[0].Reply.Title
//
// What it enforces: POST /{version}/{phone_number_id}/messages with a
// version like v21.0 and a numeric phone_number_id (optionally one of
// AllowPhoneNumberIDs); `Authorization: Bearer <token>` (401 OAuthException
// otherwise); a JSON body with messaging_product "whatsapp", and either a
// read receipt (status "read", a message_id, optionally a typing_indicator of
// type "text"; answered {"success": true} and kept in Reads) or a message: a
// phone number in `to`, and a template (a name of lowercase letters, digits
// and '_', a language code, text parameters without new lines, tabs or more
// than four spaces in a row), text, interactive (button or list) or image
// message within
// Meta's limits, with no field Meta does not know for those types (400 with
// code 100 otherwise). Character limits count UTF-16 code units, as Meta
// does (an emoji outside the Basic Multilingual Plane counts 2). Every list
// section needs its title, a lone section's too.
//
// A recipient made to be outside the 24-hour customer-service window
// (CloseWindow) gets Meta's 131047 "Re-engagement message" for anything but
// a template.
//
// The limits and request shapes are written out here from Meta's
// documentation on purpose, not imported from internal/whatsapp:
// the fake is the independent check of the client's rendering
// (whatsapp.TestRenderAlwaysPassesTheFake), and a shared constant would let
// one wrong limit pass both.
package fakegraph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultVersion is the Graph API version of BaseURL.
const DefaultVersion = "v21.0"

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	token    string
	expired  bool            // see ExpireToken
	allowed  map[string]bool // nil: any numeric phone_number_id
	failures []Failure
	delay    time.Duration
	closed   chan struct{} // aborts delays on Close
	once     sync.Once
	calls    int
	seq      int
	accepted []Message
	reads    []Read
	closed24 map[string]bool // recipients (digits) outside the 24-hour window
	changed  chan struct{}   // closed and replaced on every accepted message or read receipt
}

// Message is one accepted send.
type Message struct {
	WAMID         string
	Version       string
	PhoneNumberID string
	Request       Request
	Raw           []byte
	Received      time.Time
}

// Read is one accepted read receipt.
type Read struct {
	Version       string
	PhoneNumberID string
	MessageID     string
	// Typing is set when the receipt asked for a typing indicator.
	Typing   bool
	Raw      []byte
	Received time.Time
}

// Request is a request body as Meta reads it (the types our sender uses): a
// message, or a read receipt (Status, MessageID, TypingIndicator). Unknown
// fields are rejected.
type Request struct {
	MessagingProduct string           `json:"messaging_product"`
	RecipientType    string           `json:"recipient_type,omitempty"`
	To               string           `json:"to"`
	Recipient        string           `json:"recipient,omitempty"` // a business-scoped user id, when there is no `to`
	Type             string           `json:"type"`
	Context          *Context         `json:"context,omitempty"`
	Text             *Text            `json:"text,omitempty"`
	Interactive      *Interactive     `json:"interactive,omitempty"`
	Image            *Media           `json:"image,omitempty"`
	Template         *Template        `json:"template,omitempty"`
	Status           string           `json:"status,omitempty"`
	MessageID        string           `json:"message_id,omitempty"`
	TypingIndicator  *TypingIndicator `json:"typing_indicator,omitempty"`
}

// Template is a template message: which approved template, in which
// language, and its parameters.
type Template struct {
	Name       string              `json:"name"`
	Language   *TemplateLanguage   `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// TemplateLanguage is the approved translation to send.
type TemplateLanguage struct {
	Policy string `json:"policy,omitempty"`
	Code   string `json:"code"`
}

// TemplateComponent fills the parameters of a header or the body.
type TemplateComponent struct {
	Type       string              `json:"type"`
	Parameters []TemplateParameter `json:"parameters"`
}

// TemplateParameter is one text parameter.
type TemplateParameter struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// TypingIndicator asks for the typing indicator with a read receipt.
type TypingIndicator struct {
	Type string `json:"type"`
}

// Context quotes an earlier message.
type Context struct {
	MessageID string `json:"message_id"`
}

// Text is a text message.
type Text struct {
	PreviewURL bool   `json:"preview_url,omitempty"`
	Body       string `json:"body"`
}

// Interactive is a reply-buttons or list message.
type Interactive struct {
	Type   string    `json:"type"`
	Header *Header   `json:"header,omitempty"`
	Body   *BodyText `json:"body,omitempty"`
	Footer *BodyText `json:"footer,omitempty"`
	Action *Action   `json:"action,omitempty"`
}

// Header is an interactive message's header.
type Header struct {
	Type  string `json:"type"`
	Text  string `json:"text,omitempty"`
	Image *Media `json:"image,omitempty"`
}

// BodyText is an interactive body or footer.
type BodyText struct {
	Text string `json:"text"`
}

// Action holds the buttons, or the list's label and sections.
type Action struct {
	Buttons  []Button  `json:"buttons,omitempty"`
	Button   string    `json:"button,omitempty"`
	Sections []Section `json:"sections,omitempty"`
}

// Button is a reply button.
type Button struct {
	Type  string `json:"type"`
	Reply Reply  `json:"reply"`
}

// Reply is a reply button's id and title.
type Reply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is a list section.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is a list row.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Media is an image by link or uploaded media id.
type Media struct {
	ID      string `json:"id,omitempty"`
	Link    string `json:"link,omitempty"`
	Caption string `json:"caption,omitempty"`
}

// Failure is an error answer to inject.
type Failure struct {
	HTTPStatus int    // 0: derived from Code (see FailNext)
	Code       int    // Meta error.code
	Message    string // "" : a message like Meta's for Code
	RetryAfter int    // seconds; sets Retry-After when > 0
}

// New starts a fake that accepts token. The caller closes it.
func New(token string) *Server {
	s := &Server{token: token, changed: make(chan struct{}), closed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Start is New closed at the end of t.
func Start(t testing.TB, token string) *Server {
	s := New(token)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	s.srv.Close()
}

// URL is the server's root, without version.
func (s *Server) URL() string { return s.srv.URL }

// BaseURL is the root plus DefaultVersion: what WHATSAPP_API_BASE / Client.BaseURL take.
func (s *Server) BaseURL() string { return s.srv.URL + "/" + DefaultVersion }

// AllowPhoneNumberIDs restricts the business numbers that exist; others get
// Meta's "object does not exist" 400. Without a call any numeric id exists.
func (s *Server) AllowPhoneNumberIDs(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed = map[string]bool{}
	for _, id := range ids {
		s.allowed[id] = true
	}
}

// FailNext makes the next n authenticated calls fail with Meta error code.
// Codes 500-599 are taken as an HTTP status with Meta's transient code 2;
// 130429, 131056, 4 and 80007 answer HTTP 429; other codes answer 400.
func (s *Server) FailNext(n, code int) {
	f := Failure{Code: code}
	if code >= 500 && code < 600 {
		f = Failure{HTTPStatus: code, Code: 2}
	}
	s.FailNextWith(n, f)
}

// FailNextWith queues n copies of f.
func (s *Server) FailNextWith(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failures = append(s.failures, f)
	}
}

// SetDelay makes every answer wait d (or until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Calls is the number of requests received, accepted or not.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Messages returns a copy of the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// MessageCount is how many messages were accepted (len(Messages()) without
// the copy).
func (s *Server) MessageCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}

// Reads returns a copy of the accepted read receipts, in order.
func (s *Server) Reads() []Read {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Read(nil), s.reads...)
}

// CloseWindow puts recipients (phone numbers, with or without '+') outside
// the 24-hour customer-service window: any message to them but a template
// gets 131047. OpenWindow undoes it, as the guest's next message would.
func (s *Server) CloseWindow(recipients ...string) { s.setWindow(true, recipients) }

// OpenWindow puts recipients back inside the window.
func (s *Server) OpenWindow(recipients ...string) { s.setWindow(false, recipients) }

func (s *Server) setWindow(closed bool, recipients []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed24 == nil {
		s.closed24 = map[string]bool{}
	}
	for _, r := range recipients {
		s.closed24[strings.TrimPrefix(r, "+")] = closed
	}
}

// Reset forgets accepted messages and read receipts, queued failures and
// the call count.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted, s.reads, s.failures, s.calls = nil, nil, nil, 0
}

// WaitForMessages waits until at least n messages were accepted and returns
// them all, or fails after timeout with what arrived so far.
func (s *Server) WaitForMessages(n int, timeout time.Duration) ([]Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.accepted) >= n {
			out := append([]Message(nil), s.accepted...)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			got := s.Messages()
			return got, fmt.Errorf("fakegraph: %d of %d messages after %s", len(got), n, timeout)
		}
	}
}

var pathRE = regexp.MustCompile(`^/(v[0-9]+\.[0-9]+)/([0-9]+)/messages$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	delay := s.delay
	token, expired := s.token, s.expired
	s.mu.Unlock()
	// Read the body first: only then does net/http notice a client that
	// hangs up, which cancels r.Context().
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
	}

	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		writeError(w, http.StatusUnauthorized, 2500, "An active access token must be used to query information about the current user.", "", 0)
		return
	case !strings.HasPrefix(auth, "Bearer ") || auth[len("Bearer "):] != token || token == "":
		writeError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token - Cannot parse access token", "", 0)
		return
	case expired:
		writeExpiredToken(w)
		return
	}
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeError(w, http.StatusBadRequest, 2500, "Unknown path components: "+r.URL.Path, "", 0)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, 100, fmt.Sprintf("Unsupported %s request.", strings.ToLower(r.Method)), "", 0)
		return
	}
	version, pnid := m[1], m[2]
	s.mu.Lock()
	exists := s.allowed == nil || s.allowed[pnid]
	var fail *Failure
	if exists && len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		fail = &f
	}
	s.mu.Unlock()
	if !exists {
		writeError(w, http.StatusBadRequest, 100, fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", pnid), "", 0)
		return
	}
	if fail != nil {
		writeFailure(w, *fail)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		invalidParam(w, "Content-Type must be application/json")
		return
	}
	if readErr != nil {
		invalidParam(w, "unreadable body")
		return
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		invalidParam(w, "body: "+err.Error())
		return
	}
	if dec.More() {
		invalidParam(w, "body: trailing data")
		return
	}
	if req.Status != "" || req.MessageID != "" || req.TypingIndicator != nil {
		s.markRead(w, version, pnid, &req, raw)
		return
	}
	if err := validate(&req); err != nil {
		invalidParam(w, err.Error())
		return
	}
	s.mu.Lock()
	outside := req.Type != "template" && s.closed24[strings.TrimPrefix(cmp.Or(req.To, req.Recipient), "+")]
	s.mu.Unlock()
	if outside {
		writeFailure(w, Failure{Code: 131047})
		return
	}

	s.mu.Lock()
	s.seq++
	wamid := wamidOf(pnid, s.seq)
	s.accepted = append(s.accepted, Message{WAMID: wamid, Version: version, PhoneNumberID: pnid, Request: req, Raw: raw, Received: time.Now()})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.To, "wa_id": strings.TrimPrefix(req.To, "+")}},
		"messages":          []map[string]string{{"id": wamid}},
	})
}

// wamidOf is the id of the seq-th message accepted, sent from pnid.
func wamidOf(pnid string, seq int) string {
	return fmt.Sprintf("wamid.HBgLFAKEGRAPH%s%010d", pnid, seq)
}

// NextWAMID is the id the next message accepted from pnid will get, for a
// test that must speak of a message before it is sent (a receipt that races
// its send).
func (s *Server) NextWAMID(pnid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return wamidOf(pnid, s.seq+1)
}

// markRead answers a read receipt, which Meta takes on the messages
// endpoint: {"success": true}, or 400 when it is not one.
func (s *Server) markRead(w http.ResponseWriter, version, pnid string, req *Request, raw []byte) {
	switch {
	case req.MessagingProduct != "whatsapp":
		invalidParam(w, "messaging_product must be \"whatsapp\"")
		return
	case req.Status != "read":
		invalidParam(w, fmt.Sprintf("status %q: only \"read\" can be set", req.Status))
		return
	case strings.TrimSpace(req.MessageID) == "":
		invalidParam(w, "message_id is required")
		return
	case req.TypingIndicator != nil && req.TypingIndicator.Type != "text":
		invalidParam(w, "typing_indicator.type must be \"text\"")
		return
	case req.To != "" || req.Recipient != "" || req.Type != "" || req.RecipientType != "" || req.Context != nil || req.Text != nil ||
		req.Interactive != nil || req.Image != nil || req.Template != nil:
		invalidParam(w, "a read receipt takes messaging_product, status, message_id and typing_indicator only")
		return
	}
	s.mu.Lock()
	s.reads = append(s.reads, Read{Version: version, PhoneNumberID: pnid, MessageID: req.MessageID,
		Typing: req.TypingIndicator != nil, Raw: raw, Received: time.Now()})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"success": true})
}

var phoneRE = regexp.MustCompile(`^\+?[0-9]{1,15}$`)

// userIDRE is a business-scoped user id: country code, dot, optional "ENT."
// (a parent id), letters and digits.
var userIDRE = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`)

// validate applies Meta's rules for the message types we send.
func validate(req *Request) error {
	if req.MessagingProduct != "whatsapp" {
		return errors.New("messaging_product must be \"whatsapp\"")
	}
	if req.RecipientType != "" && req.RecipientType != "individual" {
		return errors.New("recipient_type must be \"individual\"")
	}
	switch {
	case req.To == "" && req.Recipient != "":
		// `to` wins when both are present, as Meta reads them.
		if !userIDRE.MatchString(req.Recipient) {
			return fmt.Errorf("recipient %q is not a user id", req.Recipient)
		}
	case !phoneRE.MatchString(req.To):
		return fmt.Errorf("to %q is not a phone number", req.To)
	}
	present := 0
	for _, p := range []bool{req.Text != nil, req.Interactive != nil, req.Image != nil, req.Template != nil} {
		if p {
			present++
		}
	}
	if present > 1 {
		return errors.New("only the object of the message's type may be present")
	}
	switch req.Type {
	case "text":
		if req.Text == nil {
			return errors.New("text is required for type text")
		}
		return length("text.body", req.Text.Body, 1, 4096)
	case "image":
		if req.Image == nil {
			return errors.New("image is required for type image")
		}
		if err := media("image", req.Image); err != nil {
			return err
		}
		return length("image.caption", req.Image.Caption, 0, 1024)
	case "interactive":
		if req.Interactive == nil {
			return errors.New("interactive is required for type interactive")
		}
		return interactive(req.Interactive)
	case "template":
		if req.Template == nil {
			return errors.New("template is required for type template")
		}
		return template(req.Template)
	case "":
		return errors.New("type is required")
	default:
		return fmt.Errorf("type %q is not implemented by this fake", req.Type)
	}
}

func interactive(in *Interactive) error {
	if in.Action == nil {
		return errors.New("interactive.action is required")
	}
	if in.Body == nil {
		return errors.New("interactive.body is required")
	}
	if in.Footer != nil {
		if err := length("interactive.footer.text", in.Footer.Text, 1, 60); err != nil {
			return err
		}
	}
	switch in.Type {
	case "button":
		if err := length("interactive.body.text", in.Body.Text, 1, 1024); err != nil {
			return err
		}
		if h := in.Header; h != nil {
			switch h.Type {
			case "text":
				if err := length("interactive.header.text", h.Text, 1, 60); err != nil {
					return err
				}
			case "image":
				if h.Image == nil {
					return errors.New("interactive.header.image is required for an image header")
				}
				if err := media("interactive.header.image", h.Image); err != nil {
					return err
				}
			default:
				return fmt.Errorf("interactive.header.type %q is not valid", h.Type)
			}
		}
		a := in.Action
		if a.Button != "" || len(a.Sections) > 0 {
			return errors.New("a button message's action takes only buttons")
		}
		if len(a.Buttons) < 1 || len(a.Buttons) > 3 {
			return fmt.Errorf("interactive.action.buttons must have 1 to 3 buttons, got %d", len(a.Buttons))
		}
		ids, titles := map[string]bool{}, map[string]bool{}
		for i, b := range a.Buttons {
			p := fmt.Sprintf("interactive.action.buttons[%d]", i)
			if b.Type != "reply" {
				return fmt.Errorf("%s.type must be \"reply\"", p)
			}
			if err := length(p+".reply.id", b.Reply.ID, 1, 256); err != nil {
				return err
			}
			if err := length(p+".reply.title", b.Reply.Title, 1, 20); err != nil {
				return err
			}
			if ids[b.Reply.ID] {
				return fmt.Errorf("%s.reply.id %q is not unique", p, b.Reply.ID)
			}
			if titles[b.Reply.Title] {
				return fmt.Errorf("%s.reply.title %q is not unique", p, b.Reply.Title)
			}
			ids[b.Reply.ID], titles[b.Reply.Title] = true, true
		}
	case "list":
		if err := length("interactive.body.text", in.Body.Text, 1, 4096); err != nil {
			return err
		}
		if h := in.Header; h != nil {
			if h.Type != "text" {
				return errors.New("a list's header must be text")
			}
			if err := length("interactive.header.text", h.Text, 1, 60); err != nil {
				return err
			}
		}
		a := in.Action
		if len(a.Buttons) > 0 {
			return errors.New("a list's action takes no buttons")
		}
		if err := length("interactive.action.button", a.Button, 1, 20); err != nil {
			return err
		}
		if len(a.Sections) < 1 || len(a.Sections) > 10 {
			return fmt.Errorf("interactive.action.sections must have 1 to 10 sections, got %d", len(a.Sections))
		}
		rows, ids := 0, map[string]bool{}
		for i, s := range a.Sections {
			p := fmt.Sprintf("interactive.action.sections[%d]", i)
			if err := length(p+".title", s.Title, 1, 24); err != nil {
				return err
			}
			if len(s.Rows) == 0 {
				return fmt.Errorf("%s.rows must not be empty", p)
			}
			for j, row := range s.Rows {
				rp := fmt.Sprintf("%s.rows[%d]", p, j)
				if err := length(rp+".id", row.ID, 1, 200); err != nil {
					return err
				}
				if err := length(rp+".title", row.Title, 1, 24); err != nil {
					return err
				}
				if err := length(rp+".description", row.Description, 0, 72); err != nil {
					return err
				}
				if ids[row.ID] {
					return fmt.Errorf("%s.id %q is not unique", rp, row.ID)
				}
				ids[row.ID] = true
				rows++
			}
		}
		if rows > 10 {
			return fmt.Errorf("a list has at most 10 rows in all, got %d", rows)
		}
	default:
		return fmt.Errorf("interactive.type %q is not implemented by this fake", in.Type)
	}
	return nil
}

var (
	templateNameRE = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	// spacesRE is what Meta refuses in a template parameter: a new line, a
	// tab, or more than four spaces in a row.
	spacesRE = regexp.MustCompile(`[\n\t]| {5,}`)
)

func template(t *Template) error {
	if t.Name == "" {
		return errors.New("template.name is required")
	}
	if !templateNameRE.MatchString(t.Name) {
		return fmt.Errorf("template.name %q: lowercase letters, digits and '_' only", t.Name)
	}
	if t.Language == nil || t.Language.Code == "" {
		return errors.New("template.language.code is required")
	}
	if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
		return fmt.Errorf("template.language.policy %q must be \"deterministic\"", t.Language.Policy)
	}
	for i, c := range t.Components {
		p := fmt.Sprintf("template.components[%d]", i)
		if c.Type != "body" && c.Type != "header" {
			return fmt.Errorf("%s.type %q is not implemented by this fake", p, c.Type)
		}
		if len(c.Parameters) == 0 {
			return fmt.Errorf("%s.parameters must not be empty", p)
		}
		for j, prm := range c.Parameters {
			pp := fmt.Sprintf("%s.parameters[%d]", p, j)
			if prm.Type != "text" {
				return fmt.Errorf("%s.type %q is not implemented by this fake", pp, prm.Type)
			}
			if err := length(pp+".text", prm.Text, 1, 1024); err != nil {
				return err
			}
			if spacesRE.MatchString(prm.Text) {
				return fmt.Errorf("%s.text must not have new lines, tabs or more than 4 consecutive spaces", pp)
			}
		}
	}
	return nil
}

func media(path string, m *Media) error {
	switch {
	case m.ID != "" && m.Link != "":
		return fmt.Errorf("%s takes id or link, not both", path)
	case m.ID != "":
		return nil
	case m.Link == "":
		return fmt.Errorf("%s needs an id or a link", path)
	}
	u, err := url.Parse(m.Link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s.link %q is not an http(s) URL", path, m.Link)
	}
	return nil
}

func length(path, s string, min, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", path)
	}
	n := len(utf16.Encode([]rune(s)))
	if n < min || n > max {
		if min > 0 && n == 0 {
			return fmt.Errorf("%s is required", path)
		}
		return fmt.Errorf("%s must be at most %d characters (UTF-16 code units) long, got %d", path, max, n)
	}
	if min > 0 && strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s must not be blank", path)
	}
	return nil
}

func invalidParam(w http.ResponseWriter, details string) {
	writeError(w, http.StatusBadRequest, 100, "(#100) Invalid parameter", details, 0)
}

func writeFailure(w http.ResponseWriter, f Failure) {
	status := f.HTTPStatus
	if status == 0 {
		switch f.Code {
		case 130429, 131056, 4, 80007:
			status = http.StatusTooManyRequests
		default:
			status = http.StatusBadRequest
		}
	}
	msg := f.Message
	if msg == "" {
		msg = metaMessages[f.Code]
		if msg == "" {
			msg = "Error " + strconv.Itoa(f.Code)
		}
		msg = fmt.Sprintf("(#%d) %s", f.Code, msg)
	}
	writeError(w, status, f.Code, msg, "", f.RetryAfter)
}

var metaMessages = map[int]string{
	1:      "An unknown error occurred",
	2:      "Service temporarily unavailable",
	4:      "Application request limit reached",
	80007:  "Rate limit issues",
	130429: "Rate limit hit",
	131047: "Re-engagement message",
	131056: "(Business Account, Consumer Account) pair rate limit hit",
	131057: "Account in maintenance mode",
}

func writeError(w http.ResponseWriter, status, code int, message, details string, retryAfter int) {
	e := map[string]any{
		"message":    message,
		"type":       "OAuthException",
		"code":       code,
		"fbtrace_id": "AFakeGraphTraceID",
	}
	if code == 2 || code == 1 {
		e["is_transient"] = true
	}
	if details != "" || code >= 130000 {
		if details == "" {
			details = metaMessages[code]
		}
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+message+`"`)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}
