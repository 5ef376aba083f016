package daemon

import (
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// silences is the set of silences notifications are planned with: those
// in force and those still to come, as the store last had them.
func (d *Daemon) silences() silence.Set {
	if s := d.sil.Load(); s != nil {
		return *s
	}
	return nil
}
