package email

import (
	"strings"
)

// Auth is what the trusted receiving server recorded in its
// Authentication-Results header (RFC 8601).
type Auth struct {
	// Trusted: a header of the configured authserv-id was found.
	Trusted bool
	// SPF, DKIM, DMARC are the results ("pass", "fail", "none"...; "" when
	// the server did not check).
	SPF, DKIM, DMARC string
	// Verified: the From domain is authenticated: DMARC passed or, when
	// the server did not evaluate DMARC, DKIM or SPF passed for a domain
	// aligned with From's.
	Verified bool
}

// Summary is Auth in one line, for logs and the stored message.
func (a Auth) Summary() string {
	if !a.Trusted {
		return "no Authentication-Results from the receiving server"
	}
	var parts []string
	for _, kv := range [][2]string{{"spf", a.SPF}, {"dkim", a.DKIM}, {"dmarc", a.DMARC}} {
		v := kv[1]
		if v == "" {
			v = "absent"
		}
		parts = append(parts, kv[0]+"="+v)
	}
	return strings.Join(parts, " ")
}

// ReadAuthenticationResults reads the topmost Authentication-Results
// header whose authserv-id is authservID (case-insensitively): the one the
// receiving server added. Headers of other servers, and ours further down
// (which a sender may have forged before the mail reached the server), are
// ignored. from is the mail's From address, for alignment.
func ReadAuthenticationResults(headers []string, authservID, from string) Auth {
	var a Auth
	if authservID == "" {
		return a
	}
	for _, h := range headers {
		id, results := splitAuthResults(h)
		if !strings.EqualFold(id, authservID) {
			continue
		}
		a.Trusted = true
		fromDomain := domainOf(from)
		dkimAligned, spfAligned := false, false
		for _, r := range results {
			switch r.method {
			case "spf":
				if a.SPF == "" || r.result == "pass" {
					a.SPF = r.result
				}
				if r.result == "pass" && aligned(domainOf(r.props["smtp.mailfrom"]), fromDomain) {
					spfAligned = true
				}
			case "dkim":
				if a.DKIM == "" || r.result == "pass" {
					a.DKIM = r.result
				}
				d := r.props["header.d"]
				if d == "" {
					d = domainOf(r.props["header.i"])
				}
				if r.result == "pass" && aligned(d, fromDomain) {
					dkimAligned = true
				}
			case "dmarc":
				a.DMARC = r.result
				if hf := r.props["header.from"]; hf != "" && !strings.EqualFold(hf, fromDomain) {
					// The result is about another From than this one.
					a.DMARC = "fail"
				}
			}
		}
		switch a.DMARC {
		case "pass":
			a.Verified = fromDomain != ""
		case "":
			a.Verified = fromDomain != "" && (dkimAligned || spfAligned)
		}
		return a
	}
	return a
}

type authResult struct {
	method, result string
	props          map[string]string
}

// splitAuthResults reads "authserv-id [version]; method=result props; ..."
// with comments removed.
func splitAuthResults(h string) (string, []authResult) {
	h = stripComments(h)
	parts := strings.Split(h, ";")
	head := strings.Fields(parts[0])
	if len(head) == 0 {
		return "", nil
	}
	var out []authResult
	for _, p := range parts[1:] {
		fields := strings.Fields(p)
		if len(fields) == 0 {
			continue
		}
		method, result, ok := strings.Cut(fields[0], "=")
		if !ok {
			continue // "none" (no checks done) or garbage
		}
		method, _, _ = strings.Cut(method, "/")
		r := authResult{method: strings.ToLower(method), result: strings.ToLower(strings.Trim(result, `"`)), props: map[string]string{}}
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok {
				r.props[strings.ToLower(k)] = strings.ToLower(strings.Trim(v, `"`))
			}
		}
		out = append(out, r)
	}
	return head[0], out
}

// stripComments removes (nested) parenthesised comments, outside quotes.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func domainOf(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		addr = addr[i+1:]
	}
	return strings.ToLower(strings.TrimSuffix(addr, "."))
}

// aligned is DMARC's relaxed alignment, approximated without the public
// suffix list: the same domain, or one a subdomain of the other.
func aligned(d, from string) bool {
	if d == "" || from == "" {
		return false
	}
	return d == from || strings.HasSuffix(d, "."+from) || strings.HasSuffix(from, "."+d)
}
