package daemon

import (
	"context"
	"errors"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// The operator's actions on the running daemon, as the control API (daemon/
// control.go) and Slack's buttons call them. Each is recorded, with who did
// it and when, in the store's action log and in the incident's history.
// by names the person: "uid 1000 (ana)" over the control socket, "token"
// over HTTP with the bearer token, "slack:@ana" from Slack.

// ErrUnknownIncident: no open incident has that ID.
var ErrUnknownIncident = errors.New("no open incident with that ID")

// ErrUnknownSilence: no silence has that ID.
var ErrUnknownSilence = errors.New("no silence with that ID")

// ErrUnknownMonitor: no configured monitor has that name.
var ErrUnknownMonitor = errors.New("no monitor with that name")

var errNotYet = errors.New("not written yet")

// AddSilence validates s, stores it (ID, CreatedAt and CreatedBy = by set
// here) and applies it to the notifications planned from now on.
func (d *Daemon) AddSilence(ctx context.Context, s silence.Silence, by string) (silence.Silence, error) {
	return silence.Silence{}, errNotYet
}

// Silences lists the silences in force or to come, and with all the
// expired ones too (newest first).
func (d *Daemon) Silences(ctx context.Context, all bool) ([]silence.Silence, error) {
	return nil, errNotYet
}

// ExpireSilence ends silence id now; what it held back is released.
func (d *Daemon) ExpireSilence(ctx context.Context, id int64, by string) (silence.Silence, error) {
	return silence.Silence{}, errNotYet
}

// Ack acknowledges open incident id: no reminders, no escalation after
// this; the receivers that were told it opened are told who took it.
// Acknowledging it again is a no-op that returns the first ack.
func (d *Daemon) Ack(ctx context.Context, id int64, by, comment string) (incident.Incident, error) {
	return incident.Incident{}, errNotYet
}

// Recheck runs the monitor's round now, from every vantage, and returns
// its outcome (the round settles as any other).
func (d *Daemon) Recheck(ctx context.Context, monitor, by string) (result.Outcome, error) {
	return result.Outcome{}, errNotYet
}
