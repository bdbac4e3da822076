// Package throttle slows down repeated failures by key (a client address,
// an account name): the first Free attempts in a row are free, then each
// further attempt must wait a delay that doubles from Base up to Max, and
// the attempt in between is refused with that wait (HTTP 429 with
// Retry-After in the caller). A success resets the key; a key idle for
// Forget is forgotten.
//
// An attempt counts as a failure when it begins (Begin), not when it ends,
// so a hundred concurrent attempts cannot all slip through before the first
// failure is recorded; Succeed clears the count again.
//
// The table holds at most Size keys and evicts the least recently used, so
// the throttle itself costs bounded memory under an attack from many keys
// (about 100 bytes a key). Eviction forgets a key's failures, which only
// lets a key that has been quiet longest start over.
package throttle

import (
	"container/list"
	"sync"
	"time"
)

// Policy tunes a Table. Zero values select the defaults named.
type Policy struct {
	Free   int           // attempts allowed before delays start (default 5)
	Base   time.Duration // first delay (default 1 s)
	Max    time.Duration // longest delay (default 15 min)
	Forget time.Duration // idle time after which a key starts over (default 1 h)
	Size   int           // keys kept (default 16384)
}

func (p Policy) withDefaults() Policy {
	if p.Free <= 0 {
		p.Free = 5
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = 15 * time.Minute
	}
	if p.Forget <= 0 {
		p.Forget = time.Hour
	}
	if p.Size <= 0 {
		p.Size = 16384
	}
	return p
}

// Table tracks attempts by key. It is safe for concurrent use.
type Table struct {
	p   Policy
	now func() time.Time

	mu      sync.Mutex // guards the following fields
	entries map[string]*list.Element
	lru     list.List // of *entry, most recently used first
}

type entry struct {
	key      string
	attempts int       // since the last success
	last     time.Time // of the last attempt
	until    time.Time // attempts before this are refused
}

// New returns an empty Table. now is the clock (nil: time.Now).
func New(p Policy, now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	return &Table{p: p.withDefaults(), now: now, entries: make(map[string]*list.Element)}
}

// Begin records an attempt for key. It returns 0 when the attempt may
// proceed, or else how long the caller must wait first; a refused attempt
// does not lengthen the wait.
func (t *Table) Begin(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(key, now)
	if wait := e.until.Sub(now); wait > 0 {
		return wait
	}
	e.attempts++
	e.last = now
	if over := e.attempts - t.p.Free; over > 0 {
		d := t.p.Base
		for i := 1; i < over && d < t.p.Max; i++ {
			d *= 2
		}
		e.until = now.Add(min(d, t.p.Max))
	}
	return 0
}

// Wait reports how long key must wait before its next attempt, without
// recording one.
func (t *Table) Wait(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		return 0
	}
	return max(0, el.Value.(*entry).until.Sub(now))
}

// Undo takes back one attempt that Begin allowed but that checked nothing
// (the caller could not serve it), so it does not count as a failure.
func (t *Table) Undo(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		if e := el.Value.(*entry); e.attempts > 0 {
			e.attempts--
			if e.attempts <= t.p.Free {
				e.until = time.Time{}
			}
		}
	}
}

// Succeed forgets key's attempts.
func (t *Table) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		t.lru.Remove(el)
		delete(t.entries, key)
	}
}

// Len is the number of keys held.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// get returns key's entry, created or renewed, as the most recently used.
func (t *Table) get(key string, now time.Time) *entry {
	if el, ok := t.entries[key]; ok {
		e := el.Value.(*entry)
		if now.Sub(e.last) > t.p.Forget && !now.Before(e.until) {
			*e = entry{key: key}
		}
		t.lru.MoveToFront(el)
		return e
	}
	if len(t.entries) >= t.p.Size {
		old := t.lru.Back()
		t.lru.Remove(old)
		delete(t.entries, old.Value.(*entry).key)
	}
	e := &entry{key: key}
	t.entries[key] = t.lru.PushFront(e)
	return e
}
