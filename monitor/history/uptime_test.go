package history_test

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// T is where every timeline of the table starts; offsets below are
// seconds from it.
var T = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// every is the schedule of the played monitors: @every 30s.
const every = 30 * time.Second

const s = time.Second

func at(sec int) time.Time { return T.Add(time.Duration(sec) * s) }

func iv(from, to int) history.Interval { return history.Interval{Start: at(from), End: at(to)} }

// machineSettings: confirm after 2 failed rounds, resolve after 2 good
// ones, no early re-check (so rounds stay 30 s apart), no flap detection.
var machineSettings = incident.Settings{Confirm: 2, Recover: 2, RetryDelay: -1, FlapChanges: -1}

// flapSettings are machineSettings with flap detection on, at its
// defaults (more than 6 state changes in 30 minutes).
var flapSettings = incident.Settings{Confirm: 2, Recover: 2, RetryDelay: -1}

// play drives the real incident machine through seq and returns the
// incidents its events describe, as the daemon would have stored them.
// Each token is one slot of the schedule, 30 s apart, the first at start:
//
//	O  good round
//	F  failed round, down for everyone
//	L  failed round of a daemon without vantages (no scope)
//	P  failed round seen from fra1 only (scope partial)
//	N  round that does not vote (only impaired vantages answered)
//	.  no round: the daemon was not running
//
// and R (not a slot) restarts the daemon: the machine goes through its
// snapshot. A token followed by *n repeats it n times.
func play(t *testing.T, kind incident.Kind, set incident.Settings, start time.Time, seq string) []incident.Incident {
	t.Helper()
	clock := testkit.NewClock(start)
	m, err := incident.New("shop", kind, set)
	if err != nil {
		t.Fatal(err)
	}
	var incs []incident.Incident
	for _, field := range strings.Fields(seq) {
		tok, times := field, 1
		if base, n, ok := strings.Cut(field, "*"); ok {
			tok = base
			if times, err = strconv.Atoi(n); err != nil {
				t.Fatalf("bad repeat %q", field)
			}
		}
		for range times {
			if tok == "R" {
				blob, err := m.MarshalSnapshot()
				if err != nil {
					t.Fatal(err)
				}
				if m, err = incident.Restore(blob, set); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if tok != "." {
				tr, err := m.Observe(observation(t, tok, clock.Now()))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range tr.Events {
					switch e.Kind {
					case incident.EventOpened:
						id := int64(len(incs) + 1)
						m.SetIncidentID(id)
						inc := *e.Incident
						inc.ID = id
						incs = append(incs, inc)
					case incident.EventChanged, incident.EventResolved,
						incident.EventFlappingStarted, incident.EventFlappingStopped:
						incs[e.Incident.ID-1] = *e.Incident
					}
				}
			}
			clock.Advance(every)
		}
	}
	// An open incident also moves without events (a round into recovery
	// sets RecoveredAt): the store saves the machine's copy each round.
	if inc := m.Incident(); inc != nil {
		incs[inc.ID-1] = *inc
	}
	return incs
}

func observation(t *testing.T, tok string, now time.Time) incident.Observation {
	t.Helper()
	o := incident.Observation{At: now}
	bad := result.Result{URL: "https://shop.test/", Class: result.ClassBadGateway, Status: 502, StartedAt: result.TimeOf(now)}
	switch tok {
	case "O", "N":
		o.Result.Result = result.Result{URL: "https://shop.test/", OK: true, Class: result.ClassOK, Status: 200, StartedAt: result.TimeOf(now)}
		if tok == "N" {
			o.Vote = incident.VoteNone
		}
	case "F":
		o.Result.Result, o.Scope = bad, result.ScopeEveryone
	case "L":
		o.Result.Result = bad
	case "P":
		o.Result.Result, o.Scope, o.Regions = bad, result.ScopePartial, []string{"fra1"}
		o.Severity = incident.SeverityWarning
	default:
		t.Fatalf("unknown token %q", tok)
	}
	return o
}

type check struct {
	from, to, now int // seconds from T
	want          history.Uptime
	// ratio is the want'd Ratio; NaN for "nothing measured" (ok false).
	ratio float64
}

func TestUptime(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		kind     incident.Kind
		settings incident.Settings
		seq      string
		// incidents is how many the sequence must open, so that a
		// sequence that does not do what its comment says fails here.
		incidents   int
		measured    []history.Interval
		maintenance []history.Interval
		countsDown  bool
		checks      []check
	}{
		{
			// F at 60 (first failed round), 90 (confirmed: opened),
			// 120, 150; O at 180 (first good round), 210 (resolved).
			name: "outage confirmed after 2 rounds, recovered after 2",
			seq:  "O O F F F F O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// down 180-60 = 120, not opened→resolved (210-90);
				// up 300-120 = 180; ratio 180/300.
				{0, 300, 300, history.Uptime{Up: 180 * s, Down: 120 * s}, 0.6},
				// [90,210), confirmation to resolution: down only to the
				// first good round, 180-90 = 90; up 210-180 = 30.
				{90, 210, 300, history.Uptime{Up: 30 * s, Down: 90 * s}, 0.25},
				// [0,90): the failed round before confirmation is down
				// already: 90-60 = 30; up 60.
				{0, 90, 300, history.Uptime{Up: 60 * s, Down: 30 * s}, 60.0 / 90},
			},
		},
		{
			// As above, from a daemon without vantages: no scope is down.
			name: "outage without vantages",
			seq:  "O O L L L L O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// down 180-60 = 120; up 300-120 = 180.
				{0, 300, 300, history.Uptime{Up: 180 * s, Down: 120 * s}, 0.6},
			},
		},
		{
			// P at 30, 60 (opened partial), 90; O at 120, 150 (resolved).
			name: "partial outage is degraded, and up",
			seq:  "O P P P O O O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// degraded 120-30 = 90, inside up = 300; ratio 300/300.
				{0, 300, 300, history.Uptime{Up: 300 * s, Degraded: 90 * s}, 1},
			},
		},
		{
			// P at 30, 60 (opened partial); F at 90 (scope → everyone),
			// 120; O at 150 (first good), 180 (resolved).
			name: "partial, then down for everyone mid-way",
			seq:  "O P P F F O O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// degraded 90-30 = 60, down 150-90 = 60;
				// up 300-60 = 240 (degraded 60 included); ratio 240/300.
				{0, 300, 300, history.Uptime{Up: 240 * s, Down: 60 * s, Degraded: 60 * s}, 0.8},
				// [60,120): degraded 90-60 = 30, down 120-90 = 30.
				{60, 120, 300, history.Uptime{Up: 30 * s, Down: 30 * s, Degraded: 30 * s}, 0.5},
			},
		},
		{
			// F at 30, 60 (opened); P at 90 (scope → partial), 120; O at
			// 150, 180 (resolved).
			name: "down for everyone, then partial",
			seq:  "O F F P P O O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// down 90-30 = 60, degraded 150-90 = 60; up 300-60 = 240.
				{0, 300, 300, history.Uptime{Up: 240 * s, Down: 60 * s, Degraded: 60 * s}, 0.8},
			},
		},
		{
			// F at 30..150 (opened at 60), O at 180 (first good), 210
			// (resolved). The maintenance window [-600,105) comes as two
			// overlapping pieces, out of order.
			name: "outage across a maintenance window's end",
			seq:  "O F F F F F O O O O", incidents: 1,
			measured:    []history.Interval{iv(0, 300)},
			maintenance: []history.Interval{iv(60, 105), iv(-600, 70)},
			checks: []check{
				// maintenance 105-0 = 105; down 180-105 = 75 (its part
				// in maintenance excluded); up 300-105-75 = 120;
				// ratio 120/(120+75).
				{0, 300, 300, history.Uptime{Up: 120 * s, Down: 75 * s, Maintenance: 105 * s}, 120.0 / 195},
				// From -600: the maintenance before the first check is
				// unknown, 600; the rest as above.
				{-600, 300, 300, history.Uptime{Up: 120 * s, Down: 75 * s, Maintenance: 105 * s, Unknown: 600 * s}, 120.0 / 195},
			},
		},
		{
			name: "outage across a maintenance window's end, maintenance counts as down",
			seq:  "O F F F F F O O O O", incidents: 1,
			measured:    []history.Interval{iv(0, 300)},
			maintenance: []history.Interval{iv(60, 105), iv(-600, 70)},
			countsDown:  true,
			checks: []check{
				// down 75 + maintenance 105 = 180; up 120; ratio 120/300.
				{0, 300, 300, history.Uptime{Up: 120 * s, Down: 180 * s, Maintenance: 105 * s}, 0.4},
			},
		},
		{
			// First round at 60. F at 90, 120 (opened); the daemon stops
			// after its heartbeat at 150 and is back at 240 (restored from
			// its snapshot): O at 240 (first good), 270 (resolved), then
			// good to 570. Spans come out of order.
			name: "daemon gap inside an outage",
			seq:  ". . O F F . . . R O O*11", incidents: 1,
			measured: []history.Interval{iv(240, 600), iv(60, 150)},
			checks: []check{
				// unknown 60 (before the first check) + 90 (150..240);
				// down 150-90 = 60 (the outage's 90 s in the gap are
				// unknown); up 600-150-60 = 390; ratio 390/450.
				{0, 600, 600, history.Uptime{Up: 390 * s, Down: 60 * s, Unknown: 150 * s}, 390.0 / 450},
				// Only the gap: nothing measured.
				{150, 240, 600, history.Uptime{Unknown: 90 * s}, nan},
			},
		},
		{
			// F 0, 30 (incident 1); O 60 (first good), 90 (resolved).
			// F 120, 150 (incident 2); O 180 starts flapping (7 state
			// changes), so nothing resolves; F 240, 270; F 360, 390; the
			// last failure is 390, O 420 the first good round after it.
			// Quiet until 450+30m = 2250, where flapping ends, resolved.
			name:     "flapping monitor",
			settings: flapSettings,
			seq:      "F F O O F F O O F F O O F F O O O*60", incidents: 2,
			measured: []history.Interval{iv(0, 2280)},
			checks: []check{
				// down (60-0) + (420-120) = 60 + 300 = 360;
				// up 2280-360 = 1920; ratio 1920/2280.
				{0, 2280, 2280, history.Uptime{Up: 1920 * s, Down: 360 * s}, 1920.0 / 2280},
				// Between two of the flapping incident's failures the
				// target answered, but the incident is one outage:
				// [180,240) is down, 60.
				{180, 240, 2280, history.Uptime{Down: 60 * s}, 0},
			},
		},
		{
			// F at 60, 90 (opened), 120, 150; still failing at now.
			name: "open incident",
			seq:  "O O F F F F", incidents: 1,
			measured: []history.Interval{iv(0, 165)},
			checks: []check{
				// now 165: down 165-60 = 105; up 60.
				{0, 165, 165, history.Uptime{Up: 60 * s, Down: 105 * s}, 60.0 / 165},
				// A window reaching past now: 300-165 = 135 not measured.
				{0, 300, 165, history.Uptime{Up: 60 * s, Down: 105 * s, Unknown: 135 * s}, 60.0 / 165},
			},
		},
		{
			// A span that claims more than now (a clock stepped back):
			// the incident's downtime still ends at now.
			name: "open incident, measured past now",
			seq:  "O O F F F F", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// down 165-60 = 105; up 300-105 = 195.
				{0, 300, 165, history.Uptime{Up: 195 * s, Down: 105 * s}, 195.0 / 300},
			},
		},
		{
			// The outage of the first case, asked about at 120, before
			// its recovery at 180 (a span claiming more than now again):
			// its downtime is clipped to now.
			name: "recovery after now",
			seq:  "O O F F F F O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				// down 120-60 = 60; up 300-60 = 240.
				{0, 300, 120, history.Uptime{Up: 240 * s, Down: 60 * s}, 0.8},
			},
		},
		{
			// The vantage's own machine: F 30..90 (opened at 60), O 120,
			// 150 (resolved). Its incident never counts against a monitor.
			name: "vantage incident does not count",
			kind: incident.KindVantage,
			seq:  "O F F F O O O O O O", incidents: 1,
			measured: []history.Interval{iv(0, 300)},
			checks: []check{
				{0, 300, 300, history.Uptime{Up: 300 * s}, 1},
			},
		},
		{
			name: "nothing measured",
			seq:  "O O F F F F O O O O", incidents: 1,
			checks: []check{
				// All 300 unknown, the incident's 120 too.
				{0, 300, 300, history.Uptime{Unknown: 300 * s}, nan},
			},
		},
		{
			name: "measured only outside the window",
			seq:  "O O F F F F O O O O", incidents: 1,
			measured: []history.Interval{iv(400, 500), iv(-100, 0)},
			checks: []check{
				{0, 300, 300, history.Uptime{Unknown: 300 * s}, nan},
			},
		},
		{
			// Maintenance over everything measured: nothing up or down.
			name: "all maintenance",
			seq:  "O O F F F F O O O O", incidents: 1,
			measured:    []history.Interval{iv(0, 300)},
			maintenance: []history.Interval{iv(0, 300)},
			checks: []check{
				{0, 300, 300, history.Uptime{Maintenance: 300 * s}, nan},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, set := tc.kind, tc.settings
			if kind == "" {
				kind = incident.KindTarget
			}
			if set == (incident.Settings{}) {
				set = machineSettings
			}
			incs := play(t, kind, set, T, tc.seq)
			if len(incs) != tc.incidents {
				t.Fatalf("%q opened %d incidents, want %d: %+v", tc.seq, len(incs), tc.incidents, incs)
			}
			tl := history.Timeline{
				Measured: tc.measured, Maintenance: tc.maintenance, Incidents: incs,
				MaintenanceCountsAsDown: tc.countsDown,
			}
			given := slices.Clone(tc.measured)
			for _, c := range tc.checks {
				got := tl.Uptime(at(c.from), at(c.to), at(c.now))
				if got != c.want {
					t.Errorf("[%d,%d) at %d:\n got %s\nwant %s", c.from, c.to, c.now, fmtUptime(got), fmtUptime(c.want))
				}
				ratio, ok := got.Ratio()
				switch {
				case math.IsNaN(c.ratio) && ok:
					t.Errorf("[%d,%d): ratio %v, want none (nothing measured)", c.from, c.to, ratio)
				case !math.IsNaN(c.ratio) && (!ok || math.Abs(ratio-c.ratio) > 1e-12):
					t.Errorf("[%d,%d): ratio %v (ok %v), want %v", c.from, c.to, ratio, ok, c.ratio)
				}
				assertAddsUp(t, got, at(c.to).Sub(at(c.from)), tc.countsDown)
			}
			if !slices.Equal(tl.Measured, given) {
				t.Errorf("Uptime reordered the timeline's spans: %v, given %v", tl.Measured, given)
			}
		})
	}
}

