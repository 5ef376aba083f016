package daemon

import (
	"context"
	"fmt"

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

// loadSilences reads the silences in force or to come from the store, at
// start: before anything is planned, so a restart in the middle of a
// silence stays muted.
func (d *Daemon) loadSilences(ctx context.Context) error {
	list, err := d.store.Silences(ctx, false, d.clock.Now())
	if err != nil {
		return fmt.Errorf("loading silences: %w", err)
	}
	set := silence.Set(list)
	d.sil.Store(&set)
	return nil
}

// setSilences installs set, without the silences that ended by now (the
// set's functions ignore those anyway; this only keeps it short). Call with
// d.silMu held.
func (d *Daemon) setSilences(set silence.Set) {
	live := set.Live(d.clock.Now())
	d.sil.Store(&live)
}
