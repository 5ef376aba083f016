package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func iv(a, b time.Time) history.Interval { return history.Interval{Start: a, End: b} }

func rt(t time.Time) result.Time { return result.TimeOf(t) }

// A store written by schema version 3 opens under this build: its incidents
// read with no recovery time and no open scope, and the history tables work.
func TestMigratesFromSchemaVersion3(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for v := range 3 {
		if _, err := db.Exec(migrations[v]); err != nil {
			t.Fatalf("schema v%d: %v", v+1, err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 3;
		INSERT INTO incidents (monitor, kind, severity, opened_at, resolved_at, class, scope, updated_at, first_failure_at)
		VALUES ('shop', 'target', 'critical', 2000, 5000, 'bad_gateway', 'everyone', 1, 1000)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	clk := newClock()
	s := reopen(t, path, clk, Options{})
	ctx := context.Background()
	var v int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() || v < 4 {
		t.Fatalf("schema version %d (%v) after open, want %d", v, err, SchemaVersion())
	}
	list, err := s.RecentIncidents(ctx, "shop", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("incidents after migration = %+v, %v", list, err)
	}
	inc := list[0]
	if !inc.RecoveredAt.IsZero() || inc.OpenScope != "" || inc.Scope != result.ScopeEveryone || !inc.FirstFailure.Equal(fromNanos(1000)) {
		t.Fatalf("migrated incident = %+v", inc)
	}
	// Its downtime ends where it was resolved, having no recovery time.
	if dt := history.Downtime(&inc, clk.Now()); !dt.Start.Equal(fromNanos(1000)) || !dt.End.Equal(fromNanos(5000)) {
		t.Errorf("downtime of the migrated incident = %v", dt)
	}
	got, err := s.IncidentsBetween(ctx, []string{"shop"}, fromNanos(4000), fromNanos(6000))
	if err != nil || len(got["shop"]) != 1 {
		t.Errorf("IncidentsBetween on the migrated incident = %v, %v", got, err)
	}
	run, err := s.StartRun(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run, []string{"shop"}, clk.Now()) })
	if err := s.SyncMonitors(ctx, []string{"shop"}, clk.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestIncidentRecoveryAndOpenScopeRoundTrip(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	t0 := clk.Now()
	inc := &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical,
		Class: result.ClassTimeout, OpenedAt: rt(t0), FirstFailure: rt(t0.Add(-time.Minute)),
		Scope: result.ScopePartial, OpenScope: result.ScopePartial, Regions: []string{"eu"}}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, inc) })
	got, err := s.Incident(ctx, inc.ID)
	if err != nil || got.OpenScope != result.ScopePartial || !got.RecoveredAt.IsZero() {
		t.Fatalf("opened incident = %+v, %v", got, err)
	}

	// A good round while open: saved whole, the recovery time goes with it.
	inc.RecoveredAt = rt(t0.Add(2 * time.Minute))
	inc.Scope = result.ScopeEveryone
	update(t, s, func(tx *Tx) error { return tx.SaveIncident(ctx, inc) })
	if got, _ = s.Incident(ctx, inc.ID); !got.RecoveredAt.Equal(t0.Add(2*time.Minute)) || got.OpenScope != result.ScopePartial || got.Scope != result.ScopeEveryone {
		t.Fatalf("saved incident = %+v", got)
	}
	// It failed again: the recovery is cleared.
	inc.RecoveredAt = result.Time{}
	update(t, s, func(tx *Tx) error { return tx.SaveIncident(ctx, inc) })
	if got, _ = s.Incident(ctx, inc.ID); !got.RecoveredAt.IsZero() {
		t.Fatalf("recovery not cleared: %+v", got)
	}

	recovered, resolved := t0.Add(5*time.Minute), t0.Add(7*time.Minute)
	update(t, s, func(tx *Tx) error {
		return tx.ResolveIncident(ctx, inc.ID, resolved, recovered, "recovered", nil)
	})
	s.Close()
	s = reopen(t, path, clk, Options{})
	got, err = s.Incident(ctx, inc.ID)
	if err != nil || !got.RecoveredAt.Equal(recovered) || !got.ResolvedAt.Equal(resolved) || got.OpenScope != result.ScopePartial {
		t.Fatalf("resolved incident after reopen = %+v, %v", got, err)
	}
	if dt := history.Downtime(&got, t0.Add(time.Hour)); dt != iv(t0.Add(-time.Minute), recovered) {
		t.Errorf("downtime = %v", dt)
	}
	// A monitor removed while failing never recovered: its downtime ends
	// where it was resolved.
	other := &incident.Incident{Monitor: "api", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassTimeout, OpenedAt: rt(t0)}
	update(t, s, func(tx *Tx) error {
		if err := tx.OpenIncident(ctx, other); err != nil {
			return err
		}
		return tx.ResolveIncident(ctx, other.ID, resolved, time.Time{}, "monitor removed", nil)
	})
	if got, _ = s.Incident(ctx, other.ID); !got.RecoveredAt.IsZero() || history.Downtime(&got, t0.Add(time.Hour)) != iv(t0, resolved) {
		t.Errorf("incident resolved while failing = %+v", got)
	}
}

