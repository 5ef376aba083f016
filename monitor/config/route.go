package config

import (
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Matches reports whether an incident of monitor m, at severity sev and of
// class class, matches the route's filters: every match_tags tag present,
// the monitor among match_monitors when that is set, the severity at least
// min_severity, and the class among classes when that is set.
func (r *Route) Matches(m *Monitor, sev incident.Severity, class result.Class) bool {
	for _, t := range r.MatchTags {
		if !m.HasTag(t) {
			return false
		}
	}
	if len(r.MatchMonitors) > 0 && !contains(r.MatchMonitors, m.Name) {
		return false
	}
	if !sev.AtLeast(r.MinSeverity) {
		return false
	}
	if len(r.Classes) > 0 && !contains(r.Classes, string(class)) {
		return false
	}
	return true
}

// ReceiversFor walks the routes in order and returns the receivers an
// incident goes to: the first matching route's, plus those of later
// matching routes while the matched ones say continue. Each receiver is
// listed once.
func (c *Config) ReceiversFor(m *Monitor, sev incident.Severity, class result.Class) []string {
	var out []string
	for i := range c.Routes {
		r := &c.Routes[i]
		if !r.Matches(m, sev, class) {
			continue
		}
		for _, name := range r.Receivers {
			if !contains(out, name) {
				out = append(out, name)
			}
		}
		if !r.Continue {
			break
		}
	}
	return out
}
