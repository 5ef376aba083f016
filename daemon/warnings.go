package daemon

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/warning"
)

// A monitor runs up to three incident machines: its target's, and the
// certificate and performance warnings' (monitor/warning decides what a
// round says of each). The warnings are incidents of their own, beside the
// target's, so a monitor with a warning is still up. All of a monitor's
// machines move under m.mu, are persisted in the transaction of the round
// that moved them, and are kept in one states row (stateRow).

// resolutionWarningOff is how a warning incident ends when a reload (or the
// config a restart reads) turns its warning off for the monitor.
const resolutionWarningOff = "warning turned off"

// warningKinds are the warning machines of a monitor, in the order they are
// observed, persisted and shown (certificate first).
var warningKinds = [...]incident.Kind{incident.KindCertificate, incident.KindPerformance}

// pendingT is one transition of one of a monitor's machines: kind says
// which. machine is the one it was made on; a replay uses the monitor's
// current machine of that kind, and this one only once the warning was
// turned off (or the monitor removed) since.
type pendingT struct {
	kind    incident.Kind
	t       incident.Transition
	machine *incident.Machine
}

// quiet reports a transition with nothing durable: no event, no state change.
func (p *pendingT) quiet() bool { return len(p.t.Events) == 0 && !p.t.Changed() }

// machineOf is m's machine of kind k, nil when m has none. Call with m.mu
// held.
func (m *mon) machineOf(k incident.Kind) *incident.Machine {
	switch k {
	case incident.KindTarget:
		return m.machine
	case incident.KindCertificate:
		return m.cert
	case incident.KindPerformance:
		return m.perf
	}
	return nil
}

// setWarning installs (or, with nil, drops) m's warning machine of kind k.
// Call with m.mu held.
func (m *mon) setWarning(k incident.Kind, machine *incident.Machine) {
	switch k {
	case incident.KindCertificate:
		m.cert = machine
	case incident.KindPerformance:
		m.perf = machine
	}
}

// machineFor is the machine a kept transition is replayed on: the
// monitor's current one of its kind, or the one it was made on when the
// monitor has none now.
func (m *mon) machineFor(p *pendingT) *incident.Machine {
	if cur := m.machineOf(p.kind); cur != nil {
		return cur
	}
	return p.machine
}

// warningOn reports whether mc has the warning of kind k.
func warningOn(mc *config.Monitor, k incident.Kind) bool {
	cert, perf := warning.Enabled(mc)
	if k == incident.KindCertificate {
		return cert
	}
	return perf
}

// warningSettings are the settings of mc's warning machine of kind k.
func warningSettings(mc *config.Monitor, k incident.Kind) incident.Settings {
	if k == incident.KindCertificate {
		return warning.CertificateSettings()
	}
	return warning.PerformanceSettings(mc)
}

// stateRow is a monitor's states row once it has warning machines: their
// snapshots beside the target's. A monitor without warnings keeps the plain
// target snapshot every row held before, and restore reads both.
type stateRow struct {
	Target      json.RawMessage `json:"target"`
	Certificate json.RawMessage `json:"certificate,omitempty"`
	Performance json.RawMessage `json:"performance,omitempty"`
}

