package config

import (
	"testing"
	"time"
)

func TestParseScheduleErrors(t *testing.T) {
	for _, spec := range []string{"", "every 30s", "@every 500ms", "@every 1.5s", "@every x", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 * * * *", "61 * * * *", "@fortnightly"} {
		if _, err := parseSchedule(spec); err == nil {
			t.Errorf("%q: no error", spec)
		}
	}
}

func TestMaintenanceActive(t *testing.T) {
	sched, err := parseSchedule("0 3 * * 2") // Tuesdays 03:00 UTC
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
