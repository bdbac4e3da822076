package federation

import (
	"errors"
	"net/http"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// Errors answered on the pod-to-pod routes; the codes are part of the
// protocol (see doc.go).
var (
	ErrBadSignature   = &httpx.Error{Status: http.StatusUnauthorized, Code: "bad_signature", Message: "the request's HTTP signature is missing, malformed or does not verify"}
	ErrBadDigest      = &httpx.Error{Status: http.StatusUnauthorized, Code: "bad_digest", Message: "the request body does not match its Digest"}
	ErrClockSkew      = &httpx.Error{Status: http.StatusUnauthorized, Code: "clock_skew", Message: "the request's Date is missing or more than 5 minutes away"}
	ErrReplayed       = &httpx.Error{Status: http.StatusUnauthorized, Code: "replayed_request", Message: "this signed request was already received"}
	ErrWrongHost      = &httpx.Error{Status: http.StatusUnauthorized, Code: "wrong_host", Message: "the request was signed for another pod"}
	ErrNotFriend      = &httpx.Error{Status: http.StatusForbidden, Code: "not_friend", Message: "the signing pod is not a friend of this pod"}
	ErrPending        = &httpx.Error{Status: http.StatusForbidden, Code: "friendship_pending", Message: "the friendship with the signing pod is still being set up; retry shortly"}
	ErrKeyMismatch    = &httpx.Error{Status: http.StatusForbidden, Code: "key_mismatch", Message: "the signing key is not the key the pod publishes"}
	ErrRateLimited    = &httpx.Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many federation requests; retry later"}
	ErrIncompatible   = &httpx.Error{Status: http.StatusBadRequest, Code: "incompatible_api", Message: "the pods share no API version"}
	ErrInvalidMessage = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_message", Message: "the federation message is invalid"}
	ErrReplayedEvent  = &httpx.Error{Status: http.StatusConflict, Code: "replayed_event", Message: "every event of this batch was already applied"}
)

// isRefusal reports whether a catalogue error refuses one video (a 4xx
// *httpx.Error) rather than failing the store.
func isRefusal(err error) bool {
	var he *httpx.Error
	return errors.As(err, &he) && he.Status >= 400 && he.Status < 500
}
