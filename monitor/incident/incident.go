// Package incident turns a stream of check results into incidents: each
// monitor runs a state machine (up → failing → down → recovering → up) that
// confirms failures before opening an incident, confirms recovery before
// resolving it, and reports flapping instead of a stream of open/resolve pairs.
package incident

import (
	"github.com/vantage-monitor/vantage/monitor/result"
)

// State is where a monitor's state machine stands.
type State string

// The states of a monitor.
const (
	StateUp         State = "up"
	StateFailing    State = "failing"    // failed, not yet confirmed
	StateDown       State = "down"       // confirmed: an incident is open
	StateRecovering State = "recovering" // good again, not yet confirmed
)

// Severity orders how urgent an incident is: info < warning < critical.
type Severity string

// The severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Kind says what an incident is about.
type Kind string

// The kinds of incident.
const (
	KindTarget  Kind = "target"  // a monitored URL is down
	KindVantage Kind = "vantage" // a vantage point is impaired or unreachable
	// The warning kinds: a monitor that is up but about to break. Each is
	// its own incident beside the monitor's target incident, so a warning
	// never makes a monitor down (monitor/warning decides them).
	KindCertificate Kind = "certificate" // a served certificate is under a cert_warn_days threshold
	KindPerformance Kind = "performance" // a phase is over its degraded threshold
)

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindTarget, KindVantage, KindCertificate, KindPerformance:
		return true
	}
	return false
}

// OfMonitor reports whether an incident of kind k is about a configured
// monitor (its routes, tags, maintenance windows and URL apply), as target,
// certificate and performance incidents are; a vantage incident is not.
func (k Kind) OfMonitor() bool { return k != KindVantage }

// Warning reports whether k is a warning kind: certificate or performance.
func (k Kind) Warning() bool { return k == KindCertificate || k == KindPerformance }

// Incident is one outage, from open to resolve.
type Incident struct {
	ID       int64       `json:"id"`
	Monitor  string      `json:"monitor"` // monitor name, or vantage name for KindVantage
	Kind     Kind        `json:"kind"`
	Severity Severity    `json:"severity"`
	OpenedAt result.Time `json:"opened_at"`
	// ResolvedAt is zero (null in JSON) while the incident is open.
	ResolvedAt result.Time  `json:"resolved_at"`
	Class      result.Class `json:"class"`
	Gateway    string       `json:"gateway,omitempty"`
	Detail     string       `json:"detail,omitempty"`
	Status     int          `json:"status,omitempty"`
	// Scope is the vantage verdict ("everyone", "partial", ...), empty for a
	// single-vantage daemon.
	Scope result.Scope `json:"scope,omitempty"`
	// Regions names the vantages that saw the target down when Scope is
	// "partial", so the alert can say where it is down from.
	Regions  []string `json:"regions,omitempty"`
	Flapping bool     `json:"flapping,omitempty"`
	// FirstFailure is when the first failed round of the confirmed streak
	// ran: the outage began before the incident was confirmed, and "how long
	// it lasted" is counted from here.
	FirstFailure result.Time `json:"first_failure_at,omitzero"`
	// RecoveredAt is when the first good round after the incident's last
	// failed round ran: where its downtime ends, though the incident is only
	// resolved after Recover good rounds. Zero (null) while the latest
	// voting round failed.
	RecoveredAt result.Time `json:"recovered_at"`
	// OpenScope is the scope the incident opened with; Scope is the scope it
	// has now, and Changes say when it moved. Together they tell which part
	// of the outage was partial (degraded) and which was down for everyone.
	OpenScope result.Scope `json:"open_scope,omitempty"`
	// Resolution says how it ended: "recovered", "monitor removed", ...
	Resolution string `json:"resolution,omitempty"`
	// Changes records every change of class (or scope, or flapping) while open.
	Changes []Change `json:"changes,omitempty"`
	// Last is the result that most recently changed the incident.
	Last *result.Outcome `json:"last,omitempty"`
	// Ack is set once someone acknowledged the incident (`vantage ack`, or
	// Slack's Acknowledge): it gets no reminders and no escalation after
	// that, though its changes are still posted. nil while unacknowledged;
	// a new incident starts without one.
	Ack *Ack `json:"ack,omitempty"`
}

// Ack says who acknowledged an incident, when, and what they said.
type Ack struct {
	By      string      `json:"by"`
	At      result.Time `json:"at"`
	Comment string      `json:"comment,omitempty"`
}

// Open reports whether the incident is still open.
func (i *Incident) Open() bool { return i.ResolvedAt.IsZero() }

// Change is one change to an open incident.
type Change struct {
	At      result.Time  `json:"at"`
	Class   result.Class `json:"class"`
	Gateway string       `json:"gateway,omitempty"`
	Detail  string       `json:"detail,omitempty"`
	Status  int          `json:"status,omitempty"`
	Note    string       `json:"note,omitempty"`
	// PrevDetail is, on a warning incident whose detail this change moved
	// (a certificate crossing into under-2-days, a new slow phase), the
	// detail before it; empty otherwise.
	PrevDetail string `json:"prev_detail,omitempty"`
	// Scope and Severity are the incident's scope and severity from this
	// change on.
	Scope    result.Scope `json:"scope,omitempty"`
	Severity Severity     `json:"severity,omitempty"`
}
