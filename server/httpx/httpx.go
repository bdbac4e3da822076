package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
)

// Error is an error with an HTTP status and a machine code. Its Message is
// shown to people, so it must say what is wrong and never leak internals:
// build it from fixed words and the client's own input only. What went
// wrong inside (a parser's offsets, a path, a dial error) goes in Cause,
// which WriteError logs and never sends.
type Error struct {
	Status  int
	Code    string
	Message string
	Cause   error // logged, never shown; may be nil
	// Challenge is a 401's WWW-Authenticate value (RFC 9110 §11.6.1: a
	// 401 must say how to authenticate); WriteError sends it.
	Challenge string
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause, so errors.Is sees through a client error to
// what caused it.
func (e *Error) Unwrap() error { return e.Cause }

// Because returns a copy of e with cause attached (logged, never shown).
func (e *Error) Because(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// Is makes errors.Is match two *Error values by status and code, so a
// sentinel can be compared after being re-created with a different message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.Code == e.Code
}

// Errorf builds an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common errors shared by every handler.
var (
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "log in first: send a bearer token or a session cookie", Challenge: BearerChallenge}
	ErrForbidden    = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "you do not have the right to do this"}
	ErrNotFound     = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
	ErrTooLarge     = &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "the request body is too large"}
	// ErrInsufficientStorage: the pod's disk has no room (ENOSPC, EDQUOT, or
	// the free-space check before an upload). RFC 4918 §11.5.
	ErrInsufficientStorage = &Error{Status: http.StatusInsufficientStorage, Code: "insufficient_storage",
		Message: "the pod has no room for this right now; try again later or tell its admin"}
	// ErrInternal is what every unexpected failure looks like from outside.
	ErrInternal = &Error{Status: http.StatusInternalServerError, Code: "internal",
		Message: "the server failed to handle this request; it has been logged"}
)

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client may have gone; nothing left to tell it
}

// RetryAfter is an *Error that also tells the client when to try again:
// WriteError sends Retry-After (RFC 9110 section 10.2.3, whole seconds,
// rounded up). Use it with 429 and 503.
type RetryAfter struct {
	Err   *Error
	After time.Duration
}

func (e *RetryAfter) Error() string { return e.Err.Error() }
func (e *RetryAfter) Unwrap() error { return e.Err }

// WriteError answers with err in the API's error shape, as Public maps it,
// and logs what the client does not see.
// BearerChallenge is the WWW-Authenticate of a 401 for a missing or bad
// session (RFC 6750 §3: bearer tokens); the session cookie is this
// scheme's token too.
const BearerChallenge = `Bearer realm="swarmtube"`

func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ra *RetryAfter
	if errors.As(err, &ra) && ra.After > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((ra.After+time.Second-1)/time.Second), 10))
	}
	he := Public(err)
	LogError(r, log, err, he)
	if he.Challenge != "" {
		w.Header().Set("WWW-Authenticate", he.Challenge)
	}
	WriteJSON(w, he.Status, api.Error{Error: he.Code, Message: he.Message})
}

// LogError logs err, answered as he: server faults as errors (they need a
// person), causes behind client errors at debug.
func LogError(r *http.Request, log *slog.Logger, err error, he *Error) {
	switch {
	case he.Status >= 500 && he.Status != http.StatusServiceUnavailable: // 503 is a deliberate "busy, retry"
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", he.Status, "err", err)
	case errors.Unwrap(err) != nil || he.Cause != nil:
		log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", he.Status, "err", err)
	}
}

// DecodeJSON reads a JSON body of at most maxBytes into v, refusing unknown
// fields, trailing data and other content types with clear 4xx errors.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "invalid_json", "the body must hold exactly one JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, "too_large", "the request body exceeds %s", SizeText(mbe.Limit))
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, "invalid_json", "the request body is empty")
	case errors.As(err, &syntax):
		// No offset: a byte count into the body is the parser's, not
		// plain words (issue 17), and the client has the body anyway.
		return Errorf(http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return Errorf(http.StatusBadRequest, "invalid_json", "the body must be %s", jsonKind(typ.Type))
		}
		return Errorf(http.StatusBadRequest, "invalid_json", "field %q must be %s", typ.Field, jsonKind(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Errorf(http.StatusBadRequest, "invalid_json", "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return Errorf(http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
	}
}

// jsonKind names what JSON a Go type decodes from, in the words of JSON
// (RFC 8259), not Go's: a client never sees "videos.updateRequest".
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	}
	return "another JSON value"
}
