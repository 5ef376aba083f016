package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// newClock starts where the tests' timestamps expect.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// openTest opens a store in a fresh temp dir with the background pruner off.
func openTest(t *testing.T, clk *testkit.Clock, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	return reopen(t, path, clk, opts), path
}

func reopen(t *testing.T, path string, clk *testkit.Clock, opts Options) *Store {
	t.Helper()
	opts.Now = clk.Now
	if opts.PruneInterval == 0 {
		opts.PruneInterval = -1
	}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func update(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func sampleResult(ok bool, class result.Class, status int, at time.Time) result.Outcome {
	r := result.Outcome{Result: result.Result{
		URL: "https://shop.example.com/healthz", OK: ok, Class: class, Status: status,
		Gateway: "nginx", Via: []string{"cloudflare"}, Detail: "upstream-refused",
		Phases:    result.Phases{DNSMs: 1.5, ConnectMs: 2.25, TLSMs: 3, TTFBMs: 40, TotalMs: 47.75},
		StartedAt: result.TimeOf(at),
		TLS: &result.TLSInfo{Issuer: "R3", Subject: "shop", NotBefore: result.TimeOf(at.Add(-time.Hour)),
			NotAfter: result.TimeOf(at.Add(90 * 24 * time.Hour)), DaysLeft: 90, DNSNames: []string{"shop.example.com"}},
		Evidence: result.Evidence{Headers: []string{"Server: nginx"}, Body: "<hr><center>nginx",
			Markers: []string{`body contains "<hr><center>nginx"`}},
		Fixes: []string{"check the upstream"},
	}}
	r.Normalize()
	return r
}

func TestResultsRoundTripAndQueries(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	base := clk.Now()

	var rows []ResultRow
	for i := range 5 {
		rows = append(rows, ResultRow{Monitor: "shop", At: base.Add(time.Duration(i) * time.Minute),
			Result: sampleResult(i%2 == 0, result.ClassBadGateway, 502, base.Add(time.Duration(i)*time.Minute))})
	}
	rows = append(rows, ResultRow{Monitor: "shop", Vantage: "fra1", At: base.Add(2 * time.Minute),
		Result: sampleResult(true, result.ClassOK, 200, base)})
	// No At: falls back to StartedAt.
	rows = append(rows, ResultRow{Monitor: "blog", Result: sampleResult(true, result.ClassOK, 200, base.Add(time.Hour))})
	if err := s.RecordResults(ctx, rows); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.ID == 0 {
			t.Errorf("row %d has no ID", i)
		}
	}

	recent, err := s.RecentResults(ctx, "shop", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 3 {
		t.Fatalf("RecentResults: got %d rows, want 3", len(recent))
	}
	if !recent[0].At.Equal(base.Add(4*time.Minute)) || !recent[1].At.Equal(base.Add(3*time.Minute)) {
		t.Errorf("RecentResults not newest first: %v, %v", recent[0].At, recent[1].At)
	}
	// Full JSON round trip.
	want := rows[4].Result
	got := recent[0].Result
	if !got.StartedAt.Equal(want.StartedAt.Time) || !got.TLS.NotAfter.Equal(want.TLS.NotAfter.Time) || !got.TLS.NotBefore.Equal(want.TLS.NotBefore.Time) {
		t.Errorf("times did not round-trip: %v vs %v", got.StartedAt, want.StartedAt)
	}
	got.StartedAt, want.StartedAt = result.Time{}, result.Time{}
	gt, wt := *got.TLS, *want.TLS
	gt.NotAfter, gt.NotBefore, wt.NotAfter, wt.NotBefore = result.Time{}, result.Time{}, result.Time{}, result.Time{}
	got.TLS, want.TLS = &gt, &wt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("result did not round-trip:\n got %+v\nwant %+v", got, want)
	}

	last, ok, err := s.LastResult(ctx, "shop", "")
	if err != nil || !ok {
		t.Fatalf("LastResult: ok=%v err=%v", ok, err)
	}
	if last.ID != rows[4].ID || last.Vantage != result.LocalVantage {
		t.Errorf("LastResult = id %d vantage %q, want id %d local", last.ID, last.Vantage, rows[4].ID)
	}
	last, ok, _ = s.LastResult(ctx, "shop", "fra1")
	if !ok || last.ID != rows[5].ID {
		t.Errorf("LastResult(fra1) = %v %v", ok, last.ID)
	}
	if _, ok, _ := s.LastResult(ctx, "nope", ""); ok {
		t.Error("LastResult of unknown monitor reported ok")
	}

	all, err := s.LastResults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, fmt.Sprintf("%s/%s/%d", r.Monitor, r.Vantage, r.ID))
	}
	wantIDs := []string{
		fmt.Sprintf("blog/local/%d", rows[6].ID),
		fmt.Sprintf("shop/fra1/%d", rows[5].ID),
		fmt.Sprintf("shop/local/%d", rows[4].ID),
	}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("LastResults = %v, want %v", ids, wantIDs)
	}
	if !all[0].At.Equal(base.Add(time.Hour)) {
		t.Errorf("At did not default to StartedAt: %v", all[0].At)
	}
}

