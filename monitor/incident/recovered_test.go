package incident

import (
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// latest is the incident as the last event of evs left it (nil when no
// event carried one): what the daemon last stored.
func latest(evs []Event) *Incident {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Incident != nil {
			return evs[i].Incident
		}
	}
	return nil
}

// rounds is the time of the n-th round of a sequence played by play (the
// first round is 1).
func rounds(n int) time.Time { return t0.Add(time.Duration(n) * round) }

// RecoveredAt is where an incident's downtime ends (monitor/history.Downtime):
// the first good round after the last failed one, unset by a failure,
// untouched by rounds that do not vote, and kept on the resolved incident.
func TestRecoveredAt(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
		seq      string
		// recovered is the round RecoveredAt must name, 0 for unset.
		recovered int
		resolved  bool
	}{
		{"still failing: unset", Settings{}, "F F F", 0, false},
		{"first good round sets it", Settings{}, "F F O", 3, false},
		{"a failure while recovering clears it", Settings{}, "F F O F", 0, false},
		{"the good round after the relapse sets it again", Settings{}, "F F O F O", 5, false},
		{"no-vote rounds keep it", Settings{}, "F F O N J U", 3, false},
		{"no-vote rounds while down do not set it", Settings{}, "F F N J U", 0, false},
		{"the resolved incident carries it: the first good round, not the resolving one", Settings{}, "F F F F O O", 5, true},
		{"no-vote rounds inside the recovery do not move it", Settings{}, "F F O N O", 3, true},
		{"relapse, then recovery: the good round after the last failure", Settings{}, "F F O F O O", 5, true},
		{"recover 1: the resolving round is the recovering one", Settings{Recover: 1}, "F F O", 3, true},
		{"recover 3", Settings{Recover: 3}, "F F O O O", 3, true},
		{"a restart keeps it", Settings{}, "F F O R O", 3, true},
		{"a restart while down, then recovery", Settings{}, "F F R F O O", 4, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New("shop", KindTarget, tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			m, _, evs := play(t, m, tc.settings, tc.seq)
			// Open, the machine's copy is the one the snapshot and the
			// next event hold (a round into recovery has no event);
			// resolved, the Resolved event's is the one the store keeps.
			inc := m.Incident()
			if tc.resolved {
				if inc != nil {
					t.Fatalf("%q: still open: %+v", tc.seq, inc)
				}
				inc = lastOf(t, evs, EventResolved).Incident
			} else if inc == nil {
				t.Fatalf("%q: no open incident", tc.seq)
			}
			var want time.Time
			if tc.recovered > 0 {
				want = rounds(tc.recovered)
			}
			if !inc.RecoveredAt.Equal(want) {
				t.Errorf("%q: RecoveredAt %v, want %v", tc.seq, inc.RecoveredAt, want)
			}
		})
	}
}

// A flapping incident from blips opens on a failed round, with its downtime
// still running; the good round after it ends the downtime.
func TestRecoveredAtOfFlappingIncidentFromBlips(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, evs := play(t, m, Settings{}, "F O F O F O T O")
	inc := lastOf(t, evs, EventOpened).Incident
	if !inc.Flapping || !inc.OpenedAt.Equal(rounds(7)) || !inc.RecoveredAt.IsZero() {
		t.Fatalf("want a flapping incident opened at round 7 (%v), still failing; got flapping %v, opened %v, recovered %v",
			rounds(7), inc.Flapping, inc.OpenedAt, inc.RecoveredAt)
	}
	if held := m.Incident(); !held.RecoveredAt.Equal(rounds(8)) {
		t.Errorf("recovered %v, want round 8 (%v)", held.RecoveredAt, rounds(8))
	}
}

// A flapping incident that opens on a good round is already past its
// failure: its downtime ends at that very round. Flap detection counts the
// changes within its window, so the one that tips it over can be a good
// round once an old change has left the window.
func TestRecoveredAtOfFlappingIncidentOpenedByGoodRound(t *testing.T) {
	s := Settings{RetryDelay: -1, FlapChanges: 2}
	m, _ := New("shop", KindTarget, s)
	steps := []struct {
		tok string
		at  time.Time
	}{
		{"F", t0},                       // up → failing
		{"O", t0.Add(5 * time.Minute)},  // → up
		{"F", t0.Add(30 * time.Minute)}, // → failing; the first change has left the window: 2 changes
		{"O", t0.Add(30*time.Minute + round)},
	}
	var evs []Event
	for _, st := range steps {
		o, _ := observation(st.tok, st.at)
		tr, err := m.Observe(o)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, tr.Events...)
	}
	inc := lastOf(t, evs, EventOpened).Incident
	last := steps[len(steps)-1].at
	if !inc.Flapping || !inc.OpenedAt.Equal(last) {
		t.Fatalf("want a flapping incident opened by the last, good round (%v); got %+v", last, inc)
	}
	if !inc.RecoveredAt.Equal(last) || !inc.FirstFailure.Equal(steps[2].at) {
		t.Errorf("first failure %v, recovered %v; want %v and %v", inc.FirstFailure, inc.RecoveredAt, steps[2].at, last)
	}
}

