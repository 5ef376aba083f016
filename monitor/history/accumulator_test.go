package history

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

var noon = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func keysOf(bs []Bucket) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%s/%s/%s/%s %d", b.Monitor, b.Vantage, b.Res, b.Bucket.Format("15:04:05"), b.Agg.Checks))
	}
	return out
}

func TestAccumulatorDrainsClosedMinutesOnly(t *testing.T) {
	acc := NewAccumulator()
	ok := check(true, 1, 2, 3, 4, 10)
	acc.Add("web", "local", noon.Add(10*time.Second), ok)
	acc.Add("web", "local", noon.Add(40*time.Second), check(false, 0, 0, 0, 0, 900))
	acc.Add("web", "local", noon.Add(65*time.Second), ok)

	if got := acc.Drain(noon.Add(time.Minute - time.Nanosecond)); len(got) != 0 {
		t.Fatalf("drain before 12:00 ends: %v, want nothing (the minute is open)", keysOf(got))
	}
	got := acc.Drain(noon.Add(time.Minute))
	if want := []string{"web/local/1m/12:00:00 2"}; !slices.Equal(keysOf(got), want) {
		t.Fatalf("drain at 12:01: %v, want %v", keysOf(got), want)
	}
	if a := got[0].Agg; a.Failures != 1 || a.Phases[PhaseTotal].Max() != 900 || a.Phases[PhaseDNS].Count() != 1 {
		t.Errorf("12:00 bucket: failures %d total max %v dns count %d, want 1, 900, 1",
			a.Failures, a.Phases[PhaseTotal].Max(), a.Phases[PhaseDNS].Count())
	}
	if got[0].Bucket.Location() != time.UTC {
		t.Errorf("bucket time in %v, want UTC", got[0].Bucket.Location())
	}
	if again := acc.Drain(noon.Add(90 * time.Second)); len(again) != 0 {
		t.Errorf("second drain inside 12:01: %v, want nothing", keysOf(again))
	}
	// A zero time drains everything, open minutes included: shutdown.
	if rest := acc.Drain(time.Time{}); !slices.Equal(keysOf(rest), []string{"web/local/1m/12:01:00 1"}) {
		t.Errorf("drain at shutdown: %v, want the open 12:01 bucket", keysOf(rest))
	}
	if empty := acc.Drain(time.Time{}); len(empty) != 0 {
		t.Errorf("drain of an empty accumulator: %v", keysOf(empty))
	}
}

func TestAccumulatorBucketsSortedByMonitorVantageMinute(t *testing.T) {
	acc := NewAccumulator()
	ok := check(true, 0, 0, 0, 0, 10)
	// Out of order, in another time zone, one late check for 11:59.
	tz := time.FixedZone("UTC+5:30", 5*3600+1800)
	for _, c := range []struct {
		monitor, vantage string
		at               time.Duration
	}{
		{"web", "local", 2 * time.Minute}, {"api", "tokyo", 30 * time.Second}, {"web", "local", 59 * time.Second},
		{"api", "local", 61 * time.Second}, {"api", "local", 0}, {"web", "berlin", time.Minute},
		{"web", "local", -time.Second}, {"api", "local", 5 * time.Second},
	} {
		acc.Add(c.monitor, c.vantage, noon.Add(c.at).In(tz), ok)
	}
	want := []string{
		"api/local/1m/12:00:00 2", "api/local/1m/12:01:00 1", "api/tokyo/1m/12:00:00 1",
		"web/berlin/1m/12:01:00 1", "web/local/1m/11:59:00 1", "web/local/1m/12:00:00 1", "web/local/1m/12:02:00 1",
	}
	if got := acc.Drain(time.Time{}); !slices.Equal(keysOf(got), want) {
		t.Errorf("drained\n%v\nwant\n%v", keysOf(got), want)
	}
}

func TestAccumulatorLateCheckOfADrainedMinute(t *testing.T) {
	acc := NewAccumulator()
	ok := check(true, 0, 0, 0, 0, 10)
	acc.Add("web", "local", noon.Add(50*time.Second), ok)
	first := acc.Drain(noon.Add(time.Minute))
	// A vantage's answer for 12:00 arrives after 12:00 was drained.
	acc.Add("web", "tokyo", noon.Add(55*time.Second), ok)
	acc.Add("web", "local", noon.Add(70*time.Second), check(true, 0, 0, 0, 0, 7000))
	late := acc.Drain(noon.Add(time.Minute))
	if !slices.Equal(keysOf(late), []string{"web/tokyo/1m/12:00:00 1"}) {
		t.Errorf("late drain: %v, want the late 12:00 bucket alone", keysOf(late))
	}
	// What was drained is the caller's: later checks of the same key, in
	// the map the accumulator reuses, do not change it.
	if a := first[0].Agg; a.Checks != 1 || a.Phases[PhaseTotal].Max() != 10 {
		t.Errorf("the drained bucket changed: checks %d max %v", a.Checks, a.Phases[PhaseTotal].Max())
	}
	rest := acc.Drain(time.Time{})
	if !slices.Equal(keysOf(rest), []string{"web/local/1m/12:01:00 1"}) || rest[0].Agg.Phases[PhaseTotal].Max() != 7000 {
		t.Errorf("last drain: %v", keysOf(rest))
	}
}

func TestAccumulatorMinuteStart(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want time.Time
	}{
		{noon.Add(59*time.Second + 999*time.Millisecond), noon},
		{noon, noon},
		{time.Unix(-1, 0), time.Unix(-60, 0)},
		{time.Unix(-60, 0), time.Unix(-60, 0)},
	} {
		if got := minuteStart(c.at); got != c.want.Unix() {
			t.Errorf("minuteStart(%v) = %v, want %v", c.at, time.Unix(got, 0).UTC(), c.want.UTC())
		}
	}
}