// stateBlob is what m's states row holds. Call with m.mu held.
func (m *mon) stateBlob() ([]byte, error) {
	target, err := m.machine.MarshalSnapshot()
	if err != nil {
		return nil, err
	}
	if m.cert == nil && m.perf == nil {
		return target, nil
	}
	row := stateRow{Target: target}
	if m.cert != nil {
		if row.Certificate, err = m.cert.MarshalSnapshot(); err != nil {
			return nil, err
		}
	}
	if m.perf != nil {
		if row.Performance, err = m.perf.MarshalSnapshot(); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(&row)
	if err != nil {
		return nil, fmt.Errorf("encoding the state of monitor %q: %w", m.name, err)
	}
	return b, nil
}

// splitState parses a states row: the target's snapshot, and the warning
// machines' by kind (none in a plain target snapshot). A row that is not a
// wrapper is the target's snapshot as it is, so that incident.Restore
// reports what is wrong with it.
func splitState(data []byte) (target []byte, warnings map[incident.Kind][]byte) {
	var row stateRow
	if err := json.Unmarshal(data, &row); err != nil || row.Target == nil {
		return data, nil
	}
	warnings = map[incident.Kind][]byte{}
	if row.Certificate != nil {
		warnings[incident.KindCertificate] = row.Certificate
	}
	if row.Performance != nil {
		warnings[incident.KindPerformance] = row.Performance
	}
	return row.Target, warnings
}

// restoreWarning rebuilds mc's warning machine of kind k from its stored
// snapshot. One that does not decode (or is not this monitor's of this
// kind) must not stop the monitor: it is logged and the machine starts
// fresh, and the store's open incident, which Reconcile adopts, keeps the
// incident from opening twice.
func (d *Daemon) restoreWarning(mc *config.Monitor, k incident.Kind, data []byte) (*incident.Machine, error) {
	s := warningSettings(mc, k)
	if data != nil {
		machine, err := incident.Restore(data, s)
		if err == nil {
			if snap := machine.Snapshot(); snap.Monitor == mc.Name && snap.Kind == k {
				return machine, nil
			}
			err = fmt.Errorf("it is the %s machine of %q", machine.Snapshot().Kind, machine.Monitor())
		}
		d.log.Error("warning state does not decode; the warning starts afresh from the store's open incident", "monitor", mc.Name, "kind", k, "err", err)
	}
	machine, err := incident.New(mc.Name, k, s)
	if err != nil {
		return nil, fmt.Errorf("monitor %s: %w", mc.Name, err)
	}
	return machine, nil
}

// startWarnings gives m (made from mc at start, or added by a reload) its
// warning machines, restored from snaps and reconciled with the store's open
// incidents by kind. An open incident of a warning mc has turned off is
// resolved. It returns the transitions to persist. Call before m is shared.
func (d *Daemon) startWarnings(m *mon, mc *config.Monitor, snaps map[incident.Kind][]byte, open map[incident.Kind]*incident.Incident) ([]pendingT, error) {
	var ts []pendingT
	for _, k := range warningKinds {
		stored := open[k]
		if !warningOn(mc, k) {
			if stored == nil {
				continue
			}
			machine, err := incident.New(mc.Name, k, incident.Settings{})
			if err != nil {
				return nil, fmt.Errorf("monitor %s: %w", mc.Name, err)
			}
			machine.Reconcile(stored)
			ts = append(ts, pendingT{kind: k, t: machine.Close(d.clock.Now(), resolutionWarningOff), machine: machine})
			continue
		}
		machine, err := d.restoreWarning(mc, k, snaps[k])
		if err != nil {
			return nil, err
		}
		t := machine.Reconcile(stored)
		m.setWarning(k, machine)
		ts = append(ts, pendingT{kind: k, t: t, machine: machine})
		if inc := machine.Incident(); inc != nil {
			d.log.Info("restored open warning", "monitor", mc.Name, "kind", k, "incident", inc.ID, "class", inc.Class, "detail", inc.Detail)
		}
	}
	return ts, nil
}

// observeWarnings feeds a round to m's warning machines and appends their
// transitions to ts. Call with m.mu held, after the target's machine
// observed the round.
func (d *Daemon) observeWarnings(ts []pendingT, m *mon, at time.Time, res *result.Outcome) []pendingT {
	for _, k := range warningKinds {
		machine := m.machineOf(k)
		if machine == nil {
			continue
		}
		var v warning.Verdict
		if k == incident.KindCertificate {
			v = warning.Certificate(res, m.cfg.CertWarnDays, d.clock.Now())
		} else {
			v = warning.Performance(res, m.cfg.Degraded)
		}
		t, err := machine.Observe(v.Observation(at))
		if err != nil {
			d.log.Error("observing a round's warning", "monitor", m.name, "kind", k, "err", err)
			continue
		}
		ts = append(ts, pendingT{kind: k, t: t, machine: machine})
	}
	return ts
}

// warningViews are m's open warning incidents, certificate first; empty,
// never nil. Call with m.mu held.
func (m *mon) warningViews() []incident.Incident {
	out := []incident.Incident{}
	for _, k := range warningKinds {
		if machine := m.machineOf(k); machine != nil {
			if inc := machine.Incident(); inc != nil {
				out = append(out, *inc)
			}
		}
	}
	return out
}
