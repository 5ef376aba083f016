package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

var t0 = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC) // a Monday

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	lateness map[string][]time.Duration
	skipped  map[string]int
	panics   map[string][]any
}

func newRecorder() *recorder {
	return &recorder{lateness: map[string][]time.Duration{}, skipped: map[string]int{}, panics: map[string][]any{}}
}

func (r *recorder) Lateness(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lateness[name] = append(r.lateness[name], d)
}

func (r *recorder) Skipped(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped[name]++
}

func (r *recorder) Panicked(name string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.panics[name] = append(r.panics[name], v)
}

func (r *recorder) skips(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped[name]
}

// calls records every round a job ran, by name.
type calls struct {
	mu  sync.Mutex
	got []call
}

type call struct {
	name    string
	nominal time.Time
}

func (c *calls) job(ctx context.Context, name string, nominal time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, call{name, nominal})
}

func (c *calls) of(name string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for _, cl := range c.got {
		if cl.name == name {
			out = append(out, cl.nominal)
		}
	}
	return out
}

func (c *calls) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

type harness struct {
	t     *testing.T
	s     *Scheduler
	clock *testkit.Clock
	obs   *recorder
}

func start(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: testkit.NewClock(t0), obs: newRecorder()}
	o.Clock = h.clock
	o.Observer = h.obs
	h.s = New(o)
	if err := h.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	h.waitTick()
	return h
}

func (h *harness) set(name, spec string, job Job) {
	h.t.Helper()
	if err := h.s.Set(Entry{Name: name, Spec: MustParseSpec(spec), Job: job}); err != nil {
		h.t.Fatal(err)
	}
}

// advance moves the fake clock and waits until the dispatcher has passed
// over the new time, so every round due by then has been queued.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.s.kick()
	h.waitTick()
}

func (h *harness) waitTick() {
	h.t.Helper()
	now := h.clock.Now()
	testkit.WaitFor(h.t, "dispatcher pass", func() bool { return !h.s.LastTick().Before(now) })
}

// waitIdle waits until no round is queued or running.
func (h *harness) waitIdle() {
	h.t.Helper()
	testkit.WaitFor(h.t, "idle", func() bool { return h.s.Totals().InFlight == 0 })
}

func TestEntriesFireAtTheirJitteredTimes(t *testing.T) {
	h := start(t, Options{})
	var c calls
	h.set("every", "@every 1m", c.job)
	h.set("daily", "0 9 * * *", c.job)
	h.set("pair", "*/2 * * * *", c.job)

	everyOff := time.Duration(Jitter("every") * float64(time.Minute))
	dailyAt := t0.Add(time.Hour + time.Duration(Jitter("daily")*float64(time.Minute)))
	// 08:00 is itself a nominal time and t0+jitter is after t0, so it counts.
	pairOff := time.Duration(Jitter("pair") * float64(time.Minute))

	for range 3 * 60 { // three hours, one minute at a time
		h.advance(time.Minute)
		h.waitIdle() // fake minutes pass faster than a worker can start
	}
	h.waitIdle()

	every := c.of("every")
	if len(every) != 3*60 {
		t.Fatalf("@every 1m ran %d times in 3h, want %d", len(every), 3*60)
	}
	for i, n := range every {
		if want := t0.Add(time.Duration(i)*time.Minute + everyOff); !n.Equal(want) {
			t.Fatalf("@every 1m round %d nominal %v, want %v", i, n, want)
		}
	}
	if daily := c.of("daily"); len(daily) != 1 || !daily[0].Equal(dailyAt) {
		t.Fatalf("daily rounds %v, want [%v]", daily, dailyAt)
	}
	pair := c.of("pair")
	if len(pair) != 3*30 {
		t.Fatalf("*/2 ran %d times, want %d", len(pair), 3*30)
	}
	for i, n := range pair {
		if want := t0.Add(time.Duration(2*i)*time.Minute + pairOff); !n.Equal(want) {
			t.Fatalf("*/2 round %d nominal %v, want %v", i, n, want)
		}
	}
	if tot := h.s.Totals(); tot.Missed != 0 || tot.Skipped != 0 || tot.Runs != uint64(c.len()) {
		t.Errorf("totals %+v, want no misses or skips and %d runs", tot, c.len())
	}
}

