package httpx

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/swarmtube/swarmtube/server/api"
)

// Words gives the pod's words for an error answer that a handler which is
// not ours wrote as plain text: tusd's "ERR_MISMATCHED_OFFSET: mismatched
// offset", net/http's "invalid range: failed to overlap" or "404 page not
// found". h is the answer's header as that handler set it (Content-Range,
// Tus-Resumable…) and text the start of its body. It returns nil when it
// has no words for it; StatusWords then speaks for the status.
type Words func(status int, h http.Header, text string) *Error

// ErrorPage draws the site's HTML error page with e's status and message.
type ErrorPage func(w http.ResponseWriter, r *http.Request, e *Error)

// plainTextMax is how much of a plain error body is kept for Words and the
// log; the rest is dropped.
const plainTextMax = 512

// PlainErrors is the one place where an error answer that is not in the
// pod's shapes is brought into them. Handlers that are not ours answer
// errors in plain text: tusd (upload too large, bad offset, missing
// headers), http.ServeContent (416 Range Not Satisfiable, 412), http.Error
// and http.NotFound, anything a library adds later. Any answer with a
// status of 400 or more whose Content-Type is text/plain or absent is held
// back, and the client gets instead:
//
//   - for a page (IsPage) when page is not nil: the site's HTML error page;
//   - otherwise the API's JSON {"error","message"} (API.md), the message in
//     plain words from words, else StatusWords, never the foreign text
//     (which is logged at debug).
//
// Answers already in JSON, HTML or another type pass untouched, as do all
// answers below 400, so its cost on the web seed's and the pages' 200s and
// 206s is one small wrapper. The status stays the handler's, and so do
// headers that matter to clients (Content-Range, Retry-After, Allow,
// Tus-Resumable); Content-Length and Content-Type are replaced. Flush is
// held back with the answer; Hijack and deadlines pass through Unwrap
// (http.ResponseController).
//
// What a handler writes straight to a hijacked connection (a WebSocket
// library's handshake refusal) never passes through a ResponseWriter: such
// handlers check the request first (server/tracker).
func PlainErrors(log *slog.Logger, words Words, page ErrorPage) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pw := &plainErrorWriter{ResponseWriter: w}
			next.ServeHTTP(pw, r)
			if pw.held == 0 {
				return
			}
			text := strings.TrimSpace(string(pw.text))
			var e *Error
			if words != nil {
				e = words(pw.held, w.Header(), text)
			}
			if e == nil {
				e = StatusWords(pw.held, w.Header())
			}
			log.DebugContext(r.Context(), "plain error answer rewritten", "method", r.Method, "path", r.URL.Path,
				"status", pw.held, "text", text, "code", e.Code)
			h := w.Header()
			for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Etag", "Last-Modified"} {
				h.Del(k)
			}
			if page != nil && IsPage(r) {
				page(w, r, e)
				return
			}
			WriteJSON(w, e.Status, api.Error{Error: e.Code, Message: e.Message})
		})
	}
}

