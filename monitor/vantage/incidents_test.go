package vantage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// fakeFleet is a fleet whose health the test sets.
type fakeFleet struct {
	snap   Snapshot
	proven map[string]bool
}

func (f *fakeFleet) Health() Snapshot       { return f.snap }
func (f *fakeFleet) Proven(h Health) bool   { return f.proven[h.Name] }
func (f *fakeFleet) URL(name string) string { return "https://" + name + ".example/" }

// fakeCommitter records what Incidents hands it, and fails while err is set.
type fakeCommitter struct {
	err    error
	nextID int64
	events []string          // "name:kind", committed
	how    map[string]string // name -> how its last committed incident resolved
	kept   []string          // "name:kind", kept after a failed commit
	keptAs []error
}

func (c *fakeCommitter) Commit(_ context.Context, ch IncidentChange) error {
	if c.err != nil {
		return c.err
	}
	for _, e := range ch.Transition.Events {
		if e.Kind == incident.EventOpened {
			c.nextID++
			ch.Machine.SetIncidentID(c.nextID)
		}
		c.events = append(c.events, ch.Name+":"+string(e.Kind))
		if e.Kind == incident.EventResolved {
			c.how[ch.Name] = e.Incident.Resolution
		}
	}
	return nil
}

func (c *fakeCommitter) Keep(_ context.Context, ch IncidentChange, err error) {
	for _, e := range ch.Transition.Events {
		c.kept = append(c.kept, ch.Name+":"+string(e.Kind))
	}
	c.keptAs = append(c.keptAs, err)
}

func health(name string, st State, why string) Health {
	return Health{Name: name, State: st, Error: why}
}

func TestIncidentsCommitEachChangeAndKeepWhatFails(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fl := &fakeFleet{snap: Snapshot{Vantages: []Health{
		health(result.LocalVantage, Healthy, ""),
		health("fra1", Unreachable, "dial tcp: connection refused"),
		health("iad1", Healthy, ""),
	}}}
	var fleet Fleet = fl
	c := &fakeCommitter{how: map[string]string{}}
	in := NewIncidents(IncidentsOptions{Committer: c, Fleet: func() Fleet { return fleet }, Now: func() time.Time { return now }})
	ctx := context.Background()

	// An unreachable vantage opens one warning incident, committed.
	in.Sync(ctx)
	if want := []string{"fra1:opened"}; !slices.Equal(c.events, want) {
		t.Fatalf("committed %v, want %v", c.events, want)
	}
	inc := in.Open("fra1")
	if inc == nil || inc.ID != 1 || inc.Kind != incident.KindVantage || inc.Severity != incident.SeverityWarning ||
		!strings.Contains(inc.Detail, "vantage fra1 is unreachable") {
		t.Fatalf("fra1's incident %+v", inc)
	}
	if got := in.Stored(); len(got) != 1 || got[0].Monitor != "fra1" {
		t.Fatalf("stored incidents %+v, want fra1's", got)
	}
	in.Sync(ctx) // nothing changed: nothing to commit
	if len(c.events) != 1 {
		t.Fatalf("a second sync committed %v", c.events)
	}

	// The committer cannot write: the change is handed to Keep with the
	// error, and the incident stays open in memory, not stored.
	boom := errors.New("disk full")
	c.err = boom
	fl.snap.Vantages[2] = health("iad1", Impaired, "canary failed")
	in.Sync(ctx)
	if want := []string{"iad1:opened"}; !slices.Equal(c.kept, want) || !errors.Is(c.keptAs[0], boom) {
		t.Fatalf("kept %v (%v), want %v with the commit's error", c.kept, c.keptAs, want)
	}
	if inc := in.Open("iad1"); inc == nil || inc.ID != 0 {
		t.Fatalf("iad1's incident %+v, want open in memory without an ID", inc)
	}
	c.err = nil

	// This host is cut off: the notice speaks for every vantage, and
	// what was open on the way there closes as covered by it.
	fl.snap = Snapshot{Isolated: true, Vantages: []Health{
		health(result.LocalVantage, Impaired, "canary failed"),
		health("fra1", Unreachable, "timeout"),
		health("iad1", Unreachable, "timeout"),
	}}
	c.events = nil
	in.Sync(ctx)
	if want := []string{"fra1:resolved", "iad1:resolved", incident.IsolationIncident + ":opened"}; !slices.Equal(c.events, want) {
		t.Fatalf("committed %v, want %v", c.events, want)
	}
	if c.how["fra1"] != incident.ResolutionIsolated || c.how["iad1"] != incident.ResolutionIsolated {
		t.Fatalf("resolutions %v, want both %q", c.how, incident.ResolutionIsolated)
	}
	if in.Open("fra1") != nil || in.Open("iad1") != nil || in.Open(incident.IsolationIncident) == nil {
		t.Fatalf("open after isolation: fra1 %v, iad1 %v, notice %v", in.Open("fra1"), in.Open("iad1"), in.Open(incident.IsolationIncident))
	}

	// A restart adopts the open notice and, with the vantages gone from
	// the config, resolves it as removed.
	again := NewIncidents(IncidentsOptions{Committer: c, Fleet: func() Fleet { return nil }, Now: func() time.Time { return now }})
	if err := again.Restore([]incident.Incident{*in.Open(incident.IsolationIncident), {Monitor: "shop", Kind: incident.KindTarget}}); err != nil {
		t.Fatal(err)
	}
	if again.Open("shop") != nil {
		t.Fatal("Restore adopted a target incident")
	}
	c.events = nil
	again.Sync(ctx)
	if want := []string{incident.IsolationIncident + ":resolved"}; !slices.Equal(c.events, want) || again.Open(incident.IsolationIncident) != nil ||
		c.how[incident.IsolationIncident] != incident.ResolutionRemoved {
		t.Fatalf("committed %v (resolutions %v), want %v, removed", c.events, c.how, want)
	}
}
