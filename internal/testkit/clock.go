package testkit

import (
	"sync"
	"time"
)

// Timer is the one-shot timer a Clock arms. It is an alias of an unnamed
// interface, as monitor/schedule's Timer is, so that the two are one type and
// *Clock satisfies schedule.Clock without this package importing schedule
// (whose own tests import this package).
type Timer = interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was pending.
	Stop() bool
}

// Clock is a clock that only moves when told to, so tests drive time without
// sleeping. Its Now method serves every `Now func() time.Time` option, and
// with TimerAt it is a monitor/schedule.Clock. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, timers: make(map[*fakeTimer]struct{})}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// TimerAt returns a timer that fires when the fake time reaches deadline (at
// once if it already has). It takes a deadline rather than a duration so that
// advancing the clock between computing a deadline and arming the timer
// cannot make the code under test oversleep.
func (c *Clock) TimerAt(deadline time.Time) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), deadline: deadline, clock: c}
	if !deadline.After(c.now) {
		t.c <- c.now
		return t
	}
	c.timers[t] = struct{}{}
	return t
}

// Advance moves the fake time forward by d and fires every timer it passes.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the fake time to t (which may be earlier) and fires every timer
// whose deadline is not after t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

// Pending returns how many timers are armed and not yet fired.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *Clock) setLocked(t time.Time) {
	c.now = t
	for ft := range c.timers {
		if !ft.deadline.After(t) {
			delete(c.timers, ft)
			ft.c <- t // capacity 1 and fired only once, so this never blocks
		}
	}
}

type fakeTimer struct {
	c        chan time.Time
	deadline time.Time
	clock    *Clock
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	_, pending := t.clock.timers[t]
	delete(t.clock.timers, t)
	return pending
}
