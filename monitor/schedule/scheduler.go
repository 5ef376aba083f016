package schedule

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Job runs one round of a monitor. ctx is derived from the context given to
// Start and is cancelled when Stop gives up waiting. nominal is the time the
// round was due (with jitter), not the time it started.
type Job func(ctx context.Context, name string, nominal time.Time)

// Observer receives scheduling events, so the daemon can feed metrics
// without this package depending on a metrics library. Its methods are
// called from the dispatcher and from workers concurrently, must be safe for
// concurrent use and should return quickly.
type Observer interface {
	// Lateness reports, when a round starts, how long after its nominal time
	// it started, including the time spent waiting for a free worker.
	Lateness(name string, d time.Duration)
	// Skipped reports a round not started because the previous round of the
	// same monitor was still queued or running.
	Skipped(name string)
	// Panicked reports a job that panicked with v.
	Panicked(name string, v any)
}

type nopObserver struct{}

func (nopObserver) Lateness(string, time.Duration) {}
func (nopObserver) Skipped(string)                 {}
func (nopObserver) Panicked(string, any)           {}

// DefaultWorkers is the default concurrency bound. Checks spend their time
// waiting on the network, so it is far above the CPU count.
const DefaultWorkers = 256

// DefaultTick is how long the dispatcher sleeps at most, and so how often
// LastTick advances when nothing is due.
const DefaultTick = time.Second

// DefaultCoalesce is the shortest time the dispatcher sleeps between passes
// when nothing is due, so rounds due close together share one wake-up. It
// adds at most this much to a round's lateness; see BenchmarkDispatch.
const DefaultCoalesce = 10 * time.Millisecond

// Options configures a Scheduler. Zero values pick the defaults.
type Options struct {
	Workers   int           // most jobs running at once; DefaultWorkers if 0
	MaxJitter time.Duration // spread bound for cron specs; DefaultMaxJitter if 0, none if < 0
	Tick      time.Duration // longest dispatcher sleep; DefaultTick if 0
	Coalesce  time.Duration // shortest dispatcher sleep; DefaultCoalesce if 0, none if < 0
	Clock     Clock         // RealClock if nil
	Logger    *slog.Logger  // discards if nil
	Observer  Observer      // none if nil
}

// Entry is one scheduled monitor.
type Entry struct {
	Name string
	Spec Spec
	Job  Job
}

// EntryStats counts one monitor's rounds since it was added.
type EntryStats struct {
	Runs    uint64 // rounds started
	Skipped uint64 // rounds skipped because the previous one was still running
	Panics  uint64 // rounds that panicked
	Missed  uint64 // times rounds were dropped because the dispatcher fell a period behind
}

// Totals counts every monitor's rounds since the scheduler was made,
// including monitors since removed.
type Totals struct {
	EntryStats
	Entries  int // monitors scheduled now
	InFlight int // rounds queued or running now
	Queued   int // rounds waiting for a worker now
}

// Diff says what Sync changed.
type Diff struct {
	Added       []string
	Removed     []string
	Rescheduled []string // schedule string changed
	Kept        []string // same schedule string: next fire time kept, job replaced
}

// Scheduler runs jobs on their schedules. Make one with New, add entries,
// then Start it. All methods are safe for concurrent use, including from
// inside a job.
type Scheduler struct {
	clock     Clock
	log       *slog.Logger
	obs       Observer
	workers   int
	maxJitter time.Duration
	tick      time.Duration
	coalesce  time.Duration

	mu       sync.Mutex
	work     *sync.Cond // signalled under mu when queue grows or closing is set
	entries  map[string]*entry
	heap     itemHeap
	inflight map[string]struct{} // by name, so it outlives a remove and re-add
	queue    []task
	qhead    int
	closing  bool
	started  bool
	stopped  bool
	skips    []string // dispatcher-only scratch: skips to report outside mu

	totals   struct{ runs, skipped, panics, missed atomic.Uint64 }
	lastTick atomic.Int64 // UnixNano of the dispatcher's last pass; 0 before the first

	wake       chan struct{}
	stopLoop   chan struct{}
	loopDone   chan struct{}
	workerWG   sync.WaitGroup
	cancelJobs context.CancelFunc
}