func TestTimerWakesTheDispatcher(t *testing.T) {
	clock := testkit.NewClock(t0)
	s := New(Options{Clock: clock, Tick: time.Hour})
	ran := make(chan time.Time, 1)
	if err := s.Set(Entry{Name: "a", Spec: MustParseSpec("@every 1m"), Job: func(_ context.Context, _ string, nominal time.Time) { ran <- nominal }}); err != nil {
		t.Fatal(err)
	}
	<-s.wake // so that only the armed timer can wake the loop after its first pass
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	testkit.WaitFor(t, "first pass", func() bool { return !s.LastTick().IsZero() })
	due, _ := s.Next("a")
	clock.Set(due)
	select {
	case n := <-ran:
		if !n.Equal(due) {
			t.Errorf("nominal %v, want %v", n, due)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("job did not run when the clock reached its time")
	}
}

func TestLastTickAdvancesWhenIdle(t *testing.T) {
	h := start(t, Options{Tick: time.Second})
	before := h.s.LastTick()
	h.clock.Advance(time.Second) // no entries, no kick
	testkit.WaitFor(t, "LastTick to move", func() bool { return h.s.LastTick().After(before) })
}

func TestBusyMonitorSkipsAndCounts(t *testing.T) {
	h := start(t, Options{})
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	h.set("slow", "@every 10s", func(context.Context, string, time.Time) {
		started <- struct{}{}
		<-release
	})
	h.advance(10 * time.Second)
	<-started
	h.advance(10 * time.Second)
	h.advance(10 * time.Second)
	st, _ := h.s.Stats("slow")
	if st.Skipped != 2 || st.Runs != 1 {
		t.Errorf("stats %+v, want 2 skipped and 1 run", st)
	}
	if got := h.obs.skips("slow"); got != 2 {
		t.Errorf("observer saw %d skips, want 2", got)
	}
	if tot := h.s.Totals(); tot.Skipped != 2 {
		t.Errorf("total skipped %d, want 2", tot.Skipped)
	}
	close(release)
	h.waitIdle()
	h.advance(10 * time.Second)
	<-started
	h.waitIdle()
	if st, _ := h.s.Stats("slow"); st.Runs != 2 || st.Skipped != 2 {
		t.Errorf("after release stats %+v, want 2 runs and 2 skipped", st)
	}
}

func TestPanicIsContainedLoggedAndCounted(t *testing.T) {
	var logs testkit.Buffer
	h := start(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var c calls
	var n atomic.Int32
	h.set("bad", "@every 1m", func(ctx context.Context, name string, nominal time.Time) {
		if n.Add(1) == 1 {
			panic("boom")
		}
		c.job(ctx, name, nominal)
	})
	h.set("good", "@every 1m", c.job)
	h.advance(time.Minute)
	h.waitIdle()
	h.advance(time.Minute)
	h.waitIdle()

	if st, _ := h.s.Stats("bad"); st.Panics != 1 || st.Runs != 2 {
		t.Errorf("bad stats %+v, want 1 panic in 2 runs", st)
	}
	if got := len(c.of("bad")); got != 1 {
		t.Errorf("bad completed %d rounds after its panic, want 1", got)
	}
	if got := len(c.of("good")); got != 2 {
		t.Errorf("good ran %d rounds, want 2", got)
	}
	if tot := h.s.Totals(); tot.Panics != 1 {
		t.Errorf("total panics %d, want 1", tot.Panics)
	}
	h.obs.mu.Lock()
	pv := h.obs.panics["bad"]
	h.obs.mu.Unlock()
	if len(pv) != 1 || pv[0] != "boom" {
		t.Errorf("observer panics %v, want [boom]", pv)
	}
	if l := logs.String(); !strings.Contains(l, "check panicked") || !strings.Contains(l, "monitor=bad") || !strings.Contains(l, "panic=boom") {
		t.Errorf("log lacks the panic: %s", l)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	const k, n = 3, 20
	h := start(t, Options{Workers: k})
	var running, peak, done atomic.Int32
	release := make(chan struct{})
	for i := range n {
		h.set(fmt.Sprintf("m%02d", i), "@every 1m", func(context.Context, string, time.Time) {
			r := running.Add(1)
			for {
				p := peak.Load()
				if r <= p || peak.CompareAndSwap(p, r) {
					break
				}
			}
			<-release
			running.Add(-1)
			done.Add(1)
		})
	}
	h.advance(time.Minute)
	testkit.WaitFor(t, "workers to fill", func() bool { return running.Load() == k })
	if q := h.s.Totals().Queued; q != n-k {
		t.Errorf("queued %d, want %d", q, n-k)
	}
	for range n {
		release <- struct{}{}
	}
	testkit.WaitFor(t, "all rounds", func() bool { return done.Load() == n })
	if p := peak.Load(); p != k {
		t.Errorf("peak concurrency %d, want %d", p, k)
	}
}

func TestLatenessIncludesWaitingForAWorker(t *testing.T) {
	h := start(t, Options{Workers: 1})
	release := make(chan struct{})
	var order []string
	var mu sync.Mutex
	job := func(_ context.Context, name string, _ time.Time) {
		mu.Lock()
		order = append(order, name)
		first := len(order) == 1
		mu.Unlock()
		if first {
			<-release
		}
	}
	h.set("a", "@hourly", job)
	h.set("b", "@hourly", job)
	h.advance(time.Hour) // both due, only one worker
	testkit.WaitFor(t, "first round", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	h.clock.Advance(7 * time.Second)
	close(release)
	h.waitIdle()

	mu.Lock()
	first, second := order[0], order[1]
	mu.Unlock()
	h.obs.mu.Lock()
	defer h.obs.mu.Unlock()
	na, _ := h.s.Next(first)
	nb, _ := h.s.Next(second)
	// The rounds were due at (Next - 1h); the first started at t0+1h, the
	// second 7s later.
	wantFirst := t0.Add(time.Hour).Sub(na.Add(-time.Hour))
	wantSecond := t0.Add(time.Hour + 7*time.Second).Sub(nb.Add(-time.Hour))
	if got := h.obs.lateness[first]; len(got) != 1 || got[0] != wantFirst {
		t.Errorf("%s lateness %v, want [%v]", first, got, wantFirst)
	}
	if got := h.obs.lateness[second]; len(got) != 1 || got[0] != wantSecond {
		t.Errorf("%s lateness %v, want [%v]", second, got, wantSecond)
	}
}

func TestRunAfterFiresOnce(t *testing.T) {
	h := start(t, Options{})
	var c calls
	h.set("a", "@every 1h", c.job)
	regular, _ := h.s.Next("a")
	if err := h.s.RunAfter("a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	h.advance(4 * time.Second)
	if n := c.len(); n != 0 {
		t.Fatalf("ran %d rounds before the delay", n)
	}
	h.advance(time.Second)
	h.waitIdle()
	for range 5 {
		h.advance(5 * time.Second)
	}
	h.waitIdle()
	if got := c.of("a"); len(got) != 1 || !got[0].Equal(t0.Add(5*time.Second)) {
		t.Errorf("rounds %v, want one at %v", got, t0.Add(5*time.Second))
	}
	if next, _ := h.s.Next("a"); !next.Equal(regular) {
		t.Errorf("regular schedule moved from %v to %v", regular, next)
	}
	if err := h.s.RunAfter("nope", time.Second); err == nil {
		t.Error("RunAfter of an unknown monitor succeeded")
	}
}

func TestRunAfterObeysNoOverlap(t *testing.T) {
	h := start(t, Options{})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	h.set("a", "@every 1h", func(context.Context, string, time.Time) {
		started <- struct{}{}
		<-release
	})
	if err := h.s.RunAfter("a", 0); err != nil {
		t.Fatal(err)
	}
	h.advance(0)
	<-started
	if err := h.s.RunAfter("a", time.Second); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Second)
	close(release)
	h.waitIdle()
	if st, _ := h.s.Stats("a"); st.Runs != 1 || st.Skipped != 1 {
		t.Errorf("stats %+v, want 1 run and 1 skipped", st)
	}
}

func TestSyncAddsRemovesAndReplaces(t *testing.T) {
	h := start(t, Options{})
	var old, neu calls
	entries := func(c *calls, specs map[string]string) []Entry {
		var es []Entry
		for name, spec := range specs {
			es = append(es, Entry{Name: name, Spec: MustParseSpec(spec), Job: c.job})
		}
		return es
	}
	if _, err := h.s.Sync(entries(&old, map[string]string{"a": "@every 1m", "b": "@every 1m", "c": "@every 1m"})); err != nil {
		t.Fatal(err)
	}
	h.advance(30 * time.Second)
	// A round dispatched before the reload records itself from its own
	// goroutine: let it, so that it is not counted as one after.
	h.waitIdle()
	aNext, _ := h.s.Next("a")

	diff, err := h.s.Sync(entries(&neu, map[string]string{"a": "@every 1m", "b": "@every 2m", "d": "@every 1m"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(diff.Added, []string{"d"}) || !slices.Equal(diff.Removed, []string{"c"}) ||
		!slices.Equal(diff.Rescheduled, []string{"b"}) || !slices.Equal(diff.Kept, []string{"a"}) {
		t.Errorf("diff %+v", diff)
	}
	if n, _ := h.s.Next("a"); !n.Equal(aNext) {
		t.Errorf("unchanged monitor moved from %v to %v", aNext, n)
	}
	if n, _ := h.s.Next("b"); n.Sub(t0.Add(30*time.Second)) > 2*time.Minute {
		t.Errorf("b's next %v is not within its new 2m period", n)
	}
	if got := h.s.Names(); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("names %v", got)
	}
	oldC := len(old.of("c"))
	for range 4 {
		h.advance(time.Minute)
		h.waitIdle()
	}
	h.waitIdle()
	if got := len(old.of("c")); got != oldC {
		t.Errorf("removed monitor ran %d more rounds", got-oldC)
	}
	if got := len(old.of("a")) + len(old.of("b")); got > 2 {
		t.Errorf("old jobs ran %d rounds after the reload (at most one each before it)", got)
	}
	if a, b, d := len(neu.of("a")), len(neu.of("b")), len(neu.of("d")); a != 4 || b != 2 || d != 4 {
		t.Errorf("new rounds a=%d b=%d d=%d, want 4, 2, 4", a, b, d)
	}

	// Bad input changes nothing.
	bad := []Entry{{Name: "x", Spec: MustParseSpec("@every 1m"), Job: neu.job}, {Name: "x", Spec: MustParseSpec("@every 1m"), Job: neu.job}}
	if _, err := h.s.Sync(bad); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate names: err = %v", err)
	}
	if _, err := h.s.Sync([]Entry{{Name: "y", Job: neu.job}}); err == nil {
		t.Error("entry without a schedule accepted")
	}
	if got := h.s.Names(); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("names after bad syncs %v", got)
	}
}

func TestRemovedMonitorFinishesItsRound(t *testing.T) {
	h := start(t, Options{})
	release := make(chan struct{})
	started := make(chan struct{}, 5)
	finished := make(chan struct{}, 5)
	h.set("a", "@every 1m", func(context.Context, string, time.Time) {
		started <- struct{}{}
		<-release
		finished <- struct{}{}
	})
	h.advance(time.Minute)
	<-started
	if !h.s.Remove("a") {
		t.Fatal("Remove reported a missing monitor")
	}
	if h.s.Remove("a") {
		t.Error("second Remove reported success")
	}
	// Re-adding the name while the old round runs must not overlap it.
	h.set("a", "@every 1m", func(context.Context, string, time.Time) { started <- struct{}{} })
	h.advance(time.Minute)
	if st, _ := h.s.Stats("a"); st.Skipped != 1 || st.Runs != 0 {
		t.Errorf("re-added stats %+v, want 1 skipped", st)
	}
	close(release)
	<-finished
	h.waitIdle()
	h.advance(time.Minute)
	<-started
}

func TestStopWaitsForRunningJobs(t *testing.T) {
	clock := testkit.NewClock(t0)
	type key struct{}
	s := New(Options{Clock: clock})
	release := make(chan struct{})
	started := make(chan struct{})
	var sawValue atomic.Bool
	if err := s.Set(Entry{Name: "a", Spec: MustParseSpec("@every 1m"), Job: func(ctx context.Context, _ string, _ time.Time) {
		sawValue.Store(ctx.Value(key{}) == "v")
		close(started)
		<-release
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.WithValue(context.Background(), key{}, "v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	clock.Advance(time.Minute)
	<-started
	if !sawValue.Load() {
		t.Error("job's context does not derive from Start's")
	}
	stopped := make(chan error)
	go func() { stopped <- s.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job was running", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	// Nothing is dispatched after Stop.
	clock.Advance(time.Hour)
	time.Sleep(5 * time.Millisecond)
	if r := s.Totals().Runs; r != 1 {
		t.Errorf("%d runs, want 1", r)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStopGivesUpAndCancelsJobs(t *testing.T) {
	clock := testkit.NewClock(t0)
	s := New(Options{Clock: clock})
	started := make(chan struct{})
	cancelled := make(chan struct{})
	if err := s.Set(Entry{Name: "a", Spec: MustParseSpec("@every 1m"), Job: func(ctx context.Context, _ string, _ time.Time) {
		close(started)
		<-ctx.Done()
		close(cancelled)
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want a deadline error", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("job context not cancelled after Stop gave up")
	}
}

func TestFallingBehindDoesNotReplayMissedRounds(t *testing.T) {
	h := start(t, Options{})
	var c calls
	h.set("a", "@every 1m", c.job)
	h.advance(10 * time.Minute)
	h.waitIdle()
	if n := c.len(); n != 1 {
		t.Errorf("ran %d rounds after a 10m stall, want 1", n)
	}
	if st, _ := h.s.Stats("a"); st.Missed != 1 {
		t.Errorf("stats %+v, want 1 missed", st)
	}
	if n, _ := h.s.Next("a"); !n.After(h.clock.Now()) || n.Sub(h.clock.Now()) > time.Minute {
		t.Errorf("next %v is not within a period of now %v", n, h.clock.Now())
	}
}

func TestSetRejectsBadEntries(t *testing.T) {
	s := New(Options{Clock: testkit.NewClock(t0)})
	job := func(context.Context, string, time.Time) {}
	for _, e := range []Entry{
		{Spec: MustParseSpec("@every 1m"), Job: job},
		{Name: "a", Job: job},
		{Name: "a", Spec: MustParseSpec("@every 1m")},
	} {
		if err := s.Set(e); err == nil {
			t.Errorf("Set(%+v) succeeded", e)
		}
	}
	if n := len(s.Names()); n != 0 {
		t.Errorf("%d entries after bad Sets", n)
	}
}

// A short run on the real clock: every monitor fires once within its 1s
// period and the dispatcher keeps time.
func TestRealClockSmoke(t *testing.T) {
	obs := newRecorder()
	s := New(Options{Observer: obs, Workers: 8})
	var c calls
	const n = 50
	for i := range n {
		if err := s.Set(Entry{Name: fmt.Sprintf("m%d", i), Spec: MustParseSpec("@every 1s"), Job: c.job}); err != nil {
			t.Fatal(err)
		}
	}
	begin := time.Now()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	testkit.WaitFor(t, "every monitor to run", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		seen := map[string]bool{}
		for _, cl := range c.got {
			seen[cl.name] = true
		}
		return len(seen) == n
	})
	if el := time.Since(begin); el > 1500*time.Millisecond {
		t.Errorf("took %v for every @every 1s monitor to run", el)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for name, ls := range obs.lateness {
		for _, l := range ls {
			if l < 0 || l > 200*time.Millisecond {
				t.Errorf("%s lateness %v", name, l)
			}
		}
	}
	if lt := s.LastTick(); time.Since(lt) > time.Second {
		t.Errorf("LastTick %v is stale", lt)
	}
}
