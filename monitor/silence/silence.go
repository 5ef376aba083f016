// Package silence is the model of a silence: matchers that select incidents
// (by monitor name, tags, class, vantage and scope), a start, an end, who
// made it and why. A silence mutes notifications exactly as a maintenance
// window does (notify/plan holds and drops them by the same rules); checks
// still run and incidents still open and close. It decides, in one place,
// which incidents a silence covers and until when notifications stay muted.
// The store keeps silences durable (monitor/store); the daemon serves them
// over its control API.
package silence

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Matchers select incidents. Each non-empty list must match (AND across
// lists); within a list any value matches (OR). A silence with no matcher
// at all is refused by Validate: it would mute everything by accident.
type Matchers struct {
	// Monitors are monitor names (for a vantage incident, the vantage's name).
	Monitors []string `json:"monitors,omitempty"`
	// Tags match a monitor carrying any of them.
	Tags []string `json:"tags,omitempty"`
	// Classes match the incident's class.
	Classes []result.Class `json:"classes,omitempty"`
	// Vantages match an incident seen down from any of them (its regions),
	// or, for a vantage incident, the vantage itself.
	Vantages []string `json:"vantages,omitempty"`
	// Scopes match the incident's scope.
	Scopes []result.Scope `json:"scopes,omitempty"`
	// Incident matches one incident by its store ID (a Slack "Silence 1h"
	// on one alert); 0 for none.
	Incident int64 `json:"incident,omitempty"`
}

// Silence is one silence. Its JSON field names are a public interface (the
// control API and `vantage silence list --json`).
type Silence struct {
	ID       int64     `json:"id"`
	Matchers Matchers  `json:"matchers"`
	Start    time.Time `json:"start"`
	// End is when it stops muting. Zero with UntilResolved: it lasts until
	// the incident it names (Matchers.Incident) resolves.
	End           time.Time `json:"end,omitzero"`
	UntilResolved bool      `json:"until_resolved,omitempty"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	Comment       string    `json:"comment,omitempty"`
	// ExpiredAt is set when someone ended it before its end (`vantage
	// silence expire`); ExpiredBy who.
	ExpiredAt time.Time `json:"expired_at,omitzero"`
	ExpiredBy string    `json:"expired_by,omitempty"`
}

// Subject is what a silence's matchers see of an incident: the incident and
// its monitor's tags (nil for a vantage incident or a monitor no longer
// configured).
type Subject struct {
	Incident *incident.Incident
	Tags     []string
}

// Set is the silences in force or to come, as the daemon holds them.
type Set []Silence

// MaxAhead is how far away a silence may end: a longer one is a forgotten
// mute, and belongs in a [[maintenance]] window in the config.
const MaxAhead = 365 * 24 * time.Hour

// MaxComment is the longest comment a silence takes, in bytes.
const MaxComment = 1000

// Indefinite is the end of an until-resolved silence without an end: far
// enough to never come, near enough to fit the store's Unix nanoseconds.
// Notifications it holds back carry it as their NotBefore, so that expiring
// the silence (or the incident resolving) is what releases or withdraws them.
func Indefinite() time.Time { return time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }

// Empty reports whether m selects nothing in particular (it would select
// everything).
func (m *Matchers) Empty() bool {
	return len(m.Monitors) == 0 && len(m.Tags) == 0 && len(m.Classes) == 0 &&
		len(m.Vantages) == 0 && len(m.Scopes) == 0 && m.Incident == 0
}

func validScope(s result.Scope) bool {
	switch s {
	case result.ScopeEveryone, result.ScopePartial, result.ScopeJustMe, result.ScopeUnknown:
		return true
	}
	return false
}

// Validate says everything wrong with s as a new silence at now, or nil.
func (s *Silence) Validate(now time.Time) error {
	var errs []error
	m := &s.Matchers
	if m.Empty() {
		errs = append(errs, errors.New("no matcher: a silence must name a monitor, tag, class, vantage, scope or incident"))
	}
	for _, c := range m.Classes {
		if !c.Valid() {
			errs = append(errs, fmt.Errorf("unknown class %q", c))
		}
	}
	for _, sc := range m.Scopes {
		if !validScope(sc) {
			errs = append(errs, fmt.Errorf("unknown scope %q (everyone, partial, just_me or unknown)", sc))
		}
	}
	if m.Incident < 0 {
		errs = append(errs, fmt.Errorf("incident %d: not an incident ID", m.Incident))
	}
	if s.UntilResolved && m.Incident == 0 {
		errs = append(errs, errors.New("until resolved needs the incident it lasts for (an incident matcher)"))
	}
	switch {
	case s.End.IsZero() && !s.UntilResolved:
		errs = append(errs, errors.New("no end: give one, or silence one incident until it resolves"))
	case !s.End.IsZero() && !s.End.After(s.Start):
		errs = append(errs, fmt.Errorf("end %s is not after start %s", s.End.UTC().Format(time.RFC3339), s.Start.UTC().Format(time.RFC3339)))
	case !s.End.IsZero() && s.End.Sub(now) > MaxAhead:
		errs = append(errs, fmt.Errorf("end %s is more than a year away: use a [[maintenance]] window for that", s.End.UTC().Format(time.RFC3339)))
	}
	if len(s.Comment) > MaxComment {
		errs = append(errs, fmt.Errorf("comment is %d bytes, at most %d", len(s.Comment), MaxComment))
	}
	return errors.Join(errs...)
}

// Expired reports whether someone ended s early.
func (s *Silence) Expired() bool { return !s.ExpiredAt.IsZero() }

// Ends is when s stops muting: its end, or the time it was expired if
// that came first; Indefinite for an until-resolved silence without an end
// (it stops when its incident resolves, which Covers sees).
func (s *Silence) Ends() time.Time {
	end := s.End
	if end.IsZero() {
		end = Indefinite()
	}
	if s.Expired() && s.ExpiredAt.Before(end) {
		end = s.ExpiredAt
	}
	return end
}

// Active reports whether s mutes at at (whatever it matches).
func (s *Silence) Active(at time.Time) bool {
	return !at.Before(s.Start) && at.Before(s.Ends())
}

// Done reports whether s can no longer mute anything at or after at.
func (s *Silence) Done(at time.Time) bool { return !at.Before(s.Ends()) }

// Matches reports whether s's matchers select sub: every non-empty list
// has a value that matches. An until-resolved silence matches its
// incident only while it is open.
func (s *Silence) Matches(sub Subject) bool {
	inc := sub.Incident
	if inc == nil {
		return false
	}
	m := &s.Matchers
	if m.Empty() {
		return false // never everything by accident
	}
	if m.Incident != 0 && inc.ID != m.Incident {
		return false
	}
	if s.UntilResolved && !inc.Open() {
		return false
	}
	if len(m.Monitors) > 0 && !slices.Contains(m.Monitors, inc.Monitor) {
		return false
	}
	if len(m.Tags) > 0 && !slices.ContainsFunc(m.Tags, func(t string) bool { return slices.Contains(sub.Tags, t) }) {
		return false
	}
	if len(m.Classes) > 0 && !slices.Contains(m.Classes, inc.Class) {
		return false
	}
	if len(m.Scopes) > 0 && !slices.Contains(m.Scopes, result.Scope(inc.Scope)) {
		return false
	}
	if len(m.Vantages) > 0 && !slices.ContainsFunc(m.Vantages, func(v string) bool {
		if inc.Kind == incident.KindVantage {
			return v == inc.Monitor
		}
		return slices.Contains(inc.Regions, v)
	}) {
		return false
	}
	return true
}

// Covers reports whether s mutes sub at at.
func (s *Silence) Covers(sub Subject, at time.Time) bool { return s.Active(at) && s.Matches(sub) }

// Covering is the silences of the set that mute sub at at.
func (set Set) Covering(sub Subject, at time.Time) []Silence {
	var out []Silence
	for i := range set {
		if set[i].Covers(sub, at) {
			out = append(out, set[i])
		}
	}
	return out
}

// EndAt is the latest end of the silences that mute sub at at, or the
// zero time when none does: one step of MutedUntil, for a caller that
// chains silences with maintenance windows (notify/plan).
func (set Set) EndAt(sub Subject, at time.Time) time.Time {
	var end time.Time
	for i := range set {
		if s := &set[i]; s.Covers(sub, at) {
			if e := s.Ends(); e.After(end) {
				end = e
			}
		}
	}
	return end
}

// MutedUntil reports whether sub is silenced at at and, if so, until
// when: the latest end of the silences that cover at, carried on through
// silences that overlap it, so back-to-back silences mute as one (as
// config.Config.MutedUntil does for maintenance windows).
func (set Set) MutedUntil(sub Subject, at time.Time) (time.Time, bool) {
	var until time.Time
	for range 16 { // chained end to end; bounded against a loop
		end := set.EndAt(sub, at)
		if !end.After(until) {
			break
		}
		until, at = end, end
	}
	return until, !until.IsZero()
}

// Live is the silences of the set that can still mute at or after at, in
// the same order: what the daemon keeps once the others ended.
func (set Set) Live(at time.Time) Set {
	out := make(Set, 0, len(set))
	for i := range set {
		if !set[i].Done(at) {
			out = append(out, set[i])
		}
	}
	return out
}
