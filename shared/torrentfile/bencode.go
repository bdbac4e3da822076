package torrentfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// A small, strict bencode codec (BEP 3). It lives here rather than coming
// from anacrolix/torrent/bencode because that package drags crypto/tls,
// net/http and x509 into the browser's wasm binary, and shared/ must not
// import anacrolix/torrent at all.
//
// Strict means canonical: dictionary keys sorted and unique, integers without
// leading zeros or "-0", lengths within the input. A canonical decoder makes
// "decode then encode" an identity, which is what lets Parse promise that
// Info.InfoHash equals the hash of the bytes it read.

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 32

// errSyntax is wrapped by every decoding error.
var errSyntax = errors.New("bencode syntax")

// bdict is a decoded dictionary that keeps each value's raw encoding, so a
// caller can hash a sub-dictionary exactly as it appeared (the info hash).
type bdict map[string][]byte

// decodeValue checks that b[pos:] starts with one well-formed value and
// returns the index just past it.
func skipValue(b []byte, pos, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: nesting deeper than %d at offset %d", errSyntax, maxDepth, pos)
	}
	if pos >= len(b) {
		return 0, fmt.Errorf("%w: unexpected end of input", errSyntax)
	}
	switch c := b[pos]; {
	case c == 'i':
		_, next, err := decodeInt(b, pos)
		return next, err
	case c >= '0' && c <= '9':
		_, next, err := decodeString(b, pos)
		return next, err
	case c == 'l':
		pos++
		for {
			if pos >= len(b) {
				return 0, fmt.Errorf("%w: unterminated list", errSyntax)
			}
			if b[pos] == 'e' {
				return pos + 1, nil
			}
			var err error
			if pos, err = skipValue(b, pos, depth+1); err != nil {
				return 0, err
			}
		}
	case c == 'd':
		_, next, err := decodeDictAt(b, pos, depth)
		return next, err
	default:
		return 0, fmt.Errorf("%w: unexpected byte %q at offset %d", errSyntax, c, pos)
	}
}

// decodeInt decodes "i<digits>e" at b[pos].
func decodeInt(b []byte, pos int) (int64, int, error) {
	end := bytes.IndexByte(b[pos:], 'e')
	if b[pos] != 'i' || end < 0 {
		return 0, 0, fmt.Errorf("%w: bad integer at offset %d", errSyntax, pos)
	}
	digits := string(b[pos+1 : pos+end])
	if !canonicalInt(digits) {
		return 0, 0, fmt.Errorf("%w: non-canonical integer %q at offset %d", errSyntax, digits, pos)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: integer %q at offset %d: %w", errSyntax, digits, pos, err)
	}
	return n, pos + end + 1, nil
}

func canonicalInt(s string) bool {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if s == "" || (s[0] == '0' && (len(s) > 1 || neg)) {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decodeString decodes "<len>:<bytes>" at b[pos]; the result aliases b.
func decodeString(b []byte, pos int) ([]byte, int, error) {
	colon := bytes.IndexByte(b[pos:], ':')
	if colon < 1 || colon > 19 {
		return nil, 0, fmt.Errorf("%w: bad string length at offset %d", errSyntax, pos)
	}
	digits := string(b[pos : pos+colon])
	if digits[0] == '0' && len(digits) > 1 {
		return nil, 0, fmt.Errorf("%w: non-canonical string length at offset %d", errSyntax, pos)
	}
	n, err := strconv.ParseUint(digits, 10, 63)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: bad string length %q at offset %d", errSyntax, digits, pos)
	}
	start := pos + colon + 1
	if n > uint64(len(b)-start) {
		return nil, 0, fmt.Errorf("%w: string at offset %d runs past the end", errSyntax, pos)
	}
	end := start + int(n)
	return b[start:end:end], end, nil
}

// decodeDictAt decodes a dictionary at b[pos], keeping raw values.
func decodeDictAt(b []byte, pos, depth int) (bdict, int, error) {
	if pos >= len(b) || b[pos] != 'd' {
		return nil, 0, fmt.Errorf("%w: expected dictionary at offset %d", errSyntax, pos)
	}
	d := bdict{}
	pos++
	var prev []byte
	for {
		if pos >= len(b) {
			return nil, 0, fmt.Errorf("%w: unterminated dictionary", errSyntax)
		}
		if b[pos] == 'e' {
			return d, pos + 1, nil
		}
		keyAt := pos
		key, next, err := decodeString(b, pos)
		if err != nil {
			return nil, 0, fmt.Errorf("dictionary key: %w", err)
		}
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return nil, 0, fmt.Errorf("%w: dictionary key %q at offset %d unsorted or repeated", errSyntax, key, keyAt)
		}
		prev = key
		end, err := skipValue(b, next, depth+1)
		if err != nil {
			return nil, 0, err
		}
		d[string(key)] = b[next:end:end]
		pos = end
	}
}

// decodeDict decodes b, which must hold exactly one dictionary.
func decodeDict(b []byte) (bdict, error) {
	d, end, err := decodeDictAt(b, 0, 0)
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errSyntax, len(b)-end)
	}
	return d, nil
}

