package config

import "time"

// StartOf returns when the window covering t began, or the zero time when
// it does not cover t.
func (w *Maintenance) StartOf(t time.Time) time.Time {
	if !w.Active(t) {
		return time.Time{}
	}
	if !w.Schedule.IsZero() {
		return w.next(t.Add(-w.Duration))
	}
	return w.Start
}

// MaintenanceSpan is the maintenance covering m at t as one interval
// [start, end): from the start of the earliest window that covers t to the
// end of the muting (MutedUntil, which carries on through windows that
// overlap). ok is false when no window covers m at t. History records it,
// so that maintenance time is exact to the window's edges, not to rounds.
func (c *Config) MaintenanceSpan(m *Monitor, t time.Time) (start, end time.Time, ok bool) {
	for _, w := range c.InMaintenance(m, t) {
		if s := w.StartOf(t); !s.IsZero() && (start.IsZero() || s.Before(start)) {
			start = s
		}
	}
	if start.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	end, _ = c.MutedUntil(m, t)
	return start, end, true
}
