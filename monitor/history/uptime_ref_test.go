package history_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// randomTimeline makes a messy timeline on a grid of unit: spans out of
// order, overlapping, empty or reversed; incidents of every kind, open,
// recovered, resolved without a recovery, from before open_scope existed,
// with scope changes.
func randomTimeline(r *rand.Rand, base time.Time, unit time.Duration, span int) history.Timeline {
	tick := func(n int) time.Time { return base.Add(time.Duration(n) * unit) }
	randIv := func() history.Interval {
		a := r.IntN(span+40) - 20
		return history.Interval{Start: tick(a), End: tick(a + r.IntN(span/2) - span/20)}
	}
	scopes := []result.Scope{"", result.ScopeEveryone, result.ScopePartial, result.ScopePartial, result.ScopeJustMe}
	var tl history.Timeline
	for range r.IntN(5) {
		tl.Measured = append(tl.Measured, randIv())
	}
	for range r.IntN(4) {
		tl.Maintenance = append(tl.Maintenance, randIv())
	}
	for range r.IntN(4) {
		ff := r.IntN(span+20) - 20
		inc := incident.Incident{
			Kind:      incident.KindTarget,
			OpenScope: scopes[r.IntN(len(scopes))], Scope: scopes[r.IntN(len(scopes))],
			FirstFailure: result.TimeOf(tick(ff)), OpenedAt: result.TimeOf(tick(ff + r.IntN(5))),
		}
		switch r.IntN(7) {
		case 0:
			inc.Kind = incident.KindVantage
		case 1:
			inc.Kind = incident.KindCertificate
		case 2, 3:
			inc.Kind = incident.KindPerformance
		}
		if r.IntN(6) == 0 {
			inc.FirstFailure = result.Time{} // stored before first_failure_at: from opened_at
		}
		at := ff
		for range r.IntN(4) {
			at += r.IntN(span / 4)
			inc.Changes = append(inc.Changes, incident.Change{At: result.TimeOf(tick(at)), Scope: scopes[r.IntN(len(scopes))]})
		}
		end := ff + r.IntN(span)
		switch r.IntN(3) {
		case 0: // open
		case 1:
			inc.RecoveredAt = result.TimeOf(tick(end))
			inc.ResolvedAt = result.TimeOf(tick(end + r.IntN(5)))
		case 2: // resolved without recovering (monitor removed)
			inc.ResolvedAt = result.TimeOf(tick(end))
		}
		tl.Incidents = append(tl.Incidents, inc)
	}
	tl.MaintenanceCountsAsDown = r.IntN(2) == 0
	return tl
}

// reference is the rules read literally, one unit at a time: each instant
// is unknown, maintenance, down, degraded or up, in that precedence; a
// target incident is down (degraded while partial), a performance one
// degraded, a certificate or vantage one nothing.
func reference(tl *history.Timeline, from, to, now time.Time, unit time.Duration) history.Uptime {
	in := func(ivs []history.Interval, t time.Time) bool {
		for _, iv := range ivs {
			if !t.Before(iv.Start) && t.Before(iv.End) {
				return true
			}
		}
		return false
	}
	var u history.Uptime
	for t := from; t.Before(to); t = t.Add(unit) {
		switch {
		case !in(tl.Measured, t):
			u.Unknown += unit
			continue
		case in(tl.Maintenance, t):
			u.Maintenance += unit
			if tl.MaintenanceCountsAsDown {
				u.Down += unit
			}
			continue
		}
		down, degraded := false, false
		for i := range tl.Incidents {
			inc := &tl.Incidents[i]
			dt := history.Downtime(inc, now)
			if t.Before(dt.Start) || !t.Before(dt.End) || !t.Before(now) {
				continue
			}
			switch inc.Kind {
			case incident.KindPerformance: // slow, whatever its scope
				degraded = true
				continue
			case incident.KindTarget:
			default: // certificate, vantage: not the monitor's time
				continue
			}
			scope := inc.OpenScope
			if scope == "" {
				scope = inc.Scope
				if len(inc.Changes) > 0 {
					scope = inc.Changes[0].Scope
				}
			}
			for _, c := range inc.Changes {
				if !c.At.After(t) {
					scope = c.Scope
				}
			}
			if scope == result.ScopePartial {
				degraded = true
			} else {
				down = true
			}
		}
		switch {
		case down:
			u.Down += unit
		case degraded:
			u.Degraded += unit
			u.Up += unit
		default:
			u.Up += unit
		}
	}
	return u
}

func TestUptimeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	const span = 240
	for n := range 3000 {
		tl := randomTimeline(r, T, s, span)
		now := at(100 + r.IntN(200))
		from := at(r.IntN(span+60) - 30)
		to := from.Add(time.Duration(r.IntN(span+40)) * s)
		got := tl.Uptime(from, to, now)
		if want := reference(&tl, from, to, now, s); got != want {
			t.Fatalf("case %d, [%s,%s) at %s, timeline %+v:\n got %s\nwant %s", n,
				from.Sub(T), to.Sub(T), now.Sub(T), tl, fmtUptime(got), fmtUptime(want))
		}
	}
}

// Each day cell is the uptime of its day, and its state is the rule's.
func TestDaysMatchUptime(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2))
	base := utc(2026, 3, 1, 0, 0, 0)
	const days = 6
	for n := range 300 {
		tl := randomTimeline(r, base, time.Hour, days*24)
		now := base.Add(time.Duration(days*24-r.IntN(48)) * time.Hour).Add(time.Duration(r.IntN(3600)) * s)
		cells := tl.Days(days, now)
		if len(cells) != days {
			t.Fatalf("%d cells, want %d", len(cells), days)
		}
		for i, c := range cells {
			end := c.Start.Add(24 * time.Hour)
			if i == days-1 {
				end = now
			} else if !cells[i+1].Start.Equal(end) {
				t.Fatalf("case %d: cell %d starts %s, the next %s", n, i, c.Start, cells[i+1].Start)
			}
			want := tl.Uptime(c.Start, end, now)
			if c.Uptime != want {
				t.Fatalf("case %d, cell %d (%s):\n got %s\nwant %s", n, i, c.Start, fmtUptime(c.Uptime), fmtUptime(want))
			}
			incidentDown := want.Down
			if tl.MaintenanceCountsAsDown {
				incidentDown -= want.Maintenance
			}
			var state history.DayState
			switch {
			case incidentDown > 0:
				state = history.DayDown
			case want.Degraded > 0:
				state = history.DayDegraded
			case want.Maintenance > 0:
				state = history.DayMaintenance
			case want.Up > 0:
				state = history.DayUp
			default:
				state = history.DayUnknown
			}
			if c.State != state {
				t.Fatalf("case %d, cell %d: state %s, want %s (%s)", n, i, c.State, state, fmtUptime(want))
			}
		}
		if last := cells[days-1]; now.Sub(last.Start) < 0 || now.Sub(last.Start) >= 24*time.Hour {
			t.Fatalf("case %d: the last cell %s does not hold now %s", n, last.Start, now)
		}
	}
}
