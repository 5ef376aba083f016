package config

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// minEscalateAfter is the shortest escalate_after: reminders and
// escalations are looked at every 30 seconds (daemon/notify.go), and
// anything shorter than a minute leaves nobody the time to acknowledge
// before the next people are woken.
const minEscalateAfter = time.Minute

// checkEscalation checks a route's escalate_after and escalate_to: both or
// neither, a delay of at least minEscalateAfter, and receivers that exist,
// each once, and that the route does not already send to (they would be
// told it opened anyway, so escalating to them does nothing).
func (l *loader) checkEscalation(cfg *Config, r *Route, path, sec string) {
	afterPath, toPath := joinPath(path, "escalate_after"), joinPath(path, "escalate_to")
	switch {
	case r.EscalateAfter < 0:
		l.add(afterPath, sec, "escalate_after", "%s is negative (leave it out for no escalation)", result.ShortDuration(r.EscalateAfter))
	case r.EscalateAfter > 0 && r.EscalateAfter < minEscalateAfter:
		l.add(afterPath, sec, "escalate_after", "%s is under %s: give people the time to acknowledge", result.ShortDuration(r.EscalateAfter), result.ShortDuration(minEscalateAfter))
	case r.EscalateAfter > 0 && len(r.EscalateTo) == 0:
		l.add(afterPath, sec, "escalate_to", "missing: escalate_after needs the receivers to escalate to")
	case r.EscalateAfter == 0 && len(r.EscalateTo) > 0:
		l.add(toPath, sec, "escalate_after", "missing: escalate_to needs the time after which an unacknowledged incident is escalated")
	}
	var names []string
	for _, rc := range cfg.Receivers {
		names = append(names, rc.Name)
	}
	for i, n := range r.EscalateTo {
		at := indexPath(toPath, i)
		switch {
		case !contains(names, n):
			l.add(at, sec, "escalate_to", "no receiver named %q%s", n, suggest(n, names))
		case contains(r.EscalateTo[:i], n):
			l.add(at, sec, "escalate_to", "%q is listed twice", n)
		case contains(r.Receivers, n):
			l.add(at, sec, "escalate_to", "%q is already in this route's receivers: it is told when the incident opens", n)
		}
	}
}
