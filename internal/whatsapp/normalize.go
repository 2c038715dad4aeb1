// Package whatsapp is the WhatsApp Cloud API channel: it normalises Meta's
// webhook envelopes into chat.Message / chat.Status values (DecodeWebhook,
// Normalize), rejects a payload of the other channel on its route, and sends
// replies through the Graph API (Client).
package whatsapp

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// ErrorKind is a normalisation problem, named as the original system named
// it; the value is the `error_type` label of
// message_normalization_errors_total. An ErrorKind is an error, so
// errors.Is(err, ErrMissingEntry) works on what Normalize returns.
type ErrorKind string

const (
	// ErrMissingEntry: the envelope has no `entry` or an empty one.
	ErrMissingEntry ErrorKind = "missing_entry"
	// ErrMissingChanges: an entry has no `changes` or an empty one.
	ErrMissingChanges ErrorKind = "missing_changes"
	// ErrMissingMessages: a `messages` change whose value has neither
	// messages, nor statuses, nor errors.
	ErrMissingMessages ErrorKind = "missing_messages"
	// ErrUnexpected: anything else: not a JSON object, a field of the wrong
	// JSON type, a message without sender, an impossible timestamp.
	ErrUnexpected ErrorKind = "unexpected"
)

func (k ErrorKind) Error() string { return "whatsapp normalisation: " + string(k) }

// Problem is one part of an envelope that could not be read. Entry, Change and
// Item locate it (-1 when the problem is above that level); Item indexes
// messages, or statuses when Status is true.
type Problem struct {
	Kind   ErrorKind
	Entry  int
	Change int
	Item   int
	Status bool
	Detail string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(string(p.Kind))
	if p.Entry >= 0 {
		fmt.Fprintf(&b, " at entry[%d]", p.Entry)
		if p.Change >= 0 {
			fmt.Fprintf(&b, ".changes[%d]", p.Change)
			if p.Item >= 0 {
				if p.Status {
					fmt.Fprintf(&b, ".value.statuses[%d]", p.Item)
				} else {
					fmt.Fprintf(&b, ".value.messages[%d]", p.Item)
				}
			}
		}
	}
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	return b.String()
}

// NormalizeError lists every problem of one envelope. It unwraps to the
// problems' kinds.
type NormalizeError struct {
	Problems []Problem
}

func (e *NormalizeError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "whatsapp normalisation: " + strings.Join(parts, "; ")
}

// Unwrap returns the distinct kinds, for errors.Is.
func (e *NormalizeError) Unwrap() []error {
	var out []error
	seen := map[ErrorKind]bool{}
	for _, p := range e.Problems {
		if !seen[p.Kind] {
			seen[p.Kind] = true
			out = append(out, p.Kind)
		}
	}
	return out
}

// NormalizeOptions tunes Normalize. The zero value is ready to use.
type NormalizeOptions struct {
	// Metadata filters each message's client-supplied `metadata`; the zero
	// value applies chat.DefaultAllowedMetadata.
	Metadata chat.MetadataFilter
	// Now stamps messages that carry no timestamp; nil means time.Now.
	Now func() time.Time
}

// Batch is what one webhook envelope carried, in envelope order.
type Batch struct {
	Messages []chat.Message
	Statuses []chat.Status
	// Errors are asynchronous errors Meta reported under value.errors[].
	Errors []chat.Error
	// PhoneNumberIDs and WABAIDs are the distinct, non-empty business numbers
	// (value.metadata.phone_number_id) and accounts (entry[].id) of the
	// changes that carried events, in order: the keys of tenant resolution.
	PhoneNumberIDs []string
	WABAIDs        []string
	// First are the envelope's first identifiers, whatever its changes
	// carry: the keys of the request's own tenant.
	First EnvelopeKeys
	// Fields are the changes of subscribed fields other than messages
	// (account_update, message_template_status_update, ...), in order.
	Fields []FieldEvent

	// origin[i] is the business of the i-th message / status, for ByBusiness.
	msgOrigin    []business
	statusOrigin []business
	errorOrigin  []business
}

// EnvelopeKeys are an envelope's first business number
// (value.metadata.phone_number_id of any change), account (entry[].id) and
// guest (messages[].from, else statuses[].recipient_id, as sent). Unlike
// Batch.PhoneNumberIDs and WABAIDs they include changes without events: an
// account_update names only its account.
type EnvelopeKeys struct {
	PhoneNumberID string
	WABAID        string
	Guest         string
}