func (d bdict) int(key string) (int64, bool, error) {
	raw, ok := d[key]
	if !ok {
		return 0, false, nil
	}
	n, _, err := decodeInt(raw, 0)
	if err != nil {
		return 0, true, fmt.Errorf("%q: %w", key, err)
	}
	return n, true, nil
}

func (d bdict) string(key string) ([]byte, bool, error) {
	raw, ok := d[key]
	if !ok {
		return nil, false, nil
	}
	if raw[0] < '0' || raw[0] > '9' {
		return nil, true, fmt.Errorf("%q: %w: not a string", key, errSyntax)
	}
	s, _, err := decodeString(raw, 0)
	if err != nil {
		return nil, true, fmt.Errorf("%q: %w", key, err)
	}
	return s, true, nil
}

// list decodes a list value into the raw encodings of its elements.
func decodeList(raw []byte) ([][]byte, error) {
	if len(raw) == 0 || raw[0] != 'l' {
		return nil, fmt.Errorf("%w: not a list", errSyntax)
	}
	var out [][]byte
	for pos := 1; raw[pos] != 'e'; {
		end, err := skipValue(raw, pos, 1)
		if err != nil {
			return nil, err
		}
		out = append(out, raw[pos:end:end])
		pos = end
	}
	return out, nil
}

// stringList decodes a list whose elements are all strings.
func stringList(raw []byte) ([]string, error) {
	elems, err := decodeList(raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, _, err := decodeString(e, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, string(s))
	}
	return out, nil
}

// AppendBencode appends the canonical bencoding (BEP 3: dictionary keys
// sorted bytewise, integers without leading zeros) of v to buf. Supported
// values: int, int64, string, []byte, []string, [][]string, []any and
// map[string]any, nested freely; anything else is an error and buf is
// returned unchanged.
func AppendBencode(buf []byte, v any) ([]byte, error) {
	out, err := encode(buf, v)
	if err != nil {
		return buf, err
	}
	return out, nil
}

// encode appends canonical bencode; see AppendBencode.
func encode(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case int:
		return encode(buf, int64(v))
	case int64:
		buf = append(buf, 'i')
		buf = strconv.AppendInt(buf, v, 10)
		return append(buf, 'e'), nil
	case string:
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		return append(buf, v...), nil
	case []byte:
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		return append(buf, v...), nil
	case []string:
		buf = append(buf, 'l')
		for _, s := range v {
			buf, _ = encode(buf, s)
		}
		return append(buf, 'e'), nil
	case [][]string:
		buf = append(buf, 'l')
		for _, tier := range v {
			buf, _ = encode(buf, tier)
		}
		return append(buf, 'e'), nil
	case []any:
		buf = append(buf, 'l')
		for _, e := range v {
			var err error
			if buf, err = encode(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, 'e'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // Go compares strings bytewise, as BEP 3 requires
		buf = append(buf, 'd')
		for _, k := range keys {
			buf, _ = encode(buf, k)
			var err error
			if buf, err = encode(buf, v[k]); err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
		}
		return append(buf, 'e'), nil
	case rawValue:
		return append(buf, v...), nil
	default:
		return nil, fmt.Errorf("bencode: unsupported type %T", v)
	}
}

// rawValue is spliced into the output as is (already bencoded).
type rawValue []byte

// Dict is one decoded bencode dictionary (BEP 3): each key's value in its
// raw encoding, decoded on demand by Int, String and Dict. Peers' BEP 10
// extension messages are read with it.
type Dict map[string][]byte

// DecodeDict decodes b, which must hold exactly one canonical dictionary;
// errors wrap the syntax error with the offset at fault.
func DecodeDict(b []byte) (Dict, error) {
	d, err := decodeDict(b)
	return Dict(d), err
}

// Int returns the integer under key; ok is false when key is absent, and
// err says why a present value is not an integer.
func (d Dict) Int(key string) (n int64, ok bool, err error) { return bdict(d).int(key) }

// String returns the byte string under key, as Int does.
func (d Dict) String(key string) (s []byte, ok bool, err error) { return bdict(d).string(key) }

// Dict returns the dictionary under key, as Int does.
func (d Dict) Dict(key string) (Dict, bool, error) {
	raw, ok := d[key]
	if !ok {
		return nil, false, nil
	}
	sub, err := DecodeDict(raw)
	if err != nil {
		return nil, true, fmt.Errorf("%q: %w", key, err)
	}
	return sub, true, nil
}

// Ints returns the list of integers under key, as Int does.
func (d Dict) Ints(key string) ([]int64, bool, error) {
	raw, ok := d[key]
	if !ok {
		return nil, false, nil
	}
	elems, err := decodeList(raw)
	if err != nil {
		return nil, true, fmt.Errorf("%q: %w", key, err)
	}
	out := make([]int64, 0, len(elems))
	for _, e := range elems {
		n, _, err := decodeInt(e, 0)
		if err != nil {
			return nil, true, fmt.Errorf("%q: %w", key, err)
		}
		out = append(out, n)
	}
	return out, true, nil
}
