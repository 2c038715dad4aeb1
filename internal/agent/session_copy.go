package agent

import (
	"encoding/json"
	"math"
	"unicode/utf8"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/pms"
)

// The memory store keeps a copy of each saved state rather than its JSON
// document: decoding the document on every Load was most of a memory-mode
// worker's time per message. The copy is the document's round trip, so
// both stores still behave alike (TestMemorySessionsKeepTheJSONRoundTrip
// fills every field to hold it to that):
//   - an empty slice or map of an omitempty field comes back nil, one of a
//     field without omitempty (intent_history, replies, rows) stays empty;
//   - strings come back valid UTF-8, each invalid byte a U+FFFD, as
//     encoding/json writes them;
//   - a state the encoder refuses (a NaN or infinite price) is refused by
//     Save with the encoder's error.

// copyState is the JSON round trip of st, sharing nothing with it.
func copyState(st *State) State {
	return State{
		IntentHistory: copyStrings(st.IntentHistory, false),
		Context:       copySlots(&st.Context),
		Step:          jsonText(st.Step),
		Pending:       copyPending(st.Pending),
		LastOffer:     copyOffers(st.LastOffer),
		OfferStale:    st.OfferStale,
		OfferAsOf:     jsonText(st.OfferAsOf),
		LastQuote:     copyQuote(st.LastQuote),
		Handoff:       st.Handoff,
		Language:      jsonText(st.Language),
		Bookings:      copyStrings(st.Bookings, true),
		Recent:        copyRecent(st.Recent),
		DetailTries:   st.DetailTries,
		Noticed:       st.Noticed,
		FormerIDs:     copyStrings(st.FormerIDs, true),
	}
}

// encodable reports whether encoding/json can write st: it refuses only
// NaN and infinite numbers, and the state's only floats are prices.
func (st *State) encodable() bool {
	ok := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if st.Pending != nil && !ok(st.Pending.TotalPrice) || st.LastQuote != nil && !ok(st.LastQuote.TotalPrice) {
		return false
	}
	for i := range st.LastOffer {
		if !ok(st.LastOffer[i].TotalPrice) {
			return false
		}
	}
	return true
}

// encodeError is the error json.Marshal gives for st.
func (st *State) encodeError() error {
	_, err := json.Marshal(st)
	return err
}

func copySlots(c *Slots) Slots {
	return Slots{
		CheckIn:        jsonText(c.CheckIn),
		CheckOut:       jsonText(c.CheckOut),
		Nights:         c.Nights,
		Adults:         c.Adults,
		Children:       c.Children,
		ChildAges:      copyInts(c.ChildAges),
		ChildAgesAsked: c.ChildAgesAsked,
		Guests:         c.Guests,
		RoomType:       jsonText(c.RoomType),
		Email:          jsonText(c.Email),
		Name:           jsonText(c.Name),
		FirstName:      jsonText(c.FirstName),
		LastName:       jsonText(c.LastName),
		Phone:          jsonText(c.Phone),
		EmailDeclined:  c.EmailDeclined,
		Refused:        copyStrings(c.Refused, true),
	}
}

func copyPending(p *Pending) *Pending {
	if p == nil {
		return nil
	}
	return &Pending{
		Kind:       jsonText(p.Kind),
		RoomTypeID: p.RoomTypeID,
		RoomName:   jsonText(p.RoomName),
		RoomNames:  copyText(p.RoomNames),
		Category:   jsonText(p.Category),
		CheckIn:    jsonText(p.CheckIn),
		CheckOut:   jsonText(p.CheckOut),
		Adults:     p.Adults,
		Children:   p.Children,
		ChildAges:  copyInts(p.ChildAges),
		TotalPrice: p.TotalPrice,
		Currency:   jsonText(p.Currency),
		BookingID:  jsonText(p.BookingID),
		Reference:  jsonText(p.Reference),
		Refusals:   p.Refusals,
	}
}

