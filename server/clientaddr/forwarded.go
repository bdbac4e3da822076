package clientaddr

import (
	"net/netip"
	"strings"
)

// Element is one hop of a Forwarded header (RFC 7239 section 4): the
// parameters one proxy added.
type Element struct {
	// For is the node that made the request to this hop (the "for"
	// parameter); invalid when absent, "unknown", obfuscated (RFC 7239
	// section 6.3) or not an IP address.
	For netip.Addr
	// Proto is the "proto" parameter (the scheme the hop's client used),
	// lower case; empty when absent.
	Proto string
}

// maxElements bounds the hops read from one request's Forwarded headers,
// so a hostile proxy chain cannot make the walk long.
const maxElements = 64

// ParseForwarded parses the values of every Forwarded header of a request,
// in order, into its elements (RFC 7239 section 4):
//
//	Forwarded   = 1#forwarded-element
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair = token "=" value
//	value       = token / quoted-string
//
// Parameter names are case-insensitive; unknown parameters (by, host,
// extensions) are skipped. ok is false on a syntax error, a repeated
// parameter within one element, or more than 64 elements: a caller should
// then believe none of it.
func ParseForwarded(values []string) (elems []Element, ok bool) {
	for _, v := range values {
		p := fwdParser{s: v}
		for {
			p.skipSpace()
			if p.done() {
				break
			}
			if len(elems) == maxElements {
				return nil, false
			}
			e, ok := p.element()
			if !ok {
				return nil, false
			}
			elems = append(elems, e)
			p.skipSpace()
			if p.done() {
				break
			}
			if p.s[p.i] != ',' {
				return nil, false
			}
			p.i++
		}
	}
	return elems, true
}

type fwdParser struct {
	s string
	i int
}

func (p *fwdParser) done() bool { return p.i >= len(p.s) }

func (p *fwdParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// element reads pairs up to the next top-level ',' or the end.
func (p *fwdParser) element() (Element, bool) {
	var e Element
	var seenFor, seenProto bool
	for {
		p.skipSpace()
		if p.done() || p.s[p.i] == ',' {
			return e, true
		}
		if p.s[p.i] == ';' { // empty pair, allowed by the grammar
			p.i++
			continue
		}
		name := p.token()
		if name == "" || p.done() || p.s[p.i] != '=' {
			return e, false
		}
		p.i++
		val, ok := p.value()
		if !ok {
			return e, false
		}
		switch strings.ToLower(name) {
		case "for":
			if seenFor {
				return e, false
			}
			seenFor = true
			if a, ok := parseNode(val); ok {
				e.For = a
			}
		case "proto":
			if seenProto {
				return e, false
			}
			seenProto = true
			e.Proto = strings.ToLower(val)
		}
		p.skipSpace()
		if p.done() || p.s[p.i] == ',' {
			return e, true
		}
		if p.s[p.i] != ';' {
			return e, false
		}
		p.i++
	}
}

// token reads an RFC 7230 token.
func (p *fwdParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// value reads a token or a quoted-string (with quoted-pair escapes).
func (p *fwdParser) value() (string, bool) {
	if p.done() {
		return "", false
	}
	if p.s[p.i] != '"' {
		v := p.token()
		return v, v != ""
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", false
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", false // unterminated
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
