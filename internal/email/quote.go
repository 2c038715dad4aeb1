package email

import (
	"regexp"
	"strings"
)

var (
	// Attribution lines that open a quoted reply, as Gmail, Apple Mail,
	// Outlook and Thunderbird write them in English and Spanish. Gmail wraps
	// long ones, so a candidate line is also tried joined with the next one.
	attributionRE = regexp.MustCompile(`(?i)^(on\s.+\swrote:|el\s.+\sescribi[óo]:|.*[@\d].*\s(wrote|escribi[óo]):)\s*$`)
	// Separators of forwarded / original-message blocks.
	separatorRE = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|mensaje original|forwarded message|mensaje reenviado)\s*-{2,}\s*$`)
	// Outlook's header block: "From: …" / "De: …" followed within two lines by
	// "Sent:" / "Date:" / "Enviado:" / "Fecha:".
	outlookFromRE = regexp.MustCompile(`(?i)^\s*\*?(from|de)\s*:\*?\s+\S`)
	outlookNextRE = regexp.MustCompile(`(?i)^\s*\*?(sent|date|enviado|fecha|to|para)\s*:`)
	// Mobile sign-offs that end the guest's own text.
	mobileRE = regexp.MustCompile(`(?i)^\s*(sent from my|enviado desde mi|get outlook for|obtener outlook para)\b`)
)

// StripQuoted returns what the guest wrote in an email body: it cuts at the
// first attribution line ("On … wrote:", "El … escribió:"), forwarded or
// original-message separator, or Outlook header block; at the signature
// delimiter ("-- " alone on a line, RFC 3676) or a mobile sign-off ("Sent from
// my iPhone"); drops every "> " quoted line (so answers written between
// quotes survive); and trims blank lines. Line endings become "\n".
func StripQuoted(body string) string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	lines := strings.Split(body, "\n")
	var kept []string
scan:
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case line == "-- " || line == "--" || line == "—":
			break scan
		case attributionRE.MatchString(trimmed):
			break scan
		case i+1 < len(lines) && looksLikeAttributionStart(trimmed) &&
			attributionRE.MatchString(trimmed+" "+strings.TrimSpace(lines[i+1])):
			break scan
		case separatorRE.MatchString(trimmed):
			break scan
		case outlookFromRE.MatchString(trimmed) && outlookBlock(lines[i+1:]):
			break scan
		case mobileRE.MatchString(trimmed):
			break scan
		case strings.HasPrefix(trimmed, ">"):
			continue
		}
		kept = append(kept, strings.TrimRight(line, " \t"))
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

func looksLikeAttributionStart(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "on ") || strings.HasPrefix(l, "el ")
}

// outlookBlock: one of the next two lines is another header of the block.
func outlookBlock(next []string) bool {
	for i := 0; i < len(next) && i < 2; i++ {
		if outlookNextRE.MatchString(next[i]) {
			return true
		}
	}
	return false
}
