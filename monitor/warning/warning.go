// Package warning decides, once per round, whether a monitor that is up is
// about to break: a certificate served to some vantage that expires within
// a cert_warn_days threshold, or a phase that is over its degraded
// threshold. It turns a round's Outcome into the observations of the
// monitor's certificate and performance incident machines, with the
// incident's own outcome (class, detail, the Warning and the fixes). It is
// the one place these rules live; the daemon only feeds it rounds.
package warning

import (
	"slices"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/fixes"
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
//
// Each vantage that reached the target (up or down, not impaired,
// unreachable or refused) and was served a certificate counts, with the
// certificate of its served chain that expires first; the outcome's own
// result is the one vantage when the round had no vantage lines. A vantage
// is over when that certificate has less than the largest threshold left;
// the level is the smallest threshold it is under. Days are counted here,
// at now, not taken from the result, which may have been made elsewhere.
func Certificate(out *result.Outcome, days []int, now time.Time) Verdict {
	if out == nil || len(days) == 0 {
		return Verdict{Vote: incident.VoteNone}
	}
	top, last := slices.Max(days), slices.Min(days)
	var seen []certSeen
	for _, v := range voters(out, false) {
		c := earliest(v.res.TLS)
		if c == nil {
			continue
		}
		left := c.NotAfter.Sub(now)
		c.DaysLeft = daysLeft(left)
		seen = append(seen, certSeen{voter: v, cert: c, left: left, over: left < daysDur(top)})
	}
	if len(seen) == 0 {
		return Verdict{Vote: incident.VoteNone}
	}

	// E, the certificate that expires first over all the vantages: when
	// any vantage is over, E is one that is.
	var over []string
	e := 0
	for i, s := range seen {
		if s.over {
			over = append(over, s.name)
		}
		if s.left < seen[e].left {
			e = i
		}
	}
	cert := seen[e].cert
	level := 0
	for _, d := range days {
		if seen[e].left < daysDur(d) && (level == 0 || d < level) {
			level = d
		}
	}

	v := Verdict{Vote: incident.VoteUp, Severity: incident.SeverityWarning}
	o := out.Clone()
	o.Error = ""
	o.Fixes = []string{}
	w := &result.Warning{Kind: string(incident.KindCertificate), Cert: cert.Clone(), ThresholdDays: level}
	for _, s := range seen {
		w.Seen = append(w.Seen, result.WarningSeen{Vantage: s.name, Over: s.over, Cert: s.cert.Clone(), RemoteAddr: s.res.RemoteAddr})
		o.Evidence.Markers = append(o.Evidence.Markers, certMarker(s, top))
	}
	if len(over) > 0 {
		v.Vote = incident.VoteDown
		if level == last || seen[e].left <= 0 {
			v.Severity = incident.SeverityCritical
		}
		v.Scope, v.Regions = scopeOf(out, over, len(seen))
		o.OK, o.Class, o.Detail = false, result.ClassCertExpiring, result.WarnDetail(level)
		// Where the openssl command is to run: a vantage that was served
		// the earliest certificate, and the address it dialled.
		from := seen[e]
		o.Fixes = fixes.ForCertificate(fixes.CertWarning{
			Result: &o.Result, Cert: *cert, Saw: over, Partial: v.Scope == result.ScopePartial,
			From: from.name, Addr: from.res.RemoteAddr,
		})
	} else {
		o.OK, o.Class, o.Detail = true, result.ClassOK, ""
	}
	w.Summary = certSummary(cert, seen[e].left, v, over, len(out.Vantages) > 0)
	o.Warning = w
	o.Scope = v.Scope
	o.Normalize()
	v.Outcome = o
	return v
}

// Performance is the slowness verdict of a round under the monitor's
// degraded thresholds.
//
// Only healthy vantages that saw the target up count (the outcome's own
// result when the round had no vantage lines): a round that failed is the
// target incident's business, and says nothing of slowness. The slow phase
// is the first of result.AllPhases over its threshold from some vantage:
// the most specific one, so a slow connect that makes the total slow too is
// a slow connect.
func Performance(out *result.Outcome, th config.Degraded) Verdict {
	if out == nil || !out.OK {
		return Verdict{Vote: incident.VoteNone}
	}
	var phases []string
	for _, p := range result.AllPhases() {
		if th.Of(p) > 0 {
			phases = append(phases, p)
		}
	}
	healthy := voters(out, true)
	if len(phases) == 0 || len(healthy) == 0 {
		return Verdict{Vote: incident.VoteNone}
	}
	limit := func(p string) float64 { return float64(th.Of(p)) / float64(time.Millisecond) }
	slow := ""
	for _, p := range phases {
		for _, v := range healthy {
			if v.res.Phases.Of(p) > limit(p) {
				slow = p
				break
			}
		}
		if slow != "" {
			break
		}
	}

	v := Verdict{Vote: incident.VoteUp, Severity: incident.SeverityWarning}
	o := out.Clone()
	o.Error = ""
	o.Fixes = []string{}
	phase := slow
	if phase == "" {
		phase = closest(phases, healthy, limit)
	}
	w := &result.Warning{Kind: string(incident.KindPerformance), Phase: phase, ThresholdMs: limit(phase)}
	var over, under []string
	var from *voter
	for i, h := range healthy {
		ms := h.res.Phases.Of(phase)
		isOver := ms > w.ThresholdMs
		w.Seen = append(w.Seen, result.WarningSeen{Vantage: h.name, Over: isOver, Ms: ms, RemoteAddr: h.res.RemoteAddr})
		o.Evidence.Markers = append(o.Evidence.Markers, slowMarker(h.name, phase, ms, w.ThresholdMs))
		if isOver {
			over = append(over, h.name)
			if from == nil || ms > from.res.Phases.Of(phase) {
				from = &healthy[i]
			}
		} else {
			under = append(under, h.name)
		}
	}
	if slow != "" {
		v.Vote = incident.VoteDown
		v.Scope, v.Regions = scopeOf(out, over, len(healthy))
		o.OK, o.Class, o.Detail = false, result.ClassDegraded, slow
		o.Fixes = fixes.ForPerformance(fixes.SlowWarning{
			Result: &o.Result, Phase: slow, Slow: over, Fast: under,
			From: from.name, Addr: from.res.RemoteAddr, BodyBytes: from.res.BodyBytes,
		})
	} else {
		o.OK, o.Class, o.Detail = true, result.ClassOK, ""
	}
	w.Summary = slowSummary(w, slow != "", len(out.Vantages) > 0)
	o.Warning = w
	o.Scope = v.Scope
	o.Normalize()
	v.Outcome = o
	return v
}

// CertificateSettings are the certificate machine's settings: a threshold
// crossed is a fact, not a flake, so one round opens and one resolves.
func CertificateSettings() incident.Settings {
	return incident.Settings{Confirm: 1, Recover: 1, RetryDelay: -1, FlapChanges: -1}
}

// PerformanceSettings are the performance machine's: degraded_rounds slow
// rounds open, recover good rounds resolve, flapping damped as the
// monitor's outages are.
//
// recover, flap_window and flap_threshold are the monitor's own, mapped as
// daemon/daemon.go's settingsOf maps them for the target machine: in the
// config 0 turns flap detection off, in incident.Settings a negative value
// does (0 there is the default). Keep the two in step. There is no early
// re-check: a slow round is not a blip to retry at once, degraded_rounds
// already asks for several.
func PerformanceSettings(m *config.Monitor) incident.Settings {
	s := incident.Settings{
		Confirm:     max(m.DegradedRounds, 1),
		Recover:     m.Recover,
		RetryDelay:  -1,
		FlapChanges: m.FlapThreshold,
		FlapWindow:  m.FlapWindow,
	}
	if m.DegradedRounds == 0 {
		s.Confirm = config.DefaultDegradedRounds
	}
	if s.FlapChanges == 0 {
		s.FlapChanges = -1
	}
	return s
}

// Enabled reports which warnings a monitor has: the certificate warning
// unless cert_warn_days is empty, the performance warning when any degraded
// threshold is set.
func Enabled(m *config.Monitor) (cert, perf bool) {
	return len(m.CertWarnDays) > 0, m.Degraded.Set()
}
