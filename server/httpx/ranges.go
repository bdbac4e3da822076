package httpx

import (
	"net/http"
	"strconv"
	"strings"
)

// MaxRanges is the most byte ranges a multi-range request may ask for.
const MaxRanges = 8

// ModestRanges drops a Range header that asks for more than MaxRanges
// ranges, or for overlapping or open-ended ones among several, before any
// handler sees it. RFC 9110 §14.2 lets a server ignore such a Range: the
// request is then answered in full, so an answer is never larger than the
// file. Without this, http.ServeContent answered 5000 one-byte ranges
// with 14 times the request and 1.8 times the file, and overlapping ones
// with the same bytes again and again. Single ranges, which players, web
// seed clients and aria2 send, pass untouched.
func ModestRanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Range"); strings.Contains(h, ",") && !modestRanges(h) {
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		}
		next.ServeHTTP(w, r)
	})
}

// modestRanges reports whether a multi-range header (RFC 9110 §14.1.1)
// lists at most MaxRanges closed ranges ("first-last"), in increasing order
// and not overlapping. Anything it cannot read is left to http.ServeContent,
// which refuses it.
func modestRanges(h string) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok {
		return true
	}
	parts := strings.Split(spec, ",")
	if len(parts) > MaxRanges {
		return false
	}
	next := int64(0)
	for _, p := range parts {
		first, last, ok := strings.Cut(strings.TrimSpace(p), "-")
		if !ok {
			return true // malformed: ServeContent answers 416
		}
		a, err1 := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
		b, err2 := strconv.ParseInt(strings.TrimSpace(last), 10, 64)
		if err1 != nil || err2 != nil {
			// A suffix ("-500") or open ("500-") range among several can
			// cover the others whatever the file's size.
			return false
		}
		if a < next || b < a {
			return false
		}
		next = b + 1
	}
	return true
}