// Two daemon runs with a gap between them: the gap is not measured, the
// first run's spans end at its last heartbeat, and the live run's at now.
func TestCoverageAcrossTwoRunsWithGap(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	t0 := clk.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	run1, err := s.StartRun(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run1, []string{"a", "b"}, at(time.Minute)) })
	// Idempotent: a later call in the same run keeps the first start.
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run1, []string{"a", "a"}, at(10*time.Minute)) })
	if err := s.Heartbeat(ctx, run1, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, run1, at(30*time.Minute)); err != nil { // never goes back
		t.Fatal(err)
	}
	// The daemon was killed after its last heartbeat; it starts again an
	// hour later and only a is in the config now.
	run2, err := s.StartRun(ctx, at(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run2, []string{"a"}, at(2*time.Hour+30*time.Second)) })
	now := at(3 * time.Hour)

	got, err := s.Coverage(ctx, []string{"a", "b", "c"}, t0, at(4*time.Hour), now, run2)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]history.Interval{
		"a": {iv(at(time.Minute), at(time.Hour)), iv(at(2*time.Hour+30*time.Second), now)},
		"b": {iv(at(time.Minute), at(time.Hour))},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("coverage =\n%v\nwant\n%v", got, want)
	}

	// Clipped to the window.
	got, err = s.Coverage(ctx, []string{"a"}, at(30*time.Minute), at(2*time.Hour+time.Minute), now, run2)
	if err != nil {
		t.Fatal(err)
	}
	if w := []history.Interval{iv(at(30*time.Minute), at(time.Hour)), iv(at(2*time.Hour+30*time.Second), at(2*time.Hour+time.Minute))}; !reflect.DeepEqual(got["a"], w) {
		t.Errorf("clipped coverage = %v, want %v", got["a"], w)
	}

	// Seen from a later daemon, run2 is no longer live: it lasts until its
	// last heartbeat.
	if err := s.Heartbeat(ctx, run2, at(2*time.Hour+20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err = s.Coverage(ctx, []string{"a"}, t0, at(4*time.Hour), now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w := []history.Interval{iv(at(time.Minute), at(time.Hour)), iv(at(2*time.Hour+30*time.Second), at(2*time.Hour+20*time.Minute))}; !reflect.DeepEqual(got["a"], w) {
		t.Errorf("coverage of a dead run = %v, want %v", got["a"], w)
	}

	// a is removed from the config, then put back: the time between is not
	// measured; run1's span is untouched.
	update(t, s, func(tx *Tx) error { return tx.EndSpans(ctx, []string{"a", "b"}, at(2*time.Hour+10*time.Minute)) })
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run2, []string{"a"}, at(2*time.Hour+40*time.Minute)) })
	got, err = s.Coverage(ctx, []string{"a", "b"}, t0, at(4*time.Hour), now, run2)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string][]history.Interval{
		"a": {iv(at(time.Minute), at(time.Hour)), iv(at(2*time.Hour+30*time.Second), at(2*time.Hour+10*time.Minute)), iv(at(2*time.Hour+40*time.Minute), now)},
		"b": {iv(at(time.Minute), at(time.Hour))},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("coverage after remove and re-add =\n%v\nwant\n%v", got, want)
	}

	if err := s.Heartbeat(ctx, 999, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("heartbeat of an unknown run: %v", err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.StartSpans(ctx, 999, []string{"a"}, now) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("spans of an unknown run: %v", err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.StartSpans(ctx, run2, []string{"bad\xff"}, now) }); !errors.Is(err, ErrInvalid) {
		t.Errorf("a name that is not UTF-8: %v", err)
	}
}

