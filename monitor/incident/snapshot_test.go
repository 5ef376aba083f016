package incident

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestSnapshotRoundTrip(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, _ = play(t, m, Settings{}, "F F O O F F O O F F T O")
	m.SetIncidentID(9)
	blob, err := m.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(blob, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := r.MarshalSnapshot()
	if string(again) != string(blob) {
		t.Errorf("snapshot changed across restore:\n%s\n%s", blob, again)
	}
	if r.State() != StateRecovering || !r.Flapping() || r.Incident().ID != 9 || len(r.Incident().Changes) != 2 {
		t.Errorf("restored: state %s flapping %v incident %+v", r.State(), r.Flapping(), r.Incident())
	}
	// The store's blob is JSON a person can read in an emergency.
	var generic map[string]any
	if err := json.Unmarshal(blob, &generic); err != nil || generic["state"] != "recovering" || generic["version"] != float64(1) {
		t.Errorf("snapshot JSON %s", blob)
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, _ = play(t, m, Settings{}, "F F")
	good := m.Snapshot()
	edit := func(f func(*Snapshot)) []byte {
		s := good
		inc := *good.Incident
		s.Incident = &inc
		f(&s)
		b, _ := json.Marshal(s)
		return b
	}
	tests := []struct {
		name string
		blob []byte
		want string
	}{
		{"not JSON", []byte("{\"state\":"), "decoding snapshot"},
		{"empty", nil, "decoding snapshot"},
		{"future version", edit(func(s *Snapshot) { s.Version = 2 }), "snapshot version 2"},
		{"unknown state", edit(func(s *Snapshot) { s.State = "sideways" }), `unknown state "sideways"`},
		{"down without incident", edit(func(s *Snapshot) { s.Incident = nil }), "state down without an open incident"},
		{"resolved incident", edit(func(s *Snapshot) { s.Incident.ResolvedAt = result.TimeOf(t0) }), "already resolved"},
		{"someone else's incident", edit(func(s *Snapshot) { s.Incident.Monitor = "blog" }), "another monitor"},
		{"no monitor", edit(func(s *Snapshot) { s.Monitor = "" }), "empty monitor name"},
		{"negative streak", edit(func(s *Snapshot) { s.Fails = -1 }), "negative streak"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Restore(tc.blob, Settings{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Restore(edit(func(*Snapshot) {}), Settings{Confirm: -1}); err == nil {
		t.Error("restore under bad settings: no error")
	}
}

// The daemon stores the incident and saves the snapshot in two steps; a
// kill -9 between them must still leave exactly one incident per outage.
func TestReconcile(t *testing.T) {
	opened := func(t *testing.T) (*Machine, Snapshot) {
		m, _ := New("shop", KindTarget, Settings{})
		m, _, _ = play(t, m, Settings{}, "F")
		before := m.Snapshot() // failing, no incident: the snapshot before the open
		m.Observe(Observation{At: t0.Add(time.Hour), Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}})
		return m, before
	}

	t.Run("stored but the snapshot predates it: adopt, never reopen", func(t *testing.T) {
		m, before := opened(t)
		stored := m.Incident()
		stored.ID = 5
		r, err := FromSnapshot(before, Settings{})
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Reconcile(stored)
		if len(tr.Events) != 0 || r.State() != StateDown || r.Incident().ID != 5 {
			t.Fatalf("events %v state %s incident %+v", eventList(tr.Events), r.State(), r.Incident())
		}
		tr, _ = r.Observe(Observation{At: t0.Add(2 * time.Hour), Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}})
		if tr.Find(EventOpened) != nil {
			t.Error("opened a second incident")
		}
		r.Observe(Observation{At: t0.Add(3 * time.Hour), Result: result.Outcome{Result: result.Result{OK: true}}})
		tr, _ = r.Observe(Observation{At: t0.Add(4 * time.Hour), Result: result.Outcome{Result: result.Result{OK: true}}})
		if e := tr.Find(EventResolved); e == nil || e.Incident.ID != 5 {
			t.Errorf("recovery did not resolve incident 5: %+v", tr.Events)
		}
	})

	t.Run("snapshot holds an incident the store never got: open it again", func(t *testing.T) {
		m, _ := opened(t)
		r, _ := FromSnapshot(m.Snapshot(), Settings{})
		tr := r.Reconcile(nil)
		e := tr.Find(EventOpened)
		if e == nil || e.Incident.Key() != m.Incident().Key() || e.Result == nil {
			t.Fatalf("events %+v", tr.Events)
		}
	})

	t.Run("same incident, ID never saved: keep the machine's, take the ID", func(t *testing.T) {
		m, _ := opened(t)
		stored := m.Incident()
		stored.ID = 8
		m.Observe(Observation{At: t0.Add(2 * time.Hour), Result: result.Outcome{Result: result.Result{Class: result.ClassTimeout}}})
		tr := m.Reconcile(stored)
		inc := m.Incident()
		if len(tr.Events) != 0 || inc.ID != 8 || inc.Class != result.ClassTimeout || len(inc.Changes) != 1 {
			t.Errorf("events %v incident %+v", eventList(tr.Events), inc)
		}
	})

	t.Run("store resolved it meanwhile: the store wins", func(t *testing.T) {
		m, _ := opened(t)
		m.SetIncidentID(3)
		tr := m.Reconcile(nil)
		if len(tr.Events) != 0 || m.Incident() != nil || m.State() != StateUp {
			t.Errorf("events %v state %s incident %+v", eventList(tr.Events), m.State(), m.Incident())
		}
	})

	t.Run("agreeing store and snapshot: nothing", func(t *testing.T) {
		m, _ := opened(t)
		m.SetIncidentID(4)
		stored := m.Incident()
		before, _ := m.MarshalSnapshot()
		tr := m.Reconcile(stored)
		after, _ := m.MarshalSnapshot()
		if len(tr.Events) != 0 || string(before) != string(after) {
			t.Errorf("events %v\n%s\n%s", eventList(tr.Events), before, after)
		}
	})

	t.Run("a resolved incident from the store is ignored", func(t *testing.T) {
		m, _ := New("shop", KindTarget, Settings{})
		old := &Incident{ID: 1, Monitor: "shop", Kind: KindTarget, OpenedAt: result.TimeOf(t0), ResolvedAt: result.TimeOf(t0.Add(time.Minute))}
		m.Reconcile(old)
		if m.Incident() != nil || m.State() != StateUp {
			t.Errorf("adopted a resolved incident")
		}
	})
}
