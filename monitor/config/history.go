package config

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// DefaultKeepRemoved is how long [history] keeps a removed monitor's
// history readable: long enough to look back at a monitor renamed or
// dropped by mistake last month.
const DefaultKeepRemoved = 30 * 24 * time.Hour

// History is the [history] table: what the daemon keeps about the past
// beyond the raw results (which go by retention and retention_age).
type History struct {
	// Enabled keeps the response-time rollups. Uptime and incidents are
	// kept regardless: they cost next to nothing, and an incident is never
	// thrown away.
	Enabled bool `toml:"enabled" json:"enabled"`
	// MaintenanceCountsAsDown counts time inside a maintenance window as
	// downtime; by default it is reported apart, as maintenance_seconds.
	MaintenanceCountsAsDown bool `toml:"maintenance_counts_as_down" json:"maintenance_counts_as_down"`
	// KeepRemoved is how long a monitor removed from the config keeps its
	// history (rollups, uptime spans, incidents) readable through the API;
	// 0 drops it at the next prune.
	KeepRemoved time.Duration `toml:"keep_removed" json:"keep_removed"`
}

func defaultHistory() History {
	return History{Enabled: true, KeepRemoved: DefaultKeepRemoved}
}

func (l *loader) checkHistory(h *History) {
	if h.KeepRemoved < 0 {
		l.add("history.keep_removed", "history", "keep_removed", "%s is negative (0 drops a removed monitor's history at the next prune)", result.ShortDuration(h.KeepRemoved))
	}
}
