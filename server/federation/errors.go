package federation

import (
	"errors"
	"net/http"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// SignatureChallenge is the WWW-Authenticate of a pod-to-pod 401: sign the
// request (HTTP Signatures, draft-cavage-http-signatures §3.1) over these
// headers.
const SignatureChallenge = `Signature realm="swarmtube",headers="(request-target) host date digest"`

// Errors answered on the pod-to-pod routes; the codes are part of the
// protocol (see doc.go). The protocol layer (protocol.go) answers with
// them; the model (model.go) refuses with the domain errors below, which
// protocolError maps to these.
var (
	ErrBadSignature   = &httpx.Error{Status: http.StatusUnauthorized, Code: "bad_signature", Message: "the request's HTTP signature is missing, malformed or does not verify"}
	ErrBadDigest      = &httpx.Error{Status: http.StatusUnauthorized, Code: "bad_digest", Message: "the request body does not match its Digest"}
	ErrClockSkew      = &httpx.Error{Status: http.StatusUnauthorized, Code: "clock_skew", Message: "the request's Date is missing or more than 5 minutes away"}
	ErrReplayed       = &httpx.Error{Status: http.StatusUnauthorized, Code: "replayed_request", Message: "this signed request was already received"}
	ErrWrongHost      = &httpx.Error{Status: http.StatusUnauthorized, Code: "wrong_host", Message: "the request was signed for another pod"}
	ErrNotFriend      = &httpx.Error{Status: http.StatusForbidden, Code: "not_friend", Message: "the signing pod is not a friend of this pod"}
	ErrPending        = &httpx.Error{Status: http.StatusForbidden, Code: "friendship_pending", Message: "the friendship with the signing pod is still being set up; retry shortly"}
	ErrRateLimited    = &httpx.Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many federation requests; retry later"}
	ErrIncompatible   = &httpx.Error{Status: http.StatusBadRequest, Code: "incompatible_api", Message: "the pods share no API version"}
	ErrInvalidMessage = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_message", Message: "the federation message is invalid"}
	ErrReplayedEvent  = &httpx.Error{Status: http.StatusConflict, Code: "replayed_event", Message: "every event of this batch was already applied"}
	// ErrKeyUnconfirmed answers an introduction whose key could not be
	// confirmed at the pod's URL, for whatever reason (refused address,
	// nothing listening, no answer, not a pod, another key): one code, one
	// message and the same delay for all, so the answer tells nothing
	// about the target (no port scanning through a pod).
	ErrKeyUnconfirmed = &httpx.Error{Status: http.StatusForbidden, Code: "key_unconfirmed", Message: "could not confirm that the introduced pod publishes the signing key"}
	ErrRefused        = &httpx.Error{Status: http.StatusForbidden, Code: "friendship_refused", Message: "this pod's admin refused the friendship"}
	ErrFriendLimit    = &httpx.Error{Status: http.StatusForbidden, Code: "friend_limit", Message: "this pod has as many friends as it accepts"}
	ErrRequestsFull   = &httpx.Error{Status: http.StatusServiceUnavailable, Code: "too_many_requests", Message: "this pod holds too many friendship requests; retry later"}
)

// errPrivateAddress refuses a fetch on someone else's behalf to an
// address that is not public (see publicAddr).
var errPrivateAddress = errors.New("federation: the address is not public (loopback, private, link-local, multicast or unspecified); --federation-allow-private lifts this on test networks")

// Refusals of the admin operations (MakeFriends, Accept, Refuse),
// wrapped with what went wrong ("%w: detail"). They carry no HTTP status:
// the admin routes answer them (adminError in http.go).
var (
	// ErrInvalidPods: no usable pod URL was named. Answered 400
	// invalid_pods.
	ErrInvalidPods = errors.New("federation: no usable pod URL")
	// ErrNoRequest: none of the named pods asked to be friends. Answered
	// 404 no_request.
	ErrNoRequest = errors.New("federation: no introduction from the named pods")
	// ErrNoneSucceeded: not one named pod could be befriended, asked or
	// accepted (the reasons per pod follow). Answered 502 makefriends_failed
	// or accept_failed.
	ErrNoneSucceeded = errors.New("federation: no friendship could be set up")
)

// Domain errors of the model: what the state of this pod's friends
// refuses, whatever carried the request. They have no HTTP status; the
// protocol layer gives each its code (protocolError). A message the model
// will not apply wraps fedproto.ErrInvalid instead.
var (
	// errNoFriend: the pod has no friend record here (never had, quit or
	// ejected meanwhile). Answered ErrNotFriend.
	errNoFriend = errors.New("not a friend")
	// errRefused: this pod's admin refused the pod's introduction.
	// Answered ErrRefused.
	errRefused = errors.New("federation: the admin refused this pod's friendship")
	// errFriendLimit: MaxFriends records exist. Answered ErrFriendLimit.
	errFriendLimit = errors.New("federation: this pod has as many friends as it accepts")
	// errRequestsFull: MaxRequests introductions wait for the admin.
	// Answered ErrRequestsFull.
	errRequestsFull = errors.New("federation: too many friendship requests wait for the admin")
)
