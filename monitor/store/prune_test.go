package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestPruneKeepsNewestPerMonitor(t *testing.T) {
	clk := newClock()
	// PruneBatch smaller than one monitor's excess, so batching is exercised.
	s, _ := openTest(t, clk, Options{KeepResults: 3, PruneBatch: 4})
	ctx := context.Background()
	base := clk.Now()
	var rows []ResultRow
	for _, m := range []string{"a", "b", "c"} {
		for i := range 10 {
			rows = append(rows, ResultRow{Monitor: m, At: base.Add(time.Duration(i) * time.Second),
				Result: sampleResult(true, result.ClassOK, 200, base)})
		}
	}
	rows = append(rows, ResultRow{Monitor: "a", Vantage: "fra1", At: base, Result: sampleResult(true, result.ClassOK, 200, base)})
	rows = append(rows, ResultRow{Monitor: "d", At: base, Result: sampleResult(true, result.ClassOK, 200, base)})
	if err := s.RecordResults(ctx, rows); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Results != 21 {
		t.Errorf("pruned %d results, want 21", p.Results)
	}
	for _, m := range []string{"a", "b", "c"} {
		got, _ := s.RecentResults(ctx, m, 100)
		var local []time.Time
		for _, r := range got {
			if r.Vantage == result.LocalVantage {
				local = append(local, r.At)
			}
		}
		if len(local) != 3 || !local[0].Equal(base.Add(9*time.Second)) || !local[2].Equal(base.Add(7*time.Second)) {
			t.Errorf("%s kept %v", m, local)
		}
	}
	if _, ok, _ := s.LastResult(ctx, "a", "fra1"); !ok {
		t.Error("another vantage's results were pruned")
	}
	if p, _ := s.Prune(ctx); p.Results != 0 {
		t.Errorf("second prune removed %d", p.Results)
	}
}

func TestPruneByAgeAndDelivered(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{KeepResults: -1, MaxResultAge: time.Hour, KeepDelivered: 24 * time.Hour, PruneBatch: 2})
	ctx := context.Background()
	base := clk.Now()
	var rows []ResultRow
	for i := range 5 {
		rows = append(rows, ResultRow{Monitor: fmt.Sprint("m", i), At: base.Add(-2 * time.Hour), Result: sampleResult(false, result.ClassTimeout, 0, base)})
	}
	rows = append(rows, ResultRow{Monitor: "m0", At: base.Add(-30 * time.Minute), Result: sampleResult(true, result.ClassOK, 200, base)})
	if err := s.RecordResults(ctx, rows); err != nil {
		t.Fatal(err)
	}
	inc := &incident.Incident{Monitor: "m0", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassTimeout}
	update(t, s, func(tx *Tx) error {
		if err := tx.OpenIncident(ctx, inc); err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, OutboxEvent{Key: "k", Receiver: "r", IncidentID: inc.ID, Event: incident.NotifyOpen}); err != nil {
			return err
		}
		if err := tx.MarkDelivered(ctx, "k"); err != nil {
			return err
		}
		if err := tx.SetMessageRef(ctx, "r", inc.ID, "ref"); err != nil {
			return err
		}
		return tx.ResolveIncident(ctx, inc.ID, time.Time{}, time.Time{}, "recovered", nil)
	})

	p, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Results != 5 || p.Delivered != 0 || p.Refs != 0 {
		t.Errorf("first prune = %+v, want 5 results only", p)
	}
	if r, _ := s.RecentResults(ctx, "m0", 10); len(r) != 1 || !r[0].At.Equal(base.Add(-30*time.Minute)) {
		t.Errorf("m0 kept %d", len(r))
	}

	clk.Advance(25 * time.Hour)
	p, err = s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Delivered != 1 || p.Refs != 1 || p.Results != 1 {
		t.Errorf("second prune = %+v", p)
	}
	if _, ok, _ := s.Delivered(ctx, "k"); ok {
		t.Error("old delivered key kept")
	}
	// Incidents themselves are history and are kept.
	if _, err := s.Incident(ctx, inc.ID); err != nil {
		t.Errorf("incident pruned: %v", err)
	}
}

func TestBackgroundPrunerWakesAfterPruneEvery(t *testing.T) {
	clk := newClock()
	path := t.TempDir() + "/" + FileName
	// A long interval: only the PruneEvery kick can make it run in time.
	s, err := Open(context.Background(), path, Options{Now: clk.Now, KeepResults: 2, PruneEvery: 5, PruneInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var rows []ResultRow
	for i := range 6 {
		rows = append(rows, ResultRow{Monitor: "m", At: clk.Now().Add(time.Duration(i)), Result: sampleResult(true, result.ClassOK, 200, clk.Now())})
	}
	if err := s.RecordResults(ctx, rows); err != nil {
		t.Fatal(err)
	}
	var r []ResultRow
	if !testkit.Eventually(testkit.Patience, func() bool {
		r, err = s.RecentResults(ctx, "m", 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(r) == 2
	}) {
		t.Fatalf("background pruner did not run: %d results", len(r))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
