package httpx

import (
	"math"
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
// seed clients and aria2 send, pass untouched, but for a zero-length
// suffix ("bytes=-0"), which RFC 9110 §14.1.1 makes unsatisfiable and
// http.ServeContent (Go 1.26) answered 206 with Content-Range
// "bytes 37521-37520/37521" and no bytes: it is given ServeContent as a
// range starting past any file, so it gets the 416 with the size.
func ModestRanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		specs, ok := rangeSpecs(r.Header.Get("Range"))
		switch {
		case !ok:
		case len(specs) > 1 && !modestRanges(specs):
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		case len(specs) == 1 && emptySuffix(specs[0]):
			r = r.Clone(r.Context())
			r.Header.Set("Range", pastAnyFile)
		}
		next.ServeHTTP(w, r)
	})
}

// pastAnyFile is a range no file satisfies: http.ServeContent answers it
// 416 with "Content-Range: bytes */<size>".
var pastAnyFile = "bytes=" + strconv.FormatInt(math.MaxInt64, 10) + "-"

// rangeSpecs splits a Range header into its ranges as http.ServeContent
// reads them: after "bytes=", at commas, trimmed, empty ones skipped. ok
// is false for a header that is not a byte range.
func rangeSpecs(h string) (specs []string, ok bool) {
	set, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok {
		return nil, false
	}
	for p := range strings.SplitSeq(set, ",") {
		if p = strings.TrimSpace(p); p != "" {
			specs = append(specs, p)
		}
	}
	return specs, true
}

// emptySuffix reports whether a range is a suffix of length zero ("-0",
// "- 00", "-+0"), read as http.ServeContent reads it (strconv.ParseInt
// after trimming spaces).
func emptySuffix(spec string) bool {
	first, n, ok := strings.Cut(spec, "-")
	if !ok || strings.TrimSpace(first) != "" {
		return false
	}
	i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	return err == nil && i == 0
}

// modestRanges reports whether several ranges (RFC 9110 §14.1.1) are at
// most MaxRanges closed ones ("first-last"), in increasing order and not
// overlapping. Anything it cannot read is left to http.ServeContent, which
// refuses it.
func modestRanges(specs []string) bool {
	if len(specs) > MaxRanges {
		return false
	}
	next := int64(0)
	for _, p := range specs {
		first, last, ok := strings.Cut(p, "-")
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
