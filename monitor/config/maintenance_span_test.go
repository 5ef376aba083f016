package config

import (
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/schedule"
)

func TestMaintenanceSpanIsTheWindowsEdges(t *testing.T) {
	every, err := schedule.ParseSpec("@every 1h")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cfg := &Config{Maintenance: []Maintenance{
		{Name: "hourly", Monitors: []string{"shop"}, Schedule: every, Duration: 10 * time.Minute},
		{Name: "once", Tags: []string{"db"}, Start: base.Add(5 * time.Minute), End: base.Add(30 * time.Minute)},
	}}
	shop := &Monitor{Name: "shop"}
	both := &Monitor{Name: "shop", Tags: []string{"db"}}
	cases := []struct {
		name       string
		m          *Monitor
		at         time.Time
		ok         bool
		start, end time.Time
	}{
		{"inside the hourly window", shop, base.Add(3 * time.Minute), true, base, base.Add(10 * time.Minute)},
		{"after it", shop, base.Add(12 * time.Minute), false, time.Time{}, time.Time{}},
		// Both windows cover 10:07: the span starts with the earlier and
		// ends with the muting, carried through the overlap to 10:30.
		{"two windows overlapping", both, base.Add(7 * time.Minute), true, base, base.Add(30 * time.Minute)},
		{"only the absolute one", both, base.Add(20 * time.Minute), true, base.Add(5 * time.Minute), base.Add(30 * time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, end, ok := cfg.MaintenanceSpan(c.m, c.at)
			if ok != c.ok || !start.Equal(c.start) || !end.Equal(c.end) {
				t.Errorf("MaintenanceSpan(%s) = %s, %s, %v; want %s, %s, %v", c.at.Format("15:04"), start, end, ok, c.start, c.end, c.ok)
			}
		})
	}
}
