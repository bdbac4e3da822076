package fedproto

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signature scheme constants.
const (
	AlgorithmRSASHA256 = "rsa-sha256"
	// AlgorithmHS2019 is the draft's "derive the algorithm from the key"
	// name; for the RSA keys pods use it means rsa-sha256.
	AlgorithmHS2019 = "hs2019"
	RequestTarget   = "(request-target)"
	// MaxSignatureHeader bounds the Signature header a receiver parses.
	MaxSignatureHeader = 8 << 10
)

// RequiredHeaders must all be covered by a pod-to-pod signature, in this
// order when a pod signs.
var RequiredHeaders = []string{RequestTarget, "host", "date", "digest"}

// SignatureParams is a parsed Signature header.
type SignatureParams struct {
	KeyID     string
	Algorithm string   // as sent; empty when absent
	Headers   []string // lower case, in signing order
	Signature []byte
	Created   int64 // 0 when absent
	Expires   int64 // 0 when absent
}

// ParseSignature parses the value of a Signature header strictly:
// comma-separated name="value" pairs (created and expires may be bare
// integers), each name at most once, values without escapes; keyId,
// headers and signature are mandatory, algorithm if present must be
// rsa-sha256 or hs2019, and unknown names are ignored as the draft says.
func ParseSignature(s string) (SignatureParams, error) {
	var p SignatureParams
	if s == "" {
		return p, ErrNoSignature
	}
	if len(s) > MaxSignatureHeader {
		return p, fmt.Errorf("%w: header longer than %d bytes", ErrBadSignature, MaxSignatureHeader)
	}
	seen := map[string]bool{}
	rest := s
	var sig, headers string
	for {
		rest = strings.TrimLeft(rest, " \t")
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, fmt.Errorf("%w: expected name=value", ErrBadSignature)
		}
		name := rest[:eq]
		if strings.ContainsAny(name, " \t,\"") {
			return p, fmt.Errorf("%w: malformed parameter name %q", ErrBadSignature, name)
		}
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return p, fmt.Errorf("%w: unterminated value of %s", ErrBadSignature, name)
			}
			val = rest[1 : 1+end]
			if strings.ContainsAny(val, "\\\r\n") {
				return p, fmt.Errorf("%w: escapes or line breaks in %s", ErrBadSignature, name)
			}
			rest = rest[2+end:]
		} else {
			// Bare values are for integers (created, expires) and unknown
			// tokens; the parameters we use must be quoted strings.
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
			switch {
			case name == "keyId" || name == "algorithm" || name == "headers" || name == "signature":
				return p, fmt.Errorf("%w: %s must be a quoted string", ErrBadSignature, name)
			case val == "" || strings.ContainsFunc(val, func(r rune) bool { return !isTokenChar(r) }):
				return p, fmt.Errorf("%w: malformed value of %s", ErrBadSignature, name)
			}
		}
		if seen[name] {
			return p, fmt.Errorf("%w: parameter %s given twice", ErrBadSignature, name)
		}
		seen[name] = true
		switch name {
		case "keyId":
			p.KeyID = val
		case "algorithm":
			p.Algorithm = val
		case "headers":
			headers = val
		case "signature":
			sig = val
		case "created", "expires":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return p, fmt.Errorf("%w: %s must be a positive integer", ErrBadSignature, name)
			}
			if name == "created" {
				p.Created = n
			} else {
				p.Expires = n
			}
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return p, fmt.Errorf("%w: expected ',' after %s", ErrBadSignature, name)
		}
		rest = rest[1:]
	}
	switch {
	case p.KeyID == "":
		return p, fmt.Errorf("%w: missing keyId", ErrBadSignature)
	case sig == "":
		return p, fmt.Errorf("%w: missing signature", ErrBadSignature)
	case headers == "":
		return p, fmt.Errorf("%w: missing headers", ErrBadSignature)
	case p.Algorithm != "" && p.Algorithm != AlgorithmRSASHA256 && p.Algorithm != AlgorithmHS2019:
		return p, fmt.Errorf("%w: algorithm %q is not %s", ErrBadSignature, p.Algorithm, AlgorithmRSASHA256)
	}
	for _, h := range strings.Fields(headers) {
		p.Headers = append(p.Headers, strings.ToLower(h))
	}
	var err error
	if p.Signature, err = base64.StdEncoding.DecodeString(sig); err != nil || len(p.Signature) == 0 || len(p.Signature) > 1024 {
		return p, fmt.Errorf("%w: signature is not base64 of at most 1024 bytes", ErrBadSignature)
	}
	return p, nil
}

// String formats p as a Signature header value.
func (p SignatureParams) String() string {
	alg := p.Algorithm
	if alg == "" {
		alg = AlgorithmRSASHA256
	}
	return fmt.Sprintf(`keyId="%s",algorithm="%s",headers="%s",signature="%s"`,
		p.KeyID, alg, strings.Join(p.Headers, " "), base64.StdEncoding.EncodeToString(p.Signature))
}

// CheckCovers returns an error unless p signs every one of RequiredHeaders.
func (p SignatureParams) CheckCovers() error {
	for _, want := range RequiredHeaders {
		found := false
		for _, h := range p.Headers {
			if h == want {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: signature does not cover %s (must cover %q)", ErrBadSignature, want, strings.Join(RequiredHeaders, " "))
		}
	}
	return nil
}

// Digest returns the Digest header value of body.
func Digest(body []byte) string {
	sum := sha256.Sum256(body)
	return "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
}

// CheckDigest verifies the Digest header of a request against body. The
// header is a list (RFC 3230 section 4.3.2: instance-digest values
// separated by commas; several header lines are one list, see
// DigestHeader): each member is "<algorithm>=<base64>", the algorithm
// case-insensitive, and the value may also be written as an RFC 9530
// byte sequence ":<base64>:". Members with algorithms other than SHA-256
// (SHA-512, MD5, unknown names) and malformed members are skipped. The
// body is accepted when at least one SHA-256 member is present and every
// SHA-256 member matches; a mismatching SHA-256 member, or none usable, is
// ErrBadDigest.
func CheckDigest(header string, body []byte) error {
	want := Digest(body)[len("SHA-256="):]
	matched := false
	for member := range strings.SplitSeq(header, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(alg), "SHA-256") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == ':' && val[len(val)-1] == ':' {
			val = val[1 : len(val)-1]
		}
		if subtle.ConstantTimeCompare([]byte(val), []byte(want)) != 1 {
			return fmt.Errorf("%w: the body does not match its SHA-256 digest", ErrBadDigest)
		}
		matched = true
	}
	if !matched {
		return fmt.Errorf("%w: want a SHA-256 digest", ErrBadDigest)
	}
	return nil
}

// DigestHeader returns the Digest of h as one list: several Digest header
// lines are one comma-separated list (RFC 9110 section 5.3), as the
// signing string also joins them.
func DigestHeader(h http.Header) string {
	return strings.Join(h.Values("Digest"), ", ")
}

// CheckDate verifies that a Date header value is an HTTP date within
// MaxClockSkew of now.
func CheckDate(header string, now time.Time) error {
	t, err := http.ParseTime(header)
	if err != nil {
		return fmt.Errorf("%w: malformed or missing Date", ErrClockSkew)
	}
	if d := now.Sub(t); d > MaxClockSkew || d < -MaxClockSkew {
		return fmt.Errorf("%w: Date is %s away from this pod's clock (limit %s)", ErrClockSkew, d.Round(time.Second), MaxClockSkew)
	}
	return nil
}

func isTokenChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}
