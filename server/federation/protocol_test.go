package federation

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

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
