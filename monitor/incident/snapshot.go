package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SnapshotVersion is the version of the Snapshot layout. Restore refuses
// others rather than guess, so a downgrade cannot silently reset a machine.
const SnapshotVersion = 1

// Snapshot is a machine's whole state, for the store to keep as an opaque
// JSON blob. Settings are not part of it: they come from the config, which
// may have changed across the restart.
type Snapshot struct {
	Version    int         `json:"version"`
	Monitor    string      `json:"monitor"`
	Kind       Kind        `json:"kind"`
	State      State       `json:"state"`
	Fails      int         `json:"fails,omitempty"`
	Goods      int         `json:"goods,omitempty"`
	FirstFail  time.Time   `json:"first_fail,omitzero"`
	LastFail   *failure    `json:"last_fail,omitempty"`
	Incident   *Incident   `json:"incident,omitempty"`
	Flapping   bool        `json:"flapping,omitempty"`
	FlapSince  time.Time   `json:"flap_since,omitzero"`
	Changes    []time.Time `json:"changes,omitempty"`
	LastChange time.Time   `json:"last_change,omitzero"`
	LastAt     time.Time   `json:"last_at,omitzero"`
}

// Snapshot returns a copy of the machine's state.
func (m *Machine) Snapshot() Snapshot {
	s := Snapshot{
		Version: SnapshotVersion, Monitor: m.monitor, Kind: m.kind, State: m.state,
		Fails: m.fails, Goods: m.goods, FirstFail: m.firstFail,
		Incident: m.incident.clone(), Flapping: m.flapping, FlapSince: m.flapSince,
		LastChange: m.lastChange, LastAt: m.lastAt,
	}
	if m.changes != nil {
		s.Changes = append([]time.Time(nil), m.changes...)
	}
	if m.lastFail != nil {
		f := *m.lastFail
		f.Result = *cloneResult(&m.lastFail.Result)
		f.Regions = cloneStrings(m.lastFail.Regions)
		s.LastFail = &f
	}
	return s
}

// MarshalSnapshot is the snapshot as the JSON blob the store keeps.
func (m *Machine) MarshalSnapshot() ([]byte, error) {
	b, err := json.Marshal(m.Snapshot())
	if err != nil {
		return nil, fmt.Errorf("encoding incident machine of %q: %w", m.monitor, err)
	}
	return b, nil
}

// Restore rebuilds a machine from a blob written by MarshalSnapshot, under
// the settings now in force. A blob that cannot be trusted is an error, never
// a fresh machine: a silent reset would open a second incident for an outage
// that already has one.
func Restore(data []byte, s Settings) (*Machine, error) {
	var snap Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("restoring incident machine: decoding snapshot: %w", err)
	}
	return FromSnapshot(snap, s)
}

// FromSnapshot rebuilds a machine from a Snapshot value.
func FromSnapshot(snap Snapshot, s Settings) (*Machine, error) {
	if snap.Version != SnapshotVersion {
		return nil, fmt.Errorf("restoring incident machine of %q: snapshot version %d, want %d", snap.Monitor, snap.Version, SnapshotVersion)
	}
	m, err := New(snap.Monitor, snap.Kind, s)
	if err != nil {
		return nil, fmt.Errorf("restoring incident machine: %w", err)
	}
	if err := snap.check(); err != nil {
		return nil, fmt.Errorf("restoring incident machine of %q: %w", snap.Monitor, err)
	}
	m.state = snap.State
	m.fails, m.goods = snap.Fails, snap.Goods
	m.firstFail = snap.FirstFail
	m.incident = snap.Incident.clone()
	m.flapping, m.flapSince = snap.Flapping, snap.FlapSince
	m.lastChange, m.lastAt = snap.LastChange, snap.LastAt
	if snap.Changes != nil {
		m.changes = append([]time.Time(nil), snap.Changes...)
	}
	if snap.LastFail != nil {
		f := *snap.LastFail
		f.Result = *cloneResult(&snap.LastFail.Result)
		f.Regions = cloneStrings(snap.LastFail.Regions)
		m.lastFail = &f
	}
	return m, nil
}

func (snap *Snapshot) check() error {
	var errs []error
	switch snap.State {
	case StateUp, StateFailing, StateDown, StateRecovering:
	default:
		errs = append(errs, fmt.Errorf("unknown state %q", snap.State))
	}
	if snap.Fails < 0 || snap.Goods < 0 {
		errs = append(errs, fmt.Errorf("negative streak (fails %d, goods %d)", snap.Fails, snap.Goods))
	}
	if inc := snap.Incident; inc != nil {
		if !inc.Open() {
			errs = append(errs, fmt.Errorf("holds incident %s that is already resolved", inc.Key()))
		}
		if inc.Monitor != snap.Monitor || inc.Kind != snap.Kind {
			errs = append(errs, fmt.Errorf("holds incident %s of another monitor", inc.Key()))
		}
	}
	if (snap.State == StateDown || snap.State == StateRecovering) && snap.Incident == nil {
		errs = append(errs, fmt.Errorf("state %s without an open incident", snap.State))
	}
	if snap.Flapping && snap.Incident == nil {
		errs = append(errs, errors.New("flapping without an open incident"))
	}
	return errors.Join(errs...)
}

// Reconcile squares the restored machine with what the store says, after a
// restart. stored is the store's open incident for this monitor, or nil.
// The daemon saves the incident and the snapshot in two steps, and a kill -9
// can fall between them; either way an outage must keep exactly one incident:
//
//   - the store has an open incident the machine does not know (it died
//     after storing the incident, before saving the snapshot): the machine
//     adopts it and counts as down, so it never opens a second one;
//   - the machine holds an incident the store never got (ID 0, and the store
//     has none open): the Opened event is issued again for the daemon to
//     store and notify (the notifier's idempotency key is the same);
//   - the machine holds an incident the store has since resolved or lost
//     (ID set, the store has none open): the store wins, the machine drops
//     it and goes back to up, and a failure that goes on opens a new one.
func (m *Machine) Reconcile(stored *Incident) Transition {
	t := Transition{At: m.lastAt, From: m.state, To: m.state, Flapping: m.flapping}
	if stored != nil && !stored.Open() {
		stored = nil
	}
	switch {
	case stored != nil && m.incident != nil:
		switch {
		case m.incident.ID == stored.ID || m.incident.ID == 0 && m.incident.Key() == stored.Key():
			// The same incident; the machine's copy may hold later changes,
			// and the store an ack the snapshot missed (a kill -9 between
			// the two writes).
			m.incident.ID = stored.ID
			if m.incident.Ack == nil && stored.Ack != nil {
				a := *stored.Ack
				m.incident.Ack = &a
			}
		default:
			// Another incident: the store's is the one notifications and
			// the API already refer to.
			m.incident = stored.clone()
			m.incident.Monitor, m.incident.Kind = m.monitor, m.kind
		}
	case stored != nil:
		m.incident = stored.clone()
		m.incident.Monitor, m.incident.Kind = m.monitor, m.kind
		m.fails, m.goods = 0, 0
		if m.state != StateRecovering {
			m.state = StateDown
		}
	case m.incident != nil && m.incident.ID == 0:
		t.add(Event{Kind: EventOpened})
	case m.incident != nil:
		m.incident = nil
		m.state = StateUp
		m.fails, m.goods = 0, 0
		m.flapping, m.flapSince = false, time.Time{}
	}
	t.To = m.state
	t.Flapping = m.flapping
	m.stamp(&t, &Observation{})
	for i := range t.Events {
		t.Events[i].Result = cloneResult(m.incident.Last)
	}
	return t
}
