package history

import (
	"cmp"
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
	// Incidents of the monitor. Target incidents are down time (degraded
	// while seen from some regions only); performance incidents are
	// degraded time, which is up. Certificate and vantage incidents do not
	// count: an expiring certificate still serves, and a vantage's trouble
	// is not the monitor's.
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
	var u Uptime
	for _, sg := range tl.segments(from, to, now) {
		u.add(sg.state, time.Duration(sg.end-sg.start))
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
	first := today.Add(-time.Duration(n-1) * day)
	segs := tl.segments(first, now, now)
	cells := make([]DayCell, n)
	nowNs, j := nanos(now), 0
	for i := range cells {
		start := first.Add(time.Duration(i) * day)
		a := nanos(start)
		b := a + int64(day)
		if i == n-1 {
			b = nowNs
		}
		var u Uptime
		// Segments are sorted and disjoint, so the ones that ended before
		// this day are never looked at again; one that runs past the day's
		// end stays for the next.
		for j < len(segs) && segs[j].end <= a {
			j++
		}
		for k := j; k < len(segs) && segs[k].start < b; k++ {
			u.add(segs[k].state, time.Duration(min(segs[k].end, b)-max(segs[k].start, a)))
		}
		incidentDown := u.Down
		u.finish(time.Duration(b-a), tl.MaintenanceCountsAsDown)
		cells[i] = DayCell{Start: start, Uptime: u, State: dayState(u, incidentDown)}
	}
	return cells
}

// day is a UTC day: UTC has no daylight saving, so every day is 24 hours.
const day = 24 * time.Hour

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

// span is [start, end) in Unix nanoseconds: the layout is computed on
// plain integers, which compare and sort several times faster than
// time.Time and hold no pointers for the collector to chase.
type span struct{ start, end int64 }

// segment is a stretch of measured time in one state.
type segment struct {
	span
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

// finish derives what is not measured from the length of the range, and
// folds maintenance into down when the setting says so.
func (u *Uptime) finish(length time.Duration, maintenanceIsDown bool) {
	u.Unknown = max(length-u.Up-u.Down-u.Maintenance, 0)
	if maintenanceIsDown {
		u.Down += u.Maintenance
	}
}

// segments lays the timeline out over [lo, hi) as sorted, disjoint,
// measured segments, each in the one state that wins there. Gaps between
// segments are unknown.
func (tl *Timeline) segments(lo, hi, now time.Time) []segment {
	l, h := nanos(lo), nanos(hi)
	measured := normalise(intervals(tl.Measured), l, h)
	if len(measured) == 0 {
		return nil
	}
	maint := normalise(intervals(tl.Maintenance), l, h)
	nowNs := nanos(now)
	var downRaw, degradedRaw []span
	for i := range tl.Incidents {
		inc := &tl.Incidents[i]
		if inc.Kind != incident.KindTarget && inc.Kind != incident.KindPerformance {
			continue
		}
		// A performance incident's time is measured as an outage's is:
		// from its first slow round to the first fast one of its recovery.
		dt := Downtime(inc, now)
		if dt.Start.IsZero() {
			continue // no time to start from: nothing to count
		}
		if inc.Kind == incident.KindPerformance {
			// Slow, from everywhere or from some vantages, is degraded
			// whatever the scope: the target answered.
			degradedRaw = append(degradedRaw, span{nanos(dt.Start), min(nanos(dt.End), nowNs)})
			continue
		}
		scopeSpans(inc, span{nanos(dt.Start), min(nanos(dt.End), nowNs)}, func(sp span, sc result.Scope) {
			if sc == result.ScopePartial {
				degradedRaw = append(degradedRaw, sp)
			} else {
				downRaw = append(downRaw, sp)
			}
		})
	}
	down := normalise(downRaw, l, h)
	degraded := normalise(degradedRaw, l, h)

	// Every boundary of every list; between two neighbours, membership in
	// each list is constant, so one look per list decides the stretch.
	bounds := make([]int64, 0, 2*(len(measured)+len(maint)+len(down)+len(degraded)))
	for _, list := range [...][]span{measured, maint, down, degraded} {
		for _, sp := range list {
			bounds = append(bounds, sp.start, sp.end)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)

	var pm, px, pd, pg int
	segs := make([]segment, 0, len(bounds))
	for k := 0; k+1 < len(bounds); k++ {
		a, b := bounds[k], bounds[k+1]
		if !covers(measured, &pm, a) {
			continue
		}
		st := stateUp
		switch {
		case covers(maint, &px, a):
			st = stateMaintenance
		case covers(down, &pd, a):
			st = stateDown
		case covers(degraded, &pg, a):
			st = stateDegraded
		}
		if n := len(segs); n > 0 && segs[n-1].state == st && segs[n-1].end == a {
			segs[n-1].end = b
			continue
		}
		segs = append(segs, segment{span{a, b}, st})
	}
	return segs
}

// covers reports whether the sorted, disjoint list l holds instant t. The
// cursor p only moves forward, so t must not decrease between calls.
func covers(l []span, p *int, t int64) bool {
	for *p < len(l) && l[*p].end <= t {
		*p++
	}
	return *p < len(l) && l[*p].start <= t
}

// scopeSpans splits an incident's downtime dt by the scope it had: the
// scope it opened with, then each change's scope from the change on.
func scopeSpans(inc *incident.Incident, dt span, emit func(span, result.Scope)) {
	if dt.end <= dt.start {
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
	pos := dt.start
	for _, c := range inc.Changes {
		at := nanos(c.At.Time)
		if at <= pos {
			cur = c.Scope
			continue
		}
		if at >= dt.end {
			break
		}
		emit(span{pos, at}, cur)
		pos, cur = at, c.Scope
	}
	emit(span{pos, dt.end}, cur)
}

func intervals(ivs []Interval) []span {
	out := make([]span, len(ivs))
	for i, iv := range ivs {
		out[i] = span{nanos(iv.Start), nanos(iv.End)}
	}
	return out
}

// normalise clips sps to [lo, hi), drops what is empty, and sorts and
// merges the rest into disjoint spans, in place: the store hands spans in
// any order and a monitor's runs may overlap.
func normalise(sps []span, lo, hi int64) []span {
	out := sps[:0]
	for _, sp := range sps {
		sp.start, sp.end = max(sp.start, lo), min(sp.end, hi)
		if sp.end > sp.start {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	merged := out[:0]
	for _, sp := range out {
		if n := len(merged); n > 0 && sp.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// nanos is t in Unix nanoseconds, clamped to about 1823..2116 so that no
// difference of two overflows: no monitor's history reaches outside, and a
// bad time in the store is counted at the edge instead of wrapping around.
func nanos(t time.Time) int64 {
	const limit = 1<<62 - 1
	if sec := t.Unix(); sec < -limit/int64(time.Second) || sec > limit/int64(time.Second) {
		return min(max(sec, -1), 1) * limit
	}
	return min(max(t.UnixNano(), -limit), limit)
}
