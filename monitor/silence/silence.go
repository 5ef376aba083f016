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
