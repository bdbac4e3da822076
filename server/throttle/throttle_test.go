package throttle

import (
	"strconv"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1e9, 0)} }

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := newClock()
	tb := New(Policy{Free: 3, Base: time.Second, Max: 8 * time.Second, Forget: time.Hour}, c.now)
	// Each step: advance the clock, then Begin; want the wait it returns.
	steps := []struct {
		advance time.Duration
		want    time.Duration
	}{
		{0, 0}, {0, 0}, {0, 0}, // free
		{0, 0},           // 4th: allowed, now 1 s to wait
		{0, time.Second}, // refused
		{500 * time.Millisecond, 500 * time.Millisecond}, // refusal does not lengthen it
		{500 * time.Millisecond, 0},                      // 5th: allowed, now 2 s
		{time.Second, time.Second},
		{time.Second, 0},     // 6th, now 4 s
		{4 * time.Second, 0}, // 7th, now 8 s (Max)
		{8 * time.Second, 0}, // 8th, still 8 s
		{7 * time.Second, time.Second},
	}
	for i, s := range steps {
		c.add(s.advance)
		if got := tb.Begin("k"); got != s.want {
			t.Fatalf("step %d: Begin = %v, want %v", i, got, s.want)
		}
	}
	if w := tb.Wait("k"); w != time.Second {
		t.Errorf("Wait = %v, want 1s", w)
	}
	tb.Succeed("k")
	if w := tb.Begin("k"); w != 0 {
		t.Errorf("after Succeed: %v", w)
	}
	if w := tb.Begin("other"); w != 0 {
		t.Errorf("another key is throttled: %v", w)
	}
}

func TestForget(t *testing.T) {
	t.Parallel()
	c := newClock()
	tb := New(Policy{Free: 1, Base: time.Minute, Forget: time.Hour}, c.now)
	tb.Begin("k")
	tb.Begin("k") // over: 1 min
	c.add(time.Hour + time.Second)
	if w := tb.Begin("k"); w != 0 {
		t.Fatalf("the first attempt after an idle hour waits %v", w)
	}
}

func TestBoundedSize(t *testing.T) {
	t.Parallel()
	c := newClock()
	tb := New(Policy{Free: 1, Size: 100}, c.now)
	for i := range 10000 {
		tb.Begin(strconv.Itoa(i))
	}
	if n := tb.Len(); n != 100 {
		t.Fatalf("table holds %d keys, want the bound 100", n)
	}
	// The most recent keys are the ones kept.
	tb.Begin("9999")
	if w := tb.Begin("9999"); w == 0 {
		t.Error("a recent key lost its count")
	}
}