func TestMaintenanceMergesOverlappingAndAdjacent(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	t0 := clk.Now()
	m := func(a, b int) history.Interval {
		return iv(t0.Add(time.Duration(a)*time.Minute), t0.Add(time.Duration(b)*time.Minute))
	}
	for _, w := range []history.Interval{m(10, 20), m(10, 20), m(50, 60), m(20, 30), m(25, 40), m(12, 15)} {
		update(t, s, func(tx *Tx) error { return tx.RecordMaintenance(ctx, "shop", w) })
	}
	update(t, s, func(tx *Tx) error { return tx.RecordMaintenance(ctx, "api", m(0, 100)) })
	got, err := s.Maintenance(ctx, []string{"shop"}, t0, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]history.Interval{"shop": {m(10, 40), m(50, 60)}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("maintenance = %v, want %v", got, want)
	}
	var rows int
	if err := s.r.QueryRow(`SELECT count(*) FROM history_maintenance WHERE monitor = 'shop'`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("%d rows stored (%v), want the 2 merged intervals", rows, err)
	}
	// A window that bridges the two makes one.
	update(t, s, func(tx *Tx) error { return tx.RecordMaintenance(ctx, "shop", m(40, 50)) })
	got, err = s.Maintenance(ctx, []string{"shop", "api"}, m(15, 55).Start, m(15, 55).End)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]history.Interval{"shop": {m(15, 55)}, "api": {m(15, 55)}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("clipped maintenance = %v, want %v", got, want)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.RecordMaintenance(ctx, "shop", m(5, 5)) }); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty interval: %v", err)
	}
}

func TestSyncMonitorsAndKnownMonitor(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	t1, t2, t3 := clk.Now(), clk.Now().Add(time.Hour), clk.Now().Add(2*time.Hour)
	known := func(name string) (time.Time, bool) {
		t.Helper()
		at, ok, err := s.KnownMonitor(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return at, ok
	}
	if err := s.SyncMonitors(ctx, []string{"a", "b", `<b>"x"</b>`}, t1); err != nil {
		t.Fatal(err)
	}
	if at, ok := known("a"); !ok || !at.IsZero() {
		t.Errorf("a: removed %v, known %v", at, ok)
	}
	if _, ok := known(`<b>"x"</b>`); !ok {
		t.Error("a name with markup is not known")
	}
	if _, ok := known("c"); ok {
		t.Error("c known")
	}
	if err := s.SyncMonitors(ctx, []string{"b"}, t2); err != nil {
		t.Fatal(err)
	}
	if at, ok := known("a"); !ok || !at.Equal(t2) {
		t.Errorf("a after removal: removed %v, known %v", at, ok)
	}
	// Removed stays removed from when it left, not from each later sync.
	if err := s.SyncMonitors(ctx, []string{"b"}, t3); err != nil {
		t.Fatal(err)
	}
	if at, _ := known("a"); !at.Equal(t2) {
		t.Errorf("a removed at %v after a second sync, want %v", at, t2)
	}
	if err := s.SyncMonitors(ctx, []string{"a", "b"}, t3); err != nil {
		t.Fatal(err)
	}
	if at, ok := known("a"); !ok || !at.IsZero() {
		t.Errorf("a put back: removed %v, known %v", at, ok)
	}
	var first int64
	if err := s.r.QueryRow(`SELECT first_seen FROM history_monitors WHERE monitor = 'a'`).Scan(&first); err != nil || first != toNanos(t1) {
		t.Errorf("first seen %v (%v), want %v", fromNanos(first), err, t1)
	}
}

// storeIncident stores a target incident as the daemon does.
func storeIncident(t *testing.T, s *Store, inc incident.Incident) incident.Incident {
	t.Helper()
	ctx := context.Background()
	resolved := inc.ResolvedAt
	inc.ResolvedAt = result.Time{}
	if inc.Kind == "" {
		inc.Kind = incident.KindTarget
	}
	if inc.Severity == "" {
		inc.Severity = incident.SeverityCritical
	}
	if inc.Class == "" {
		inc.Class = result.ClassTimeout
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.OpenIncident(ctx, &inc); err != nil {
			return err
		}
		if resolved.IsZero() {
			return nil
		}
		return tx.ResolveIncident(ctx, inc.ID, resolved.Time, inc.RecoveredAt.Time, "recovered", nil)
	})
	inc.ResolvedAt = resolved
	return inc
}

