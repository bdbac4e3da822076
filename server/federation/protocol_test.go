package federation

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// TestProtocolError: the model's domain errors, wrapped or not, reach the
// wire with the protocol's status and code (doc.go); the protocol layer's
// own errors pass unchanged, and anything else stays an internal error.
func TestProtocolError(t *testing.T) {
	internal := errors.New("disk on fire")
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		code    string
		message string // "" for the sentinel's own
	}{
		{"gone", fmt.Errorf("apply: %w", errNoFriend), http.StatusForbidden, ErrNotFriend.Code, ""},
		{"refused", errRefused, http.StatusForbidden, ErrRefused.Code, ""},
		{"friend limit", errFriendLimit, http.StatusForbidden, ErrFriendLimit.Code, ""},
		{"requests full", errRequestsFull, http.StatusServiceUnavailable, ErrRequestsFull.Code, ""},
		{"invalid", fmt.Errorf("%w: event sequences must increase within a batch (3 after 5)", fedproto.ErrInvalid),
			http.StatusBadRequest, ErrInvalidMessage.Code, "event sequences must increase within a batch (3 after 5)"},
		{"protocol's own", ErrReplayed, http.StatusUnauthorized, ErrReplayed.Code, ""},
		{"internal", internal, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := protocolError(tc.err)
			var he *httpx.Error
			if !errors.As(got, &he) {
				if tc.status != 0 || got != internal {
					t.Fatalf("protocolError(%v) = %v, want %d %s", tc.err, got, tc.status, tc.code)
				}
				return
			}
			if he.Status != tc.status || he.Code != tc.code {
				t.Fatalf("protocolError(%v) = %d %s, want %d %s", tc.err, he.Status, he.Code, tc.status, tc.code)
			}
			if tc.message != "" && he.Message != tc.message {
				t.Errorf("message %q, want %q", he.Message, tc.message)
			}
		})
	}
}

// TestAnswerClasses: the worker learns from a friend's answer only through
// deferred and replayed, which read the HTTP status and code: a 429 waits
// its Retry-After (at least the minimum), friendship_pending the minimum,
// other refusals are failures; a 409 replayed_event with its last_seq is
// a success up to it.
func TestAnswerClasses(t *testing.T) {
	const minWait = time.Second
	wrap := func(re *remoteError) error { return fmt.Errorf("federation: post: %w", re) }
	for _, tc := range []struct {
		name     string
		err      error
		wait     time.Duration
		deferred bool
		last     uint64
		replayed bool
	}{
		{"429", wrap(&remoteError{Status: http.StatusTooManyRequests, Code: ErrRateLimited.Code, RetryAfter: 5 * time.Second}), 5 * time.Second, true, 0, false},
		{"429 soon", wrap(&remoteError{Status: http.StatusTooManyRequests}), minWait, true, 0, false},
		{"pending", wrap(&remoteError{Status: http.StatusForbidden, Code: ErrPending.Code}), minWait, true, 0, false},
		{"not friend", wrap(&remoteError{Status: http.StatusForbidden, Code: ErrNotFriend.Code}), 0, false, 0, false},
		{"replayed", wrap(&remoteError{Status: http.StatusConflict, Code: ErrReplayedEvent.Code, Body: []byte(`{"error":"replayed_event","last_seq":42}`)}), 0, false, 42, true},
		{"replayed, no body", wrap(&remoteError{Status: http.StatusConflict, Code: ErrReplayedEvent.Code, Body: []byte(`<html>`)}), 0, false, 0, false},
		{"down", errors.New("dial tcp: connection refused"), 0, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if wait, ok := deferred(tc.err, minWait); ok != tc.deferred || wait != tc.wait {
				t.Errorf("deferred = %v, %v; want %v, %v", wait, ok, tc.wait, tc.deferred)
			}
			if last, ok := replayed(tc.err); ok != tc.replayed || last != tc.last {
				t.Errorf("replayed = %d, %v; want %d, %v", last, ok, tc.last, tc.replayed)
			}
		})
	}
}

// TestAdminError: the admin operations' refusals reach the admin routes
// with the status, code and words they had when the operations built
// HTTP errors themselves.
func TestAdminError(t *testing.T) {
	internal := errors.New("disk on fire")
	for _, tc := range []struct {
		name    string
		err     error
		failed  string
		status  int
		code    string
		message string
	}{
		{"count", errPodCount, "makefriends_failed", http.StatusBadRequest, "invalid_pods", `name 1 to 100 pod URLs in "pods"`},
		{"none usable", fmt.Errorf("%w: no pod to befriend: %s", ErrInvalidPods, "x: that is this pod"), "makefriends_failed",
			http.StatusBadRequest, "invalid_pods", "no pod to befriend: x: that is this pod"},
		{"no request", fmt.Errorf("%w: this pod holds no introduction from %s", ErrNoRequest, "http://a.example"), "",
			http.StatusNotFound, "no_request", "this pod holds no introduction from http://a.example"},
		{"makefriends failed", fmt.Errorf("%w: no friendship was set up: %s", ErrNoneSucceeded, "http://a.example: it did not answer in time"), "makefriends_failed",
			http.StatusBadGateway, "makefriends_failed", "no friendship was set up: http://a.example: it did not answer in time"},
		{"accept failed", fmt.Errorf("%w: no introduction could be accepted: %s", ErrNoneSucceeded, "b"), "accept_failed",
			http.StatusBadGateway, "accept_failed", "no introduction could be accepted: b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var he *httpx.Error
			if !errors.As(adminError(tc.err, tc.failed), &he) || he.Status != tc.status || he.Code != tc.code || he.Message != tc.message {
				t.Fatalf("adminError(%v) = %+v, want %d %s %q", tc.err, he, tc.status, tc.code, tc.message)
			}
		})
	}
	if got := adminError(internal, "makefriends_failed"); got != internal {
		t.Fatalf("an internal error became %v", got)
	}
}
