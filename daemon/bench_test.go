package daemon

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// BenchmarkSettleSteady measures the daemon's own work per check in steady
// state (everything after the probe): it must stay small next to the probe.
func BenchmarkSettleSteady(b *testing.B) {
	f := newFixture(b, monitorTOML("web", "http://127.0.0.1:1/"), func(o *Options) { o.Logger = nil })
	m := f.d.lookup("web")
	res := result.Outcome{Result: result.Result{URL: "http://127.0.0.1:1/", OK: true, Class: result.ClassOK, Status: 200, StartedAt: result.TimeOf(t0)}}
	res.Normalize()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := res
		at := t0.Add(time.Duration(i) * time.Second)
		f.d.settle(ctx, m, at, &r, incident.Observation{At: at})
		if i%500 == 0 {
			f.d.buf.mu.Lock()
			f.d.buf.rows = f.d.buf.rows[:0]
			f.d.buf.mu.Unlock()
		}
	}
}

// BenchmarkHistoryMinute is the history's write cost of one minute of
// 10,000 monitors checked @every 30s: two checks each into the
// accumulator, then the flush that drains the closed minute into the
// store. Divide by 20,000 for its share of a check.
func BenchmarkHistoryMinute(b *testing.B) {
	f := newFixture(b, monitorTOML("web", "http://127.0.0.1:1/"), func(o *Options) { o.Logger = nil })
	ctx := context.Background()
	const n = 10000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("m%06d", i)
	}
	res := result.Result{OK: true, Phases: result.Phases{DNSMs: 0.4, ConnectMs: 0.3, TTFBMs: 1.2, TotalMs: 1.9}}
	b.ReportAllocs()
	for b.Loop() {
		at := f.clock.Now()
		for _, name := range names {
			f.d.hist.acc.Add(name, result.LocalVantage, at, &res)
			f.d.hist.acc.Add(name, result.LocalVantage, at.Add(30*time.Second), &res)
		}
		f.clock.Advance(time.Minute)
		if err := f.d.flushHistory(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*n)/1000, "µs/check")
}
