package testkit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// The scheduler, the vantage runner and the daemon take this clock.
var _ schedule.Clock = (*testkit.Clock)(nil)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fired(tm testkit.Timer) bool {
	select {
	case <-tm.C():
		return true
	default:
		return false
	}
}

func TestClockFiresTimersItPasses(t *testing.T) {
	c := testkit.NewClock(t0)
	early := c.TimerAt(t0.Add(time.Second))
	late := c.TimerAt(t0.Add(time.Minute))
	if c.Pending() != 2 {
		t.Fatalf("pending %d, want 2", c.Pending())
	}
	c.Advance(time.Second)
	if !fired(early) || fired(late) {
		t.Fatal("advancing to the early deadline fired the wrong timers")
	}
	if got := c.Now(); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("Now = %v after Advance(1s)", got)
	}
	if c.Pending() != 1 {
		t.Fatalf("pending %d, want 1", c.Pending())
	}
	c.Set(t0.Add(time.Hour))
	if !fired(late) || c.Pending() != 0 {
		t.Fatal("Set past the late deadline did not fire it")
	}
}

func TestClockTimerInThePastFiresAtOnce(t *testing.T) {
	c := testkit.NewClock(t0)
	if tm := c.TimerAt(t0); !fired(tm) || c.Pending() != 0 {
		t.Fatal("a timer for now did not fire at once")
	}
}

func TestClockStoppedTimerNeverFires(t *testing.T) {
	c := testkit.NewClock(t0)
	tm := c.TimerAt(t0.Add(time.Second))
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
	c.Advance(time.Hour)
	if fired(tm) {
		t.Fatal("a stopped timer fired")
	}
}

func TestClockSetBackwardsFiresNothing(t *testing.T) {
	c := testkit.NewClock(t0)
	tm := c.TimerAt(t0.Add(time.Second))
	c.Set(t0.Add(-time.Hour))
	if fired(tm) || c.Pending() != 1 || !c.Now().Equal(t0.Add(-time.Hour)) {
		t.Fatal("moving the clock back fired a timer or did not move it")
	}
}

// TestConcurrentUse is for -race: the code under test reads the clock and
// writes the buffer from its own goroutines while the test moves and reads
// them.
func TestConcurrentUse(t *testing.T) {
	c := testkit.NewClock(t0)
	var b testkit.Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				tm := c.TimerAt(c.Now().Add(time.Millisecond))
				b.Write([]byte("x"))
				tm.Stop()
			}
		})
	}
	for range 100 {
		c.Advance(time.Millisecond)
		_ = b.String()
	}
	wg.Wait()
	if n := len(b.String()); n != 400 {
		t.Fatalf("buffer holds %d bytes, want 400", n)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	if !testkit.Eventually(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Eventually stopped after %d calls", n)
	}
	start := time.Now()
	if testkit.Eventually(20*time.Millisecond, func() bool { return false }) {
		t.Fatal("Eventually reported a condition that never held")
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("Eventually gave up after %s, before its 20ms", waited)
	}
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	var mu sync.Mutex
	done := false
	go func() {
		time.Sleep(time.Millisecond)
		mu.Lock()
		done = true
		mu.Unlock()
	}()
	testkit.WaitFor(t, "the goroutine", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return done
	})
}