type entry struct {
	name    string
	spec    Spec
	frac    float64
	job     Job
	regular *item
	oneOff  *item
	removed bool
	stats   EntryStats
}

type item struct {
	due   time.Time
	e     *entry
	once  bool
	index int
}

type task struct {
	e       *entry
	nominal time.Time
}

// New returns a stopped Scheduler with no entries.
func New(o Options) *Scheduler {
	s := &Scheduler{
		clock:     o.Clock,
		log:       o.Logger,
		obs:       o.Observer,
		workers:   o.Workers,
		maxJitter: o.MaxJitter,
		tick:      o.Tick,
		entries:   make(map[string]*entry),
		inflight:  make(map[string]struct{}),
		wake:      make(chan struct{}, 1),
		stopLoop:  make(chan struct{}),
		loopDone:  make(chan struct{}),
	}
	s.work = sync.NewCond(&s.mu)
	if s.clock == nil {
		s.clock = RealClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	if s.workers <= 0 {
		s.workers = DefaultWorkers
	}
	switch {
	case s.maxJitter == 0:
		s.maxJitter = DefaultMaxJitter
	case s.maxJitter < 0:
		s.maxJitter = 0
	}
	if s.tick <= 0 {
		s.tick = DefaultTick
	}
	switch {
	case o.Coalesce == 0:
		s.coalesce = DefaultCoalesce
	case o.Coalesce > 0:
		s.coalesce = o.Coalesce
	}
	return s
}

// Set adds an entry or replaces the one with the same name. A replaced entry
// whose schedule string is unchanged keeps its next fire time and only gets
// the new job; one with a new schedule is rescheduled from now. Either way a
// round of the old entry still in flight blocks the next round of the new.
func (s *Scheduler) Set(e Entry) error {
	if err := checkEntry(e); err != nil {
		return err
	}
	s.mu.Lock()
	s.setLocked(e, s.clock.Now())
	s.mu.Unlock()
	s.kick()
	return nil
}

func checkEntry(e Entry) error {
	switch {
	case e.Name == "":
		return errors.New("schedule entry: empty name")
	case e.Job == nil:
		return fmt.Errorf("schedule entry %q: nil job", e.Name)
	case e.Spec.IsZero():
		return fmt.Errorf("schedule entry %q: no schedule", e.Name)
	}
	return nil
}

// setLocked reports whether the entry was added, rescheduled, or (neither)
// only had its job replaced.
func (s *Scheduler) setLocked(e Entry, now time.Time) (added, rescheduled bool) {
	old, ok := s.entries[e.Name]
	if ok {
		old.job = e.Job
		if old.spec.String() == e.Spec.String() {
			return false, false
		}
		old.spec = e.Spec
		s.scheduleLocked(old, now)
		return false, true
	}
	en := &entry{name: e.Name, spec: e.Spec, frac: Jitter(e.Name), job: e.Job}
	s.entries[e.Name] = en
	s.scheduleLocked(en, now)
	return true, false
}

func (s *Scheduler) scheduleLocked(e *entry, now time.Time) {
	due := e.spec.Next(now, e.frac, s.maxJitter)
	switch {
	case due.IsZero() && e.regular != nil:
		heap.Remove(&s.heap, e.regular.index)
		e.regular = nil
	case due.IsZero():
	case e.regular != nil:
		e.regular.due = due
		heap.Fix(&s.heap, e.regular.index)
	default:
		e.regular = &item{due: due, e: e}
		heap.Push(&s.heap, e.regular)
	}
}

// Remove stops scheduling name. A round already running finishes; one still
// waiting for a worker is dropped. It reports whether name was scheduled.
func (s *Scheduler) Remove(name string) bool {
	s.mu.Lock()
	ok := s.removeLocked(name)
	s.mu.Unlock()
	return ok
}

func (s *Scheduler) removeLocked(name string) bool {
	e, ok := s.entries[name]
	if !ok {
		return false
	}
	delete(s.entries, name)
	e.removed = true
	if e.regular != nil {
		heap.Remove(&s.heap, e.regular.index)
		e.regular = nil
	}
	if e.oneOff != nil {
		heap.Remove(&s.heap, e.oneOff.index)
		e.oneOff = nil
	}
	return true
}

// Sync makes the scheduled set exactly entries, as on a config reload:
// monitors keep their identity by name, so unchanged ones keep their
// schedule, removed ones stop and new ones start. Nothing changes if any
// entry is invalid or two share a name.
func (s *Scheduler) Sync(entries []Entry) (Diff, error) {
	want := make(map[string]bool, len(entries))
	for _, e := range entries {
		if err := checkEntry(e); err != nil {
			return Diff{}, fmt.Errorf("sync schedule: %w", err)
		}
		if want[e.Name] {
			return Diff{}, fmt.Errorf("sync schedule: duplicate entry %q", e.Name)
		}
		want[e.Name] = true
	}
	var d Diff
	s.mu.Lock()
	now := s.clock.Now()
	for name := range s.entries {
		if !want[name] {
			s.removeLocked(name)
			d.Removed = append(d.Removed, name)
		}
	}
	for _, e := range entries {
		switch added, resched := s.setLocked(e, now); {
		case added:
			d.Added = append(d.Added, e.Name)
		case resched:
			d.Rescheduled = append(d.Rescheduled, e.Name)
		default:
			d.Kept = append(d.Kept, e.Name)
		}
	}
	s.mu.Unlock()
	s.kick()
	sort.Strings(d.Removed)
	return d, nil
}

// RunAfter schedules one extra round of name d from now, on top of its
// regular schedule, e.g. the early re-check after a first failure. Like any
// round it is skipped if the previous one is still running then. A second
// call before the first has fired replaces it.
func (s *Scheduler) RunAfter(name string, d time.Duration) error {
	s.mu.Lock()
	e, ok := s.entries[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("run %q early: not scheduled", name)
	}
	due := s.clock.Now().Add(max(d, 0))
	if e.oneOff != nil {
		e.oneOff.due = due
		heap.Fix(&s.heap, e.oneOff.index)
	} else {
		e.oneOff = &item{due: due, e: e, once: true}
		heap.Push(&s.heap, e.oneOff)
	}
	s.mu.Unlock()
	s.kick()
	return nil
}

// Next returns name's next regular fire time.
func (s *Scheduler) Next(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || e.regular == nil {
		return time.Time{}, false
	}
	return e.regular.due, true
}

// Names returns the scheduled names, sorted.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	names := make([]string, 0, len(s.entries))
	for n := range s.entries {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	return names
}

// Stats returns name's counters.
func (s *Scheduler) Stats(name string) (EntryStats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok {
		return EntryStats{}, false
	}
	return e.stats, true
}

// Totals returns counters over all monitors.
func (s *Scheduler) Totals() Totals {
	s.mu.Lock()
	t := Totals{Entries: len(s.entries), InFlight: len(s.inflight), Queued: len(s.queue) - s.qhead}
	s.mu.Unlock()
	t.Runs = s.totals.runs.Load()
	t.Skipped = s.totals.skipped.Load()
	t.Panics = s.totals.panics.Load()
	t.Missed = s.totals.missed.Load()
	return t
}

// LastTick returns when the dispatcher last finished a pass, by the
// scheduler's clock, or the zero time before the first. A running dispatcher
// passes at least once per Options.Tick, so a LastTick much older than that
// means it is wedged: a systemd watchdog should stop being fed.
func (s *Scheduler) LastTick() time.Time {
	n := s.lastTick.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Start begins dispatching. Jobs get a context derived from ctx; cancelling
// ctx stops dispatching too (call Stop to wait for the jobs).
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("start scheduler: already started")
	}
	s.started = true
	jobCtx, cancel := context.WithCancel(ctx)
	s.cancelJobs = cancel
	for range s.workers {
		s.workerWG.Add(1)
		go s.worker(jobCtx)
	}
	go s.loop(ctx)
	return nil
}

