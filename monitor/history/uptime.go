package history

import (
	"slices"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Timeline is what uptime is computed from, for one monitor.
type Timeline struct {
	// Measured is when the monitor was being checked (the daemon ran and the
	// monitor was in its config, from its first round on). Any order;
	// overlaps allowed.
	Measured []Interval
	// Maintenance is when a maintenance window covered the monitor.
	Maintenance []Interval
	// Incidents of the monitor; only KindTarget ones count.
	Incidents []incident.Incident
	// MaintenanceCountsAsDown: maintenance time is also down time.
	MaintenanceCountsAsDown bool
}

// Uptime is how [from, to) went.
type Uptime struct {
	// Up includes Degraded; Down includes Maintenance when the timeline's
	// MaintenanceCountsAsDown is set.
	Up, Down, Degraded, Maintenance, Unknown time.Duration
}

// Ratio is Up / (Up + Down); ok is false when nothing was measured.
func (u Uptime) Ratio() (ratio float64, ok bool) {
	if u.Up+u.Down <= 0 {
		return 0, false
	}
	return float64(u.Up) / float64(u.Up+u.Down), true
}

// Uptime computes [from, to) at now (an open incident's downtime runs to now).
func (tl *Timeline) Uptime(from, to, now time.Time) Uptime {
	if !to.After(from) {
		return Uptime{}
	}
	segs := tl.segments(from, to, now)
	var u Uptime
	for i := range segs {
		u.add(segs[i].state, segs[i].End.Sub(segs[i].Start))
	}
	u.finish(to.Sub(from), tl.MaintenanceCountsAsDown)
	return u
}

// DayCell is one cell of the daily bar.
type DayCell struct {
	Start  time.Time
	Uptime Uptime
	State  DayState
}

// Days splits the n days (UTC) ending with the one holding now into cells,
// oldest first.
//
// The timeline is normalised once for the whole span and swept day by day,
// because the status page asks this of every monitor for 90 days on each
// render.
func (tl *Timeline) Days(n int, now time.Time) []DayCell {
	if n <= 0 {
		return nil
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// UTC has no daylight saving: every day is 24 hours.
	first := today.Add(-time.Duration(n-1) * 24 * time.Hour)
	segs := tl.segments(first, now, now)
	cells := make([]DayCell, n)
	j := 0
	for i := range cells {
		start := first.Add(time.Duration(i) * 24 * time.Hour)
		end := start.Add(24 * time.Hour)
		if i == n-1 {
			end = now
		}
		var u Uptime
		// Segments are sorted and disjoint, so the ones that ended before
		// this day are never looked at again; one that runs past the day's
		// end stays for the next.
		for j < len(segs) && !segs[j].End.After(start) {
			j++
		}
		for k := j; k < len(segs) && segs[k].Start.Before(end); k++ {
			u.add(segs[k].state, earlier(segs[k].End, end).Sub(later(segs[k].Start, start)))
		}
		incidentDown := u.Down
		u.finish(end.Sub(start), tl.MaintenanceCountsAsDown)
		cells[i] = DayCell{Start: start, Uptime: u, State: dayState(u, incidentDown)}
	}
	return cells
}

// dayState is the worst thing that happened in a day. Maintenance counted
// as down does not paint a day red: the bar tells an outage from planned
// work either way.
func dayState(u Uptime, incidentDown time.Duration) DayState {
	switch {
	case incidentDown > 0:
		return DayDown
	case u.Degraded > 0:
		return DayDegraded
	case u.Maintenance > 0:
		return DayMaintenance
	case u.Up > 0:
		return DayUp
	}
	return DayUnknown
}

// state is what one instant was, in the rules' precedence: an instant
// that was not measured is unknown whatever else covers it, one inside
// maintenance is maintenance even when an incident covers it too, and
// down beats degraded.
type state uint8

const (
	stateUp state = iota
	stateDegraded
	stateDown
	stateMaintenance
)

// segment is a stretch of measured time in one state.
type segment struct {
	Interval
	state state
}

// add counts a measured stretch; Up here is the time that was neither
// maintenance nor down, so it already includes degraded time.
func (u *Uptime) add(s state, d time.Duration) {
	if d <= 0 {
		return
	}
	switch s {
	case stateMaintenance:
		u.Maintenance += d
	case stateDown:
		u.Down += d
	case stateDegraded:
		u.Degraded += d
		u.Up += d
	default:
		u.Up += d
	}
}

// finish derives what is not measured from the span's length, and folds
// maintenance into down when the setting says so.
func (u *Uptime) finish(span time.Duration, maintenanceIsDown bool) {
	u.Unknown = max(span-u.Up-u.Down-u.Maintenance, 0)
	if maintenanceIsDown {
		u.Down += u.Maintenance
	}
}

// segments lays the timeline out over [lo, hi) as sorted, disjoint,
// measured segments, each in the one state that wins there. Gaps between
// segments are unknown.
func (tl *Timeline) segments(lo, hi, now time.Time) []segment {
	measured := normalise(tl.Measured, lo, hi)
	if len(measured) == 0 {
		return nil
	}
	maint := normalise(tl.Maintenance, lo, hi)
	var downRaw, degradedRaw []Interval
	for i := range tl.Incidents {
		inc := &tl.Incidents[i]
		if inc.Kind != incident.KindTarget {
			continue
		}
		dt := Downtime(inc, now)
		if dt.Start.IsZero() {
			continue // no time to start from: nothing to count
		}
		dt.End = earlier(dt.End, now)
		scopeSpans(inc, dt, func(iv Interval, s result.Scope) {
			if s == result.ScopePartial {
				degradedRaw = append(degradedRaw, iv)
			} else {
				downRaw = append(downRaw, iv)
			}
		})
	}
	down := normalise(downRaw, lo, hi)
	degraded := normalise(degradedRaw, lo, hi)

	// Every boundary of every list; between two neighbours, membership in
	// each list is constant, so one look per list decides the stretch.
	bounds := make([]time.Time, 0, 2*(len(measured)+len(maint)+len(down)+len(degraded)))
	for _, l := range [][]Interval{measured, maint, down, degraded} {
		for _, iv := range l {
			bounds = append(bounds, iv.Start, iv.End)
		}
	}
	slices.SortFunc(bounds, time.Time.Compare)
	bounds = slices.CompactFunc(bounds, time.Time.Equal)

	var pm, px, pd, pg int
	var segs []segment
	for k := 0; k+1 < len(bounds); k++ {
		a, b := bounds[k], bounds[k+1]
		if !covers(measured, &pm, a) {
			continue
		}
		s := stateUp
		switch {
		case covers(maint, &px, a):
			s = stateMaintenance
		case covers(down, &pd, a):
			s = stateDown
		case covers(degraded, &pg, a):
			s = stateDegraded
		}
		if n := len(segs); n > 0 && segs[n-1].state == s && segs[n-1].End.Equal(a) {
			segs[n-1].End = b
			continue
		}
		segs = append(segs, segment{Interval{a, b}, s})
	}
	return segs
}

// covers reports whether the sorted, disjoint list l holds instant t. The
// cursor p only moves forward, so t must not decrease between calls.
func covers(l []Interval, p *int, t time.Time) bool {
	for *p < len(l) && !l[*p].End.After(t) {
		*p++
	}
	return *p < len(l) && !l[*p].Start.After(t)
}

// scopeSpans splits an incident's downtime dt by the scope it had: the
// scope it opened with, then each change's scope from the change on.
func scopeSpans(inc *incident.Incident, dt Interval, emit func(Interval, result.Scope)) {
	if !dt.End.After(dt.Start) {
		return
	}
	cur := inc.OpenScope
	if cur == "" {
		// Stored before the open scope was: the scope of the first change
		// (or the one it has, without changes) is the best guess left. A
		// daemon without vantages has "" throughout, so this changes
		// nothing for it.
		cur = inc.Scope
		if len(inc.Changes) > 0 {
			cur = inc.Changes[0].Scope
		}
	}
	pos := dt.Start
	for _, c := range inc.Changes {
		at := c.At.Time
		if !at.After(pos) {
			cur = c.Scope
			continue
		}
		if !at.Before(dt.End) {
			break
		}
		emit(Interval{pos, at}, cur)
		pos, cur = at, c.Scope
	}
	emit(Interval{pos, dt.End}, cur)
}

// normalise clips ivs to [lo, hi), drops what is empty, and sorts and
// merges the rest into disjoint intervals: the store hands spans in any
// order and a monitor's runs may overlap.
func normalise(ivs []Interval, lo, hi time.Time) []Interval {
	out := make([]Interval, 0, len(ivs))
	for _, iv := range ivs {
		iv.Start, iv.End = later(iv.Start, lo), earlier(iv.End, hi)
		if iv.End.After(iv.Start) {
			out = append(out, iv)
		}
	}
	slices.SortFunc(out, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	merged := out[:0]
	for _, iv := range out {
		if n := len(merged); n > 0 && !iv.Start.After(merged[n-1].End) {
			merged[n-1].End = later(merged[n-1].End, iv.End)
			continue
		}
		merged = append(merged, iv)
	}
	return merged
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