func TestIncidentsBetween(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	T := clk.Now()
	h := func(d float64) result.Time { return rt(T.Add(time.Duration(d * float64(time.Hour)))) }
	// Downtime [T-5h, T-3h); resolved later, after `recover` good rounds.
	a := storeIncident(t, s, incident.Incident{Monitor: "m", FirstFailure: h(-5), OpenedAt: h(-4), RecoveredAt: h(-3), ResolvedAt: h(-2.9)})
	// A vantage of the same name: never counts against a monitor.
	storeIncident(t, s, incident.Incident{Monitor: "m", Kind: incident.KindVantage, OpenedAt: h(-1)})
	// Long ago.
	storeIncident(t, s, incident.Incident{Monitor: "m", FirstFailure: h(-48), OpenedAt: h(-47.9), RecoveredAt: h(-47), ResolvedAt: h(-46.9)})
	// Open and failing.
	b := storeIncident(t, s, incident.Incident{Monitor: "m", FirstFailure: h(-1), OpenedAt: h(-0.9)})
	// Another monitor's: asked for separately.
	c := storeIncident(t, s, incident.Incident{Monitor: "n", OpenedAt: h(-2), RecoveredAt: h(-1.5), ResolvedAt: h(-1.4)})
	// m was slow [T-3.5h, T-2h), beside its outage: degraded time, so it
	// is read with the target incidents. Its certificate, open for days,
	// is in nobody's uptime and is not.
	p := storeIncident(t, s, incident.Incident{Monitor: "m", Kind: incident.KindPerformance, Class: result.ClassDegraded,
		Severity: incident.SeverityWarning, Detail: result.PhaseTTFB, FirstFailure: h(-3.5), OpenedAt: h(-3.4), RecoveredAt: h(-2), ResolvedAt: h(-1.9)})
	storeIncident(t, s, incident.Incident{Monitor: "m", Kind: incident.KindCertificate, Class: result.ClassCertExpiring,
		Severity: incident.SeverityWarning, Detail: result.WarnDetail(7), FirstFailure: h(-72), OpenedAt: h(-72)})
	// A performance incident over before the window: left out as an
	// outage would be.
	storeIncident(t, s, incident.Incident{Monitor: "n", Kind: incident.KindPerformance, Class: result.ClassDegraded,
		Severity: incident.SeverityWarning, FirstFailure: h(-6), OpenedAt: h(-6), RecoveredAt: h(-5), ResolvedAt: h(-4.9)})

	got, err := s.IncidentsBetween(ctx, []string{"m", "n"}, T.Add(-4*time.Hour), T)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(got["m"]), []int64{a.ID, p.ID, b.ID}) || !reflect.DeepEqual(ids(got["n"]), []int64{c.ID}) || len(got) != 2 {
		t.Fatalf("incidents in the last 4h = %v", got)
	}
	if pi := got["m"][1]; pi.Kind != incident.KindPerformance || pi.Detail != result.PhaseTTFB || pi.RecoveredAt != p.RecoveredAt || pi.FirstFailure != p.FirstFailure {
		t.Errorf("performance incident read as %+v", pi)
	}
	if got["m"][0].RecoveredAt != a.RecoveredAt {
		t.Errorf("recovered_at not read: %+v", got["m"][0])
	}
	// From T-2.95h: a was resolved after that, but its downtime ended before.
	got, err = s.IncidentsBetween(ctx, []string{"m"}, h(-2.95).Time, T)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(got["m"]), []int64{p.ID, b.ID}) {
		t.Errorf("incidents from T-2.95h = %v, want the slow one and the open one", ids(got["m"]))
	}
	// After the slow time ended, though before it was resolved: not in.
	got, err = s.IncidentsBetween(ctx, []string{"m"}, h(-1.95).Time, T)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(got["m"]), []int64{b.ID}) {
		t.Errorf("incidents from T-1.95h = %v, want only the open one", ids(got["m"]))
	}
	// Before the window's end it was failing, though confirmed after it.
	got, err = s.IncidentsBetween(ctx, []string{"m"}, h(-6).Time, h(-4.5).Time)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(got["m"]), []int64{a.ID}) {
		t.Errorf("incidents of [T-6h, T-4.5h) = %v, want a", ids(got["m"]))
	}
	if got, err = s.IncidentsBetween(ctx, nil, h(-100).Time, T); err != nil || len(got) != 0 {
		t.Errorf("no monitors asked for: %v, %v", got, err)
	}
}

