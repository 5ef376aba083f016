package schedule

import "time"

// Clock is the scheduler's source of time. Timers take an absolute deadline
// rather than a duration so that a fake clock advanced between computing a
// deadline and arming the timer can never make the dispatcher oversleep.
type Clock interface {
	Now() time.Time
	// TimerAt returns a timer that fires once the clock reaches deadline
	// (at once if it already has).
	TimerAt(deadline time.Time) Timer
}

// Timer is a one-shot timer made by a Clock. It is an alias of an unnamed
// interface so that a clock in a package that cannot import this one (the
// test kit in internal/testkit, which this package's tests use) can return
// the very same type and so satisfy Clock.
type Timer = interface {
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
