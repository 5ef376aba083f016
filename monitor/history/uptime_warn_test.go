package history_test

import (
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// warnIncident is an incident of kind k from its first failed (or slow)
// round ff, opened at op, recovered at rec and resolved at res; 0 leaves
// the recovery or the resolution out.
func warnIncident(k incident.Kind, ff, op, rec, res int, scope result.Scope) incident.Incident {
	inc := incident.Incident{
		Kind: k, Scope: scope, OpenScope: scope,
		FirstFailure: result.TimeOf(at(ff)), OpenedAt: result.TimeOf(at(op)),
	}
	if rec > 0 {
		inc.RecoveredAt = result.TimeOf(at(rec))
	}
	if res > 0 {
		inc.ResolvedAt = result.TimeOf(at(res))
	}
	return inc
}

// A performance incident is degraded time, which is up, from its first
// slow round to its first fast one; a target outage inside it is down,
// maintenance is maintenance and a gap unknown, each instant counted once,
// in the precedence unknown > maintenance > down > degraded > up. A
// certificate incident over the whole window changes nothing.
func TestUptimePerformanceIncident(t *testing.T) {
	perf := warnIncident(incident.KindPerformance, 100, 160, 400, 460, result.ScopePartial)
	outage := warnIncident(incident.KindTarget, 200, 230, 300, 330, result.ScopeEveryone)
	cert := warnIncident(incident.KindCertificate, 0, 0, 0, 0, result.ScopeEveryone)
	base := history.Timeline{
		Measured:    []history.Interval{iv(0, 420), iv(450, 600)},
		Maintenance: []history.Interval{iv(350, 380)},
	}
	// [0,100) up 100; [100,200) degraded 100; [200,300) down 100;
	// [300,350) degraded 50; [350,380) maintenance 30; [380,400)
	// degraded 20; [400,420) up 20; [420,450) unknown 30; [450,600) up
	// 150. Degraded 170, up 100+170+20+150 = 440.
	want := history.Uptime{Up: 440 * s, Down: 100 * s, Degraded: 170 * s, Maintenance: 30 * s, Unknown: 30 * s}
	for _, tc := range []struct {
		name string
		incs []incident.Incident
	}{
		{"performance and target", []incident.Incident{perf, outage}},
		{"target first", []incident.Incident{outage, perf}},
		{"with a certificate incident", []incident.Incident{cert, perf, outage}},
	} {
		tl := base
		tl.Incidents = tc.incs
		got := tl.Uptime(at(0), at(600), at(600))
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, fmtUptime(got), fmtUptime(want))
		}
		assertAddsUp(t, got, 600*s, false)
		if ratio, ok := got.Ratio(); !ok || ratio != 440.0/540 {
			t.Errorf("%s: ratio %v (%v), want 440/540: slow time is up", tc.name, ratio, ok)
		}
	}

	// Alone, the certificate incident is neither down nor degraded.
	tl := history.Timeline{Measured: []history.Interval{iv(0, 600)}, Incidents: []incident.Incident{cert}}
	if got := tl.Uptime(at(0), at(600), at(600)); got != (history.Uptime{Up: 600 * s}) {
		t.Errorf("certificate incident alone: %s", fmtUptime(got))
	}

	// Still slow: degraded up to now, and not past it.
	open := warnIncident(incident.KindPerformance, 500, 560, 0, 0, result.ScopeEveryone)
	tl = history.Timeline{Measured: []history.Interval{iv(0, 580)}, Incidents: []incident.Incident{open}}
	if got, want := tl.Uptime(at(0), at(580), at(580)), (history.Uptime{Up: 580 * s, Degraded: 80 * s}); got != want {
		t.Errorf("open performance incident:\n got %s\nwant %s", fmtUptime(got), fmtUptime(want))
	}
}

// The performance machine's own incident, as the daemon stores it: slow
// rounds at 30, 60 (opened), 90; fast at 120 (recovered), 150 (resolved).
func TestUptimePerformanceMachine(t *testing.T) {
	incs := play(t, incident.KindPerformance, machineSettings, T, "O F F F O O O O O O")
	if len(incs) != 1 || incs[0].Kind != incident.KindPerformance {
		t.Fatalf("incidents %+v, want one performance incident", incs)
	}
	tl := history.Timeline{Measured: []history.Interval{iv(0, 300)}, Incidents: incs}
	// degraded 120-30 = 90, inside up = 300.
	if got, want := tl.Uptime(at(0), at(300), at(300)), (history.Uptime{Up: 300 * s, Degraded: 90 * s}); got != want {
		t.Errorf("\n got %s\nwant %s", fmtUptime(got), fmtUptime(want))
	}
}

// A day with only a performance incident is degraded on the bar, one with
// an outage too is down; a certificate incident leaves its day up.
func TestDaysPerformanceIncident(t *testing.T) {
	d0 := utc(2026, 3, 1, 0, 0, 0)
	hour := func(h int) result.Time { return result.TimeOf(d0.Add(time.Duration(h) * time.Hour)) }
	perf := incident.Incident{Kind: incident.KindPerformance, FirstFailure: hour(2), OpenedAt: hour(2), RecoveredAt: hour(5), ResolvedAt: hour(5)}
	perf2 := incident.Incident{Kind: incident.KindPerformance, FirstFailure: hour(26), OpenedAt: hour(26), RecoveredAt: hour(28), ResolvedAt: hour(28)}
	outage := incident.Incident{Kind: incident.KindTarget, Scope: result.ScopeEveryone, OpenScope: result.ScopeEveryone,
		FirstFailure: hour(27), OpenedAt: hour(27), RecoveredAt: result.TimeOf(hour(27).Add(time.Minute)), ResolvedAt: result.TimeOf(hour(27).Add(2 * time.Minute))}
	cert := incident.Incident{Kind: incident.KindCertificate, FirstFailure: hour(50), OpenedAt: hour(50)}
	tl := history.Timeline{
		Measured:  []history.Interval{{Start: d0, End: d0.Add(72 * time.Hour)}},
		Incidents: []incident.Incident{perf, perf2, outage, cert},
	}
	cells := tl.Days(3, d0.Add(72*time.Hour-time.Second))
	want := []history.DayState{history.DayDegraded, history.DayDown, history.DayUp}
	for i, c := range cells {
		if c.State != want[i] {
			t.Errorf("day %d: %s (%s), want %s", i, c.State, fmtUptime(c.Uptime), want[i])
		}
	}
	if got := cells[0].Uptime.Degraded; got != 3*time.Hour {
		t.Errorf("day 0 degraded %s, want 3h", got)
	}
	// Day 1: slow 26-28 h, down one minute of it: degraded 2h - 1m.
	if got := cells[1].Uptime; got.Degraded != 2*time.Hour-time.Minute || got.Down != time.Minute {
		t.Errorf("day 1: %s, want degraded 1h59m, down 1m", fmtUptime(got))
	}
}
