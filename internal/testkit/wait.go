package testkit

import (
	"testing"
	"time"
)

// Patience is how long WaitFor waits. It is far longer than any condition
// takes on an idle machine, so that a loaded CI runner (or -race) does not
// fail a test that is only slow; a test that passes never waits for it.
const Patience = 5 * time.Second

// Eventually calls cond until it reports true or within has passed, and
// returns its last answer. The first polls come quickly, so a test waits
// about as long as the condition takes; later ones back off to a few
// milliseconds, so a slow condition does not spin a core the code under test
// needs. cond runs on the caller's goroutine, so it may call t.Fatal.
func Eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := 50 * time.Microsecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 5*time.Millisecond)
	}
	return true
}

// WaitFor waits up to Patience for cond and fails the test, naming what it
// waited for, if cond never holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Eventually(Patience, cond) {
		t.Fatalf("timed out after %s waiting for %s", Patience, what)
	}
}
