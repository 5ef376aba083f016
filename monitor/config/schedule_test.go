package config

import (
	"testing"
	"time"
)

func TestParseSchedulePeriod(t *testing.T) {
	tests := []struct {
		spec string
		want time.Duration
	}{
		{"@every 30s", 30 * time.Second},
		{"@every 1m30s", 90 * time.Second},
		{"*/2 * * * *", 2 * time.Minute},
		{"* * * * *", time.Minute},
		{"0,1 * * * *", time.Minute},
		{"0,30 9-17 * * 1-5", 30 * time.Minute},
		{"0 3 * * *", 24 * time.Hour},
		{"@hourly", time.Hour},
		{"@daily", 24 * time.Hour},
		{"@weekly", 7 * 24 * time.Hour},
		{"0 9 * * 1,3", 2 * 24 * time.Hour},
		{"CRON_TZ=UTC */5 * * * *", 5 * time.Minute},
		{"0 0 29 2 *", (4*365 + 1) * 24 * time.Hour},
		{"0 0 31 * *", 31 * 24 * time.Hour}, // Jul 31 → Aug 31
		{"59 23 * * 1,2", 24 * time.Hour},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if s.Period != tt.want {
			t.Errorf("%q: period %s, want %s", tt.spec, s.Period, tt.want)
		}
		now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
		if n := s.Next(now); !n.After(now) {
			t.Errorf("%q: Next(%v) = %v", tt.spec, now, n)
		}
	}
}

// TestCronPeriodMatchesNext checks the computed period against a brute-force
// walk over robfig/cron's own Next.
func TestCronPeriodMatchesNext(t *testing.T) {
	for _, spec := range []string{"*/7 * * * *", "5,50 */3 * * *", "0,30 9-17 * * 1-5", "15 10 1,15 * *", "0 0 * * 0"} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		var best time.Duration
		prev := s.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		for range 600 {
			next := s.Next(prev)
			if g := next.Sub(prev); best == 0 || g < best {
				best = g
			}
			prev = next
		}
		if s.Period != best {
			t.Errorf("%q: period %s, brute force %s", spec, s.Period, best)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, spec := range []string{"", "every 30s", "@every 500ms", "@every 1.5s", "@every x", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 * * * *", "61 * * * *", "@fortnightly"} {
		if _, err := ParseSchedule(spec); err == nil {
			t.Errorf("%q: no error", spec)
		}
	}
}

func TestMaintenanceActive(t *testing.T) {
	sched, err := ParseSchedule("0 3 * * 2") // Tuesdays 03:00 UTC
	if err != nil {
		t.Fatal(err)
	}
	weekly := Maintenance{Schedule: sched, Duration: 30 * time.Minute, Tags: []string{"shop"}}
	tue := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC) // a Tuesday
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{tue.Add(2*time.Hour + 59*time.Minute), false},
		{tue.Add(3 * time.Hour), true},
		{tue.Add(3*time.Hour + 29*time.Minute), true},
		{tue.Add(3*time.Hour + 30*time.Minute), false},
		{tue.Add(24*time.Hour + 3*time.Hour + 10*time.Minute), false},
	} {
		if got := weekly.Active(tt.at); got != tt.want {
			t.Errorf("weekly.Active(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	once := Maintenance{Start: start, End: start.Add(2 * time.Hour), Monitors: []string{"api"}}
	if once.Active(start.Add(-time.Second)) || !once.Active(start) || !once.Active(start.Add(time.Hour)) || once.Active(start.Add(2*time.Hour)) {
		t.Error("absolute window bounds wrong")
	}

	shop := &Monitor{Name: "shop", Tags: []string{"prod", "shop"}}
	api := &Monitor{Name: "api"}
	if !weekly.Matches(shop) || weekly.Matches(api) || !once.Matches(api) || once.Matches(shop) {
		t.Error("Matches wrong")
	}
	cfg := &Config{Maintenance: []Maintenance{weekly, once}}
	if got := cfg.InMaintenance(shop, tue.Add(3*time.Hour)); len(got) != 1 || got[0].Duration != 30*time.Minute {
		t.Errorf("InMaintenance = %v", got)
	}
	if got := cfg.InMaintenance(api, tue.Add(3*time.Hour)); len(got) != 0 {
		t.Errorf("InMaintenance(api) = %v", got)
	}
}
