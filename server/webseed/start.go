package webseed

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Sizes of start responses, in bytes. MinStart and MaxStart bound the early
// parameter; MaxStart is the engine's whole early budget
// (web/static/engine/sw.js EARLY_BUDGET, engine.js EARLY_PREFETCH): no
// response of the start route is longer, whatever the page asks.
// ContinueBytes is the most a request from any other offset than 0 gets:
// those bytes reach the player but not the page, which may fetch them again
// for its engine.
const (
	MinStart      = 16 << 10
	MaxStart      = 1 << 20
	ContinueBytes = 16 << 10
)

// StartHandler returns the handler for the engine's stream URLs,
//
//	GET /static/engine/stream/{infohash}/{name}?webseed=<prefix><file>&early=<bytes>
//
// as the network sees them: the engine's Service Worker answers them once it
// controls the page, so what reaches the pod is a first visit's first
// request, sent before the worker took the page over (engine.js playEarly
// points the <video> there at once instead of waiting ~50-70 ms for the
// worker to start: BENCHMARKS.md, start-up). The page fetches the same
// URL's first early bytes itself (engine.js prefetchEarly), and the
// browser's HTTP cache answers the player with them. Each answer is a 206:
// from byte 0, at most early bytes of the web seed file (MinStart ≤ early ≤
// MaxStart; MaxStart when absent); from any other offset at most
// ContinueBytes, since what asks for more before the worker controls the
// page is the HTTP cache's continuation of the player's open-ended
// request, which it drops when the answer is short, and the player's own
// next requests while the worker starts. Chromium's media loader asks
// again from where a short response ended (measured: ~30 ms later), and
// that request, through the worker, goes to the engine, which takes its
// pieces from peers first. A page no worker ever controls still plays,
// one short request after another.
//
// webseed must name a file of this handler under prefix (e.g.
// "/static/webseed/"), as a path or a URL whose path does; else 404. Its
// host is not compared with the request's: behind a reverse proxy the
// request's Host may be the proxy's upstream (nginx's default), and the
// path alone names a file of this pod (the page checked that the web seed
// is its own origin's). Only single "bytes=S-" and "bytes=S-E" ranges (what media players
// send) are clipped (a request without Range gets the whole file, as
// HTTP wants, RFC 9110 §14.2; no media player sends one); If-Range is dropped so the
// clip always applies. Bytes count as the web seed's (ServedBytes, the
// Prometheus counters): they are the pod's upload like any web seed read.
func (h *Handler) StartHandler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		name, ok := startFile(q.Get("webseed"), prefix)
		if !ok {
			name = "" // serve answers 404
		}
		early := int64(MaxStart)
		if v, err := strconv.ParseInt(q.Get("early"), 10, 64); err == nil {
			early = min(max(v, MinStart), MaxStart)
		}
		if from, to, ok := clipRange(r.Header.Get("Range"), early); ok {
			if from > 0 {
				to = min(to, from+ContinueBytes-1)
			}
			r = r.Clone(r.Context())
			r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
			r.Header.Del("If-Range")
		}
		h.serve(w, r, name)
	})
}

// startFile returns the web seed file name that ws (a path, or a URL)
// names under prefix.
func startFile(ws, prefix string) (string, bool) {
	u, err := url.Parse(ws)
	if err != nil || ws == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Path, prefix)
	return name, ok && name != ""
}

// clipRange returns the range [from, to] (inclusive, RFC 9110 byte range)
// that a start response serves for the Range header h: from where h starts,
// at most early bytes. ok is false for what it leaves alone: no header,
// suffix ranges, several ranges, and malformed headers (ServeContent
// answers those).
func clipRange(h string, early int64) (from, to int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found || first == "" {
		return 0, 0, false
	}
	from, err := strconv.ParseInt(first, 10, 64)
	if err != nil || from < 0 || from > (1<<62) {
		return 0, 0, false
	}
	to = from + early - 1
	if last != "" {
		end, err := strconv.ParseInt(last, 10, 64)
		if err != nil || end < from {
			return 0, 0, false
		}
		to = min(to, end)
	}
	return from, to, true
}