// While flapping, every failure clears RecoveredAt and the good round after
// it sets it again, so the flapping incident's downtime reaches the end of
// its last failure, however long ago it opened.
func TestRecoveredAtWhileFlapping(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	// Rounds 5 and 6 open the second incident, round 7 starts flapping;
	// the last failure is round 14.
	m, _, evs := play(t, m, Settings{}, "F F O O F F O O F F O O F F O O")
	inc := latest(evs)
	if inc == nil || !inc.Flapping || !inc.Open() {
		t.Fatalf("want an open flapping incident, got %+v", inc)
	}
	held := m.Incident()
	if !held.RecoveredAt.Equal(rounds(15)) || !held.FirstFailure.Equal(rounds(5)) {
		t.Errorf("first failure %v, recovered %v; want round 5 (%v) and round 15 (%v)",
			held.FirstFailure, held.RecoveredAt, rounds(5), rounds(15))
	}
	o, _ := observation("F", rounds(17))
	if _, err := m.Observe(o); err != nil {
		t.Fatal(err)
	}
	if held := m.Incident(); !held.RecoveredAt.IsZero() {
		t.Errorf("a failure while flapping kept RecoveredAt %v", held.RecoveredAt)
	}
}

// Removing the monitor resolves the incident without a recovery: RecoveredAt
// stays unset and the downtime ends with the resolution.
func TestRecoveredAtOnRemove(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, _ = play(t, m, Settings{}, "F F")
	tr := m.Remove(rounds(3))
	e := tr.Find(EventResolved)
	if e == nil {
		t.Fatalf("remove: %s", eventList(tr.Events))
	}
	if !e.Incident.RecoveredAt.IsZero() || !e.Incident.ResolvedAt.Equal(rounds(3)) {
		t.Errorf("removed: recovered %v, resolved %v; want unset and %v", e.Incident.RecoveredAt, e.Incident.ResolvedAt, rounds(3))
	}
}

// OpenScope is the scope the incident opened with; Scope and the changes
// move on without it, so history can tell the partial part of an outage
// from the part that was down for everyone.
func TestOpenScope(t *testing.T) {
	tests := []struct {
		name      string
		seq       string
		openScope result.Scope
		scope     result.Scope
		// changes are the scopes of the incident's changes, in order.
		changes []result.Scope
	}{
		{"opened partial", "P P", result.ScopePartial, result.ScopePartial, nil},
		{"partial, then everyone", "P P E", result.ScopePartial, result.ScopeEveryone, []result.Scope{result.ScopeEveryone}},
		{"everyone, then partial", "E E P", result.ScopeEveryone, result.ScopePartial, []result.Scope{result.ScopePartial}},
		{"back and forth", "P P E P", result.ScopePartial, result.ScopePartial, []result.Scope{result.ScopeEveryone, result.ScopePartial}},
		{"kept on the resolved incident", "P P E O O", result.ScopePartial, result.ScopeEveryone, []result.Scope{result.ScopeEveryone}},
		{"kept across a restart", "P P R E", result.ScopePartial, result.ScopeEveryone, []result.Scope{result.ScopeEveryone}},
		{"no vantages: empty", "F F T", "", "", []result.Scope{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := New("shop", KindTarget, Settings{})
			_, _, evs := play(t, m, Settings{}, tc.seq)
			inc := latest(evs)
			if inc == nil {
				t.Fatalf("%q: no incident", tc.seq)
			}
			if inc.OpenScope != tc.openScope || inc.Scope != tc.scope {
				t.Errorf("%q: open scope %q, scope %q; want %q, %q", tc.seq, inc.OpenScope, inc.Scope, tc.openScope, tc.scope)
			}
			var got []result.Scope
			for _, c := range inc.Changes {
				got = append(got, c.Scope)
			}
			if len(got) != len(tc.changes) {
				t.Fatalf("%q: change scopes %q, want %q", tc.seq, got, tc.changes)
			}
			for i := range got {
				if got[i] != tc.changes[i] {
					t.Errorf("%q: change scopes %q, want %q", tc.seq, got, tc.changes)
					break
				}
			}
			if opened := lastOf(t, evs, EventOpened).Incident; opened.OpenScope != tc.openScope {
				t.Errorf("%q: opened with OpenScope %q, want %q", tc.seq, opened.OpenScope, tc.openScope)
			}
		})
	}
}
