// Package jsonscan reads JSON a byte at a time without reflection, for the
// webhook's hot path: a validity check (Valid) and the pieces a hand-written
// decoder of a known document shape needs (Scanner). It never decides
// against encoding/json: whatever it is not sure of (escapes in a string it
// returns, deep nesting), it reports as not handled, and the caller asks
// encoding/json.
package jsonscan

import (
	"encoding/json"
	"unicode/utf8"
)

// maxDepth bounds the nesting Scanner follows itself; deeper documents
// are left to encoding/json (its own bound, 10,000, is what Valid must
// agree with).
const maxDepth = 100

// Valid reports whether b is one JSON value, exactly as json.Valid does. A
// document the scanner accepts is valid JSON; anything else (invalid, or
// nested deeper than it follows) is encoding/json's call, so a valid body
// costs one pass without the library's state machine.
func Valid(b []byte) bool {
	s := Scanner{b: b}
	s.Space()
	if s.Skip() {
		s.Space()
		if s.End() {
			return true
		}
	}
	return json.Valid(b)
}

// Scanner reads a JSON document from the front. Its methods return false
// when the input is not what they read (or not something they handle);
// the position is then unspecified and the caller gives up on the scan.
type Scanner struct {
	b     []byte
	i     int
	depth int
}

// New returns a scanner of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// End reports whether the whole input was read.
func (s *Scanner) End() bool { return s.i == len(s.b) }

// Space skips JSON whitespace.
func (s *Scanner) Space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Byte consumes c after whitespace.
func (s *Scanner) Byte(c byte) bool {
	s.Space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// Peek is the next byte after whitespace, 0 at the end.
func (s *Scanner) Peek() byte {
	s.Space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Next reads what follows an object's member or an array's element: true
// with more=true after a comma, true with more=false after the closing
// byte close.
func (s *Scanner) Next(close byte) (more, ok bool) {
	s.Space()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, true
	case close:
		s.i++
		return false, true
	}
	return false, false
}

// Open consumes the opening byte of an object or array ('{' or '[') and
// reports whether it is empty (its closing byte consumed too).
func (s *Scanner) Open(open byte) (empty, ok bool) {
	if !s.Byte(open) {
		return false, false
	}
	close := byte('}')
	if open == '[' {
		close = ']'
	}
	if s.Peek() == close {
		s.i++
		return true, true
	}
	return false, true
}

// Key reads an object member's name and its colon. The name is returned
// as raw bytes of the input (valid until the input changes); a name with an
// escape is not handled.
func (s *Scanner) Key() ([]byte, bool) {
	raw, ok := s.plain()
	if !ok || !s.Byte(':') {
		return nil, false
	}
	return raw, true
}

// String reads a string value without escapes, as valid UTF-8 (what
// encoding/json would give unchanged), and copies it out.
func (s *Scanner) String() (string, bool) {
	raw, ok := s.plain()
	if !ok || !utf8.Valid(raw) {
		return "", false
	}
	return string(raw), true
}

// plain reads a string token without escapes and returns its contents.
func (s *Scanner) plain() ([]byte, bool) {
	s.Space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// Skip reads one value of any kind, checking its syntax as encoding/json
// does (strings may hold any bytes but control characters; escapes are
// the standard ones).
func (s *Scanner) Skip() bool {
	s.Space()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.skipString()
	case c == '{':
		return s.skipComposite('{', '}')
	case c == '[':
		return s.skipComposite('[', ']')
	case c == '-' || '0' <= c && c <= '9':
		return s.skipNumber()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *Scanner) skipComposite(open, close byte) bool {
	if s.depth >= maxDepth {
		return false
	}
	s.depth++
	defer func() { s.depth-- }()
	empty, ok := s.Open(open)
	if !ok {
		return false
	}
	if empty {
		return true
	}
	for {
		if open == '{' {
			if s.Peek() != '"' || !s.skipString() || !s.Byte(':') {
				return false
			}
		}
		if !s.Skip() {
			return false
		}
		more, ok := s.Next(close)
		if !ok {
			return false
		}
		if !more {
			return true
		}
	}
}

func (s *Scanner) skipString() bool {
	j := s.i + 1 // after the opening quote
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if j+1 >= len(s.b) {
				return false
			}
			switch s.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s.b) {
					return false
				}
				for _, h := range s.b[j+2 : j+6] {
					if !isHex(h) {
						return false
					}
				}
				j += 6
			default:
				return false
			}
		default:
			j++
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) skipNumber() bool {
	b, j := s.b, s.i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		j, _ = digits(b, j)
	default:
		return false
	}
	var ok bool
	if j < len(b) && b[j] == '.' {
		if j, ok = digits(b, j+1); !ok {
			return false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j, ok = digits(b, j); !ok {
			return false
		}
	}
	s.i = j
	return true
}

// digits is the end of the run of decimal digits that starts at b[j], and
// whether the run has any.
func digits(b []byte, j int) (end int, some bool) {
	start := j
	for j < len(b) && '0' <= b[j] && b[j] <= '9' {
		j++
	}
	return j, j > start
}

func (s *Scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}
