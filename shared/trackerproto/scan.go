package trackerproto

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays (JSON.parse has no
// limit, but a tracker message never needs more).
const maxDepth = 64

// scanner is a single-pass JSON reader over one complete message. Every
// method that consumes a value also validates it, so a message that
// decodes is valid JSON.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

func (s *scanner) syntaxErr(msg string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, msg, s.pos)
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *scanner) peek() byte {
	s.skipWS()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// readString reads the JSON string at s.pos and returns its raw content
// (without quotes) and whether it contains escapes.
func (s *scanner) readString() (raw []byte, esc bool, err error) {
	raw, esc, nonASCII, err := s.readStringBytes()
	if err == nil && nonASCII && !utf8.Valid(raw) {
		return nil, false, s.utf8Err()
	}
	return raw, esc, err
}

func (s *scanner) utf8Err() error { return s.syntaxErr("invalid UTF-8 in string") }

// readStringBytes is readString without the UTF-8 check of non-ASCII
// content, for callers that decode the content themselves.
func (s *scanner) readStringBytes() (raw []byte, esc, nonASCII bool, err error) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false, false, s.syntaxErr("expected string")
	}
	start := s.pos + 1
	for i := start; i < len(s.data); i++ {
		// Fast paths over plain ASCII (most of an SDP): eight bytes at a
		// time, then one table load per byte.
		for i+8 <= len(s.data) && plain8(binary.LittleEndian.Uint64(s.data[i:])) {
			i += 8
		}
		for i < len(s.data) && plainStringByte[s.data[i]] {
			i++
		}
		if i == len(s.data) {
			break
		}
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i], esc, nonASCII, nil
		case c == '\\':
			esc = true
			if i+1 >= len(s.data) {
				s.pos = i
				return nil, false, false, s.syntaxErr("unterminated string")
			}
			switch s.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(s.data) || hexVal(s.data[i+2]) < 0 || hexVal(s.data[i+3]) < 0 ||
					hexVal(s.data[i+4]) < 0 || hexVal(s.data[i+5]) < 0 {
					s.pos = i
					return nil, false, false, s.syntaxErr(`invalid \u escape`)
				}
				i += 5
			default:
				s.pos = i
				return nil, false, false, s.syntaxErr("invalid escape")
			}
		case c < 0x20:
			s.pos = i
			return nil, false, false, s.syntaxErr("control character in string")
		case c >= 0x80:
			nonASCII = true
		}
	}
	s.pos = len(s.data)
	return nil, false, false, s.syntaxErr("unterminated string")
}

// readNumber reads a JSON number and returns its text.
func (s *scanner) readNumber() ([]byte, error) {
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.syntaxErr("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return nil, s.syntaxErr("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return nil, s.syntaxErr("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return d[start:i], nil
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.syntaxErr("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

// skipValue validates and skips one value, returning its raw text.
func (s *scanner) skipValue() ([]byte, error) {
	c := s.peek()
	start := s.pos
	if s.pos >= len(s.data) {
		return nil, s.syntaxErr("unexpected end of input")
	}
	var err error
	switch c {
	case '{':
		err = s.eachMember(func([]byte, bool) error {
			_, err := s.skipValue()
			return err
		})
	case '[':
		err = s.eachElement(func() error {
			_, err := s.skipValue()
			return err
		})
	case '"':
		_, _, err = s.readString()
	case 't':
		err = s.literal("true")
	case 'f':
		err = s.literal("false")
	case 'n':
		err = s.literal("null")
	default:
		_, err = s.readNumber()
	}
	if err != nil {
		return nil, err
	}
	return s.data[start:s.pos], nil
}

// eachMember reads an object, calling member for each key with s positioned
// at the member's value; member must consume the value.
func (s *scanner) eachMember(member func(key []byte, esc bool) error) error {
	return s.eachItem('{', '}', "expected object", func() error {
		key, esc, err := s.readString()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.syntaxErr("expected ':'")
		}
		s.pos++
		s.skipWS()
		return member(key, esc)
	})
}

// eachElement reads an array, calling elem with s positioned at each element.
func (s *scanner) eachElement(elem func() error) error {
	return s.eachItem('[', ']', "expected array", elem)
}

// eachItem reads an object or an array, delimited by open and close,
// calling item with s positioned at each item; notOpen is the error text
// when the value is not one.
func (s *scanner) eachItem(open, close byte, notOpen string, item func() error) error {
	if s.peek() != open {
		return s.syntaxErr(notOpen)
	}
	s.depth++
	if s.depth > maxDepth {
		return s.syntaxErr("nesting too deep")
	}
	s.pos++
	if s.peek() == close {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipWS()
		if err := item(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case close:
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxErr("expected ',' or '" + string(close) + "'")
		}
	}
}

// end checks that nothing but white space follows the top-level value.
func (s *scanner) end() error {
	if s.peek() != 0 || s.pos != len(s.data) {
		return s.syntaxErr("unexpected data after top-level value")
	}
	return nil
}

// keyIs compares an object key with name, unescaping only if needed.
func keyIs(key []byte, esc bool, name string) bool {
	if !esc {
		return string(key) == name
	}
	var buf [32]byte
	return string(appendUnquoted(buf[:0], key)) == name
}

// jsNumber converts a JSON value to a number as JavaScript's Number() does
// for the values a tracker sees: numbers, numeric strings, null (0), true
// (1), false (0). ok is false for NaN (anything else).
func jsNumber(raw []byte) (v float64, ok bool) {
	if len(raw) == 0 {
		return 0, false
	}
	switch raw[0] {
	case 'n', 'f':
		return 0, true
	case 't':
		return 1, true
	case '{', '[':
		return 0, false
	case '"':
		str := trimSpace(raw[1 : len(raw)-1])
		if len(str) == 0 {
			return 0, true
		}
		for _, c := range str {
			if c == '\\' || c == '_' {
				return 0, false // rare; not worth unescaping
			}
		}
		raw = str
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, !math.IsNaN(f)
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// toInt64 clamps a JavaScript number to int64 (truncating fractions).
func toInt64(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// truthy reports whether a raw JSON value is truthy in JavaScript.
func truthy(raw []byte) bool {
	switch {
	case len(raw) == 0:
		return false
	case string(raw) == "null" || string(raw) == "false" || string(raw) == `""`:
		return false
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		f, err := strconv.ParseFloat(string(raw), 64)
		return err != nil || f != 0
	}
	return true
}

// plainStringByte marks the bytes readString passes over without a
// second look: printable ASCII other than '"' and '\\'.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plain8 reports whether the eight bytes packed in x are all plain string
// bytes (plainStringByte), with the zero-byte test of "Bit Twiddling
// Hacks": a byte b of x is below n iff (x - n*lo) & ^x has b's top bit set.
func plain8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	quote, bslash := x^(lo*'"'), x^(lo*'\\')
	special := (x - lo*0x20) & ^x // a control character
	special |= (quote - lo) & ^quote
	special |= (bslash - lo) & ^bslash
	return (special|x)&hi == 0 // x's top bits: non-ASCII
}