func TestRecordResultRejectsBadInput(t *testing.T) {
	s, _ := openTest(t, newClock(), Options{})
	err := s.RecordResults(context.Background(), []ResultRow{{Monitor: "ok"}, {Monitor: ""}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	// The whole batch rolled back.
	if r, _ := s.RecentResults(context.Background(), "ok", 10); len(r) != 0 {
		t.Errorf("batch partly written: %d rows", len(r))
	}
}

func TestUpdateIsAtomic(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.RecordResult(ctx, &ResultRow{Monitor: "shop", Result: sampleResult(false, result.ClassBadGateway, 502, clk.Now())}); err != nil {
			return err
		}
		if err := tx.SaveState(ctx, "shop", json.RawMessage(`{"state":"down"}`)); err != nil {
			return err
		}
		if err := tx.OpenIncident(ctx, &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassBadGateway}); err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, OutboxEvent{Key: "k1", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if r, _ := s.RecentResults(ctx, "shop", 1); len(r) != 0 {
		t.Error("result survived a rolled-back Update")
	}
	if _, ok, _ := s.State(ctx, "shop"); ok {
		t.Error("state survived a rolled-back Update")
	}
	if open, _ := s.OpenIncidents(ctx); len(open) != 0 {
		t.Error("incident survived a rolled-back Update")
	}
	if ob, _ := s.Outbox(ctx, OutboxFilter{}); len(ob) != 0 {
		t.Error("outbox row survived a rolled-back Update")
	}

	// A panic rolls back too, and the store stays usable.
	func() {
		defer func() { _ = recover() }()
		_ = s.Update(ctx, func(tx *Tx) error {
			_ = tx.SaveState(ctx, "shop", json.RawMessage(`1`))
			panic("bug")
		})
	}()
	if _, ok, _ := s.State(ctx, "shop"); ok {
		t.Error("state survived a panicking Update")
	}
	update(t, s, func(tx *Tx) error { return tx.SaveState(ctx, "shop", json.RawMessage(`2`)) })
}

func TestStatesRoundTrip(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	blob := json.RawMessage(`{"state":"failing","fails":1,"since":"2026-03-01T12:00:00Z","history":[1,2,3],"s":"\u00e9\"x"}`)
	update(t, s, func(tx *Tx) error { return tx.SaveState(ctx, "shop", blob) })
	clk.Advance(time.Minute)
	update(t, s, func(tx *Tx) error { return tx.SaveState(ctx, "blog", json.RawMessage(`{"state":"up"}`)) })

	err := s.Update(ctx, func(tx *Tx) error { return tx.SaveState(ctx, "bad", json.RawMessage(`{`)) })
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid JSON: err = %v, want ErrInvalid", err)
	}

	snap, ok, err := s.State(ctx, "shop")
	if err != nil || !ok {
		t.Fatalf("State: %v %v", ok, err)
	}
	if string(snap.Data) != string(blob) || !snap.UpdatedAt.Equal(newClock().Now()) {
		t.Errorf("State = %s at %v", snap.Data, snap.UpdatedAt)
	}
	s.Close()
	s = reopen(t, path, clk, Options{})
	all, err := s.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || string(all["shop"].Data) != string(blob) || string(all["blog"].Data) != `{"state":"up"}` {
		t.Errorf("States after reopen = %v", all)
	}
	update(t, s, func(tx *Tx) error { return tx.DeleteState(ctx, "blog") })
	if _, ok, _ := s.State(ctx, "blog"); ok {
		t.Error("DeleteState left the snapshot")
	}
}

func TestSchemaVersionAndNewerSchema(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("user_version = %d (%v), want %d", v, err, SchemaVersion())
	}
	var mode string
	if err := s.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v)", mode, err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, path, Options{Now: clk.Now, PruneInterval: -1})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open newer schema: err = %v", err)
	}
}

func TestForeignDatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	s, err := Open(context.Background(), path, Options{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Make it look like someone else's database: tables, no version.
	if _, err := s.w.Exec("PRAGMA user_version = 0"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(context.Background(), path, Options{PruneInterval: -1})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not a vantage store") {
		t.Fatalf("err = %v", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	inc := &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical,
		Class: result.ClassBadGateway, Gateway: "nginx"}
	r := sampleResult(false, result.ClassBadGateway, 502, clk.Now())
	update(t, s, func(tx *Tx) error {
		if err := tx.RecordResult(ctx, &ResultRow{Monitor: "shop", Result: r}); err != nil {
			return err
		}
		if err := tx.SaveState(ctx, "shop", json.RawMessage(`{"s":"down"}`)); err != nil {
			return err
		}
		if err := tx.OpenIncident(ctx, inc); err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, OutboxEvent{Key: "open-1", Receiver: "slack", IncidentID: inc.ID, Event: incident.NotifyOpen, Payload: json.RawMessage(`{"a":1}`)}); err != nil {
			return err
		}
		return tx.SetMessageRef(ctx, "slack", inc.ID, "C1/1700000000.0001")
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = reopen(t, path, clk, Options{})
	if _, ok, _ := s.LastResult(ctx, "shop", ""); !ok {
		t.Error("result lost")
	}
	if _, ok, _ := s.State(ctx, "shop"); !ok {
		t.Error("state lost")
	}
	got, ok, err := s.OpenIncidentFor(ctx, "shop", incident.KindTarget)
	if err != nil || !ok || got.ID != inc.ID {
		t.Errorf("open incident lost: %v %v %+v", ok, err, got)
	}
	if d, _ := s.Due(ctx, "slack", clk.Now(), 10); len(d) != 1 || string(d[0].Payload) != `{"a":1}` {
		t.Errorf("outbox lost: %+v", d)
	}
	if ref, ok, _ := s.MessageRef(ctx, "slack", inc.ID); !ok || ref != "C1/1700000000.0001" {
		t.Errorf("message ref lost: %q %v", ref, ok)
	}
}

func TestConcurrentUpdatesAndReads(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 25 {
				m := fmt.Sprintf("m%d", g)
				if err := s.RecordResults(ctx, []ResultRow{{Monitor: m, Result: sampleResult(true, result.ClassOK, 200, clk.Now().Add(time.Duration(i)))}}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 25 {
				if _, err := s.LastResults(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for g := range 4 {
		if r, _ := s.RecentResults(ctx, fmt.Sprintf("m%d", g), 100); len(r) != 25 {
			t.Errorf("m%d has %d results, want 25", g, len(r))
		}
	}
}

// A store written by the first schema opens under this build: the incident
// it holds keeps everything and gains empty regions.
func TestMigratesFromSchemaVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatalf("schema v1: %v", err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1;
		INSERT INTO incidents (monitor, kind, severity, opened_at, class, updated_at)
		VALUES ('shop', 'target', 'critical', 1, 'bad_gateway', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := reopen(t, path, newClock(), Options{})
	var v int
	if err := s.w.QueryRowContext(context.Background(), "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("schema version %d (%v) after open, want %d", v, err, SchemaVersion())
	}
	open, err := s.OpenIncidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Monitor != "shop" || open[0].Class != result.ClassBadGateway || open[0].Regions != nil || !open[0].FirstFailure.IsZero() {
		t.Fatalf("open incidents after migration = %+v", open)
	}
}