// The flapping case's incidents are what its comment says they are.
func TestUptimeFlappingIncidents(t *testing.T) {
	incs := play(t, incident.KindTarget, flapSettings, T, "F F O O F F O O F F O O F F O O O*60")
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2", len(incs))
	}
	f := incs[1]
	if !f.Flapping || f.Open() || !f.ResolvedAt.Equal(at(2250)) {
		t.Errorf("flapping incident: flapping %v, resolved at %v; want flapping, resolved at %v", f.Flapping, f.ResolvedAt, at(2250))
	}
	if dt := history.Downtime(&f, at(2280)); dt != iv(120, 420) {
		t.Errorf("flapping incident's downtime %v..%v, want %v..%v", dt.Start, dt.End, at(120), at(420))
	}
}

// Up + Down + Unknown (+ Maintenance unless it counts as down) is the span.
func assertAddsUp(t *testing.T, u history.Uptime, span time.Duration, countsDown bool) {
	t.Helper()
	sum := u.Up + u.Down + u.Unknown
	if !countsDown {
		sum += u.Maintenance
	}
	if sum != span {
		t.Errorf("%s adds up to %s, want %s", fmtUptime(u), sum, span)
	}
	if u.Degraded > u.Up {
		t.Errorf("%s: degraded is not part of up", fmtUptime(u))
	}
}

