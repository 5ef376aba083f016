package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// A store written by schema version 4 opens under this build: its open
// incident reads without an ack, can be acknowledged, and the new tables work.
func TestMigratesFromSchemaVersion4(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for v := range 4 {
		if _, err := db.Exec(migrations[v]); err != nil {
			t.Fatalf("schema v%d: %v", v+1, err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 4;
		INSERT INTO incidents (monitor, kind, severity, opened_at, class, scope, updated_at)
		VALUES ('shop', 'target', 'critical', 2000, 'bad_gateway', 'everyone', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	clk := newClock()
	s := reopen(t, path, clk, Options{})
	ctx := context.Background()
	open, err := s.OpenIncidents(ctx)
	if err != nil || len(open) != 1 || open[0].Ack != nil {
		t.Fatalf("open incidents after migration = %+v, %v", open, err)
	}
	update(t, s, func(tx *Tx) error {
		_, first, err := tx.AckIncident(ctx, open[0].ID, incident.Ack{By: "ana", At: result.TimeOf(clk.Now())})
		if err == nil && !first {
			t.Error("first ack of a migrated incident: first = false")
		}
		return err
	})
	if sl, err := s.Silences(ctx, true, clk.Now()); err != nil || len(sl) != 0 {
		t.Errorf("silences after migration = %+v, %v", sl, err)
	}
}

func TestSilencesCRUD(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	now := clk.Now()
	a := silence.Silence{Matchers: silence.Matchers{Monitors: []string{"shop"}, Classes: []result.Class{result.ClassBadGateway}},
		Start: now, End: now.Add(2 * time.Hour), CreatedBy: "uid 1000 (ana)", Comment: "deploy"}
	b := silence.Silence{Matchers: silence.Matchers{Incident: 7}, UntilResolved: true, Start: now, CreatedBy: "slack:@bo"}
	old := silence.Silence{Matchers: silence.Matchers{Tags: []string{"prod"}}, Start: now.Add(-3 * time.Hour), End: now.Add(-time.Hour), CreatedBy: "cy", CreatedAt: now.Add(-3 * time.Hour)}
	update(t, s, func(tx *Tx) error {
		for _, x := range []*silence.Silence{&old, &a, &b} {
			if err := tx.AddSilence(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("IDs %d, %d", a.ID, b.ID)
	}
	live, err := s.Silences(ctx, false, now)
	if err != nil || len(live) != 2 || live[0].ID != b.ID || live[1].ID != a.ID {
		t.Fatalf("live silences = %+v, %v; want b then a", live, err)
	}
	got := live[1]
	if got.Comment != "deploy" || !got.End.Equal(a.End) || got.Matchers.Classes[0] != result.ClassBadGateway || got.CreatedBy != a.CreatedBy || !got.End.Equal(a.End) {
		t.Errorf("round trip: %+v, want %+v", got, a)
	}
	if !live[0].UntilResolved || !live[0].End.IsZero() || live[0].Matchers.Incident != 7 {
		t.Errorf("until-resolved round trip: %+v", live[0])
	}

	// Expire a: it stays listed with who and when; a second expiry changes nothing.
	clk.Advance(10 * time.Minute)
	update(t, s, func(tx *Tx) error {
		e, changed, err := tx.ExpireSilence(ctx, a.ID, clk.Now(), "bo")
		if err != nil || !changed || e.ExpiredBy != "bo" || !e.ExpiredAt.Equal(clk.Now()) {
			t.Errorf("expire: %+v, %v, %v", e, changed, err)
		}
		_, changed, err = tx.ExpireSilence(ctx, a.ID, clk.Now().Add(time.Minute), "cy")
		if err != nil || changed {
			t.Errorf("second expire: changed %v, %v", changed, err)
		}
		_, _, err = tx.ExpireSilence(ctx, 999, clk.Now(), "cy")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("expire unknown: %v, want ErrNotFound", err)
		}
		return nil
	})
	// Durable: a reopened store has the same, the expired one among all.
	s.Close()
	s = reopen(t, path, clk, Options{})
	if live, _ := s.Silences(ctx, false, clk.Now()); len(live) != 1 || live[0].ID != b.ID {
		t.Errorf("live after expiry and reopen = %+v", live)
	}
	all, err := s.Silences(ctx, true, clk.Now())
	if err != nil || len(all) != 3 {
		t.Fatalf("all = %+v, %v", all, err)
	}
	for _, x := range all {
		if x.ID == a.ID && (x.ExpiredBy != "bo" || x.ExpiredAt.IsZero()) {
			t.Errorf("expired silence listed as %+v", x)
		}
	}
}

func TestAckAndActions(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	inc := &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassBadGateway, Scope: "everyone"}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, inc) })
	ack := incident.Ack{By: "ana", At: result.TimeOf(clk.Now()), Comment: "looking at the db"}
	update(t, s, func(tx *Tx) error {
		got, first, err := tx.AckIncident(ctx, inc.ID, ack)
		if err != nil || !first || got.Ack == nil || *got.Ack != ack {
			t.Errorf("ack: %+v, first %v, %v", got.Ack, first, err)
		}
		return tx.RecordAction(ctx, &Action{By: "ana", What: ActionAck, IncidentID: inc.ID, Monitor: "shop", Detail: ack.Comment})
	})
	// A second ack keeps the first.
	update(t, s, func(tx *Tx) error {
		got, first, err := tx.AckIncident(ctx, inc.ID, incident.Ack{By: "bo"})
		if err != nil || first || got.Ack.By != "ana" {
			t.Errorf("second ack: %+v, first %v, %v", got.Ack, first, err)
		}
		return nil
	})
	// A SaveIncident from a copy without the ack does not take it back.
	stale := *inc
	stale.Detail = "later"
	update(t, s, func(tx *Tx) error { return tx.SaveIncident(ctx, &stale) })
	s.Close()
	s = reopen(t, path, clk, Options{})
	got, err := s.Incident(ctx, inc.ID)
	if err != nil || got.Ack == nil || *got.Ack != ack || got.Detail != "later" {
		t.Fatalf("reopened incident ack = %+v, %v", got.Ack, err)
	}
	// Resolved: the ack stays in the history; a new ack is refused.
	update(t, s, func(tx *Tx) error {
		return tx.ResolveIncident(ctx, inc.ID, clk.Now(), clk.Now(), "recovered", nil)
	})
	if err := s.Update(ctx, func(tx *Tx) error {
		_, _, err := tx.AckIncident(ctx, inc.ID, ack)
		return err
	}); !errors.Is(err, ErrIncidentResolved) {
		t.Errorf("ack of a resolved incident: %v", err)
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		_, _, err := tx.AckIncident(ctx, 999, ack)
		return err
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of an unknown incident: %v", err)
	}
	update(t, s, func(tx *Tx) error {
		return tx.RecordAction(ctx, &Action{By: "bo", What: ActionRecheck, IncidentID: inc.ID, Monitor: "shop", Detail: "bad_gateway"})
	})
	if err := s.Update(ctx, func(tx *Tx) error { return tx.RecordAction(ctx, &Action{By: "bo", What: "delete"}) }); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown action: %v", err)
	}
	acts, err := s.ActionsFor(ctx, inc.ID)
	if err != nil || len(acts) != 2 || acts[0].What != ActionAck || acts[0].By != "ana" || acts[1].What != ActionRecheck {
		t.Errorf("actions = %+v, %v", acts, err)
	}
}

func TestReleaseHeldIsPrecise(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	now := clk.Now()
	end := now.Add(time.Hour)
	update(t, s, func(tx *Tx) error {
		for _, ev := range []OutboxEvent{
			{Key: "a", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen, NotBefore: end},                       // held by the silence
			{Key: "b", Receiver: "mail", IncidentID: 1, Event: incident.NotifyOpen, NotBefore: end},                        // held by the silence
			{Key: "c", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen, NotBefore: now.Add(10 * time.Second)}, // a group wait
			{Key: "d", Receiver: "slack", IncidentID: 2, Event: incident.NotifyOpen, NotBefore: end},                       // another incident
		} {
			if _, err := tx.Enqueue(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx *Tx) error {
		ids, err := tx.HeldIncidents(ctx, now)
		if err != nil || len(ids) != 2 {
			t.Errorf("held incidents = %v, %v", ids, err)
		}
		n, err := tx.ReleaseHeld(ctx, 1, end, now)
		if err != nil || n != 2 {
			t.Errorf("released %d, %v; want 2", n, err)
		}
		return nil
	})
	for key, want := range map[string]time.Time{"a": now, "b": now, "c": now.Add(10 * time.Second), "d": end} {
		it, err := s.OutboxItem(ctx, key)
		if err != nil || !it.NextAttemptAt.Equal(want) {
			t.Errorf("%s: next attempt %s (%v), want %s", key, it.NextAttemptAt, err, want)
		}
	}
}
