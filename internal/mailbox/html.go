package mailbox

import (
	"strings"

	"golang.org/x/net/html"
)

// HTMLText makes an HTML body plain text: block elements and <br> end
// lines, scripts, styles and quoted history (<blockquote>, Gmail's and
// Yahoo's quote blocks) are dropped, entities decoded, runs of spaces
// folded.
func HTMLText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0 // depth inside an element whose text is not the sender's
	var skipTag []string
	newline := func() {
		cur := b.String()
		if cur != "" && !strings.HasSuffix(cur, "\n") {
			b.WriteString("\n")
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyLines(b.String())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			quote := false
			if hasAttr {
				for {
					k, v, more := z.TagAttr()
					if string(k) == "class" && (strings.Contains(string(v), "gmail_quote") || strings.Contains(string(v), "yahoo_quoted")) {
						quote = true
					}
					if string(k) == "id" && strings.Contains(string(v), "signature") {
						quote = true
					}
					if !more {
						break
					}
				}
			}
			if skip > 0 {
				if tt == html.StartTagToken && !voidElement(tag) {
					skipTag = append(skipTag, tag)
					skip++
				}
				continue
			}
			switch {
			case tag == "script" || tag == "style" || tag == "head" || tag == "title" || tag == "blockquote" || quote:
				if tt == html.StartTagToken && !voidElement(tag) {
					skip, skipTag = 1, []string{tag}
				}
			case tag == "br":
				b.WriteString("\n")
			case blockElement(tag):
				newline()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if skip > 0 {
				// Close to the matching open tag; unbalanced HTML closes
				// at the first match.
				for i := len(skipTag) - 1; i >= 0; i-- {
					if skipTag[i] == tag {
						skip -= len(skipTag) - i
						skipTag = skipTag[:i]
						break
					}
				}
				continue
			}
			if blockElement(tag) {
				newline()
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := strings.Join(strings.Fields(string(z.Text())), " ")
			if t == "" {
				if len(z.Text()) > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") && b.Len() > 0 {
					b.WriteString(" ")
				}
				continue
			}
			raw := string(z.Text())
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") && strings.TrimLeft(raw, " \t\r\n") != raw {
				b.WriteString(" ")
			}
			b.WriteString(t)
			if strings.TrimRight(raw, " \t\r\n") != raw {
				b.WriteString(" ")
			}
		}
	}
}

func voidElement(tag string) bool {
	switch tag {
	case "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr":
		return true
	}
	return false
}

func blockElement(tag string) bool {
	switch tag {
	case "p", "div", "table", "tr", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article", "header", "footer", "pre", "td", "body", "html":
		return true
	}
	return false
}

// tidyLines trims each line and drops runs of blank lines.
func tidyLines(s string) string {
	var out []string
	blank := false
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