func copyOffers(os []OfferState) []OfferState {
	if len(os) == 0 {
		return nil
	}
	out := make([]OfferState, len(os))
	for i, o := range os {
		out[i] = OfferState{
			RoomTypeID: o.RoomTypeID,
			Name:       jsonText(o.Name),
			Names:      copyText(o.Names),
			Category:   jsonText(o.Category),
			Available:  o.Available,
			TotalPrice: o.TotalPrice,
			Currency:   jsonText(o.Currency),
			MaxAdults:  o.MaxAdults,
			Capacity:   o.Capacity,
		}
	}
	return out
}

func copyQuote(q *Quote) *Quote {
	if q == nil {
		return nil
	}
	return &Quote{
		Room:       jsonText(q.Room),
		RoomNames:  copyText(q.RoomNames),
		TotalPrice: q.TotalPrice,
		Currency:   jsonText(q.Currency),
		Nights:     q.Nights,
	}
}

func copyRecent(rs []RecentTurn) []RecentTurn {
	if len(rs) == 0 {
		return nil
	}
	out := make([]RecentTurn, len(rs))
	for i, r := range rs {
		out[i] = RecentTurn{MessageID: jsonText(r.MessageID), Intent: jsonText(r.Intent), Replies: copyReplies(r.Replies)}
	}
	return out
}

// copyReplies keeps an empty list empty: "replies" has no omitempty.
func copyReplies(rs []chat.Reply) []chat.Reply {
	if rs == nil {
		return nil
	}
	out := make([]chat.Reply, len(rs))
	for i, r := range rs {
		out[i] = chat.Reply{
			Kind:       chat.ReplyKind(jsonText(string(r.Kind))),
			Text:       jsonText(r.Text),
			Header:     jsonText(r.Header),
			Footer:     jsonText(r.Footer),
			ImageURL:   jsonText(r.ImageURL),
			Buttons:    copyButtons(r.Buttons),
			ListButton: jsonText(r.ListButton),
			Sections:   copySections(r.Sections),
			Template:   copyTemplate(r.Template),
		}
	}
	return out
}

func copyButtons(bs []chat.Button) []chat.Button {
	if len(bs) == 0 {
		return nil
	}
	out := make([]chat.Button, len(bs))
	for i, b := range bs {
		out[i] = chat.Button{ID: jsonText(b.ID), Title: jsonText(b.Title)}
	}
	return out
}

func copySections(ss []chat.Section) []chat.Section {
	if len(ss) == 0 {
		return nil
	}
	out := make([]chat.Section, len(ss))
	for i, s := range ss {
		out[i] = chat.Section{Title: jsonText(s.Title)}
		if s.Rows != nil { // "rows" has no omitempty
			out[i].Rows = make([]chat.Row, len(s.Rows))
			for j, r := range s.Rows {
				out[i].Rows[j] = chat.Row{ID: jsonText(r.ID), Title: jsonText(r.Title), Description: jsonText(r.Description)}
			}
		}
	}
	return out
}

func copyTemplate(t *chat.Template) *chat.Template {
	if t == nil {
		return nil
	}
	return &chat.Template{Name: jsonText(t.Name), Language: jsonText(t.Language), BodyParameters: copyStrings(t.BodyParameters, true)}
}

// copyText: every Text field of the state is omitempty.
func copyText(t pms.Text) pms.Text {
	if len(t) == 0 {
		return nil
	}
	out := make(pms.Text, len(t))
	for k, v := range t {
		out[jsonText(k)] = jsonText(v)
	}
	return out
}

// copyStrings copies ss; omitEmpty is the field's omitempty (an empty
// list comes back nil).
func copyStrings(ss []string, omitEmpty bool) []string {
	if ss == nil || omitEmpty && len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = jsonText(s)
	}
	return out
}

// copyInts: every []int of the state is omitempty.
func copyInts(is []int) []int {
	if len(is) == 0 {
		return nil
	}
	return append([]int(nil), is...)
}

// jsonText is s as encoding/json writes it: each byte that is not part of
// valid UTF-8 becomes U+FFFD.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, r) // an invalid byte ranges as one RuneError
	}
	return string(out)
}
