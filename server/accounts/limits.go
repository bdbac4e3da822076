package accounts

import (
	"container/list"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/throttle"
)

// Password checks are the pod's most expensive anonymous work: argon2id
// with the default cost takes 19 MiB and tens of milliseconds of one core
// per attempt. Two bounds keep a flood of them cheap:
//
//   - At most Config.MaxHashes hashes run at once (default twice the cores);
//     an attempt that finds no free slot within hashWait is answered 503
//     with Retry-After, so memory stays near MaxHashes x 19 MiB whatever the
//     number of concurrent requests.
//   - Logins are throttled per client address (an IPv6 client by its /64)
//     and per account (server/throttle): a few attempts are free, then each
//     must wait a delay that doubles, answered 429 with Retry-After. The
//     account's delays stop at 30 s, so a stranger hammering someone's
//     account slows its owner by at most that, and not at all at an
//     address the owner logged in from before (the last knownPairs
//     account/address pairs that logged in skip the account throttle);
//     the address's delays grow to 15 minutes. A successful login clears
//     both.

// hashWait is how long an attempt waits for a hashing slot before 503.
const hashWait = 500 * time.Millisecond

// Default login throttles; see the comment above.
var (
	addrPolicy    = throttle.Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	accountPolicy = throttle.Policy{Free: 10, Base: time.Second, Max: 30 * time.Second, Forget: time.Hour}
)

// ErrBusy: every password hashing slot is taken.
var ErrBusy = &httpx.Error{Status: http.StatusServiceUnavailable, Code: "busy",
	Message: "the pod is busy checking other passwords; try again in a moment"}

func defaultMaxHashes() int { return 2 * runtime.GOMAXPROCS(0) }

// withHashSlot runs f holding one of the hashing slots.
func (s *Service) withHashSlot(ctx context.Context, f func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	default:
		t := time.NewTimer(hashWait)
		defer t.Stop()
		select {
		case s.hashSlots <- struct{}{}:
		case <-t.C:
			s.m.busy.Inc()
			return &httpx.RetryAfter{Err: ErrBusy, After: time.Second}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-s.hashSlots }()
	f()
	return nil
}

// throttled is the 429 for a client that must wait.
func throttled(wait time.Duration) error {
	return &httpx.RetryAfter{
		Err: &httpx.Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
			Message: "too many failed logins; try again in " + httpx.DurationText(wait)},
		After: wait,
	}
}

// addrKey is the throttle key of a client address: IPv4 as is, IPv6 by
// its /64 (one subscriber's usual allocation). "" for no address.
func addrKey(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}

// accountKey is the throttle key of a login name: normalised like a
// username, bounded so junk names cannot bloat the table.
func accountKey(username string) string {
	k := strings.ToLower(strings.TrimSpace(username))
	if len(k) > 64 {
		k = k[:64]
	}
	return k
}

// LoginFrom is Login for a client at addr (server/clientaddr), throttled
// per address and per account. Errors: ErrBadLogin (401), a 429
// too_many_attempts or a 503 busy, both with Retry-After (*httpx.RetryAfter).
func (s *Service) LoginFrom(ctx context.Context, addr netip.Addr, username, password string) (tok api.Token, err error) {
	ak, uk := addrKey(addr), accountKey(username)
	if ak != "" {
		if wait := s.byAddr.Begin(ak); wait > 0 {
			s.m.throttled.WithLabelValues("address").Inc()
			return tok, throttled(wait)
		}
	}
	pair := uk + "\x00" + ak
	known := ak != "" && s.known.has(pair)
	if !known {
		if wait := s.byAccount.Begin(uk); wait > 0 {
			s.byAddr.Undo(ak)
			s.m.throttled.WithLabelValues("account").Inc()
			return tok, throttled(wait)
		}
	}
	tok, err = s.Login(ctx, username, password)
	switch {
	case err == nil:
		s.byAddr.Succeed(ak)
		s.byAccount.Succeed(uk)
		if ak != "" {
			s.known.add(pair)
		}
	case isBusy(err):
		// No password was checked: the attempt does not count.
		s.byAddr.Undo(ak)
		if !known {
			s.byAccount.Undo(uk)
		}
	default:
		s.m.failed.Inc()
	}
	return tok, err
}

func isBusy(err error) bool {
	var he *httpx.Error
	return errors.As(err, &he) && he == ErrBusy
}

// metrics are what a host watches of logins.
type metrics struct {
	failed    prometheus.Counter
	throttled *prometheus.CounterVec
	busy      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_login_failures_total",
			Help: "Logins refused for a wrong username or password.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtube_login_throttled_total",
			Help: "Logins answered 429 before any password check, by what was throttled (address or account).",
		}, []string{"by"}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_password_hash_busy_total",
			Help: "Password checks answered 503 because every hashing slot was taken.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.failed, m.throttled, m.busy)
	}
	return m
}

// knownPairs bounds the remembered account/address pairs (about 100 bytes
// each). They live in memory only: after a restart the owner meets the
// account throttle's 30 s at most once.
const knownPairs = 16384

// lruSet is a set of strings holding the max most recently added.
type lruSet struct {
	max int

	mu sync.Mutex // guards the following fields
	m  map[string]*list.Element
	l  list.List
}

func newLRUSet(max int) *lruSet { return &lruSet{max: max, m: make(map[string]*list.Element)} }

func (s *lruSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.m[k]; ok {
		s.l.MoveToFront(el)
		return
	}
	if len(s.m) >= s.max {
		old := s.l.Back()
		s.l.Remove(old)
		delete(s.m, old.Value.(string))
	}
	s.m[k] = s.l.PushFront(k)
}

func (s *lruSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[k]
	return ok
}
