package federation

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per key (a friend's URL or a client
// IP). Buckets idle long enough to be full again are dropped, so memory
// stays bounded by the number of recently active keys.
type limiters struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex // guards the following fields
	m  map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiters(r rate.Limit, burst int) *limiters {
	return &limiters{rate: r, burst: burst, m: make(map[string]*limiterEntry)}
}

// allow takes a token for key, reporting whether one was there.
func (l *limiters) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if !ok {
		if len(l.m) >= 4096 {
			l.pruneLocked(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	}
	e.last = now
	return e.lim.AllowN(now, 1)
}

// pruneLocked drops buckets that refilled since their last use; they
// would start full anyway.
func (l *limiters) pruneLocked(now time.Time) {
	refill := time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)) + time.Second
	for k, e := range l.m {
		if now.Sub(e.last) > refill {
			delete(l.m, k)
		}
	}
}

// replayCache remembers the signatures of accepted requests until their
// Date can no longer pass the clock-skew check, so a captured request
// cannot be sent again. It holds at most max entries; beyond that the
// oldest go first (a request that old is also refused by event sequence
// numbers).
type replayCache struct {
	max int

	mu    sync.Mutex // guards the following fields
	seen  map[string]time.Time
	order []replayItem // insertion order, for expiry
}

type replayItem struct {
	key     string
	expires time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// add records key until expires; it reports false if key is already
// recorded and unexpired (a replay).
func (c *replayCache) add(key string, now, expires time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.order) > 0 && (len(c.order) >= c.max || now.After(c.order[0].expires)) {
		if c.seen[c.order[0].key] == c.order[0].expires {
			delete(c.seen, c.order[0].key)
		}
		c.order = c.order[1:]
	}
	if exp, ok := c.seen[key]; ok && !now.After(exp) {
		return false
	}
	c.seen[key] = expires
	c.order = append(c.order, replayItem{key, expires})
	return true
}