func fmtUptime(u history.Uptime) string {
	return "up " + u.Up.String() + " down " + u.Down.String() + " degraded " + u.Degraded.String() +
		" maintenance " + u.Maintenance.String() + " unknown " + u.Unknown.String()
}

func TestUptimeEmptyWindow(t *testing.T) {
	tl := history.Timeline{Measured: []history.Interval{iv(0, 300)}}
	if got := tl.Uptime(at(100), at(100), at(300)); got != (history.Uptime{}) {
		t.Errorf("empty window: %s", fmtUptime(got))
	}
	if got := tl.Uptime(at(200), at(100), at(300)); got != (history.Uptime{}) {
		t.Errorf("reversed window: %s", fmtUptime(got))
	}
}

// An incident stored before open_scope existed has none: the first
// change's scope stands in for it, or the scope it has when it has no
// changes.
func TestUptimeIncidentWithoutOpenScope(t *testing.T) {
	partial := incident.Incident{
		Kind: incident.KindTarget, Scope: result.ScopePartial,
		FirstFailure: result.TimeOf(at(0)), OpenedAt: result.TimeOf(at(30)),
		RecoveredAt: result.TimeOf(at(100)), ResolvedAt: result.TimeOf(at(130)),
	}
	moved := partial
	moved.Scope = result.ScopeEveryone
	moved.Changes = []incident.Change{
		{At: result.TimeOf(at(40)), Scope: result.ScopePartial},
		{At: result.TimeOf(at(60)), Scope: result.ScopeEveryone},
	}
	tests := []struct {
		name string
		inc  incident.Incident
		want history.Uptime
	}{
		// degraded 100-0 = 100, up 200.
		{"no changes: its scope", partial, history.Uptime{Up: 200 * s, Degraded: 100 * s}},
		// degraded 60-0 = 60, down 100-60 = 40; up 200-40 = 160.
		{"changes: the first one's scope", moved, history.Uptime{Up: 160 * s, Degraded: 60 * s, Down: 40 * s}},
	}
	for _, tc := range tests {
		tl := history.Timeline{Measured: []history.Interval{iv(0, 200)}, Incidents: []incident.Incident{tc.inc}}
		if got := tl.Uptime(at(0), at(200), at(200)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, fmtUptime(got), fmtUptime(tc.want))
		}
	}
}

// Overlapping incidents (two stored for one outage, as a crash between
// storing and snapshotting can leave) count their time once, down
// winning over degraded.
func TestUptimeOverlappingIncidents(t *testing.T) {
	mk := func(from, to int, scope result.Scope) incident.Incident {
		return incident.Incident{
			Kind: incident.KindTarget, Scope: scope, OpenScope: scope,
			FirstFailure: result.TimeOf(at(from)), OpenedAt: result.TimeOf(at(from)),
			RecoveredAt: result.TimeOf(at(to)), ResolvedAt: result.TimeOf(at(to)),
		}
	}
	tl := history.Timeline{
		Measured:  []history.Interval{iv(0, 300), iv(100, 200)},
		Incidents: []incident.Incident{mk(50, 150, result.ScopePartial), mk(100, 200, result.ScopeEveryone), mk(120, 130, result.ScopeEveryone)},
	}
	// degraded 100-50 = 50, down 200-100 = 100; up 300-100 = 200.
	want := history.Uptime{Up: 200 * s, Down: 100 * s, Degraded: 50 * s}
	if got := tl.Uptime(at(0), at(300), at(300)); got != want {
		t.Errorf("\n got %s\nwant %s", fmtUptime(got), fmtUptime(want))
	}
}