// IsPage reports whether r asks for a page, which a person reads in a
// browser, rather than for the API, a file (static assets, the web seed,
// images), a tracker or a feed, which programs read.
func IsPage(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/static/", "/tracker/", "/feeds/", "/metrics"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}

// StatusWords is the pod's error for an answer of status that nobody put
// in words: a code and a plain message for each status a library answers
// on its own. A 416 names the file's size from Content-Range, which the
// client may know anyway (RFC 9110 §15.5.17); every 5xx is ErrInternal or
// a "try again".
func StatusWords(status int, h http.Header) *Error {
	switch status {
	case http.StatusBadRequest:
		return &Error{Status: status, Code: "bad_request", Message: "the request is malformed"}
	case http.StatusUnauthorized:
		return &Error{Status: status, Code: ErrUnauthorized.Code, Message: ErrUnauthorized.Message}
	case http.StatusForbidden:
		return &Error{Status: status, Code: ErrForbidden.Code, Message: ErrForbidden.Message}
	case http.StatusNotFound, http.StatusGone:
		return &Error{Status: status, Code: ErrNotFound.Code, Message: ErrNotFound.Message}
	case http.StatusMethodNotAllowed:
		msg := "this address does not take this method"
		if allow := h.Get("Allow"); allow != "" {
			msg += "; use " + allow
		}
		return &Error{Status: status, Code: "method_not_allowed", Message: msg}
	case http.StatusConflict:
		return &Error{Status: status, Code: "conflict", Message: "the request does not fit the resource's current state; read it again and retry"}
	case http.StatusLengthRequired:
		return &Error{Status: status, Code: "length_required", Message: "send the body's length (Content-Length)"}
	case http.StatusPreconditionFailed:
		return &Error{Status: status, Code: "precondition_failed", Message: "the resource changed since the version the request names"}
	case http.StatusRequestEntityTooLarge:
		return &Error{Status: status, Code: ErrTooLarge.Code, Message: ErrTooLarge.Message}
	case http.StatusUnsupportedMediaType:
		return &Error{Status: status, Code: "unsupported_media_type", Message: "the body's Content-Type is not accepted here"}
	case http.StatusRequestedRangeNotSatisfiable:
		// No Content-Range: ServeContent found the header malformed
		// ("bytes=abc", "bytes=5-2"), which is not a matter of the size.
		msg := "the Range header is malformed: ask for bytes=FIRST-LAST, FIRST- or -SUFFIX within the file"
		if size, ok := rangeSize(h.Get("Content-Range")); ok {
			msg = "the requested byte range is not within the file, which has " + strconv.FormatInt(size, 10) + " bytes (" + SizeText(size) + ")"
		}
		return &Error{Status: status, Code: "range_not_satisfiable", Message: msg}
	case http.StatusTooManyRequests:
		return &Error{Status: status, Code: "too_many_requests", Message: "too many requests; wait a little and try again"}
	case http.StatusRequestHeaderFieldsTooLarge:
		return &Error{Status: status, Code: "headers_too_large", Message: "the request's headers are too large"}
	case http.StatusServiceUnavailable:
		return &Error{Status: status, Code: "unavailable", Message: "the pod cannot answer this right now; try again later"}
	}
	if status >= 500 {
		return &Error{Status: status, Code: ErrInternal.Code, Message: ErrInternal.Message}
	}
	return &Error{Status: status, Code: "refused", Message: "the request was refused (HTTP " + strconv.Itoa(status) + ")"}
}

// rangeSize reads the complete length of an unsatisfied range's
// Content-Range, "bytes */<size>" (RFC 9110 §14.4).
func rangeSize(v string) (int64, bool) {
	s, ok := strings.CutPrefix(v, "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// plainErrorWriter holds back an error answer in plain text (held is its
// status) and passes everything else through.
type plainErrorWriter struct {
	http.ResponseWriter
	decided bool   // the final status is known
	held    int    // the status of a held plain error; 0 when passing through
	text    []byte // the first plainTextMax bytes of the held body
}

func (w *plainErrorWriter) WriteHeader(code int) {
	if w.decided {
		return // net/http would log a superfluous WriteHeader; stay quiet
	}
	if code < 200 { // 1xx: informational, the final status follows
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.decided = true
	if code >= 400 && plainType(w.Header().Get("Content-Type")) {
		w.held = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *plainErrorWriter) Write(p []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.held != 0 {
		if room := plainTextMax - len(w.text); room > 0 {
			w.text = append(w.text, p[:min(room, len(p))]...)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written, unless an error is held back: its
// replacement is written when the handler returns.
func (w *plainErrorWriter) Flush() {
	if w.held != 0 {
		return
	}
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *plainErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// plainType reports whether a Content-Type is one of a library's plain
// error bodies: text/plain, or none at all.
func plainType(ct string) bool {
	ct = strings.TrimSpace(ct)
	return ct == "" || strings.HasPrefix(strings.ToLower(ct), "text/plain")
}
