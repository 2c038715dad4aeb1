package agent

import (
	"math"
	"slices"
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
//
// Save's copy is the store's own and is never changed in place: Load hands
// it out as it is (MemorySessions.Load), so each list it holds has no room
// beyond its length, and an append to one makes a new array.

// copyState is the JSON round trip of st, sharing with it only its lists
// of strings that are their round trip already (copyStrings). A turn of st
// equal to one of stored (the round trip of an earlier state, which
// nothing changes) is that one.
func copyState(st *State, stored []RecentTurn) State {
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
		Recent:        copyRecent(st.Recent, stored),
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

func copySlots(sl *Slots) Slots {
	return Slots{
		CheckIn:        jsonText(sl.CheckIn),
		CheckOut:       jsonText(sl.CheckOut),
		Nights:         sl.Nights,
		Adults:         sl.Adults,
		Children:       sl.Children,
		ChildAges:      copyInts(sl.ChildAges),
		ChildAgesAsked: sl.ChildAgesAsked,
		Guests:         sl.Guests,
		RoomType:       jsonText(sl.RoomType),
		Email:          jsonText(sl.Email),
		Name:           jsonText(sl.Name),
		FirstName:      jsonText(sl.FirstName),
		LastName:       jsonText(sl.LastName),
		Phone:          jsonText(sl.Phone),
		EmailDeclined:  sl.EmailDeclined,
		Refused:        copyStrings(sl.Refused, true),
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
	return copyEach(os, true, func(o OfferState) OfferState {
		return OfferState{
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
	})
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

func copyRecent(rs, stored []RecentTurn) []RecentTurn {
	if len(rs) == 0 {
		return nil
	}
	out := make([]RecentTurn, len(rs))
	for i, r := range rs {
		if j := slices.IndexFunc(stored, func(s RecentTurn) bool { return sameTurn(&s, &r) }); j >= 0 {
			out[i] = stored[j]
			continue
		}
		out[i] = RecentTurn{MessageID: jsonText(r.MessageID), Intent: jsonText(r.Intent), Replies: copyReplies(r.Replies)}
	}
	return out
}

// sameTurn reports whether stored, a stored turn, is the round trip of r:
// equal strings (a stored string is valid UTF-8, so r's is too), and lists
// alike where the round trip tells nil from empty.
func sameTurn(stored, r *RecentTurn) bool {
	if stored.MessageID != r.MessageID || stored.Intent != r.Intent ||
		(stored.Replies == nil) != (r.Replies == nil) || len(stored.Replies) != len(r.Replies) {
		return false
	}
	for i := range r.Replies {
		if !sameReply(&stored.Replies[i], &r.Replies[i]) {
			return false
		}
	}
	return true
}

func sameReply(a, b *chat.Reply) bool {
	if a.Kind != b.Kind || a.Text != b.Text || a.Header != b.Header || a.Footer != b.Footer || a.ImageURL != b.ImageURL ||
		a.ListButton != b.ListButton || !slices.Equal(a.Buttons, b.Buttons) || len(a.Sections) != len(b.Sections) ||
		(a.Template == nil) != (b.Template == nil) {
		return false
	}
	for i := range a.Sections {
		sa, sb := &a.Sections[i], &b.Sections[i]
		if sa.Title != sb.Title || (sa.Rows == nil) != (sb.Rows == nil) || !slices.Equal(sa.Rows, sb.Rows) {
			return false
		}
	}
	if a.Template != nil {
		ta, tb := a.Template, b.Template
		if ta.Name != tb.Name || ta.Language != tb.Language || !slices.Equal(ta.BodyParameters, tb.BodyParameters) {
			return false
		}
	}
	return true
}

// copyReplies keeps an empty list empty: "replies" has no omitempty.
func copyReplies(rs []chat.Reply) []chat.Reply {
	return copyEach(rs, false, func(r chat.Reply) chat.Reply {
		return chat.Reply{
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
	})
}

func copyButtons(bs []chat.Button) []chat.Button {
	return copyEach(bs, true, func(b chat.Button) chat.Button {
		return chat.Button{ID: jsonText(b.ID), Title: jsonText(b.Title)}
	})
}

func copySections(ss []chat.Section) []chat.Section {
	return copyEach(ss, true, func(s chat.Section) chat.Section {
		return chat.Section{Title: jsonText(s.Title), Rows: copyEach(s.Rows, false, func(r chat.Row) chat.Row { // "rows" has no omitempty
			return chat.Row{ID: jsonText(r.ID), Title: jsonText(r.Title), Description: jsonText(r.Description)}
		})}
	})
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

// copyStrings is the round trip of ss: ss itself, with no room beyond its
// length, when every string is valid UTF-8 already (a list of strings is
// never written into, saved or loaded: SessionStore), else a copy;
// omitEmpty is the field's omitempty (an empty list comes back nil).
func copyStrings(ss []string, omitEmpty bool) []string {
	if ss == nil || omitEmpty && len(ss) == 0 {
		return nil
	}
	if !slices.ContainsFunc(ss, func(s string) bool { return !utf8.ValidString(s) }) {
		return slices.Clip(ss)
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = jsonText(s)
	}
	return out
}

// copyEach is xs with each element copied by f; omitEmpty is the
// field's omitempty (an empty list comes back nil, as nil does).
func copyEach[T any](xs []T, omitEmpty bool, f func(T) T) []T {
	if xs == nil || omitEmpty && len(xs) == 0 {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// copyInts: every []int of the state is omitempty.
func copyInts(is []int) []int {
	if len(is) == 0 {
		return nil
	}
	return slices.Clip(append([]int(nil), is...))
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
