package history_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func utc(y int, m time.Month, d, h, min, sec int) time.Time {
	return time.Date(y, m, d, h, min, sec, 0, time.UTC)
}

// Three days: nothing measured on the first, a one-minute outage on the
// second, an hour of maintenance on the third, which is today and ends now.
func TestDays(t *testing.T) {
	now := utc(2026, 3, 3, 12, 0, 0)
	// F at 10:00:00, 10:00:30 (opened); O at 10:01:00 (first good),
	// 10:01:30 (resolved): one minute down.
	incs := play(t, incident.KindTarget, machineSettings, utc(2026, 3, 2, 10, 0, 0), "F F O O")
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	tl := history.Timeline{
		// The first check ran at 03-02 06:00.
		Measured: []history.Interval{{Start: utc(2026, 3, 2, 6, 0, 0), End: now}},
		// 02:00-03:00 on 03-03, in two overlapping pieces.
		Maintenance: []history.Interval{
			{Start: utc(2026, 3, 3, 2, 30, 0), End: utc(2026, 3, 3, 3, 0, 0)},
			{Start: utc(2026, 3, 3, 2, 0, 0), End: utc(2026, 3, 3, 2, 45, 0)},
		},
		Incidents: incs,
	}
	want := []history.DayCell{
		// Nothing measured: 24 h = 86400 s unknown.
		{Start: utc(2026, 3, 1, 0, 0, 0), State: history.DayUnknown,
			Uptime: history.Uptime{Unknown: 86400 * s}},
		// 00:00-06:00 unknown: 21600; down 60; up 18 h - 60 = 64800-60 = 64740.
		{Start: utc(2026, 3, 2, 0, 0, 0), State: history.DayDown,
			Uptime: history.Uptime{Up: 64740 * s, Down: 60 * s, Unknown: 21600 * s}},
		// Ends at now, 12:00: maintenance 3600; up 43200-3600 = 39600.
		{Start: utc(2026, 3, 3, 0, 0, 0), State: history.DayMaintenance,
			Uptime: history.Uptime{Up: 39600 * s, Maintenance: 3600 * s}},
	}
	assertDays(t, tl.Days(3, now), want)

	// Maintenance counted as down moves its hour into Down; the day is
	// still a maintenance day, not an outage.
	tl.MaintenanceCountsAsDown = true
	want[2].Uptime.Down = 3600 * s
	assertDays(t, tl.Days(3, now), want)
}

// An outage across midnight, partial then down for everyone, lands in both
// days; a quiet day is up; the cell of a now at midnight is empty.
func TestDaysAcrossMidnight(t *testing.T) {
	now := utc(2026, 3, 6, 0, 0, 0)
	inc := incident.Incident{
		Kind: incident.KindTarget, OpenScope: result.ScopePartial, Scope: result.ScopeEveryone,
		FirstFailure: result.TimeOf(utc(2026, 3, 3, 23, 59, 0)), OpenedAt: result.TimeOf(utc(2026, 3, 3, 23, 59, 30)),
		Changes:     []incident.Change{{At: result.TimeOf(utc(2026, 3, 4, 0, 1, 0)), Scope: result.ScopeEveryone}},
		RecoveredAt: result.TimeOf(utc(2026, 3, 4, 0, 2, 0)), ResolvedAt: result.TimeOf(utc(2026, 3, 4, 0, 2, 30)),
	}
	tl := history.Timeline{
		Measured:  []history.Interval{{Start: utc(2026, 3, 1, 0, 0, 0), End: now}},
		Incidents: []incident.Incident{inc},
	}
	want := []history.DayCell{
		// 23:59-24:00 partial: degraded 60, up the whole 86400.
		{Start: utc(2026, 3, 3, 0, 0, 0), State: history.DayDegraded,
			Uptime: history.Uptime{Up: 86400 * s, Degraded: 60 * s}},
		// 00:00-00:01 partial: degraded 60; 00:01-00:02 everyone: down
		// 60; up 86400-60 = 86340.
		{Start: utc(2026, 3, 4, 0, 0, 0), State: history.DayDown,
			Uptime: history.Uptime{Up: 86340 * s, Down: 60 * s, Degraded: 60 * s}},
		{Start: utc(2026, 3, 5, 0, 0, 0), State: history.DayUp,
			Uptime: history.Uptime{Up: 86400 * s}},
		// [now, now): nothing.
		{Start: utc(2026, 3, 6, 0, 0, 0), State: history.DayUnknown},
	}
	assertDays(t, tl.Days(4, now), want)
	if got := tl.Days(0, now); got != nil {
		t.Errorf("Days(0) = %v, want none", got)
	}
}

