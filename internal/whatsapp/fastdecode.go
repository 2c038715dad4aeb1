package whatsapp

import (
	"bytes"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/jsonscan"
)

// The common envelope (a guest's text message: entry, changes, metadata,
// contacts, messages with text) is read by hand: encoding/json's validity
// pass and its reflection were most of a webhook's decode. The hand reader
// takes only what it can give exactly as encoding/json would: the member
// names of that shape spelled exactly, each once; strings without escapes,
// valid UTF-8; no nulls where a value is read. Any other member name that
// encoding/json would match to a field (another field, or a case variant),
// anything else it is unsure of, and any syntax error, leave the envelope to
// encoding/json, whose reading (errors included) is then the only one.
// TestFastEnvelopeIsTheDecoders and FuzzFastEnvelope hold it to that.

// Field names of each wire struct, as encoding/json matches them: any
// member that folds to one of these and is not read by hand sends the
// envelope to encoding/json.
var (
	envelopeFields = []string{"entry", "channel", "from", "subject", "body"}
	entryFields    = []string{"id", "changes"}
	changeFields   = []string{"field", "value"}
	valueFields    = []string{"metadata", "contacts", "messages", "statuses", "errors"}
	metadataFields = []string{"phone_number_id"}
	contactFields  = []string{"wa_id", "user_id", "profile"}
	profileFields  = []string{"name", "username"}
	messageFields  = []string{"from", "from_user_id", "id", "timestamp", "type", "text", "interactive", "button", "image",
		"audio", "video", "document", "sticker", "location", "contacts", "order", "reaction", "edit", "revoke", "system",
		"context", "referral", "errors", "metadata"}
	textFields = []string{"body"}
)

// fastEnvelope reads body into env when it has the common shape; false
// leaves env unspecified, for encoding/json to read from scratch.
func fastEnvelope(body []byte, env *wireEnvelope) bool {
	s := jsonscan.New(body)
	var seenEntry bool
	ok := object(s, envelopeFields, func(name string) bool {
		if name != "entry" || seenEntry {
			return false
		}
		seenEntry = true
		return array(s, &env.Entry, readEntry)
	})
	if !ok {
		return false
	}
	s.Space()
	return s.End()
}

func readEntry(s *jsonscan.Scanner, e *wireEntry) bool {
	var seen [2]bool
	return object(s, entryFields, func(name string) bool {
		switch name {
		case "id":
			return once(&seen[0]) && str(s, &e.ID)
		case "changes":
			return once(&seen[1]) && array(s, &e.Changes, readChange)
		}
		return false
	})
}

func readChange(s *jsonscan.Scanner, c *wireChange) bool {
	var seen [2]bool
	return object(s, changeFields, func(name string) bool {
		switch name {
		case "field":
			return once(&seen[0]) && str(s, &c.Field)
		case "value":
			if !once(&seen[1]) {
				return false
			}
			c.Value = new(wireValue)
			return readValue(s, c.Value)
		}
		return false
	})
}

func readValue(s *jsonscan.Scanner, v *wireValue) bool {
	var seen [3]bool
	return object(s, valueFields, func(name string) bool {
		switch name {
		case "metadata":
			var seenID bool
			return once(&seen[0]) && object(s, metadataFields, func(name string) bool {
				return name == "phone_number_id" && once(&seenID) && str(s, &v.Metadata.PhoneNumberID)
			})
		case "contacts":
			return once(&seen[1]) && array(s, &v.Contacts, readContact)
		case "messages":
			return once(&seen[2]) && array(s, &v.Messages, readMessage)
		}
		return false
	})
}

func readContact(s *jsonscan.Scanner, c *wireContact) bool {
	var seen [3]bool
	return object(s, contactFields, func(name string) bool {
		switch name {
		case "wa_id":
			return once(&seen[0]) && str(s, &c.WaID)
		case "user_id":
			return once(&seen[1]) && str(s, &c.UserID)
		case "profile":
			var seenName, seenUser bool
			return once(&seen[2]) && object(s, profileFields, func(name string) bool {
				var v string
				switch name {
				case "name":
					if !once(&seenName) || !str(s, &v) {
						return false
					}
					c.Profile.Name = chat.LenientString(v)
					return true
				case "username":
					if !once(&seenUser) || !str(s, &v) {
						return false
					}
					c.Profile.Username = chat.LenientString(v)
					return true
				}
				return false
			})
		}
		return false
	})
}

func readMessage(s *jsonscan.Scanner, m *wireMessage) bool {
	var seen [6]bool
	return object(s, messageFields, func(name string) bool {
		switch name {
		case "from":
			return once(&seen[0]) && str(s, &m.From)
		case "from_user_id":
			return once(&seen[1]) && str(s, &m.FromUserID)
		case "id":
			return once(&seen[2]) && str(s, &m.ID)
		case "timestamp":
			return once(&seen[3]) && str(s, &m.Timestamp)
		case "type":
			return once(&seen[4]) && str(s, &m.Type)
		case "text":
			if !once(&seen[5]) {
				return false
			}
			m.Text = &struct {
				Body string `json:"body"`
			}{}
			var seenBody bool
			return object(s, textFields, func(name string) bool {
				return name == "body" && once(&seenBody) && str(s, &m.Text.Body)
			})
		}
		return false
	})
}

// once marks a member read; false the second time (a repeated member is
// encoding/json's: it merges or replaces).
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// str reads a string value (no null: encoding/json leaves the field as it
// was, which a repeated member would make matter).
func str(s *jsonscan.Scanner, dst *string) bool {
	v, ok := s.String()
	*dst = v
	return ok
}

// object reads an object, handing each member whose name is one of fields
// (spelled exactly) to read, which must consume its value. A member whose
// name folds to one of fields otherwise, or has a byte outside ASCII
// (encoding/json folds a few such letters), is not handled; any other is
// skipped, as encoding/json ignores it.
func object(s *jsonscan.Scanner, fields []string, read func(name string) bool) bool {
	empty, ok := s.Open('{')
	if !ok {
		return false
	}
	if empty {
		return true
	}
	for {
		key, ok := s.Key()
		if !ok {
			return false
		}
		if name, exact, known := match(key, fields); known {
			if !exact || !read(name) {
				return false
			}
		} else if !s.Skip() {
			return false
		}
		more, ok := s.Next('}')
		if !ok {
			return false
		}
		if !more {
			return true
		}
	}
}

// match finds key among fields: exact, or only equal under ASCII case
// folding (known but not exact). A key with a non-ASCII byte is reported
// known and not exact, so that it is never skipped by mistake.
func match(key []byte, fields []string) (name string, exact, known bool) {
	for _, c := range key {
		if c >= 0x80 {
			return "", false, true
		}
	}
	for _, f := range fields {
		if string(key) == f {
			return f, true, true
		}
	}
	for _, f := range fields {
		if bytes.EqualFold(key, []byte(f)) { // key is ASCII: its plain case folding
			return f, false, true
		}
	}
	return "", false, false
}

// array reads an array of objects into *dst, each by read; an empty array
// is an empty, non-nil list, as encoding/json makes it.
func array[T any](s *jsonscan.Scanner, dst *[]T, read func(*jsonscan.Scanner, *T) bool) bool {
	empty, ok := s.Open('[')
	if !ok {
		return false
	}
	if empty {
		*dst = make([]T, 0)
		return true
	}
	for {
		var zero T
		*dst = append(*dst, zero)
		if !read(s, &(*dst)[len(*dst)-1]) {
			return false
		}
		more, ok := s.Next(']')
		if !ok {
			return false
		}
		if !more {
			return true
		}
	}
}
