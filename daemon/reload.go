package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// ReloadFile re-reads the config at path and swaps it in. An invalid file
// changes nothing: every problem is logged and the old config keeps running.
func (d *Daemon) ReloadFile(ctx context.Context, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		d.metrics.reloads.WithLabelValues("failure").Inc()
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			for _, line := range ve.Lines() {
				d.log.Error("config reload: invalid config", "error", line)
			}
		} else {
			d.log.Error("config reload: reading config", "err", err)
		}
		d.log.Error("config reload failed; still running the previous config", "file", path)
		return fmt.Errorf("reloading config: %w", err)
	}
	return d.Reload(ctx, cfg)
}

// Reload swaps in a new, already validated config. Monitors keep their
// identity by name: an unchanged one keeps its state and schedule, a changed
// one keeps its state under its new settings, a new one starts (from the
// store's state if it had one), and a removed one stops and its open
// incident resolves as "monitor removed".
func (d *Daemon) Reload(ctx context.Context, newCfg *config.Config) error {
	d.reload.Lock()
	defer d.reload.Unlock()
	if err := d.reloadLocked(ctx, newCfg); err != nil {
		d.metrics.reloads.WithLabelValues("failure").Inc()
		d.log.Error("config reload failed; still running the previous config", "err", err)
		return err
	}
	d.metrics.reloads.WithLabelValues("success").Inc()
	return nil
}

func (d *Daemon) reloadLocked(ctx context.Context, newCfg *config.Config) error {
	old := d.config()
	changes := config.Diff(old, newCfg)
	changed := make(map[string]bool, len(changes.Changed))
	for _, n := range changes.Changed {
		changed[n] = true
	}

	// Prepare everything that can fail before touching what runs.
	type update struct {
		m       *mon
		mc      *config.Monitor
		machine *incident.Machine // nil: settings unchanged
	}
	var (
		newFleet   *fleet
		swapFleets = fleetChanged(old, newCfg, changes)
	)
	// The old config's secrets stay hidden too: a send already under way
	// still uses them, and the next reload lets them go.
	d.opts.Redact.Set(redact.New(slices.Concat(old.Secrets(), newCfg.Secrets())))
	notifiers, err := d.notifiers(newCfg)
	if err != nil {
		return fmt.Errorf("reloading: %w", err)
	}
	if swapFleets {
		f, err := d.newFleet(newCfg)
		if err != nil {
			return fmt.Errorf("reloading: %w", err)
		}
		newFleet = f
	}
	single, err := d.newSingle(newCfg)
	if err != nil {
		return fmt.Errorf("reloading: %w", err)
	}
	var updates []update
	added := make(map[string]*mon)
	entries := d.entries(newCfg)
	for i := range newCfg.Monitors {
		mc := &newCfg.Monitors[i]
		if m := d.lookup(mc.Name); m != nil {
			u := update{m: m, mc: mc}
			if changed[mc.Name] {
				m.mu.Lock()
				snap := m.machine.Snapshot()
				m.mu.Unlock()
				machine, err := incident.FromSnapshot(snap, settingsOf(mc))
				if err != nil {
					return fmt.Errorf("reloading monitor %s: %w", mc.Name, err)
				}
				u.machine = machine
				for _, k := range warningKinds {
					if !warningOn(mc, k) {
						continue
					}
					if _, err := incident.New(mc.Name, k, warningSettings(mc, k)); err != nil {
						return fmt.Errorf("reloading monitor %s: %w", mc.Name, err)
					}
				}
			}
			updates = append(updates, u)
			continue
		}
		m, err := d.startMonitor(ctx, mc)
		if err != nil {
			return fmt.Errorf("reloading: starting monitor %s: %w", mc.Name, err)
		}
		added[mc.Name] = m
	}

	for _, u := range updates {
		u.m.mu.Lock()
		if u.machine != nil {
			// Rebuilt from a snapshot taken a moment ago; a round that
			// settled since then is carried over by re-snapshotting now.
			if fresh, err := incident.FromSnapshot(u.m.machine.Snapshot(), settingsOf(u.mc)); err == nil {
				u.machine = fresh
			}
			u.m.machine = u.machine
			if ts := d.reconfigureWarnings(u.m, u.mc); len(ts) > 0 {
				// The old config routes the RESOLVED of a warning turned
				// off: it goes to whoever was told it opened.
				if err := d.commit(ctx, u.m, nil, ts); err != nil && !d.storeDown() {
					d.log.Error("config reload: resolving a warning turned off: the store did not take it; its RESOLVED goes out from memory", "monitor", u.m.name, "err", err)
				}
				d.logWarningsClosed(u.m.name, ts)
			}
			u.m.publish()
		}
		u.m.setConfig(u.mc)
		u.m.mu.Unlock()
	}
	var removed []*mon
	d.mu.Lock()
	for name, m := range d.monitors {
		if newCfg.Monitor(name) == nil {
			removed = append(removed, m)
			delete(d.monitors, name)
		}
	}
	for name, m := range added {
		d.monitors[name] = m
	}
	d.cfg = newCfg
	d.mu.Unlock()
	d.single.Store(single)
	d.outbox.SetNotifiers(notifiers)
	d.setListeners(notifiers)

	if swapFleets {
		d.swapFleet(ctx, newFleet)
	}
	if _, err := d.sched.Sync(entries); err != nil {
		// entries were built from a validated config; log rather than
		// leave the swap half done.
		d.log.Error("config reload: updating the schedule", "err", err)
	}
	removedNames := make([]string, 0, len(removed))
	for _, m := range removed {
		d.retire(ctx, m)
		removedNames = append(removedNames, m.name)
	}
	if err := d.syncHistory(ctx, newCfg, removedNames, d.clock.Now()); err != nil {
		// History of the removed monitors reads as measured a while longer;
		// nothing else depends on it.
		d.log.Warn("config reload: updating history", "err", err)
	}
	d.kickOutbox()
	d.log.Info("config reloaded", "file", newCfg.File, "changes", changes.String())
	if d.opts.OnReload != nil {
		d.opts.OnReload(newCfg)
	}
	return nil
}