// Stop stops dispatching, drops rounds still waiting for a worker and waits
// for running jobs to return. If ctx ends first it cancels the jobs' context
// and returns an error without waiting further. Later calls return nil.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()

	close(s.stopLoop)
	<-s.loopDone

	s.mu.Lock()
	for _, t := range s.queue[s.qhead:] {
		delete(s.inflight, t.e.name)
	}
	s.queue, s.qhead = nil, 0
	s.closing = true
	s.work.Broadcast()
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.workerWG.Wait()
		close(done)
	}()
	defer s.cancelJobs()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		n := len(s.inflight)
		s.mu.Unlock()
		return fmt.Errorf("stop scheduler: %d jobs still running: %w", n, ctx.Err())
	}
}

func (s *Scheduler) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.loopDone)
	for {
		now := s.clock.Now()
		s.mu.Lock()
		s.dispatchLocked(now)
		next := now.Add(s.tick)
		if len(s.heap) > 0 && s.heap[0].due.Before(next) {
			// Every wake-up costs thread hand-offs that dwarf the dispatch
			// itself, so rounds due within the coalescing window of each
			// other share one.
			next = s.heap[0].due
			if soonest := now.Add(s.coalesce); next.Before(soonest) {
				next = soonest
			}
		}
		s.mu.Unlock()
		// Only this goroutine touches skips, so it may read them unlocked.
		for _, name := range s.skips {
			s.obs.Skipped(name)
		}
		s.skips = s.skips[:0]
		s.lastTick.Store(now.UnixNano())

		t := s.clock.TimerAt(next)
		select {
		case <-t.C():
		case <-s.wake:
			t.Stop()
		case <-s.stopLoop:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// dispatchLocked queues every round due at now.
func (s *Scheduler) dispatchLocked(now time.Time) {
	for len(s.heap) > 0 && !s.heap[0].due.After(now) {
		it := s.heap[0]
		e := it.e
		nominal := it.due
		if it.once {
			heap.Pop(&s.heap)
			e.oneOff = nil
		} else {
			next := e.spec.Next(nominal, e.frac, s.maxJitter)
			if !next.IsZero() && !next.After(now) {
				// More than a period behind: resume the normal times
				// rather than replaying every missed round at once.
				next = e.spec.Next(now, e.frac, s.maxJitter)
				e.stats.Missed++
				s.totals.missed.Add(1)
			}
			if next.IsZero() {
				heap.Pop(&s.heap)
				e.regular = nil
			} else {
				it.due = next
				heap.Fix(&s.heap, 0)
			}
		}
		if _, busy := s.inflight[e.name]; busy {
			e.stats.Skipped++
			s.totals.skipped.Add(1)
			s.skips = append(s.skips, e.name)
			continue
		}
		s.inflight[e.name] = struct{}{}
		s.queue = append(s.queue, task{e: e, nominal: nominal})
		s.work.Signal()
	}
}

func (s *Scheduler) worker(ctx context.Context) {
	defer s.workerWG.Done()
	for {
		s.mu.Lock()
		for s.qhead == len(s.queue) && !s.closing {
			s.work.Wait()
		}
		if s.closing {
			s.mu.Unlock()
			return
		}
		t := s.queue[s.qhead]
		s.queue[s.qhead] = task{}
		s.qhead++
		if s.qhead == len(s.queue) {
			s.queue, s.qhead = s.queue[:0], 0
		}
		e := t.e
		if e.removed {
			delete(s.inflight, e.name)
			s.mu.Unlock()
			continue
		}
		job := e.job
		e.stats.Runs++
		s.mu.Unlock()
		s.totals.runs.Add(1)

		s.obs.Lateness(e.name, s.clock.Now().Sub(t.nominal))
		panicked := s.run(ctx, job, e.name, t.nominal)

		s.mu.Lock()
		if panicked {
			e.stats.Panics++
		}
		delete(s.inflight, e.name)
		s.mu.Unlock()
	}
}

// run calls job, containing a panic so one bad check cannot take the daemon
// down with it.
func (s *Scheduler) run(ctx context.Context, job Job, name string, nominal time.Time) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			s.totals.panics.Add(1)
			s.log.Error("check panicked", "monitor", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.obs.Panicked(name, v)
		}
	}()
	job(ctx, name, nominal)
	return false
}

type itemHeap []*item

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
