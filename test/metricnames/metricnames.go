// Package metricnames finds the metric names a PromQL expression (or a
// Grafana query holding one) reads, so tests can hold rules and dashboards to
// the names the binary really exports.
//
// It is a tokenizer, not a parser: identifiers count as metric names unless
// they are keywords, functions or aggregations (followed by "(" or by
// by/without), label names (inside {...} or the label lists of by, without,
// on, ignoring, group_left, group_right), durations, numbers, strings or
// Grafana variables ($var, ${var}). A selector by name ({__name__="x"})
// counts; a regular expression on __name__ is an error, since the names it
// reads cannot be known.
package metricnames

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true,
}

// labelListKeywords are followed by an optional parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// InExpr returns the sorted, distinct metric names expr reads.
func InExpr(expr string) ([]string, error) {
	set := map[string]bool{}
	if err := scan(expr, set); err != nil {
		return nil, fmt.Errorf("%w in: %s", err, expr)
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func isIdentStart(r byte) bool { return r == '_' || r == ':' || unicode.IsLetter(rune(r)) }
func isIdentChar(r byte) bool  { return isIdentStart(r) || (r >= '0' && r <= '9') }

type scanner struct {
	s string
	i int
}

func (sc *scanner) skipSpace() {
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			sc.i++
		case c == '#':
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
				sc.i++
			}
		default:
			return
		}
	}
}

func (sc *scanner) ident() string {
	start := sc.i
	for sc.i < len(sc.s) && isIdentChar(sc.s[sc.i]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// str consumes a quoted string starting at sc.i and returns its contents.
func (sc *scanner) str() (string, error) {
	q := sc.s[sc.i]
	sc.i++
	var b strings.Builder
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		sc.i++
		switch {
		case c == q:
			return b.String(), nil
		case c == '\\' && q != '`' && sc.i < len(sc.s):
			b.WriteByte(sc.s[sc.i])
			sc.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}

// closing returns the index just past the bracket that closes the one at
// sc.i, skipping strings.
func (sc *scanner) closing() (int, error) {
	open := sc.s[sc.i]
	close := map[byte]byte{'(': ')', '[': ']', '{': '}'}[open]
	depth := 0
	for j := sc.i; j < len(sc.s); j++ {
		switch c := sc.s[j]; c {
		case '"', '\'', '`':
			save := sc.i
			sc.i = j
			if _, err := sc.str(); err != nil {
				return 0, err
			}
			j = sc.i - 1
			sc.i = save
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced %q", string(open))
}

func scan(expr string, set map[string]bool) error {
	sc := &scanner{s: expr}
	depth := 0
	for {
		sc.skipSpace()
		if sc.i >= len(sc.s) {
			if depth != 0 {
				return fmt.Errorf("unbalanced \"(\"")
			}
			return nil
		}
		c := sc.s[sc.i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			if _, err := sc.str(); err != nil {
				return err
			}
		case c == '{':
			end, err := sc.closing()
			if err != nil {
				return err
			}
			if err := nameMatchers(sc.s[sc.i+1:end-1], set); err != nil {
				return err
			}
			sc.i = end
		case c == '[':
			end, err := sc.closing()
			if err != nil {
				return err
			}
			sc.i = end
		case c == '$':
			// Grafana variable: $name or ${name[:format]}.
			sc.i++
			if sc.i < len(sc.s) && sc.s[sc.i] == '{' {
				end, err := sc.closing()
				if err != nil {
					return err
				}
				sc.i = end
			} else {
				sc.ident()
			}
		case c >= '0' && c <= '9' || (c == '.' && sc.i+1 < len(sc.s) && sc.s[sc.i+1] >= '0' && sc.s[sc.i+1] <= '9'):
			// Numbers and durations (5m, 1h30m, 1e3, 0x1f).
			for sc.i < len(sc.s) && (isIdentChar(sc.s[sc.i]) || sc.s[sc.i] == '.') {
				sc.i++
			}
		case isIdentStart(c):
			if err := sc.identifier(set); err != nil {
				return err
			}
		case c == '(':
			depth++
			sc.i++
		case c == ')':
			if depth--; depth < 0 {
				return fmt.Errorf("unbalanced \")\"")
			}
			sc.i++
		default:
			sc.i++
		}
	}
}

func (sc *scanner) identifier(set map[string]bool) error {
	name := sc.ident()
	lower := strings.ToLower(name)
	sc.skipSpace()
	next := byte(0)
	if sc.i < len(sc.s) {
		next = sc.s[sc.i]
	}
	switch {
	case labelListKeywords[lower]:
		if next == '(' {
			end, err := sc.closing()
			if err != nil {
				return err
			}
			sc.i = end
		}
	case keywords[lower]:
	case next == '(':
		if name == "label_values" || name == "query_result" {
			return sc.grafanaFunction(name, set)
		}
		// A function or an aggregation: its arguments are scanned next.
	case isIdentStart(next):
		// An aggregation written with its grouping first: sum by (le) (...).
		save := sc.i
		word := strings.ToLower(sc.ident())
		sc.i = save
		if word != "by" && word != "without" {
			set[name] = true
		}
	default:
		set[name] = true
	}
	return nil
}

// grafanaFunction handles Grafana's template queries: label_values(metric,
// label) reads metric (label_values(label) reads none), query_result(expr)
// reads what expr reads.
func (sc *scanner) grafanaFunction(name string, set map[string]bool) error {
	end, err := sc.closing()
	if err != nil {
		return err
	}
	inner := sc.s[sc.i+1 : end-1]
	sc.i = end
	if name == "query_result" {
		return scan(inner, set)
	}
	args := splitTopLevel(inner)
	if len(args) == 2 {
		return scan(args[0], set)
	}
	return nil
}

// splitTopLevel splits on commas outside brackets and strings.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// nameMatchers records the metric named by a __name__ matcher in a label
// matcher list.
func nameMatchers(body string, set map[string]bool) error {
	sc := &scanner{s: body}
	for {
		sc.skipSpace()
		if sc.i >= len(sc.s) {
			return nil
		}
		c := sc.s[sc.i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			// A quoted metric name in braces (Prometheus 3: {"my.metric"}).
			if _, err := sc.str(); err != nil {
				return err
			}
		case isIdentStart(c):
			label := sc.ident()
			sc.skipSpace()
			op := ""
			for sc.i < len(sc.s) && strings.IndexByte("=!~", sc.s[sc.i]) >= 0 {
				op += string(sc.s[sc.i])
				sc.i++
			}
			sc.skipSpace()
			if sc.i >= len(sc.s) || strings.IndexByte("\"'`", sc.s[sc.i]) < 0 {
				return fmt.Errorf("label %s without a quoted value", label)
			}
			val, err := sc.str()
			if err != nil {
				return err
			}
			if label == "__name__" {
				if op != "=" {
					return fmt.Errorf("__name__%s%q: the names a regular expression reads cannot be checked", op, val)
				}
				set[val] = true
			}
		default:
			sc.i++
		}
	}
}
