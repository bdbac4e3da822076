package httpx

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// compressibleTypes are the answers worth compressing: pages, styles,
// scripts, JSON and feeds. Video (the web seed), the wasm (served
// pre-compressed by web) and torrents are not in the list.
var compressibleTypes = []string{
	"text/html", "text/css", "text/javascript", "text/plain",
	"application/json", "application/javascript", "image/svg+xml",
	"application/xml", "application/rss+xml", "application/atom+xml",
}

// Compress gzip- or zstd-encodes text answers (above gzhttp's 1 KiB minimum)
// for clients that accept it, as RFC 9110 8.4 content coding: ETags get a
// suffix so a compressed and a plain copy never share a validator, and
// partial (206) answers pass through untouched. Paths under any of skip
// prefixes (the web seed's ranges, the trackers' sockets) are not wrapped
// at all. It uses klauspost/compress's gzhttp, which handles Vary,
// Accept-Encoding q-values, flushing and hijacking correctly.
func Compress(skip ...string) Middleware {
	wrap, err := gzhttp.NewWrapper(gzhttp.ContentTypes(compressibleTypes), gzhttp.SuffixETag("-z"))
	if err != nil {
		panic(err) // the options above are constant and valid
	}
	return func(next http.Handler) http.Handler {
		wrapped := wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, p := range skip {
				if strings.HasPrefix(r.URL.Path, p) {
					next.ServeHTTP(w, r)
					return
				}
			}
			wrapped.ServeHTTP(w, r)
		})
	}
}