func TestListIncidentsPages(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	T := clk.Now()
	// Nine incidents, opened at three instants only, so that pages split
	// runs of equal opened_at.
	var all []incident.Incident
	for i := range 9 {
		inc := incident.Incident{Monitor: fmt.Sprint("m", i%3), OpenedAt: rt(T.Add(time.Duration(i/4) * time.Hour))}
		if i < 7 {
			inc.ResolvedAt = rt(T.Add(time.Duration(i) * 10 * time.Hour))
			inc.RecoveredAt = inc.ResolvedAt
		}
		all = append(all, storeIncident(t, s, inc))
	}
	// Newest first: opened_at descending, then ID descending.
	var want []int64
	for g := 2; g >= 0; g-- {
		for i := 8; i >= 0; i-- {
			if i/4 == g {
				want = append(want, all[i].ID)
			}
		}
	}
	for _, limit := range []int{1, 2, 3, 4, 9, 10} {
		var (
			got    []int64
			cursor history.Cursor
			pages  int
		)
		for {
			page, next, err := s.ListIncidents(ctx, history.IncidentQuery{Limit: limit, Before: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > limit || (len(page) < limit && !next.IsZero()) {
				t.Fatalf("limit %d: page of %d, next %v", limit, len(page), next)
			}
			got = append(got, ids(page)...)
			if next.IsZero() {
				break
			}
			if pages > 20 {
				t.Fatalf("limit %d: pagination does not end", limit)
			}
			cursor = next
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: got %v, want %v", limit, got, want)
		}
		// Exactly full pages: the last full page says there is no next.
		if wantPages := (9 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}

	query := func(q history.IncidentQuery) []int64 {
		t.Helper()
		page, _, err := s.ListIncidents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(page)
	}
	if got := query(history.IncidentQuery{State: "open"}); !reflect.DeepEqual(got, []int64{all[8].ID, all[7].ID}) {
		t.Errorf("open = %v", got)
	}
	if got := query(history.IncidentQuery{State: "resolved", Monitor: "m1"}); !reflect.DeepEqual(got, []int64{all[4].ID, all[1].ID}) {
		t.Errorf("resolved of m1 = %v", got)
	}
	// Since: open then, or resolved after it.
	if got := query(history.IncidentQuery{Since: T.Add(50 * time.Hour)}); !reflect.DeepEqual(got, []int64{all[8].ID, all[7].ID, all[6].ID, all[5].ID}) {
		t.Errorf("since T+50h = %v", got)
	}
	for _, q := range []history.IncidentQuery{{State: "closed"}, {Limit: -1}, {Limit: history.MaxIncidentLimit + 1}} {
		if _, _, err := s.ListIncidents(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", q, err)
		}
	}
}

// A removed monitor's history is kept for KeepRemoved, then goes in full
// (but an incident still open stays); runs and spans go after 400 days.
func TestPruneRemovedMonitorsAndOldRuns(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{KeepDelivered: 365 * 24 * time.Hour, PruneBatch: 2})
	ctx := context.Background()
	T0 := clk.Now()
	day := 24 * time.Hour

	empty, err := s.StartRun(ctx, T0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	run1, err := s.StartRun(ctx, T0)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run1, []string{"x", "y"}, T0) })
	if err := s.Heartbeat(ctx, run1, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"x", "y"} {
		for i := range 3 {
			w := iv(T0.Add(time.Duration(2*i)*time.Minute), T0.Add(time.Duration(2*i+1)*time.Minute))
			update(t, s, func(tx *Tx) error { return tx.RecordMaintenance(ctx, m, w) })
		}
	}
	xr := storeIncident(t, s, incident.Incident{Monitor: "x", OpenedAt: rt(T0), ResolvedAt: rt(T0.Add(time.Minute))})
	xo := storeIncident(t, s, incident.Incident{Monitor: "x", OpenedAt: rt(T0.Add(time.Hour))})
	xv := storeIncident(t, s, incident.Incident{Monitor: "x", Kind: incident.KindVantage, OpenedAt: rt(T0), ResolvedAt: rt(T0.Add(time.Minute))})
	yr := storeIncident(t, s, incident.Incident{Monitor: "y", OpenedAt: rt(T0), ResolvedAt: rt(T0.Add(time.Minute))})
	update(t, s, func(tx *Tx) error { return tx.SetMessageRef(ctx, "slack", xr.ID, "ref-x") })
	update(t, s, func(tx *Tx) error { return tx.SetMessageRef(ctx, "slack", yr.ID, "ref-y") })
	if err := s.SyncMonitors(ctx, []string{"x", "y"}, T0); err != nil {
		t.Fatal(err)
	}
	removedAt := T0.Add(2 * time.Hour)
	if err := s.SyncMonitors(ctx, []string{"y"}, removedAt); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.EndSpans(ctx, []string{"x"}, removedAt) })

	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := s.r.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	held := func(m string) [3]int {
		return [3]int{
			count(`SELECT count(*) FROM history_spans WHERE monitor = ?`, m),
			count(`SELECT count(*) FROM history_maintenance WHERE monitor = ?`, m),
			count(`SELECT count(*) FROM incidents WHERE monitor = ?`, m),
		}
	}

	clk.Set(removedAt.Add(29 * day))
	p, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Incidents != 0 || p.History != 0 || held("x") != [3]int{1, 3, 3} {
		t.Fatalf("after 29 days: pruned %+v, x has %v", p, held("x"))
	}
	if _, ok, _ := s.KnownMonitor(ctx, "x"); !ok {
		t.Fatal("x forgotten before keep_removed")
	}

	clk.Set(removedAt.Add(31 * day))
	p, err = s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// x's span, 3 maintenance windows and its known-monitor row; its resolved
	// target incident and that incident's message ref.
	if p.History != 5 || p.Incidents != 1 || p.Refs != 1 {
		t.Errorf("after 31 days: pruned %+v", p)
	}
	if h := held("x"); h != [3]int{0, 0, 2} {
		t.Errorf("x keeps %v, want only its open incident and its vantage incident", h)
	}
	for _, id := range []int64{xo.ID, xv.ID, yr.ID} {
		if _, err := s.Incident(ctx, id); err != nil {
			t.Errorf("incident %d pruned: %v", id, err)
		}
	}
	if _, ok, _ := s.KnownMonitor(ctx, "x"); ok {
		t.Error("x still known")
	}
	if h := held("y"); h != [3]int{1, 3, 1} {
		t.Errorf("y keeps %v, want everything", h)
	}
	if ref, ok, _ := s.MessageRef(ctx, "slack", yr.ID); !ok || ref != "ref-y" {
		t.Errorf("y's message ref pruned")
	}
	if n := count(`SELECT count(*) FROM history_runs`); n != 2 {
		t.Errorf("%d runs, want both kept", n)
	}

	// 400 days on, a new run measures y: the old runs, their spans and the
	// old maintenance windows go; the new run's stay.
	later := T0.Add(401 * day)
	clk.Set(later)
	run2, err := s.StartRun(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run2, []string{"y"}, later) })
	update(t, s, func(tx *Tx) error { return tx.RecordMaintenance(ctx, "y", iv(later.Add(-time.Hour), later)) })
	if _, err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM history_runs WHERE id IN (?, ?)`, empty, run1); n != 0 {
		t.Errorf("%d old runs kept", n)
	}
	if h := held("y"); h != [3]int{1, 1, 1} {
		t.Errorf("y keeps %v after 400 days, want the new span and window", h)
	}
	cov, err := s.Coverage(ctx, []string{"y"}, later, later.Add(time.Hour), later.Add(time.Minute), run2)
	if err != nil || len(cov["y"]) != 1 {
		t.Errorf("coverage of the new run = %v, %v", cov, err)
	}
}

// keep_removed = 0 in the config: the next prune drops a removed monitor's
// history.
func TestKeepRemovedNegativeDropsAtNextPrune(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{KeepRemoved: -1})
	ctx := context.Background()
	now := clk.Now()
	update(t, s, func(tx *Tx) error { return tx.RecordMaintenance(ctx, "x", iv(now.Add(-time.Hour), now)) })
	if err := s.SyncMonitors(ctx, []string{"x"}, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncMonitors(ctx, nil, now); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.KnownMonitor(ctx, "x"); ok || p.History != 2 {
		t.Errorf("pruned %+v; x still known: %v", p, ok)
	}
}

// A heartbeat written with the rollups it vouches for is rolled back with
// them.
func TestHeartbeatInTransaction(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	t0 := clk.Now()
	run, err := s.StartRun(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.StartSpans(ctx, run, []string{"a"}, t0) })
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Heartbeat(ctx, run, t0.Add(time.Hour)); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.Heartbeat(ctx, run, t0.Add(time.Minute)) })
	cov, err := s.Coverage(ctx, []string{"a"}, t0, t0.Add(2*time.Hour), t0.Add(2*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []history.Interval{iv(t0, t0.Add(time.Minute))}; !reflect.DeepEqual(cov["a"], want) {
		t.Errorf("coverage = %v, want %v", cov["a"], want)
	}
}
