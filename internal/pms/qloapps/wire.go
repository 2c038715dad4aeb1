package qloapps

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// QloApps renders its webservice JSON from PHP arrays, which gives a few
// shapes a strict decoder would reject: numbers as strings ("1"), multilingual
// fields as [{"id":"1","value":"..."}] (or a plain string when a language is
// selected), lists as objects when PHP keyed them by id, and an empty list as
// [] where an object is expected. The types below accept each of those.

// flexInt is a JSON number, a numeric string, "" or null (0).
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" || s == "false" {
		*n = 0
		return nil
	}
	if s == "true" {
		*n = 1
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*n = flexInt(v)
	return nil
}

// flexFloat is a JSON number, a numeric string, "" or null (0).
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*f = flexFloat(v)
	return nil
}

// flexString is a JSON string, number or null.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*s = ""
		return nil
	}
	if b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if b[0] == '{' || b[0] == '[' {
		return fmt.Errorf("not a string: %.40s", b)
	}
	*s = flexString(b)
	return nil
}

// langValue is one language's text of a multilingual field.
type langValue struct {
	ID    flexInt    `json:"id"`
	Value flexString `json:"value"`
}

// langField is a multilingual field: [{"id":"1","value":"..."}], or a plain
// string when the request selected one language.
type langField []langValue

func (l *langField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*l = nil
		return nil
	}
	if b[0] == '[' {
		var vs []langValue
		if err := json.Unmarshal(b, &vs); err != nil {
			return err
		}
		*l = vs
		return nil
	}
	var s flexString
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = langField{{Value: s}}
	return nil
}

// first is the first text of the field ("" when it has none).
func (l langField) first() string {
	for _, v := range l {
		if v.Value != "" {
			return string(v.Value)
		}
	}
	return ""
}

// text is the field in every language QloApps gave it in, by ISO code
// (codes: QloApps' language ids to their codes), each text passed through
// clean. Without codes (the key may not read languages), or when no
// language is known (a plain string), it is the first text, untranslated.
func (l langField) text(codes map[int]string, clean func(string) string) pms.Text {
	t := pms.Text{}
	for _, v := range l {
		code, ok := codes[int(v.ID)]
		if s := clean(string(v.Value)); ok && s != "" {
			t[code] = s
		}
	}
	if len(t) == 0 {
		return pms.Untranslated(clean(l.first()))
	}
	return t
}

// flexList is a JSON list, or an object whose values are the elements (PHP
// arrays keyed by id), or null/""/false (empty).
type flexList[T any] []T

func (l *flexList[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` || string(b) == "false" {
		*l = nil
		return nil
	}
	switch b[0] {
	case '[':
		var vs []T
		if err := json.Unmarshal(b, &vs); err != nil {
			return err
		}
		*l = vs
		return nil
	case '{':
		var m map[string]T
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, ea := strconv.Atoi(keys[i])
			c, ec := strconv.Atoi(keys[j])
			if ea == nil && ec == nil {
				return a < c
			}
			return keys[i] < keys[j]
		})
		out := make([]T, 0, len(m))
		for _, k := range keys {
			out = append(out, m[k])
		}
		*l = out
		return nil
	}
	return fmt.Errorf("not a list: %.40s", b)
}

// isEmptyList reports whether a whole answer is PrestaShop's "no results"
// rendering: an empty JSON array instead of {"resources":[]}.
func isEmptyList(b []byte) bool {
	b = bytes.TrimSpace(b)
	return string(b) == "[]" || string(b) == "{}"
}

var (
	blockTag      = regexp.MustCompile(`(?i)</?(p|br|div|li|ul|ol|h[1-6]|tr|td|table)\b[^>]*>`)
	htmlTag       = regexp.MustCompile(`<[^>]*>`)
	htmlUnescaper = strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'")
)

// plainText strips the HTML QloApps keeps in descriptions.
func plainText(s string) string {
	s = htmlTag.ReplaceAllString(blockTag.ReplaceAllString(s, " "), "")
	return strings.Join(strings.Fields(htmlUnescaper.Replace(s)), " ")
}

// clockTime normalises QloApps' check-in/out times ("12:00", "12:00:00",
// "02:00 PM") to 24-hour "15:04"; anything else is passed through trimmed.
func clockTime(s string) string {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"15:04", "15:04:05", "03:04 PM", "3:04 PM", "03:04PM", "3:04PM", "03:04 pm", "3:04 pm"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("15:04")
		}
	}
	return s
}

type ariOccupancy struct {
	Adults   int `xml:"adults"`
	Children int `xml:"children"`
}

// ariRequest is hotel_ari's XML request document.
type ariRequest struct {
	XMLName xml.Name `xml:"qloapps"`
	ARI     struct {
		IDHotel           int    `xml:"id_hotel"`
		DateFrom          string `xml:"date_from"`
		DateTo            string `xml:"date_to"`
		GetAvailableRooms int    `xml:"get_available_rooms"`
		Associations      struct {
			RoomOccupancies struct {
				Occupancy []ariOccupancy `xml:"room_occupancy"`
			} `xml:"room_occupancies"`
		} `xml:"associations"`
	} `xml:"hotel_ari"`
}

// ariBody is the hotel_ari request for one room with the stay's party.
func ariBody(idHotel int, s pms.Stay) ([]byte, error) {
	var r ariRequest
	r.ARI.IDHotel = idHotel
	r.ARI.DateFrom = s.CheckIn.String()
	r.ARI.DateTo = s.CheckOut.String()
	r.ARI.GetAvailableRooms = 1
	r.ARI.Associations.RoomOccupancies.Occupancy = []ariOccupancy{{Adults: s.Adults, Children: s.Children}}
	b, err := xml.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}
