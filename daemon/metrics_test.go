package daemon

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLatenessMaxKeepsTheWorstRound(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, reg, &Daemon{})
	if err != nil {
		t.Fatal(err)
	}
	o := observer{m}
	for _, d := range []time.Duration{40 * time.Millisecond, 310 * time.Millisecond, -time.Second, 5 * time.Millisecond} {
		o.Lateness("shop", d)
	}
	if got := testutil.ToFloat64(m.lateMax); got != 0.31 {
		t.Errorf("vantage_scheduler_lateness_max_seconds = %v, want 0.31", got)
	}
	if got := testutil.CollectAndCount(m.lateness); got != 1 {
		t.Errorf("lateness histogram series = %d, want 1", got)
	}
}
