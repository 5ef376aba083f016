package web

import (
	"context"
	"errors"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// ErrUnknownMonitor is what HistorySource.History returns (wrapped) for a
// name that is neither configured nor kept after its removal: a 404.
var ErrUnknownMonitor = errors.New("unknown monitor")

// HistorySource is what a Source also implements when it keeps history:
// the history and incidents APIs, the status page's uptime bars, the detail
// pages and the badges read it. Without it those answer 404, and the
// status page shows no bars.
type HistorySource interface {
	// History reports monitor over the window w, ending now. A monitor
	// removed from the config stays reported for [history] keep_removed.
	History(ctx context.Context, monitor string, w history.Window) (*history.Report, error)
	// Incidents lists incidents across monitors, newest first (opened_at,
	// then id, descending). next is the cursor of the following page, zero
	// on the last one.
	Incidents(ctx context.Context, q history.IncidentQuery) (entries []history.IncidentEntry, next history.Cursor, err error)
	// Overview gives, for each named monitor that has history, the 90-day
	// bar (history.Timeline.Days(90, now)) and the 30-day uptime.
	Overview(ctx context.Context, monitors []string) (map[string]Overview, error)
	// Vantages is the health of every vantage, for the panel above the
	// status table; ok is false when the daemon has no remote vantages.
	Vantages(ctx context.Context) (snap vantage.Snapshot, ok bool)
}

// Overview is one monitor's history as a row of the status page shows it.
type Overview struct {
	// Days are the last 90 days, oldest first, the last one being today.
	Days []history.DayCell
	// Uptime30d is the last 30 days.
	Uptime30d history.Uptime
}
