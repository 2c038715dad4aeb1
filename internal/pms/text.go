package pms

import (
	"encoding/json"
	"slices"
	"strings"
)

// Text is a text the PMS keeps in several languages, by language code
// ("es", "en": ISO 639-1, lowercase). The code "" holds a text whose
// language the PMS does not say. A guest is shown the text in their
// language when the PMS has it (Text.In).
type Text map[string]string

// Untranslated is s as a Text in no particular language.
func Untranslated(s string) Text {
	if s == "" {
		return nil
	}
	return Text{"": s}
}

// LanguageCode is the language part of a language tag, lowercase: "en" for
// "en-GB", "EN" or "en_US".
func LanguageCode(tag string) string {
	code, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	code, _, _ = strings.Cut(code, "_")
	return strings.ToLower(code)
}

// In is the text in the first of langs the PMS has it in (the guest's
// language, then the hotel's), else the untranslated one, else the one of
// the lowest language code, so that a guest whose language the PMS lacks
// is shown the same text every time. It is "" only when t is empty.
func (t Text) In(langs ...string) string {
	for _, l := range langs {
		if s := t[LanguageCode(l)]; s != "" {
			return s
		}
	}
	if s := t[""]; s != "" {
		return s
	}
	if codes := t.codes(); len(codes) > 0 {
		return t[slices.Min(codes)]
	}
	return ""
}

// codes are the language codes t has a text in.
func (t Text) codes() []string {
	codes := make([]string, 0, len(t))
	for c, s := range t {
		if s != "" {
			codes = append(codes, c)
		}
	}
	return codes
}

// Empty reports whether t has no text in any language.
func (t Text) Empty() bool {
	for _, s := range t {
		if s != "" {
			return false
		}
	}
	return true
}

// All is every text of t, in the order of their language codes: what a
// guest may write to name the thing, in whichever language.
func (t Text) All() []string {
	codes := t.codes()
	slices.Sort(codes)
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if !slices.Contains(out, t[c]) {
			out = append(out, t[c])
		}
	}
	return out
}

// UnmarshalJSON reads a Text, or a plain string as an untranslated one:
// names were single strings in the answers cached, and the sessions kept,
// before the PMS layer kept every language.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Untranslated(s)
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*t = m
	return nil
}
