// Package warning decides, once per round, whether a monitor that is up is
// about to break: a certificate served to some vantage that expires within
// a cert_warn_days threshold, or a phase that is over its degraded
// threshold. It turns a round's Outcome into the observations of the
// monitor's certificate and performance incident machines, with the
// incident's own outcome (class, detail, the Warning and the fixes). It is
// the one place these rules live; the daemon only feeds it rounds.
package warning

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Verdict is what one round says of one warning.
type Verdict struct {
	// Vote is down when the round shows the warning, up when it shows it
	// gone, none when the round cannot tell (no vantage reached the
	// target, or it was reached without TLS).
	Vote incident.Vote
	// Outcome is the incident's view of the round: the round's outcome
	// with Class cert_expiring or degraded (ok on an up vote), the detail
	// token (result.WarnDetail or the slow phase), Warning set, and the
	// fixes for it.
	Outcome result.Outcome
	// Severity is warning, or critical for a certificate under the last
	// threshold.
	Severity incident.Severity
	// Scope is everyone when every vantage that answered saw it, partial
	// otherwise; Regions the vantages that saw it.
	Scope   result.Scope
	Regions []string
}

// Observation is the verdict as the machine observes it at at.
func (v *Verdict) Observation(at time.Time) incident.Observation {
	return incident.Observation{
		At: at, Result: v.Outcome, Vote: v.Vote, Scope: v.Scope,
		Regions: v.Regions, Severity: v.Severity,
	}
}

// Certificate is the certificate verdict of a round, with the monitor's
// cert_warn_days thresholds (largest first). now is the wall clock the days
// are counted at.
func Certificate(out *result.Outcome, days []int, now time.Time) Verdict {
	panic("warning.Certificate: not written yet")
}

// Performance is the slowness verdict of a round under the monitor's
// degraded thresholds.
func Performance(out *result.Outcome, th config.Degraded) Verdict {
	panic("warning.Performance: not written yet")
}

// CertificateSettings are the certificate machine's settings: a threshold
// crossed is a fact, not a flake, so one round opens and one resolves.
func CertificateSettings() incident.Settings {
	return incident.Settings{Confirm: 1, Recover: 1, RetryDelay: -1, FlapChanges: -1}
}

// PerformanceSettings are the performance machine's: degraded_rounds slow
// rounds open, recover good rounds resolve, flapping damped as the
// monitor's outages are.
func PerformanceSettings(m *config.Monitor) incident.Settings {
	panic("warning.PerformanceSettings: not written yet")
}

// Enabled reports which warnings a monitor has: the certificate warning
// unless cert_warn_days is empty, the performance warning when any degraded
// threshold is set.
func Enabled(m *config.Monitor) (cert, perf bool) {
	return len(m.CertWarnDays) > 0, m.Degraded.Set()
}
