package schedule

import (
	"sync"
	"time"
)

// Clock is the scheduler's source of time. Timers take an absolute deadline
// rather than a duration so that a fake clock advanced between computing a
// deadline and arming the timer can never make the dispatcher oversleep.
type Clock interface {
	Now() time.Time
	// TimerAt returns a timer that fires once the clock reaches deadline
	// (at once if it already has).
	TimerAt(deadline time.Time) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was pending.
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// TimerAt arms a runtime timer for deadline.
func (RealClock) TimerAt(deadline time.Time) Timer {
	return realTimer{time.NewTimer(time.Until(deadline))}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// FakeClock is a Clock that only moves when told to. It exists so that tests
// here and in the packages that use the scheduler can drive time without
// sleeping. It is safe for concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, timers: make(map[*fakeTimer]struct{})}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// TimerAt returns a timer that fires when the fake time reaches deadline.
func (c *FakeClock) TimerAt(deadline time.Time) Timer {
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
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the fake time to t (which may be earlier) and fires every timer
// whose deadline is not after t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

// Pending returns how many timers are armed and not yet fired.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *FakeClock) setLocked(t time.Time) {
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
	clock    *FakeClock
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	_, pending := t.clock.timers[t]
	delete(t.clock.timers, t)
	return pending
}
