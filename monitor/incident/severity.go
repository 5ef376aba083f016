package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// Rank orders severities for comparisons such as a route's min_severity:
// info 1, warning 2, critical 3, anything unknown 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Valid reports whether s is one of the known severities.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// AtLeast reports whether s is as urgent as min or more.
func (s Severity) AtLeast(min Severity) bool { return s.Rank() >= min.Rank() }

// ParseSeverity reads a severity as written in the config.
func ParseSeverity(text string) (Severity, error) {
	s := Severity(strings.ToLower(strings.TrimSpace(text)))
	if !s.Valid() {
		return "", fmt.Errorf("parsing severity %q: want info, warning or critical", text)
	}
	return s, nil
}

// Key identifies the incident before and after the store gives it an ID, and
// across restarts: the kind, the monitor and the moment it opened. Notifiers
// build their idempotency keys on it.
func (i *Incident) Key() string {
	return fmt.Sprintf("%s:%s@%s", i.Kind, i.Monitor, i.OpenedAt.UTC().Format(time.RFC3339Nano))
}

// ResolutionRemoved is how an incident ends when its monitor leaves the config.
const ResolutionRemoved = "monitor removed"

// The beginnings of the resolutions a machine writes when what it watched
// came back by itself (Machine.Observe), as opposed to being closed (the
// monitor removed, a warning turned off).
const (
	resolutionRecovered = "recovered"
	resolutionSettledUp = "stopped flapping: up"
)

// Recovered reports whether an incident resolved with resolution ended
// because the target (or the certificate, or the speed) came back: a
// recovery, or flapping that settled up. "" counts as recovered: it is how
// an incident stored before resolutions were recorded reads.
func Recovered(resolution string) bool {
	return resolution == "" || strings.HasPrefix(resolution, resolutionRecovered) || strings.HasPrefix(resolution, resolutionSettledUp)
}

// IsolationIncident is the name of the one KindVantage incident raised while
// the daemon's own host has lost its network (the local vantage is impaired
// and no remote vantage answers), instead of one incident per vantage. The
// '/' keeps it apart from every vantage name, which the config restricts to
// letters, digits, '.', '_' and '-'.
const IsolationIncident = "local/network"

// ResolutionIsolated is how a vantage incident ends when the isolation
// notice takes over from it.
const ResolutionIsolated = "covered by the notice that this host lost its network"

// Resolve closes an open incident at the given time, saying how it ended.
// The daemon uses it on incidents it holds without a Machine, e.g. an open
// incident found in the store for a monitor that is no longer configured;
// Machine.Remove does the same for a monitor that still has its machine.
func (i *Incident) Resolve(at time.Time, how string) error {
	if at.IsZero() {
		return fmt.Errorf("resolving incident %s: no resolve time", i.Key())
	}
	if !i.Open() {
		return fmt.Errorf("resolving incident %s: already resolved at %s (%s)", i.Key(), i.ResolvedAt.Format(time.RFC3339), i.Resolution)
	}
	if at.Before(i.OpenedAt.Time) {
		at = i.OpenedAt.Time // a clock step back must not give a negative duration
	}
	i.ResolvedAt = result.TimeOf(at)
	i.Resolution = how
	return nil
}

// clone returns a deep copy, so that events and snapshots never share slices
// with the incident the machine goes on changing.
func (i *Incident) clone() *Incident {
	if i == nil {
		return nil
	}
	c := *i
	c.Regions = cloneStrings(i.Regions)
	if i.Changes != nil {
		c.Changes = append([]Change(nil), i.Changes...)
	}
	c.Last = cloneResult(i.Last)
	if i.Ack != nil {
		a := *i.Ack
		c.Ack = &a
	}
	return &c
}