// Checks from many goroutines while another drains: every check ends up
// in exactly one drained bucket.
func TestAccumulatorConcurrentAddAndDrain(t *testing.T) {
	acc := NewAccumulator()
	const workers, perWorker = 4, 3000
	var wg sync.WaitGroup
	var drained []Bucket
	stop := make(chan struct{})
	drainerDone := make(chan struct{})
	go func() {
		defer close(drainerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			drained = append(drained, acc.Drain(noon.Add(time.Duration(i%30)*time.Minute))...)
		}
	}()
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				at := noon.Add(time.Duration(i) * 500 * time.Millisecond) // 25 minutes
				acc.Add(fmt.Sprintf("m%d", i%7), fmt.Sprintf("v%d", w%2), at, check(i%3 != 0, 1, 2, 3, 4, float64(i%100+1)))
			}
		})
	}
	wg.Wait()
	close(stop)
	<-drainerDone
	drained = append(drained, acc.Drain(time.Time{})...)

	var checks, failures, totals uint64
	for _, b := range drained {
		checks += b.Agg.Checks
		failures += b.Agg.Failures
		totals += b.Agg.Phases[PhaseTotal].Count()
		if b.Res != Minute || !b.Bucket.Equal(Minute.Truncate(b.Bucket)) {
			t.Fatalf("bucket %v %v is not a minute's start", b.Res, b.Bucket)
		}
	}
	const n = workers * perWorker
	if checks != n || totals != n || failures != workers*(perWorker/3) {
		t.Errorf("drained %d checks, %d totals, %d failures; want %d, %d, %d", checks, totals, failures, n, n, workers*(perWorker/3))
	}
}

// benchAccumulator is the daemon's hot path: 10,000 monitors at 30 s,
// each checked from three vantages, draining closed minutes every 30 s
// (the daemon drains every few seconds: the same work in smaller pieces).
// With timeDrain unset only the Adds are timed.
func benchAccumulator(b *testing.B, timeDrain bool) {
	const monitors, vantages = 10_000, 3
	names := make([]string, monitors)
	for i := range names {
		names[i] = fmt.Sprintf("monitor-%05d", i)
	}
	vnames := []string{"local", "eu-west", "us-east"}
	var results []*result.Result
	for i := range 16 {
		f := float64(i)
		results = append(results, check(i != 0, 1+f/10, 5+f, 10+f, 40+f*3, 60+f*5))
	}
	acc := NewAccumulator()
	perRound := monitors * vantages
	step := 30 * time.Second / time.Duration(perRound)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % perRound
		at := noon.Add(time.Duration(i) * step)
		acc.Add(names[k/vantages], vnames[k%vantages], at, results[i%len(results)])
		if k == 0 {
			if !timeDrain {
				b.StopTimer()
			}
			acc.Drain(at)
			if !timeDrain {
				b.StartTimer()
			}
		}
		i++
	}
}

func BenchmarkAccumulatorAdd(b *testing.B) { benchAccumulator(b, false) }

// BenchmarkAccumulatorAddAndDrain counts the drains too: the sorted
// []Bucket they return is most of the bytes.
func BenchmarkAccumulatorAddAndDrain(b *testing.B) { benchAccumulator(b, true) }

// BenchmarkAccumulatorAddParallel shows what the one mutex costs when
// every core adds at once, far beyond the daemon's ~1000 adds a second.
func BenchmarkAccumulatorAddParallel(b *testing.B) {
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("monitor-%05d", i)
	}
	r := check(true, 1, 5, 10, 40, 60)
	acc := NewAccumulator()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			acc.Add(names[i%len(names)], "local", noon.Add(time.Duration(i/len(names))*30*time.Second), r)
			i++
		}
	})
}

// BenchmarkAccumulatorDrain drains one closed minute of 30,000 buckets.
func BenchmarkAccumulatorDrain(b *testing.B) {
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("monitor-%05d", i)
	}
	vnames := []string{"local", "eu-west", "us-east"}
	r := check(true, 1, 5, 10, 40, 60)
	acc := NewAccumulator()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for _, m := range names {
			for _, v := range vnames {
				acc.Add(m, v, noon, r)
				acc.Add(m, v, noon.Add(30*time.Second), r)
			}
		}
		b.StartTimer()
		if got := acc.Drain(noon.Add(time.Minute)); len(got) != 30_000 {
			b.Fatalf("drained %d buckets, want 30000", len(got))
		}
	}
}

// On the hot path, a bucket costs one allocation when its first check
// comes, and the second check of the minute none, once the map of minutes
// drained before is reused.
func TestAccumulatorAddAllocatesOncePerBucket(t *testing.T) {
	acc := NewAccumulator()
	r := check(true, 1, 5, 10, 40, 60)
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
		acc.Add(names[i], "local", noon, r)
	}
	acc.Drain(time.Time{})
	acc.Add("warm", "local", noon.Add(time.Minute), r) // the minute's group
	next := 0
	first := testing.AllocsPerRun(100, func() {
		acc.Add(names[next], "local", noon.Add(time.Minute), r)
		next++
	})
	if first != 1 {
		t.Errorf("a check of a new bucket allocates %v times, want 1", first)
	}
	second := testing.AllocsPerRun(100, func() {
		acc.Add("warm", "local", noon.Add(time.Minute+30*time.Second), check(true, 1.01, 5.01, 10.01, 40.01, 60.01))
	})
	if second != 0 {
		t.Errorf("a check of an existing bucket allocates %v times, want 0", second)
	}
}
