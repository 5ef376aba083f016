package history

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

// Timeline is what uptime is computed from, for one monitor.
//
// TODO(helper B): implement; see /work/wt/CONTRACT13.md.
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
func (tl *Timeline) Uptime(from, to, now time.Time) Uptime { panic("unimplemented") }

// DayCell is one cell of the daily bar.
type DayCell struct {
	Start  time.Time
	Uptime Uptime
	State  DayState
}

// Days splits the n days (UTC) ending with the one holding now into cells,
// oldest first.
func (tl *Timeline) Days(n int, now time.Time) []DayCell { panic("unimplemented") }