// note keeps the first non-empty value of each key.
func (k *EnvelopeKeys) note(phoneNumberID, wabaID, guest string) {
	if k.PhoneNumberID == "" {
		k.PhoneNumberID = phoneNumberID
	}
	if k.WABAID == "" {
		k.WABAID = wabaID
	}
	if k.Guest == "" {
		k.Guest = guest
	}
}

type business struct {
	phoneNumberID string
	wabaID        string
}

// Len is the number of events (messages, statuses and errors).
func (b Batch) Len() int { return len(b.Messages) + len(b.Statuses) + len(b.Errors) }

// ForTenant returns a copy of b with every message and status stamped with
// tenant id. b is not modified.
func (b Batch) ForTenant(id string) Batch {
	out := b
	out.Messages = append([]chat.Message(nil), b.Messages...)
	for i := range out.Messages {
		out.Messages[i].TenantID = id
	}
	out.Statuses = append([]chat.Status(nil), b.Statuses...)
	for i := range out.Statuses {
		out.Statuses[i].TenantID = id
	}
	return out
}

// ByBusiness splits b by business number (phone_number_id, WABA id), in order
// of first appearance, so a batch that mixes hotels can be resolved to a
// tenant per part. Each part has at most one PhoneNumberIDs and one WABAIDs
// entry (none when the envelope lacked it). A batch with one business, or one
// not built by Normalize, comes back as the only part.
func (b Batch) ByBusiness() []Batch {
	if len(b.msgOrigin) != len(b.Messages) || len(b.statusOrigin) != len(b.Statuses) || len(b.errorOrigin) != len(b.Errors) {
		return []Batch{b}
	}
	var order []business
	parts := map[business]*Batch{}
	part := func(o business) *Batch {
		p, ok := parts[o]
		if !ok {
			p = &Batch{PhoneNumberIDs: appendUnique(nil, o.phoneNumberID), WABAIDs: appendUnique(nil, o.wabaID)}
			parts[o] = p
			order = append(order, o)
		}
		return p
	}
	for i, m := range b.Messages {
		p := part(b.msgOrigin[i])
		p.Messages = append(p.Messages, m)
		p.msgOrigin = append(p.msgOrigin, b.msgOrigin[i])
	}
	for i, s := range b.Statuses {
		p := part(b.statusOrigin[i])
		p.Statuses = append(p.Statuses, s)
		p.statusOrigin = append(p.statusOrigin, b.statusOrigin[i])
	}
	for i, e := range b.Errors {
		p := part(b.errorOrigin[i])
		p.Errors = append(p.Errors, e)
		p.errorOrigin = append(p.errorOrigin, b.errorOrigin[i])
	}
	if len(order) <= 1 {
		return []Batch{b}
	}
	out := make([]Batch, len(order))
	for i, o := range order {
		out[i] = *parts[o]
	}
	return out
}

