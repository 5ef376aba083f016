package daemon

import (
	"context"
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