// startMonitor makes a monitor added by a reload. A monitor that was in
// the store before (re-added, or its removal could not be written) resumes
// from its stored state, reconciled like at start.
func (d *Daemon) startMonitor(ctx context.Context, mc *config.Monitor) (*mon, error) {
	snap, ok, err := d.store.State(ctx, mc.Name)
	if err != nil {
		return nil, err
	}
	var (
		machine *incident.Machine
		snaps   map[incident.Kind][]byte
	)
	if ok {
		var target []byte
		target, snaps = splitState(snap.Data)
		machine, err = incident.Restore(target, settingsOf(mc))
	} else {
		machine, err = incident.New(mc.Name, incident.KindTarget, settingsOf(mc))
	}
	if err != nil {
		return nil, err
	}
	open := map[incident.Kind]*incident.Incident{}
	for _, k := range append([]incident.Kind{incident.KindTarget}, warningKinds[:]...) {
		stored, found, err := d.store.OpenIncidentFor(ctx, mc.Name, k)
		if err != nil {
			return nil, err
		}
		if found {
			open[k] = &stored
		}
	}
	t := machine.Reconcile(open[incident.KindTarget])
	m := d.newMon(mc, machine)
	ws, err := d.startWarnings(m, mc, snaps, open)
	if err != nil {
		return nil, err
	}
	ts := append([]pendingT{{kind: incident.KindTarget, t: t, machine: machine}}, ws...)
	write := len(open) > 0
	for i := range ts {
		write = write || len(ts[i].t.Events) > 0
	}
	if write {
		err := d.write(ctx, func(tx *store.Tx) error {
			for i := range ts {
				if err := d.persistEvents(ctx, tx, ts[i].machine, &ts[i].t); err != nil {
					return err
				}
			}
			return saveState(ctx, tx, m)
		})
		if err != nil {
			return nil, err
		}
	}
	m.publish()
	return m, nil
}

// retire stops a removed monitor: its open incidents (target and
// warnings) resolve as "monitor removed" and its state is forgotten. If the
// write fails the RESOLVED goes out from memory, and the store gets it when
// it writes again (PersistUnsaved); a restart before that retires it from
// the store.
func (d *Daemon) retire(ctx context.Context, m *mon) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removed = true
	now := d.clock.Now()
	ts := []pendingT{{kind: incident.KindTarget, t: m.machine.Remove(now), machine: m.machine}}
	for _, k := range warningKinds {
		if w := m.machineOf(k); w != nil {
			ts = append(ts, pendingT{kind: k, t: w.Remove(now), machine: w})
		}
	}
	// Its earlier rounds, if they wait in memory, go first, in order.
	if err := d.commit(ctx, m, nil, ts); err != nil {
		d.retiring.add(m)
		d.log.Error("retiring a removed monitor: the store did not take it; its RESOLVED goes out from memory", "monitor", m.name, "err", err)
	} else if e := ts[0].t.Find(incident.EventResolved); e != nil {
		d.log.Info("monitor removed", "monitor", m.name, "incident", e.Incident.ID, "resolution", e.Incident.Resolution)
	} else {
		d.log.Info("monitor removed", "monitor", m.name)
	}
	d.logWarningsClosed(m.name, ts)
	m.publish()
	d.metrics.forget(m.name)
}

// reconfigureWarnings applies mc, a changed config of m, to m's warning
// machines: a warning turned on starts fresh, one turned off resolves its
// open incident ("warning turned off"), and one that stays on takes mc's
// settings, keeping its state. It returns the transitions of the warnings
// turned off, to persist. Call with m.mu held.
func (d *Daemon) reconfigureWarnings(m *mon, mc *config.Monitor) []pendingT {
	var ts []pendingT
	for _, k := range warningKinds {
		cur, on := m.machineOf(k), warningOn(mc, k)
		switch {
		case cur == nil && on:
			fresh, err := incident.New(mc.Name, k, warningSettings(mc, k))
			if err != nil { // validated before the swap
				d.log.Error("config reload: starting a warning", "monitor", mc.Name, "kind", k, "err", err)
				continue
			}
			m.setWarning(k, fresh)
		case cur != nil && !on:
			ts = append(ts, pendingT{kind: k, t: cur.Close(d.clock.Now(), resolutionWarningOff), machine: cur})
			m.setWarning(k, nil)
		case cur != nil:
			rebuilt, err := incident.FromSnapshot(cur.Snapshot(), warningSettings(mc, k))
			if err != nil {
				d.log.Error("config reload: the warning keeps its previous settings", "monitor", mc.Name, "kind", k, "err", err)
				continue
			}
			m.setWarning(k, rebuilt)
		}
	}
	return ts
}

// logWarningsClosed logs the warning incidents a reload or a removal
// resolved.
func (d *Daemon) logWarningsClosed(name string, ts []pendingT) {
	for i := range ts {
		if ts[i].kind == incident.KindTarget {
			continue
		}
		if e := ts[i].t.Find(incident.EventResolved); e != nil {
			d.log.Info("warning resolved", "monitor", name, "kind", ts[i].kind, "incident", e.Incident.ID, "resolution", e.Incident.Resolution)
		}
	}
}