// The days a now in another zone falls in are UTC days.
func TestDaysAreUTC(t *testing.T) {
	zone := time.FixedZone("UTC-5", -5*3600)
	now := time.Date(2026, 3, 3, 22, 0, 0, 0, zone) // 03-04 03:00 UTC
	tl := history.Timeline{Measured: []history.Interval{{Start: utc(2026, 3, 3, 0, 0, 0), End: now}}}
	got := tl.Days(2, now)
	if len(got) != 2 || !got[1].Start.Equal(utc(2026, 3, 4, 0, 0, 0)) || got[1].Start.Location() != time.UTC {
		t.Fatalf("cells %v, want the last to start 03-04 00:00 UTC", got)
	}
	if got[1].Uptime.Up != 3*time.Hour || got[0].Uptime.Up != 24*time.Hour {
		t.Errorf("up %s and %s, want 24h and 3h", got[0].Uptime.Up, got[1].Uptime.Up)
	}
}

func assertDays(t *testing.T, got, want []history.DayCell) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d cells, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].State != want[i].State || got[i].Uptime != want[i].Uptime {
			t.Errorf("cell %d:\n got %s %s %s\nwant %s %s %s", i,
				got[i].Start.Format(time.DateOnly), got[i].State, fmtUptime(got[i].Uptime),
				want[i].Start.Format(time.DateOnly), want[i].State, fmtUptime(want[i].Uptime))
		}
	}
}

// BenchmarkDays is one monitor's 90-day bar, with a restart a day, an
// incident every other day and a maintenance window a week; the status
// page renders 500 of them.
func BenchmarkDays(b *testing.B) {
	now := utc(2026, 6, 1, 12, 0, 0)
	tl := benchTimeline(now, 90)
	b.ReportAllocs()
	for b.Loop() {
		tl.Days(90, now)
	}
}

// BenchmarkDaysQuiet is the common monitor: one daemon run, no incident.
func BenchmarkDaysQuiet(b *testing.B) {
	now := utc(2026, 6, 1, 12, 0, 0)
	tl := history.Timeline{Measured: []history.Interval{{Start: now.Add(-200 * 24 * time.Hour), End: now}}}
	b.ReportAllocs()
	for b.Loop() {
		tl.Days(90, now)
	}
}

func benchTimeline(now time.Time, days int) history.Timeline {
	var tl history.Timeline
	start := now.Add(-time.Duration(days) * 24 * time.Hour)
	for d := range days {
		day := start.Add(time.Duration(d) * 24 * time.Hour)
		tl.Measured = append(tl.Measured, history.Interval{Start: day.Add(time.Minute), End: day.Add(24 * time.Hour)})
		if d%2 == 0 {
			ff := day.Add(time.Duration(d) * 7 * time.Minute)
			tl.Incidents = append(tl.Incidents, incident.Incident{
				Kind: incident.KindTarget, OpenScope: result.ScopePartial,
				FirstFailure: result.TimeOf(ff), OpenedAt: result.TimeOf(ff.Add(time.Minute)),
				Changes:     []incident.Change{{At: result.TimeOf(ff.Add(2 * time.Minute)), Scope: result.ScopeEveryone}},
				RecoveredAt: result.TimeOf(ff.Add(10 * time.Minute)), ResolvedAt: result.TimeOf(ff.Add(11 * time.Minute)),
			})
		}
		if d%7 == 0 {
			tl.Maintenance = append(tl.Maintenance, history.Interval{Start: day.Add(2 * time.Hour), End: day.Add(3 * time.Hour)})
		}
	}
	return tl
}

func ExampleTimeline_Days() {
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	tl := history.Timeline{Measured: []history.Interval{{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), End: now}}}
	for _, c := range tl.Days(3, now) {
		fmt.Println(c.Start.Format(time.DateOnly), c.State, c.Uptime.Up)
	}
	// Output:
	// 2026-03-01 unknown 0s
	// 2026-03-02 up 24h0m0s
	// 2026-03-03 up 12h0m0s
}
