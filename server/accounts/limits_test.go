package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// status is the HTTP status err would be answered with, and its Retry-After.
func status(err error) (int, string) {
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), err)
	return rec.Code, rec.Header().Get("Retry-After")
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	s := newService(t, Config{OpenRegistration: true})
	ctx := context.Background()
	if _, err := s.Register(ctx, "owner", "the right password", nil); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(2e9, 0)
	s.now = func() time.Time { return now }
	attacker := netip.MustParseAddr("203.0.113.9")
	owner := netip.MustParseAddr("198.51.100.1")

	// One address: a handful of bad passwords, then 429 without checking.
	var first429 int
	for i := 1; i <= 10 && first429 == 0; i++ {
		_, err := s.LoginFrom(ctx, attacker, "owner", "guess")
		if code, ra := status(err); code == http.StatusTooManyRequests {
			if ra == "" {
				t.Fatal("429 without Retry-After")
			}
			first429 = i
		} else if code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %v", i, code, err)
		}
	}
	if first429 == 0 || first429 > 8 {
		t.Fatalf("first 429 at attempt %d, want within a handful", first429)
	}
	// Even the right password is not checked from the throttled address.
	if _, err := s.LoginFrom(ctx, attacker, "owner", "the right password"); !isStatus(err, http.StatusTooManyRequests) {
		t.Fatalf("throttled address with the right password: %v", err)
	}
	// The owner, elsewhere, is not affected.
	if _, err := s.LoginFrom(ctx, owner, "owner", "the right password"); err != nil {
		t.Fatalf("owner from another address: %v", err)
	}

	// Many addresses against one account: the account throttle bites, but
	// its waits stay short, so the owner gets in soon after; and at the
	// address the owner logged in from before, at once.
	var maxWait time.Duration
	for i := range 200 {
		a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		_, err := s.LoginFrom(ctx, a, "owner", fmt.Sprint("guess", i))
		var ra *httpx.RetryAfter
		if errors.As(err, &ra) {
			maxWait = max(maxWait, ra.After)
			now = now.Add(ra.After) // the attacker waits as told, and keeps going
		}
	}
	if maxWait == 0 || maxWait > 30*time.Second {
		t.Fatalf("longest wait imposed on the account: %v, want between 0 and 30 s", maxWait)
	}
	for i := range 200 { // and again without waiting, so the account is throttled right now
		s.LoginFrom(ctx, netip.AddrFrom4([4]byte{203, 0, 114, byte(i)}), "owner", "guess")
	}
	if _, err := s.LoginFrom(ctx, owner, "owner", "the right password"); err != nil {
		t.Fatalf("owner at a known address while the account is throttled: %v", err)
	}
	for i := range 200 {
		s.LoginFrom(ctx, netip.AddrFrom4([4]byte{203, 0, 115, byte(i)}), "owner", "guess")
	}
	_, err := s.LoginFrom(ctx, netip.MustParseAddr("198.51.100.77"), "owner", "the right password")
	var ra *httpx.RetryAfter
	if !errors.As(err, &ra) {
		t.Fatalf("owner at a new address while the account is throttled: %v, want a 429 to wait out", err)
	}
	if errors.As(err, &ra) {
		if ra.After > 30*time.Second {
			t.Fatalf("owner must wait %v", ra.After)
		}
		now = now.Add(ra.After)
		_, err = s.LoginFrom(ctx, owner, "owner", "the right password")
	}
	if err != nil {
		t.Fatalf("owner after waiting: %v", err)
	}

	// IPv6 clients are one client per /64.
	v6 := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1)) }
	got429 := false
	for i := range 10 {
		if _, err := s.LoginFrom(ctx, v6(i), fmt.Sprint("nobody", i), "guess"); isStatus(err, http.StatusTooManyRequests) {
			got429 = true
		}
	}
	if !got429 {
		t.Error("ten addresses of one /64 were not throttled as one client")
	}
}

func isStatus(err error, code int) bool {
	c, _ := status(err)
	return err != nil && c == code
}

// TestHashSlots: with every hashing slot taken, a login waits briefly and
// then gets 503 with Retry-After instead of starting another 19 MiB hash;
// the attempt does not count against the client.
func TestHashSlots(t *testing.T) {
	t.Parallel()
	s := newService(t, Config{OpenRegistration: true, MaxHashes: 1})
	ctx := context.Background()
	if _, err := s.Register(ctx, "alice", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	s.hashSlots <- struct{}{} // a hash that never ends
	addr := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		_, err := s.LoginFrom(ctx, addr, "alice", "correct horse")
		code, ra := status(err)
		if code != http.StatusServiceUnavailable || ra != "1" || !strings.Contains(err.Error(), "busy") {
			t.Fatalf("login with no free slot: %d Retry-After %q %v", code, ra, err)
		}
	}
	<-s.hashSlots
	if _, err := s.LoginFrom(ctx, addr, "alice", "correct horse"); err != nil {
		t.Fatalf("login once a slot is free (busy answers must not count as failures): %v", err)
	}
}
