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

// stateCopier copies states. Save's copy makes the strings valid UTF-8
// (sanitize); Load copies what Save stored, valid already, and leaves room
// in the two lists every turn appends to (spare), so the turn does not
// copy them again.
type stateCopier struct {
	sanitize bool
	spare    int
}

var (
	saveCopy = stateCopier{sanitize: true}
	loadCopy = stateCopier{spare: 1}
)

// copyState is the JSON round trip of st, sharing nothing with it. A turn
// of st equal to one of stored (the round trip of an earlier state, which
// nothing changes) is that one.
func (c stateCopier) copyState(st *State, stored []RecentTurn) State {
	return State{
		IntentHistory: c.copyStrings(st.IntentHistory, false, c.spare),
		Context:       c.copySlots(&st.Context),
		Step:          c.text(st.Step),
		Pending:       c.copyPending(st.Pending),
		LastOffer:     c.copyOffers(st.LastOffer),
		OfferStale:    st.OfferStale,
		OfferAsOf:     c.text(st.OfferAsOf),
		LastQuote:     c.copyQuote(st.LastQuote),
		Handoff:       st.Handoff,
		Language:      c.text(st.Language),
		Bookings:      c.copyStrings(st.Bookings, true, 0),
		Recent:        c.copyRecent(st.Recent, stored),
		DetailTries:   st.DetailTries,
		Noticed:       st.Noticed,
		FormerIDs:     c.copyStrings(st.FormerIDs, true, 0),
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

func (c stateCopier) copySlots(sl *Slots) Slots {
	return Slots{
		CheckIn:        c.text(sl.CheckIn),
		CheckOut:       c.text(sl.CheckOut),
		Nights:         sl.Nights,
		Adults:         sl.Adults,
		Children:       sl.Children,
		ChildAges:      copyInts(sl.ChildAges),
		ChildAgesAsked: sl.ChildAgesAsked,
		Guests:         sl.Guests,
		RoomType:       c.text(sl.RoomType),
		Email:          c.text(sl.Email),
		Name:           c.text(sl.Name),
		FirstName:      c.text(sl.FirstName),
		LastName:       c.text(sl.LastName),
		Phone:          c.text(sl.Phone),
		EmailDeclined:  sl.EmailDeclined,
		Refused:        c.copyStrings(sl.Refused, true, 0),
	}
}

func (c stateCopier) copyPending(p *Pending) *Pending {
	if p == nil {
		return nil
	}
	return &Pending{
		Kind:       c.text(p.Kind),
		RoomTypeID: p.RoomTypeID,
		RoomName:   c.text(p.RoomName),
		RoomNames:  c.copyText(p.RoomNames),
		Category:   c.text(p.Category),
		CheckIn:    c.text(p.CheckIn),
		CheckOut:   c.text(p.CheckOut),
		Adults:     p.Adults,
		Children:   p.Children,
		ChildAges:  copyInts(p.ChildAges),
		TotalPrice: p.TotalPrice,
		Currency:   c.text(p.Currency),
		BookingID:  c.text(p.BookingID),
		Reference:  c.text(p.Reference),
		Refusals:   p.Refusals,
	}
}

func (c stateCopier) copyOffers(os []OfferState) []OfferState {
	return copyEach(os, true, func(o OfferState) OfferState {
		return OfferState{
			RoomTypeID: o.RoomTypeID,
			Name:       c.text(o.Name),
			Names:      c.copyText(o.Names),
			Category:   c.text(o.Category),
			Available:  o.Available,
			TotalPrice: o.TotalPrice,
			Currency:   c.text(o.Currency),
			MaxAdults:  o.MaxAdults,
			Capacity:   o.Capacity,
		}
	})
}

func (c stateCopier) copyQuote(q *Quote) *Quote {
	if q == nil {
		return nil
	}
	return &Quote{
		Room:       c.text(q.Room),
		RoomNames:  c.copyText(q.RoomNames),
		TotalPrice: q.TotalPrice,
		Currency:   c.text(q.Currency),
		Nights:     q.Nights,
	}
}

func (c stateCopier) copyRecent(rs, stored []RecentTurn) []RecentTurn {
	if len(rs) == 0 {
		return nil
	}
	if !c.sanitize && stored == nil {
		return c.copyRecentBatched(rs)
	}
	out := make([]RecentTurn, len(rs), len(rs)+c.spare)
	for i, r := range rs {
		if j := slices.IndexFunc(stored, func(s RecentTurn) bool { return sameTurn(&s, &r) }); j >= 0 {
			out[i] = stored[j]
			continue
		}
		out[i] = RecentTurn{MessageID: c.text(r.MessageID), Intent: c.text(r.Intent), Replies: c.copyReplies(r.Replies)}
	}
	return out
}

// copyRecentBatched is copyRecent of what Save stored (already the round
// trip: nothing to sanitise, nothing to share), with every turn's replies in
// one array and their buttons in another, each turn's part capped at its
// length so that no append reaches a neighbour: Load's copy was a
// worker's biggest cost per message in a conversation of a few turns.
func (c stateCopier) copyRecentBatched(rs []RecentTurn) []RecentTurn {
	nReplies, nButtons := 0, 0
	for i := range rs {
		nReplies += len(rs[i].Replies)
		for j := range rs[i].Replies {
			nButtons += len(rs[i].Replies[j].Buttons)
		}
	}
	replies := make([]chat.Reply, 0, nReplies)
	var buttons []chat.Button
	if nButtons > 0 {
		buttons = make([]chat.Button, 0, nButtons)
	}
	out := make([]RecentTurn, len(rs), len(rs)+c.spare)
	for i := range rs {
		r := &rs[i]
		out[i] = RecentTurn{MessageID: r.MessageID, Intent: r.Intent}
		if r.Replies == nil {
			continue
		}
		start := len(replies)
		for _, rep := range r.Replies {
			if len(rep.Buttons) > 0 {
				b := len(buttons)
				buttons = append(buttons, rep.Buttons...)
				rep.Buttons = buttons[b:len(buttons):len(buttons)]
			} else {
				rep.Buttons = nil
			}
			rep.Sections = c.copySections(rep.Sections)
			rep.Template = c.copyTemplate(rep.Template)
			replies = append(replies, rep)
		}
		out[i].Replies = replies[start:len(replies):len(replies)]
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
func (c stateCopier) copyReplies(rs []chat.Reply) []chat.Reply {
	return copyEach(rs, false, func(r chat.Reply) chat.Reply {
		return chat.Reply{
			Kind:       chat.ReplyKind(c.text(string(r.Kind))),
			Text:       c.text(r.Text),
			Header:     c.text(r.Header),
			Footer:     c.text(r.Footer),
			ImageURL:   c.text(r.ImageURL),
			Buttons:    c.copyButtons(r.Buttons),
			ListButton: c.text(r.ListButton),
			Sections:   c.copySections(r.Sections),
			Template:   c.copyTemplate(r.Template),
		}
	})
}

func (c stateCopier) copyButtons(bs []chat.Button) []chat.Button {
	return copyEach(bs, true, func(b chat.Button) chat.Button {
		return chat.Button{ID: c.text(b.ID), Title: c.text(b.Title)}
	})
}

func (c stateCopier) copySections(ss []chat.Section) []chat.Section {
	return copyEach(ss, true, func(s chat.Section) chat.Section {
		return chat.Section{Title: c.text(s.Title), Rows: copyEach(s.Rows, false, func(r chat.Row) chat.Row { // "rows" has no omitempty
			return chat.Row{ID: c.text(r.ID), Title: c.text(r.Title), Description: c.text(r.Description)}
		})}
	})
}

func (c stateCopier) copyTemplate(t *chat.Template) *chat.Template {
	if t == nil {
		return nil
	}
	return &chat.Template{Name: c.text(t.Name), Language: c.text(t.Language), BodyParameters: c.copyStrings(t.BodyParameters, true, 0)}
}

// copyText: every Text field of the state is omitempty.
func (c stateCopier) copyText(t pms.Text) pms.Text {
	if len(t) == 0 {
		return nil
	}
	out := make(pms.Text, len(t))
	for k, v := range t {
		out[c.text(k)] = c.text(v)
	}
	return out
}

// copyStrings copies ss, with room for spare more; omitEmpty is the
// field's omitempty (an empty list comes back nil).
func (c stateCopier) copyStrings(ss []string, omitEmpty bool, spare int) []string {
	if ss == nil || omitEmpty && len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss), len(ss)+spare)
	for i, s := range ss {
		out[i] = c.text(s)
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
	return append([]int(nil), is...)
}

// text is s as Save stores it.
func (c stateCopier) text(s string) string {
	if !c.sanitize {
		return s
	}
	return jsonText(s)
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
