package chat

import (
	"strconv"
	"strings"
)

// Plain renders r as plain text for channels without buttons or lists
// (email), and for WhatsApp when a reply exceeds what Meta can show
// interactively. Options are numbered continuously across sections, so the
// guest can answer with a number:
//
//	Header
//
//	Text
//
//	Section title
//	1. Row title — description
//	2. Row title
//
//	https://image.url
//
//	Footer
func (r Reply) Plain() string {
	var blocks []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			blocks = append(blocks, s)
		}
	}
	add(r.Header)
	add(r.Text)
	n := 0
	option := func(b *strings.Builder, title, desc string) {
		n++
		b.WriteString(strconv.Itoa(n))
		b.WriteString(". ")
		b.WriteString(strings.TrimSpace(title))
		if desc = strings.TrimSpace(desc); desc != "" {
			b.WriteString(" — ")
			b.WriteString(desc)
		}
		b.WriteByte('\n')
	}
	switch r.Kind {
	case ReplyButtons:
		var b strings.Builder
		for _, btn := range r.Buttons {
			option(&b, btn.Title, "")
		}
		add(b.String())
	case ReplyList:
		for _, s := range r.Sections {
			var b strings.Builder
			if t := strings.TrimSpace(s.Title); t != "" && len(r.Sections) > 1 {
				b.WriteString(t)
				b.WriteByte('\n')
			}
			for _, row := range s.Rows {
				option(&b, row.Title, row.Description)
			}
			add(b.String())
		}
	}
	add(r.ImageURL)
	add(r.Footer)
	return strings.Join(blocks, "\n\n")
}
