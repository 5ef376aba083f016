package web

import (
	"context"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// MonitorView is one monitor as the status page and the API show it.
type MonitorView struct {
	Name     string   `json:"name"`
	URL      string   `json:"url"`
	Tags     []string `json:"tags"`
	Schedule string   `json:"schedule"`
	// State is the monitor's state machine state: up, failing, down, recovering.
	State    incident.State `json:"state"`
	Flapping bool           `json:"flapping"`
	// LastCheck is when the last round finished; zero (null in JSON)
	// before the first one.
	LastCheck  result.Time     `json:"last_check"`
	LastResult *result.Outcome `json:"last_result"`
	// OpenIncident is nil when none is open.
	OpenIncident *incident.Incident `json:"open_incident"`
	// Warnings are the monitor's open certificate and performance
	// incidents (certificate first); empty, never null, when none is open.
	// A monitor with a warning is still up.
	Warnings []incident.Incident `json:"warnings"`
	// Skipped counts rounds skipped because the previous one still ran.
	Skipped uint64 `json:"skipped_rounds"`
	// Problem says why the monitor is not being checked (its stored state
	// does not decode); empty while it runs.
	Problem string `json:"problem,omitempty"`
}

// Source is what the HTTP surface reads from the running daemon.
type Source interface {
	// Monitors lists every configured monitor, sorted by name. The handler
	// reads the views and what they point to (LastResult, OpenIncident)
	// without locks and never writes to them, so the daemon must hand out
	// snapshots it will not change afterwards. ctx is the HTTP request's.
	Monitors(ctx context.Context) ([]MonitorView, error)
	// Health returns nil while the daemon is healthy (the scheduler is making
	// progress and the store is usable), else an error saying what is wrong.
	Health(ctx context.Context) error
}
