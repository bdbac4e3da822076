package trackerproto

import (
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// ID is a 20-byte info hash, peer id or offer id. Its JSON form is a
// binary string (see the package documentation).
type ID [20]byte

// String returns the ID in lower-case hex, as bittorrent-tracker logs it.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// AppendJSON appends id as a quoted JSON binary string, escaping exactly as
// JavaScript's JSON.stringify does.
func (id ID) AppendJSON(dst []byte) []byte { return AppendBinaryString(dst, id[:]) }

// MarshalJSON implements json.Marshaler.
func (id ID) MarshalJSON() ([]byte, error) { return id.AppendJSON(make([]byte, 0, 44)), nil }

// UnmarshalJSON implements json.Unmarshaler; it accepts only a JSON string
// of exactly 20 code points, each at most U+00FF.
func (id *ID) UnmarshalJSON(data []byte) error {
	s := scanner{data: data}
	s.skipWS()
	raw, esc, err := s.readString()
	if err != nil {
		return err
	}
	s.skipWS()
	if s.pos != len(data) {
		return s.syntaxErr("trailing data after string")
	}
	if !decodeBinaryString(raw, esc, id) {
		return fmt.Errorf("trackerproto: %q is not a 20-byte binary string", data)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// AppendBinaryString appends b as a quoted JSON string with one code point
// per byte (U+0000..U+00FF), escaping as JSON.stringify does: \" \\ \b \f
// \n \r \t, other control bytes as \u00XX, bytes >= 0x80 as 2-byte UTF-8.
func AppendBinaryString(dst, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			switch c {
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
		case c < 0x80:
			dst = append(dst, c)
		default:
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return append(dst, '"')
}

// appendString appends s (UTF-8 text) as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case c < 0x80:
			dst = append(dst, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size - 1
		}
	}
	return append(dst, '"')
}

// decodeBinaryString decodes the content of a JSON string (between the
// quotes, already validated by readString) into id. It reports false unless
// the string holds exactly 20 code points, all at most U+00FF.
func decodeBinaryString(raw []byte, esc bool, id *ID) bool {
	if !esc && len(raw) == 20 {
		// Fast path: plain ASCII (readString guarantees no control bytes).
		for _, c := range raw {
			if c >= 0x80 {
				goto slow
			}
		}
		copy(id[:], raw)
		return true
	}
slow:
	n := 0
	for i := 0; i < len(raw); {
		var r rune
		c := raw[i]
		switch {
		case c == '\\':
			var size int
			r, size = unescape(raw[i:])
			i += size
		case c < 0x80:
			r = rune(c)
			i++
		default:
			var size int
			r, size = utf8.DecodeRune(raw[i:])
			i += size
		}
		if r > 0xFF || n == len(id) {
			return false
		}
		id[n] = byte(r)
		n++
	}
	return n == len(id)
}

// unescape decodes the escape sequence at the start of b (validated by
// readString) and returns the UTF-16 code unit (or code point) and its length.
// A \u escape of a surrogate yields the surrogate itself: callers that need
// binary strings reject it as > 0xFF, and appendUnquoted pairs them.
func unescape(b []byte) (rune, int) {
	switch b[1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		return rune(hexVal(b[2])<<12 | hexVal(b[3])<<8 | hexVal(b[4])<<4 | hexVal(b[5])), 6
	default: // '"', '\\', '/'
		return rune(b[1]), 2
	}
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// appendUnquoted appends the UTF-8 text of a validated JSON string content,
// as encoding/json decodes it (unpaired surrogates become U+FFFD).
func appendUnquoted(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			dst = append(dst, raw[i])
			i++
			continue
		}
		r, size := unescape(raw[i:])
		i += size
		if r >= 0xD800 && r < 0xDC00 && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
			if r2, size2 := unescape(raw[i:]); r2 >= 0xDC00 && r2 < 0xE000 {
				r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
				i += size2
			}
		}
		if r >= 0xD800 && r < 0xE000 {
			r = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}
