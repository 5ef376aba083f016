package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/web"
)

// TestHistoryFollowsRoundsReloadsAndRemoval drives rounds on the fake
// clock and reads them back through the history source: the outage from
// its first failed round to its first good one, the rollups, a monitor
// removed by a reload kept until keep_removed, and then forgotten.
func TestHistoryFollowsRoundsReloadsAndRemoval(t *testing.T) {
	tg := newTarget(t)
	body := "[history]\nkeep_removed = \"1h\"\n" + monitorTOML("shop", tg.URL) + monitorTOML("gone", tg.URL+"/gone")
	f := newFixture(t, body, nil)
	ctx := context.Background()
	start := f.clock.Now()

	// Rounds one second apart (f.round): up at +1, +2, down at +3..+6,
	// up again at +7 and +8 (recover = 2 resolves at +8).
	for _, down := range []bool{false, false, true, true, true, true, false, false} {
		if down {
			tg.status.Store(http.StatusBadGateway)
		} else {
			tg.status.Store(http.StatusOK)
		}
		f.round("shop")
		f.d.round(ctx, "gone", f.clock.Now())
	}
	if s := f.state("shop"); s != incident.StateUp {
		t.Fatalf("shop is %s after recovering, want up", s)
	}
	f.clock.Advance(time.Minute) // the minute of those rounds has closed
	if err := f.d.flushHistory(ctx, false); err != nil {
		t.Fatal(err)
	}

	rep, err := f.d.History(ctx, "shop", history.Window24h)
	if err != nil {
		t.Fatal(err)
	}
	// Down from the first failed round (+3 s) to the first good one (+7 s).
	if rep.DownSeconds != 4 {
		t.Errorf("down_seconds = %v, want 4", rep.DownSeconds)
	}
	// Measured from the first round (+1 s) to now (+68 s): 67 s, of which
	// 4 down.
	if rep.UpSeconds != 63 || rep.UnknownSeconds != 24*3600-67 {
		t.Errorf("up %v, unknown %v; want 63 and %d", rep.UpSeconds, rep.UnknownSeconds, 24*3600-67)
	}
	if len(rep.Incidents) != 1 || rep.Incidents[0].DurationSeconds != 4 || rep.Incidents[0].ResolvedAt.IsZero() ||
		!rep.Incidents[0].FirstFailureAt.Equal(start.Add(3*time.Second)) || !rep.Incidents[0].RecoveredAt.Equal(start.Add(7*time.Second)) {
		t.Errorf("incidents %+v, want one of 4 s from +3 s to +7 s, resolved", rep.Incidents)
	}
	var checks, failures uint64
	for _, p := range rep.Latency {
		if p.Vantage != "local" {
			t.Errorf("latency point from %q, want local", p.Vantage)
		}
		checks, failures = checks+p.Checks, failures+p.Failures
	}
	if checks != 8 || failures != 4 {
		t.Errorf("rollups hold %d checks, %d failures; want 8 and 4", checks, failures)
	}

	page, next, err := f.d.Incidents(ctx, history.IncidentQuery{Limit: 10})
	// Both monitors had the outage; opened at the same round, the newer
	// ID comes first.
	if err != nil || len(page) != 2 || page[0].Monitor != "gone" || page[1].Monitor != "shop" || !next.IsZero() {
		t.Errorf("Incidents: %+v, next %+v, %v; want gone's, then shop's", page, next, err)
	}
	if page, next, err := f.d.Incidents(ctx, history.IncidentQuery{Limit: 1}); err != nil || len(page) != 1 || next.IsZero() {
		t.Errorf("a page of 1: %d entries, next %+v, %v; want one and a cursor", len(page), next, err)
	}

	// A reload without "gone": its history stays, marked removed, and
	// stops being measured.
	removedAt := f.clock.Now()
	if err := f.d.ReloadFile(ctx, writeConfig(t, f.dir, "[history]\nkeep_removed = \"1h\"\n"+monitorTOML("shop", tg.URL))); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	gone, err := f.d.History(ctx, "gone", history.Window24h)
	if err != nil {
		t.Fatalf("history of a monitor removed a moment ago: %v", err)
	}
	if !gone.RemovedAt.Equal(removedAt) {
		t.Errorf("removed_at = %s, want %s", gone.RemovedAt, removedAt)
	}
	if measured := 24*3600 - gone.UnknownSeconds; measured != 67 {
		t.Errorf("gone was measured %v s, want the 67 s until its removal", measured)
	}
	ov, err := f.d.Overview(ctx, []string{"shop"})
	if err != nil || len(ov["shop"].Days) != 90 || ov["shop"].Days[89].State != history.DayDown {
		t.Errorf("Overview: %+v, %v; want 90 days, today down", ov["shop"].Days[len(ov["shop"].Days)-1:], err)
	}

	// Past keep_removed the pruner forgets it: unknown, a 404.
	f.clock.Advance(2 * time.Hour)
	if _, err := f.d.store.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.History(ctx, "gone", history.Window24h); !errors.Is(err, web.ErrUnknownMonitor) {
		t.Errorf("history of a monitor removed 2h ago with keep_removed 1h: %v, want ErrUnknownMonitor", err)
	}
	if _, err := f.d.History(ctx, "shop", history.Window24h); err != nil {
		t.Errorf("shop's history after the prune: %v", err)
	}
}