// Wire shapes of Meta's webhook envelope (WhatsApp Cloud API). Only what we use
// is declared; Meta adds fields freely and unknown ones are ignored.
type (
	wireEnvelope struct {
		Entry []wireEntry `json:"entry"`
		// Clues of the email webhook's payload on this route, read in the
		// same pass (chat.CheckChannel).
		Channel chat.LenientString `json:"channel"`
		From    json.RawMessage    `json:"from"`
		Subject json.RawMessage    `json:"subject"`
		Body    json.RawMessage    `json:"body"`
	}
	wireEntry struct {
		ID      string       `json:"id"`
		Changes []wireChange `json:"changes"`
	}
	wireChange struct {
		Field string     `json:"field"`
		Value *wireValue `json:"value"`
	}
	wireValue struct {
		Metadata struct {
			PhoneNumberID string `json:"phone_number_id"`
		} `json:"metadata"`
		Contacts []wireContact `json:"contacts"`
		Messages []wireMessage `json:"messages"`
		Statuses []wireStatus  `json:"statuses"`
		Errors   []wireError   `json:"errors"`
	}
	wireContact struct {
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
		// Profile is read leniently: only display names come from it.
		Profile struct {
			Name     chat.LenientString `json:"name"`
			Username chat.LenientString `json:"username"`
		} `json:"profile"`
	}
	wireMessage struct {
		From string `json:"from"`
		// FromUserID is the sender's business-scoped user id; a sender who
		// hides the phone number behind a username has only this.
		FromUserID string `json:"from_user_id"`
		ID         string `json:"id"`
		Timestamp  string `json:"timestamp"`
		Type       string `json:"type"`
		Text       *struct {
			Body string `json:"body"`
		} `json:"text"`
		Interactive *struct {
			Type        string     `json:"type"`
			ButtonReply *wireReply `json:"button_reply"`
			ListReply   *wireReply `json:"list_reply"`
			NfmReply    *struct {
				Name string `json:"name"`
			} `json:"nfm_reply"`
		} `json:"interactive"`
		Button *struct { // quick-reply button of a template message
			Payload string `json:"payload"`
			Text    string `json:"text"`
		} `json:"button"`
		Image    *wireMedia `json:"image"`
		Audio    *wireMedia `json:"audio"`
		Video    *wireMedia `json:"video"`
		Document *wireMedia `json:"document"`
		Sticker  *wireMedia `json:"sticker"`
		Location *struct {
			Latitude  float64 `json:"latitude"`
			Longitude float64 `json:"longitude"`
			Name      string  `json:"name"`
			Address   string  `json:"address"`
		} `json:"location"`
		// Shared contact cards: their presence is all the agent uses.
		Contacts json.RawMessage `json:"contacts"`
		Order    *struct {
			Text string `json:"text"`
		} `json:"order"`
		Reaction *struct {
			MessageID string `json:"message_id"`
			Emoji     string `json:"emoji"`
		} `json:"reaction"`
		// Edits and deletions of an earlier message name it.
		Edit   *wireTarget `json:"edit"`
		Revoke *wireTarget `json:"revoke"`
		System *struct {
			Type string `json:"type"`
			Body string `json:"body"`
			// The new number: wa_id today, new_wa_id (a string or a
			// number) in older versions; user_id the new user id.
			WaID    flexString `json:"wa_id"`
			NewWaID flexString `json:"new_wa_id"`
			UserID  string     `json:"user_id"`
		} `json:"system"`
		Context  *wireContext  `json:"context"`
		Referral *wireReferral `json:"referral"`
		Errors   []wireError   `json:"errors"`
		// Not Meta's: the original system's clients put metadata on the
		// message (as in its staging payloads). Raw so that a non-object
		// does not cost the message.
		Metadata json.RawMessage `json:"metadata"`
	}
	wireContext struct {
		From                string `json:"from"`
		ID                  string `json:"id"`
		Forwarded           bool   `json:"forwarded"`
		FrequentlyForwarded bool   `json:"frequently_forwarded"`
		ReferredProduct     *struct {
			CatalogID         string `json:"catalog_id"`
			ProductRetailerID string `json:"product_retailer_id"`
		} `json:"referred_product"`
	}
	// wireReferral is the ad or post a click-to-WhatsApp guest came from.
	wireReferral struct {
		SourceURL  string `json:"source_url"`
		SourceID   string `json:"source_id"`
		SourceType string `json:"source_type"`
		Headline   string `json:"headline"`
		Body       string `json:"body"`
		MediaType  string `json:"media_type"`
		ImageURL   string `json:"image_url"`
		VideoURL   string `json:"video_url"`
		CtwaClid   string `json:"ctwa_clid"`
	}
	wireTarget struct {
		OriginalMessageID string `json:"original_message_id"`
		MessageID         string `json:"message_id"`
	}
	wireReply struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	wireMedia struct {
		ID       string `json:"id"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
		Caption  string `json:"caption"`
		Filename string `json:"filename"`
		Voice    bool   `json:"voice"`
	}
	wireStatus struct {
		ID              string      `json:"id"`
		Status          string      `json:"status"`
		Timestamp       string      `json:"timestamp"`
		RecipientID     string      `json:"recipient_id"`
		RecipientUserID string      `json:"recipient_user_id"`
		Errors          []wireError `json:"errors"`
		Conversation    *struct {
			ID                  string     `json:"id"`
			ExpirationTimestamp flexString `json:"expiration_timestamp"`
			Origin              struct {
				Type string `json:"type"`
			} `json:"origin"`
		} `json:"conversation"`
		Pricing *struct {
			Billable     *bool  `json:"billable"`
			PricingModel string `json:"pricing_model"`
			Category     string `json:"category"`
			Type         string `json:"type"`
		} `json:"pricing"`
	}
	wireError struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	}
)

// flexString is a JSON string or number, read as its text; anything else
// is "". Meta has sent some identifiers and timestamps both ways.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *flexString) UnmarshalJSON(b []byte) error {
	*s = ""
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if json.Unmarshal(b, &v) == nil {
			*s = flexString(v)
		}
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		var n json.Number
		if json.Unmarshal(b, &n) == nil {
			*s = flexString(n.String())
		}
	}
	return nil
}

// Normalize reads a webhook envelope. It returns everything it could read and,
// when some part could not be read, a *NormalizeError listing each problem
// (every problem is also counted in message_normalization_errors_total).
//
// A partly bad envelope is not all-or-nothing: one malformed message does not
// cost its neighbours. So the caller acknowledges and processes whatever Batch
// holds, and treats the error as something to log. When Batch is empty and the
// error is set, nothing in the envelope was usable; the body passed signature
// and JSON checks, so redelivery would not fix it either, and acknowledging is
// still right (Meta retries non-2xx answers for days).
//
// Messages get Channel, ID, From (E.164 digits), To (phone_number_id), Name,
// Timestamp, Kind and the kind's fields; TenantID is left empty (see
// Batch.ForTenant). A message without an id (like the original system's
// staging payloads) gets a stable synthetic one, "nid.<hex>", derived from its
// content, so a redelivery deduplicates all the same.
func Normalize(body []byte, opts NormalizeOptions) (Batch, error) {
	return decode(body, opts, false)
}

// ErrNotJSON is a webhook body that is not valid JSON; the webhook answers
// it with 400 (a signed body that is not JSON is the sender's mistake).
var ErrNotJSON = errors.New("body is not valid JSON")

// DecodeWebhook is Normalize for a payload that arrived on the WhatsApp
// route, in one decode: it also refuses a payload of another channel
// (*chat.SpoofingError, counted in channel_spoofing_detected_total) and a
// body that is not valid JSON (an error that errors.Is ErrNotJSON), before
// reading any event. Every other problem is Normalize's: what could be read
// is in Batch, the rest in a *NormalizeError.
func DecodeWebhook(body []byte, opts NormalizeOptions) (Batch, error) {
	return decode(body, opts, true)
}

func decode(body []byte, opts NormalizeOptions, checkRoute bool) (Batch, error) {
	start := time.Now()
	b, problems, err := normalize(body, opts, checkRoute)
	if err != nil {
		return Batch{}, err
	}
	if len(b.Fields) > 0 {
		withFieldValues(dropNULEscapes(body), b.Fields)
	}
	normalizationLatency().Observe(time.Since(start).Seconds())
	if len(problems) == 0 {
		return b, nil
	}
	for _, p := range problems {
		chat.RecordNormalizationError(chat.WhatsApp, string(p.Kind))
	}
	return b, &NormalizeError{Problems: problems}
}

// normalizationLatency is the channel's series, looked up once, on first
// use (so it still appears with the first webhook).
var normalizationLatency = sync.OnceValue(func() prometheus.Observer {
	return chat.NormalizationLatency.WithLabelValues(string(chat.WhatsApp))
})

// notJSON is the problem of a body that is not valid JSON: it is not an
// object either.
type notJSON struct{ *NormalizeError }

func (notJSON) Is(target error) bool { return target == ErrNotJSON }

func normalize(body []byte, opts NormalizeOptions, checkRoute bool) (Batch, []Problem, error) {
	body = dropNULEscapes(body)
	// Built only when returned: it was an allocation of every webhook.
	notObject := func() []Problem {
		return []Problem{{Kind: ErrUnexpected, Entry: -1, Change: -1, Item: -1, Detail: "not a JSON object"}}
	}
	if !isObject(body) {
		if checkRoute && len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
			return Batch{}, nil, notJSON{&NormalizeError{Problems: notObject()}}
		}
		return Batch{}, notObject(), nil
	}
	var env wireEnvelope
	// The common envelope is read by hand (fastdecode.go), exactly as
	// encoding/json reads it; anything else by encoding/json.
	if !fastEnvelope(body, &env) {
		env = wireEnvelope{}
		if err := json.Unmarshal(body, &env); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
				if checkRoute {
					return Batch{}, nil, notJSON{&NormalizeError{Problems: notObject()}}
				}
				return Batch{}, notObject(), nil
			}
			// A field of the wrong type somewhere. The decoder went on past it,
			// so the route's clues are read; the events are read again level
			// by level so that only the bad parts are lost.
			if checkRoute {
				if err := chat.CheckChannel(chat.WhatsApp, env.clues()); err != nil {
					return Batch{}, nil, err
				}
			}
			b, problems := salvage(body, opts)
			return b, problems, nil
		}
	}
	if checkRoute {
		if err := chat.CheckChannel(chat.WhatsApp, env.clues()); err != nil {
			return Batch{}, nil, err
		}
	}
	n := &normalizer{opts: opts}
	if len(env.Entry) == 0 {
		n.problem(ErrMissingEntry, -1, -1, -1, false, "")
		return n.batch, n.problems, nil
	}
	for ei := range env.Entry {
		e := &env.Entry[ei]
		n.batch.First.note("", e.ID, "")
		if len(e.Changes) == 0 {
			n.problem(ErrMissingChanges, ei, -1, -1, false, "")
			continue
		}
		for ci := range e.Changes {
			c := &e.Changes[ci]
			n.change(ei, ci, e.ID, c.Field, c.Value, nil)
		}
	}
	return n.batch, n.problems, nil
}

func (e *wireEnvelope) clues() chat.ChannelClues {
	return chat.ChannelClues{Said: string(e.Channel), LooksGmail: e.From != nil && (e.Subject != nil || e.Body != nil)}
}

type normalizer struct {
	opts     NormalizeOptions
	batch    Batch
	problems []Problem
}

func (n *normalizer) problem(k ErrorKind, entry, change, item int, status bool, detail string) {
	n.problems = append(n.problems, Problem{Kind: k, Entry: entry, Change: change, Item: item, Status: status, Detail: detail})
}

// change reads one change's value. On the salvage path raws holds the
// messages and statuses undecoded, so that each is decoded on its own.
func (n *normalizer) change(ei, ci int, wabaID, field string, v *wireValue, raws *wireValueRaws) {
	n.noteKeys(wabaID, v)
	// Other subscribed fields (account_update, templates, ...) are
	// legitimate events the agent does not answer, not errors: they are
	// kept with their business identifiers, for whoever acknowledges them.
	if field != "" && field != "messages" {
		ev := FieldEvent{Field: field, WABAID: wabaID, entry: ei, change: ci}
		if v != nil {
			ev.PhoneNumberID = v.Metadata.PhoneNumberID
		}
		n.batch.Fields = append(n.batch.Fields, ev)
		return
	}
	if v == nil {
		n.problem(ErrMissingMessages, ei, ci, -1, false, "change has no value")
		return
	}
	nMsgs, nStatuses := len(v.Messages), len(v.Statuses)
	if raws != nil {
		nMsgs, nStatuses = len(raws.messages), len(raws.statuses)
	}
	if nMsgs == 0 && nStatuses == 0 && len(v.Errors) == 0 && (raws == nil || !raws.malformed) {
		n.problem(ErrMissingMessages, ei, ci, -1, false, "")
		return
	}
	origin := business{phoneNumberID: v.Metadata.PhoneNumberID, wabaID: wabaID}
	n.batch.PhoneNumberIDs = appendUnique(n.batch.PhoneNumberIDs, origin.phoneNumberID)
	n.batch.WABAIDs = appendUnique(n.batch.WABAIDs, origin.wabaID)
	n.batch.Messages = slices.Grow(n.batch.Messages, nMsgs)
	n.batch.msgOrigin = slices.Grow(n.batch.msgOrigin, nMsgs)

	for mi := 0; mi < nMsgs; mi++ {
		var wm *wireMessage
		if raws != nil {
			var bad []string
			var err error
			if wm, bad, err = lenient[wireMessage](raws.messages[mi], essentialMessageFields); err != nil {
				n.problem(ErrUnexpected, ei, ci, mi, false, err.Error())
				continue
			}
			if len(bad) > 0 {
				n.problem(ErrUnexpected, ei, ci, mi, false, "unreadable "+strings.Join(bad, ", ")+"; the rest of the message is kept")
			}
		} else {
			wm = &v.Messages[mi]
		}
		n.batch.First.note("", "", cmp.Or(wm.From, wm.FromUserID))
		m, detail := n.message(wm, v)
		if detail != "" {
			n.problem(ErrUnexpected, ei, ci, mi, false, detail)
			continue
		}
		m.To = origin.phoneNumberID
		n.batch.Messages = append(n.batch.Messages, m)
		n.batch.msgOrigin = append(n.batch.msgOrigin, origin)
	}
	for si := 0; si < nStatuses; si++ {
		var ws *wireStatus
		if raws != nil {
			var bad []string
			var err error
			if ws, bad, err = lenient[wireStatus](raws.statuses[si], essentialStatusFields); err != nil {
				n.problem(ErrUnexpected, ei, ci, si, true, err.Error())
				continue
			}
			if len(bad) > 0 {
				n.problem(ErrUnexpected, ei, ci, si, true, "unreadable "+strings.Join(bad, ", ")+"; the rest of the status is kept")
			}
		} else {
			ws = &v.Statuses[si]
		}
		n.batch.First.note("", "", cmp.Or(ws.RecipientID, ws.RecipientUserID))
		s, detail := n.status(ws)
		if detail != "" {
			n.problem(ErrUnexpected, ei, ci, si, true, detail)
			continue
		}
		n.batch.Statuses = append(n.batch.Statuses, s)
		n.batch.statusOrigin = append(n.batch.statusOrigin, origin)
	}
	for _, we := range v.Errors {
		n.batch.Errors = append(n.batch.Errors, chatError(we))
		n.batch.errorOrigin = append(n.batch.errorOrigin, origin)
	}
}

// noteKeys records the change's business identifiers in Batch.First,
// whatever its field, before anything decides whether the change carries
// events. The guest is noted as each item is read.
func (n *normalizer) noteKeys(wabaID string, v *wireValue) {
	if v == nil {
		n.batch.First.note("", wabaID, "")
		return
	}
	n.batch.First.note(v.Metadata.PhoneNumberID, wabaID, "")
}

// message converts one wire message, or says why it cannot.
func (n *normalizer) message(wm *wireMessage, v *wireValue) (chat.Message, string) {
	contact := findContact(v.Contacts, wm.From, wm.FromUserID)
	userID := strings.TrimSpace(wm.FromUserID)
	if userID == "" && contact != nil {
		userID = contact.UserID
	}
	if !IsUserID(userID) {
		userID = ""
	}
	from, ok := e164Digits(wm.From)
	switch {
	case ok:
	case wm.From == "" && userID != "":
		// A guest known by a username: the user id is all there is to
		// answer to.
		from = userID
	case wm.From == "":
		return chat.Message{}, "message has no sender"
	default:
		return chat.Message{}, "sender is not a phone number"
	}
	ts, ok := n.timestamp(wm.Timestamp)
	if !ok {
		return chat.Message{}, "timestamp is not unix seconds"
	}
	m := chat.Message{
		Channel:   chat.WhatsApp,
		ID:        wm.ID,
		From:      from,
		UserID:    userID,
		Timestamp: ts,
	}
	if contact != nil {
		m.Name = string(contact.Profile.Name)
		m.Username = string(contact.Profile.Username)
	}
	if wm.Context != nil {
		m.ContextID = wm.Context.ID
	}
	if !readKind(&m, wm) {
		m = unsupported(m, wm)
	}
	if m.ID == "" {
		m.ID = syntheticID(v.Metadata.PhoneNumberID, wm, m)
	}
	m.Metadata = withMetaFacts(n.opts.Metadata.Apply(chat.DecodeMetadata(wm.Metadata)), wm)
	return m, ""
}

// Keys of chat.Message.Metadata that carry Meta's own facts about a
// message. They are set from Meta's fields, after the client metadata's
// allowlist, and replace any client value of the same name.
const (
	MetaReferral            = "referral"
	MetaForwarded           = "forwarded"
	MetaFrequentlyForwarded = "frequently_forwarded"
	MetaReferredProduct     = "referred_product"
)

// withMetaFacts adds to md what Meta said about where the message came
// from: the ad or post the guest clicked (referral), whether it was
// forwarded, the catalogue product it asks about.
func withMetaFacts(md map[string]any, wm *wireMessage) map[string]any {
	set := func(k string, v any) {
		if md == nil {
			md = map[string]any{}
		}
		md[k] = v
	}
	if r := wm.Referral; r != nil {
		ref := map[string]any{}
		for k, v := range map[string]string{
			"source_url": r.SourceURL, "source_id": r.SourceID, "source_type": r.SourceType,
			"headline": r.Headline, "body": r.Body, "media_type": r.MediaType,
			"image_url": r.ImageURL, "video_url": r.VideoURL, "ctwa_clid": r.CtwaClid,
		} {
			if v != "" {
				ref[k] = v
			}
		}
		set(MetaReferral, ref)
	}
	if c := wm.Context; c != nil {
		if c.Forwarded {
			set(MetaForwarded, true)
		}
		if c.FrequentlyForwarded {
			set(MetaFrequentlyForwarded, true)
		}
		if p := c.ReferredProduct; p != nil {
			set(MetaReferredProduct, map[string]any{"catalog_id": p.CatalogID, "product_retailer_id": p.ProductRetailerID})
		}
	}
	return md
}

// readKind fills m's kind and the kind's fields; false means the agent cannot
// use this message and it is to be marked unsupported.
func readKind(m *chat.Message, wm *wireMessage) bool {
	switch wm.Type {
	case "text":
		if wm.Text == nil {
			return false
		}
		m.Kind = chat.KindText
		m.Text = wm.Text.Body
	case "interactive":
		in := wm.Interactive
		switch {
		case in != nil && in.Type == "button_reply" && in.ButtonReply != nil:
			m.Kind = chat.KindButtonReply
			m.ReplyID = in.ButtonReply.ID
			m.Text = in.ButtonReply.Title
		case in != nil && in.Type == "list_reply" && in.ListReply != nil:
			m.Kind = chat.KindListReply
			m.ReplyID = in.ListReply.ID
			m.Text = in.ListReply.Title
		case in != nil && in.Type == "nfm_reply" && in.NfmReply != nil:
			// The answers of a Flow: the hotel sends no Flows, so there
			// is nothing the agent could match them to.
			m.Kind = chat.KindFlowReply
		default:
			return false
		}
	case "button":
		// A tapped quick-reply button of a template: the same thing to the
		// agent as an interactive button reply.
		if wm.Button == nil {
			return false
		}
		m.Kind = chat.KindButtonReply
		m.ReplyID = wm.Button.Payload
		m.Text = wm.Button.Text
	case "image", "audio", "video", "document", "sticker":
		media, kind := mediaOf(wm)
		if media == nil {
			return false
		}
		m.Kind = kind
		m.Media = chatMedia(media)
		// A caption is what the guest wrote with the file.
		m.Text = media.Caption
	case "location":
		l := wm.Location
		if l == nil || math.Abs(l.Latitude) > 90 || math.Abs(l.Longitude) > 180 {
			return false
		}
		m.Kind = chat.KindLocation
		m.Location = &chat.Location{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	case "contacts":
		if isNull(wm.Contacts) {
			return false
		}
		m.Kind = chat.KindContacts
	case "order":
		if wm.Order == nil {
			return false
		}
		m.Kind = chat.KindOrder
		m.Text = wm.Order.Text
	case "reaction":
		if wm.Reaction == nil {
			return false
		}
		m.Kind = chat.KindReaction
		m.Target = wm.Reaction.MessageID
		m.Emoji = wm.Reaction.Emoji
	case "edit", "revoke":
		m.Kind = chat.KindEdit
		t := wm.Edit
		if wm.Type == "revoke" {
			m.Kind, t = chat.KindRevoke, wm.Revoke
		}
		if t != nil {
			m.Target = cmp.Or(t.OriginalMessageID, t.MessageID)
		}
	case "system":
		if wm.System == nil {
			return false
		}
		m.Kind = chat.KindSystem
		sys := &chat.System{Type: wm.System.Type, Body: wm.System.Body}
		switch sys.Type {
		case chat.SystemChangedNumber:
			if d, ok := e164Digits(string(cmp.Or(wm.System.WaID, wm.System.NewWaID))); ok {
				sys.NewID = d
			}
		case chat.SystemChangedUserID:
			if IsUserID(wm.System.UserID) {
				sys.NewID = wm.System.UserID
			}
		}
		if sys.NewID != "" && sys.NewID != m.From {
			// The guest's conversation continues under the new
			// identifier: the notice goes first in it.
			sys.FormerID, m.From = m.From, sys.NewID
			if IsUserID(sys.NewID) {
				m.UserID = sys.NewID
			}
		}
		m.System = sys
	case "request_welcome":
		m.Kind = chat.KindWelcome
	default:
		// "unsupported", and types Meta adds later.
		return false
	}
	return true
}

// mediaOf is the attachment of a media message and its kind.
func mediaOf(wm *wireMessage) (*wireMedia, chat.Kind) {
	switch wm.Type {
	case "image":
		return wm.Image, chat.KindImage
	case "audio":
		return wm.Audio, chat.KindAudio
	case "video":
		return wm.Video, chat.KindVideo
	case "document":
		return wm.Document, chat.KindDocument
	case "sticker":
		return wm.Sticker, chat.KindSticker
	}
	return nil, ""
}

// findContact is the contact entry of the sender: the one whose wa_id is
// from or whose user_id is userID. Meta lists one contact per sender; a
// single contact is the sender.
func findContact(contacts []wireContact, from, userID string) *wireContact {
	if len(contacts) == 1 {
		return &contacts[0]
	}
	digits, _ := e164Digits(from)
	for i, c := range contacts {
		if (from != "" && c.WaID == from) || (userID != "" && c.UserID == userID) {
			return &contacts[i]
		}
	}
	for i, c := range contacts {
		if d, _ := e164Digits(c.WaID); d != "" && d == digits {
			return &contacts[i]
		}
	}
	return nil
}

func unsupported(m chat.Message, wm *wireMessage) chat.Message {
	m.Kind = chat.KindUnsupported
	for _, media := range []*wireMedia{wm.Video, wm.Document, wm.Sticker, wm.Image, wm.Audio} {
		if media != nil {
			m.Media = chatMedia(media)
			m.Text = media.Caption
			break
		}
	}
	for _, we := range wm.Errors {
		m.Errors = append(m.Errors, chatError(we))
	}
	return m
}

func (n *normalizer) status(ws *wireStatus) (chat.Status, string) {
	if ws.ID == "" {
		return chat.Status{}, "status has no message id"
	}
	if ws.Status == "" {
		return chat.Status{}, "status has no status"
	}
	ts, ok := n.timestamp(ws.Timestamp)
	if !ok {
		return chat.Status{}, "timestamp is not unix seconds"
	}
	rcpt, ok := e164Digits(ws.RecipientID)
	if !ok {
		// Group and other recipients are not phone numbers; keep as sent.
		rcpt = ws.RecipientID
	}
	userID := ""
	if IsUserID(ws.RecipientUserID) {
		userID = ws.RecipientUserID
	}
	if rcpt == "" {
		// Sent to a user id: Meta names no number.
		rcpt = userID
	}
	s := chat.Status{
		Channel:         chat.WhatsApp,
		MessageID:       ws.ID,
		Status:          ws.Status,
		Recipient:       rcpt,
		RecipientUserID: userID,
		Timestamp:       ts,
	}
	for _, we := range ws.Errors {
		s.Errors = append(s.Errors, chatError(we))
	}
	if c := ws.Conversation; c != nil {
		s.Conversation = &chat.Conversation{ID: c.ID, Origin: c.Origin.Type}
		if sec, err := strconv.ParseInt(string(c.ExpirationTimestamp), 10, 64); err == nil && sec > 0 && sec <= maxUnix {
			t := time.Unix(sec, 0).UTC()
			s.Conversation.ExpiresAt = &t
		}
	}
	if p := ws.Pricing; p != nil {
		s.Pricing = &chat.Pricing{Billable: p.Billable, Model: p.PricingModel, Category: p.Category, Type: p.Type}
	}
	return s, ""
}

// maxUnix is 9999-12-31T23:59:59Z: later instants cannot be serialised as
// RFC 3339 and are no real message's.
const maxUnix = 253402300799

func (n *normalizer) timestamp(s string) (time.Time, bool) {
	if s == "" {
		if n.opts.Now != nil {
			return n.opts.Now().UTC(), true
		}
		return time.Now().UTC(), true
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 || sec > maxUnix {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

func chatMedia(w *wireMedia) *chat.Media {
	return &chat.Media{ID: w.ID, MimeType: w.MimeType, SHA256: w.SHA256, Caption: w.Caption, Filename: w.Filename, Voice: w.Voice}
}

func chatError(we wireError) chat.Error {
	title := we.Title
	if title == "" {
		title = we.Message
	}
	return chat.Error{Code: we.Code, Title: title, Message: we.Message, Details: we.ErrorData.Details}
}

// syntheticID derives a stable id for a message that came without one.
func syntheticID(phoneNumberID string, wm *wireMessage, m chat.Message) string {
	h := sha256.New()
	for _, s := range []string{phoneNumberID, m.From, wm.Timestamp, wm.Type, string(m.Kind), m.Text, m.ReplyID, m.ContextID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if m.Media != nil {
		h.Write([]byte(m.Media.ID))
	}
	if m.Location != nil {
		fmt.Fprintf(h, "%v,%v", m.Location.Latitude, m.Location.Longitude)
	}
	return "nid." + hex.EncodeToString(h.Sum(nil)[:16])
}

// e164Digits normalises a phone number to E.164 digits without '+': it drops
// '+', spaces, dashes, dots and parentheses, and accepts the result only if it
// is 1 to 15 digits (E.164's maximum; Meta's wa_id is the same digits).
func e164Digits(s string) (string, bool) {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		b.Grow(len(s))
		for _, r := range s {
			switch {
			case r >= '0' && r <= '9':
				b.WriteRune(r)
			case r == '+' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
			default:
				return "", false
			}
		}
		s = b.String()
	}
	if len(s) == 0 || len(s) > 15 {
		return "", false
	}
	return s, true
}

// appendUnique appends s unless it is empty or already in list.
func appendUnique(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func isObject(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

func jsonDetail(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("a JSON %s where %s was expected", te.Value, te.Type)
	}
	return err.Error()
}
