package schedule

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// BenchmarkDispatch runs 10,000 monitors with trivial jobs on the real clock
// until b.N rounds have started, and reports the whole process's CPU time per
// round (dispatch, hand-off to a worker, timers, GC) and the lateness of the
// rounds. It compares this package's heap dispatcher with robfig/cron's own
// Cron runner fed the same jittered fire times, and with that runner when the
// jitter is rounded to whole seconds (one wake-up per second instead of one
// per round).
func BenchmarkDispatch(b *testing.B) {
	const n = 10000
	for _, every := range []time.Duration{30 * time.Second, 10 * time.Second} {
		b.Run(fmt.Sprintf("heap/every=%v", every), func(b *testing.B) { benchHeap(b, n, every, 0) })
		b.Run(fmt.Sprintf("heap-no-coalesce/every=%v", every), func(b *testing.B) { benchHeap(b, n, every, -1) })
		b.Run(fmt.Sprintf("robfig/every=%v", every), func(b *testing.B) { benchRobfig(b, n, every, false) })
		b.Run(fmt.Sprintf("robfig-whole-seconds/every=%v", every), func(b *testing.B) { benchRobfig(b, n, every, true) })
	}
}

// latencies collects lateness up to the first want rounds and says when it
// has them all.
type latencies struct {
	mu   sync.Mutex
	want int
	got  []time.Duration
	done chan struct{}
}

func newLatencies(want int) *latencies {
	return &latencies{want: want, got: make([]time.Duration, 0, want), done: make(chan struct{})}
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.got) >= l.want {
		return
	}
	l.got = append(l.got, d)
	if len(l.got) == l.want {
		close(l.done)
	}
}

func (l *latencies) Lateness(_ string, d time.Duration) { l.add(d) }
func (l *latencies) Skipped(string)                     {}
func (l *latencies) Panicked(string, any)               {}

func (l *latencies) report(b *testing.B, cpu time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.got)
	pct := func(p float64) float64 {
		return float64(l.got[int(p*float64(len(l.got)-1))].Microseconds())
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(l.got)), "cpu-µs/fire")
	b.ReportMetric(pct(0.5), "p50-late-µs")
	b.ReportMetric(pct(0.99), "p99-late-µs")
	b.ReportMetric(pct(1), "max-late-µs")
	b.ReportMetric(0, "ns/op") // wall time per op is just the schedule's rate
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchHeap(b *testing.B, n int, every, coalesce time.Duration) {
	lat := newLatencies(b.N)
	s := New(Options{Observer: lat, Coalesce: coalesce})
	spec := MustParseSpec("@every " + every.String())
	job := func(context.Context, string, time.Time) {}
	for i := range n {
		if err := s.Set(Entry{Name: fmt.Sprintf("mon-%05d", i), Spec: spec, Job: job}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu0 := cpuTime(b)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-lat.done
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if err := s.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	lat.report(b, cpu)
}

// jittered gives robfig's runner the same fire times as Spec.Next, or those
// times rounded down to the second.
type jittered struct {
	spec  Spec
	frac  float64
	whole bool
}

func (j jittered) Next(t time.Time) time.Time {
	if !j.whole {
		return j.spec.Next(t, j.frac, DefaultMaxJitter)
	}
	nt := j.spec.Next(t.Truncate(time.Second), j.frac, DefaultMaxJitter).Truncate(time.Second)
	if !nt.After(t) {
		nt = j.spec.Next(nt.Add(j.spec.every), j.frac, DefaultMaxJitter).Truncate(time.Second)
	}
	return nt
}

// prev is the latest fire time not after t: the round's nominal time.
func (j jittered) prev(t time.Time) time.Time {
	p := j.Next(t.Add(-j.spec.every))
	for {
		nx := j.Next(p)
		if nx.After(t) {
			return p
		}
		p = nx
	}
}

func benchRobfig(b *testing.B, n int, every time.Duration, whole bool) {
	lat := newLatencies(b.N)
	c := cron.New()
	spec := MustParseSpec("@every " + every.String())
	var started atomic.Int64
	for i := range n {
		j := jittered{spec: spec, frac: Jitter(fmt.Sprintf("mon-%05d", i)), whole: whole}
		c.Schedule(j, cron.FuncJob(func() {
			if started.Add(1) > int64(b.N) {
				return
			}
			now := time.Now()
			lat.add(now.Sub(j.prev(now)))
		}))
	}
	b.ResetTimer()
	cpu0 := cpuTime(b)
	c.Start()
	<-lat.done
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	<-c.Stop().Done()
	lat.report(b, cpu)
}