// TestHistoryOffKeepsUptime: with [history] enabled = false no rollups
// are kept, but uptime and incidents still are.
func TestHistoryOffKeepsUptime(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, "[history]\nenabled = false\n"+monitorTOML("shop", tg.URL), nil)
	ctx := context.Background()
	for range 3 {
		f.round("shop")
	}
	f.clock.Advance(time.Minute)
	if err := f.d.flushHistory(ctx, true); err != nil {
		t.Fatal(err)
	}
	rep, err := f.d.History(ctx, "shop", history.Window24h)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Latency) != 0 || rep.UpSeconds == 0 || rep.UptimeRatio == nil || *rep.UptimeRatio != 1 {
		t.Errorf("history off: latency %d points, up %v, ratio %v; want none, measured, 1", len(rep.Latency), rep.UpSeconds, rep.UptimeRatio)
	}
	buckets, err := f.d.store.Rollups(ctx, "shop", history.Minute, time.Time{}, f.clock.Now().Add(time.Hour))
	if err != nil || len(buckets) != 0 {
		t.Errorf("history off: %d rollups stored (%v), want none", len(buckets), err)
	}

	// A reload turns rollups on: the next rounds are kept.
	if err := f.d.ReloadFile(ctx, writeConfig(t, f.dir, "[history]\nenabled = true\n"+monitorTOML("shop", tg.URL))); err != nil {
		t.Fatal(err)
	}
	f.round("shop")
	f.clock.Advance(time.Minute)
	if err := f.d.flushHistory(ctx, false); err != nil {
		t.Fatal(err)
	}
	buckets, err = f.d.store.Rollups(ctx, "shop", history.Minute, time.Time{}, f.clock.Now().Add(time.Hour))
	if err != nil || len(buckets) != 1 || buckets[0].Agg.Checks != 1 {
		t.Errorf("after turning history on: %+v (%v), want one bucket of one check", buckets, err)
	}
}

// TestHistoryRecordsMaintenanceToItsEdges: a round inside a window records
// the whole window, so maintenance time is exact to its start and end,
// cut to the time the monitor was measured.
func TestHistoryRecordsMaintenanceToItsEdges(t *testing.T) {
	tg := newTarget(t)
	// t0 is 12:00:00; the window is 12:00:30 to 12:02:00.
	body := monitorTOML("shop", tg.URL) + `
[[maintenance]]
name = "deploy"
monitors = ["shop"]
start = 2026-03-01T12:00:30Z
end = 2026-03-01T12:02:00Z
`
	f := newFixture(t, body, nil)
	ctx := context.Background()
	f.round("shop") // 12:00:01, before the window
	f.clock.Set(t0.Add(45 * time.Second))
	f.round("shop") // 12:00:46, inside it
	f.clock.Set(t0.Add(3 * time.Minute))
	f.round("shop") // 12:03:01
	if err := f.d.flushHistory(ctx, true); err != nil {
		t.Fatal(err)
	}
	rep, err := f.d.History(ctx, "shop", history.Window24h)
	if err != nil {
		t.Fatal(err)
	}
	// Measured from 12:00:01 to 12:03:01 (180 s), 90 s of it in the window.
	if rep.MaintenanceSeconds != 90 || rep.UpSeconds != 90 || rep.DownSeconds != 0 {
		t.Errorf("maintenance %v, up %v, down %v; want 90, 90, 0", rep.MaintenanceSeconds, rep.UpSeconds, rep.DownSeconds)
	}
}

// TestPublicPageFollowsReloads: the [status_page] listener's title and the
// monitors it shows follow a reload, as config.example.toml says.
func TestPublicPageFollowsReloads(t *testing.T) {
	tg := newTarget(t)
	page := func(title, shown string) string {
		return fmt.Sprintf("[status_page]\nlisten = \"127.0.0.1:0\"\ntitle = %q\nmonitors = [%q]\n", title, shown) +
			monitorTOML("shop", tg.URL) + monitorTOML("blog", tg.URL+"/blog")
	}
	f := newFixture(t, page("Old title", "shop"), nil)
	f.run()
	testkit.WaitFor(t, "the public listener", func() bool { return f.d.PublicAddr() != nil })
	get := func() string {
		t.Helper()
		resp, err := http.Get("http://" + f.d.PublicAddr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := get(); !strings.Contains(body, "Old title") || !strings.Contains(body, "shop") || strings.Contains(body, "blog") {
		t.Fatalf("public page before the reload lacks its title or shows the wrong monitors:\n%s", body)
	}
	if err := f.d.ReloadFile(context.Background(), writeConfig(t, f.dir, page("New title", "blog"))); err != nil {
		t.Fatal(err)
	}
	if body := get(); !strings.Contains(body, "New title") || !strings.Contains(body, "blog") || strings.Contains(body, ">shop<") {
		t.Errorf("public page after the reload:\n%s", body)
	}
}

// TestHistoryCountsSlowTimeAsDegraded: a performance incident's slow time
// (first slow round to first fast one) is degraded_seconds inside
// up_seconds, and the report lists it with its kind; a certificate
// incident open all along changes neither, and is not listed.
func TestHistoryCountsSlowTimeAsDegraded(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("shop", tg.URL), nil)
	ctx := context.Background()
	start := f.clock.Now()
	for range 8 { // up, at +1 .. +8
		f.round("shop")
	}
	at := func(sec int) result.Time { return result.TimeOf(start.Add(time.Duration(sec) * time.Second)) }
	// Stored as the daemon's warning machines store them: slow from +2,
	// confirmed at +4, fast again at +6, resolved at +7.
	perf := &incident.Incident{Monitor: "shop", Kind: incident.KindPerformance, Severity: incident.SeverityWarning,
		Class: result.ClassDegraded, Detail: result.PhaseTTFB, FirstFailure: at(2), OpenedAt: at(4), RecoveredAt: at(6)}
	cert := &incident.Incident{Monitor: "shop", Kind: incident.KindCertificate, Severity: incident.SeverityWarning,
		Class: result.ClassCertExpiring, Detail: result.WarnDetail(7), FirstFailure: at(1), OpenedAt: at(1)}
	if err := f.d.store.Update(ctx, func(tx *store.Tx) error {
		for _, inc := range []*incident.Incident{perf, cert} {
			if err := tx.OpenIncident(ctx, inc); err != nil {
				return err
			}
		}
		return tx.ResolveIncident(ctx, perf.ID, at(7).Time, at(6).Time, "recovered", nil)
	}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if err := f.d.flushHistory(ctx, false); err != nil {
		t.Fatal(err)
	}

	rep, err := f.d.History(ctx, "shop", history.Window24h)
	if err != nil {
		t.Fatal(err)
	}
	// Measured from +1 to now (+68 s): 67 s, all up, 4 of them slow.
	if rep.DegradedSeconds != 4 || rep.DownSeconds != 0 || rep.UpSeconds != 67 || rep.UptimeRatio == nil || *rep.UptimeRatio != 1 {
		t.Errorf("degraded %v, down %v, up %v, ratio %v; want 4, 0, 67, 1", rep.DegradedSeconds, rep.DownSeconds, rep.UpSeconds, rep.UptimeRatio)
	}
	if len(rep.Incidents) != 1 || rep.Incidents[0].Kind != incident.KindPerformance || rep.Incidents[0].ID != perf.ID ||
		rep.Incidents[0].DurationSeconds != 4 || rep.Incidents[0].Class != result.ClassDegraded {
		t.Errorf("incidents %+v, want the performance incident only, of 4 s", rep.Incidents)
	}
	ov, err := f.d.Overview(ctx, []string{"shop"})
	if err != nil || len(ov["shop"].Days) != 90 || ov["shop"].Days[89].State != history.DayDegraded || ov["shop"].Uptime30d.Degraded != 4*time.Second {
		t.Errorf("Overview: %+v, %v; want today degraded, 4 s of it", ov["shop"], err)
	}
}
