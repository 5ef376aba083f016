package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// TestSilenceHoldsTheDownUntilItEnds is the maintenance test with a silence
// added at run time instead of a window in the config, and a restart in
// the middle of it: ending while down → exactly one alert at its end;
// recovering inside → nothing; the UP after it goes out.
func TestSilenceHoldsTheDownUntilItEnds(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("blog", tg.URL+"/blog")+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	end := f.clock.Now().Add(10 * time.Minute)
	s, err := f.d.AddSilence(ctx, silence.Silence{
		Matchers: silence.Matchers{Monitors: []string{"web", "blog"}}, End: end, Comment: "deploy",
	}, "uid 1000 (ana)")
	if err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 || s.CreatedBy != "uid 1000 (ana)" || !s.Start.Equal(f.clock.Now()) {
		t.Fatalf("added silence = %+v", s)
	}

	tg.status.Store(http.StatusServiceUnavailable)
	for range 2 {
		f.round("web")
		f.round("blog")
	}
	if f.deliver() != 0 {
		t.Fatal("an alert went out during the silence")
	}
	if len(f.incidents("web")) != 1 {
		t.Fatal("no incident opened under the silence: checks must still run and open incidents")
	}
	// blog recovers inside the silence: nobody saw its DOWN, so no UP either.
	tg.status.Store(http.StatusOK)
	f.round("blog")
	f.round("blog")
	tg.status.Store(http.StatusServiceUnavailable)

	// A restart in the middle: the silence is still in force.
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(withRecorder(rec))
	if got := f.d.silences(); len(got) != 1 || got[0].ID != s.ID {
		t.Fatalf("silences after a restart = %+v", got)
	}
	f.round("web")
	if f.deliver() != 0 {
		t.Fatal("an alert went out during the silence, after the restart")
	}

	f.clock.Advance(end.Sub(f.clock.Now()) + time.Second)
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d when the silence ended, want exactly 1 (web, still down)", n)
	}
	msgs, _ := rec.got()
	if msgs[0].Monitor != "web" || msgs[0].Event != incident.NotifyOpen || !strings.Contains(msgs[0].Change, "silence by uid 1000 (ana) (deploy)") {
		t.Fatalf("after the silence: %+v", msgs[0])
	}
	if f.deliver() != 0 {
		t.Fatal("more than one alert after the silence")
	}
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after recovery, want the resolve", n)
	}
	if msgs, _ = rec.got(); msgs[len(msgs)-1].Event != incident.NotifyResolve {
		t.Fatalf("after recovery: %+v", msgs[len(msgs)-1])
	}
}

// TestSilenceOverAnAnnouncedDown: a DOWN sent before the silence is never
// sent again, its changes inside are dropped, and its UP is held to the end.
func TestSilenceOverAnAnnouncedDown(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if f.deliver() != 1 {
		t.Fatal("the DOWN did not go out")
	}
	end := f.clock.Now().Add(10 * time.Minute)
	if _, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Tags: nil, Monitors: []string{"web"}}, End: end}, "ana"); err != nil {
		t.Fatal(err)
	}
	tg.status.Store(http.StatusServiceUnavailable) // a change of class, muted
	f.round("web")
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web") // resolved inside the silence
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d inside the silence, want 0", n)
	}
	f.clock.Advance(end.Sub(f.clock.Now()) + time.Second)
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d at the end, want the held UP", n)
	}
	msgs, _ := rec.got()
	if len(msgs) != 2 || msgs[1].Event != incident.NotifyResolve {
		t.Fatalf("messages = %d, last %+v; want the DOWN once, then the UP", len(msgs), msgs[len(msgs)-1])
	}
}

// TestExpiringASilenceReleasesWhatItHeld: expired early, the DOWN it held
// goes out at once, exactly once, and the silence stays listed as expired.
func TestExpiringASilenceReleasesWhatItHeld(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	s, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Monitors: []string{"web"}}, End: f.clock.Now().Add(time.Hour), Comment: "deploy"}, "ana")
	if err != nil {
		t.Fatal(err)
	}
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if f.deliver() != 0 {
		t.Fatal("sent during the silence")
	}
	got, err := f.d.ExpireSilence(ctx, s.ID, "bo")
	if err != nil || got.ExpiredBy != "bo" || !got.ExpiredAt.Equal(f.clock.Now()) {
		t.Fatalf("expire = %+v, %v", got, err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d right after the expiry, want the held DOWN", n)
	}
	f.clock.Advance(2 * time.Hour)
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d more at the silence's old end, want none", n)
	}
	if again, err := f.d.ExpireSilence(ctx, s.ID, "cy"); err != nil || again.ExpiredBy != "bo" {
		t.Errorf("second expiry = %+v, %v; want the first, unchanged", again, err)
	}
	if _, err := f.d.ExpireSilence(ctx, 999, "cy"); !errors.Is(err, ErrUnknownSilence) {
		t.Errorf("expiring an unknown silence: %v", err)
	}
	if live, _ := f.d.Silences(ctx, false); len(live) != 0 {
		t.Errorf("live silences = %+v", live)
	}
	if all, _ := f.d.Silences(ctx, true); len(all) != 1 || all[0].ExpiredBy != "bo" {
		t.Errorf("all silences = %+v", all)
	}
	// The incident's history says who expired the silence.
	inc := f.incidents("web")[0]
	acts, err := f.d.store.ActionsFor(ctx, inc.ID)
	if err != nil || len(acts) != 1 || acts[0].What != store.ActionSilenceExpire || acts[0].By != "bo" {
		t.Errorf("actions of the incident = %+v, %v", acts, err)
	}
	// A new silence is validated.
	if _, err := f.d.AddSilence(ctx, silence.Silence{End: f.clock.Now().Add(time.Hour)}, "ana"); !errors.Is(err, ErrInvalidAction) {
		t.Errorf("a silence without matchers: %v", err)
	}
	if _, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Incident: 999}, UntilResolved: true}, "ana"); !errors.Is(err, ErrUnknownIncident) {
		t.Errorf("a silence of an unknown incident: %v", err)
	}
}

const repeatTOML = `
[[route]]
receivers = ["ops"]
repeat = "5m"
`

// TestAckStopsRemindersAndTellsWhoTookIt: an ack sends one "acknowledged
// by" update, no reminders after it, survives a restart, a second ack
// changes nothing, and the next incident starts without one.
func TestAckStopsRemindersAndTellsWhoTookIt(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML+repeatTOML, withRecorder(rec))
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if f.deliver() != 1 {
		t.Fatal("the DOWN did not go out")
	}
	f.clock.Advance(6 * time.Minute)
	f.d.remind(ctx)
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d reminders before the ack, want 1", n)
	}
	id := f.incidents("web")[0].ID
	if _, err := f.d.Ack(ctx, id+100, "ana", ""); !errors.Is(err, ErrUnknownIncident) {
		t.Errorf("ack of an unknown incident: %v", err)
	}
	inc, err := f.d.Ack(ctx, id, "slack:@ana", "looking at the db")
	if err != nil || inc.Ack == nil || inc.Ack.By != "slack:@ana" || inc.ID != id {
		t.Fatalf("ack = %+v, %v", inc.Ack, err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the ack, want one update", n)
	}
	msgs, refs := rec.got()
	up := msgs[len(msgs)-1]
	if up.Event != incident.NotifyUpdate || up.Change != "Acknowledged by slack:@ana: looking at the db." || up.Ack == nil || refs[len(refs)-1] != "C1/1.000" {
		t.Fatalf("ack update: %+v (ref %q)", up, refs[len(refs)-1])
	}
	again, err := f.d.Ack(ctx, id, "bo", "me too")
	if err != nil || again.Ack == nil || again.Ack.By != "slack:@ana" {
		t.Fatalf("second ack = %+v, %v; want the first", again.Ack, err)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("a second ack sent %d", n)
	}
	for range 3 {
		f.clock.Advance(6 * time.Minute)
		f.d.remind(ctx)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d reminders after the ack", n)
	}
	// A restart keeps it: still no reminders, and the store has it.
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(withRecorder(rec))
	if m := f.d.lookup("web"); m.machine.Incident().Ack == nil {
		t.Fatal("the ack was lost by a restart")
	}
	f.clock.Advance(6 * time.Minute)
	f.d.remind(ctx)
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d reminders after the restart", n)
	}
	// The history shows it, with the action.
	list, _, err := f.d.Incidents(ctx, history.IncidentQuery{Monitor: "web", Limit: 10})
	if err != nil || len(list) != 1 || list[0].Ack == nil || len(list[0].Actions) != 1 || list[0].Actions[0].What != "ack" ||
		list[0].Actions[0].By != "slack:@ana" || list[0].Actions[0].Comment != "looking at the db" {
		t.Fatalf("incidents = %+v, %v", list, err)
	}
	// Resolve; the next incident has no ack, and its reminders come.
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if _, err := f.d.Ack(ctx, id, "ana", ""); !errors.Is(err, ErrUnknownIncident) {
		t.Errorf("ack of a resolved incident: %v", err)
	}
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if inc := f.d.lookup("web").machine.Incident(); inc == nil || inc.Ack != nil || inc.ID == id {
		t.Fatalf("the next incident: %+v", inc)
	}
	f.deliver()
	f.clock.Advance(6 * time.Minute)
	f.d.remind(ctx)
	msgs, _ = rec.got()
	n0 := len(msgs)
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d reminders of the new incident, want 1", n)
	}
	if msgs, _ = rec.got(); len(msgs) != n0+1 || msgs[n0].Event != incident.NotifyReminder || msgs[n0].Ack != nil {
		t.Errorf("the new incident's reminder: %+v", msgs[len(msgs)-1])
	}
}

// TestRecheckRunsTheRoundNow: the outcome comes back, the round settles
// (it counts towards opening the incident) and the action is recorded.
func TestRecheckRunsTheRoundNow(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	ctx := context.Background()
	if _, err := f.d.Recheck(ctx, "nope", "ana"); !errors.Is(err, ErrUnknownMonitor) {
		t.Errorf("re-check of an unknown monitor: %v", err)
	}
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	out, err := f.d.Recheck(ctx, "web", "uid 1000 (ana)")
	if err != nil || out.Class != result.ClassBadGateway || out.Status != 502 {
		t.Fatalf("re-check = %s %d, %v", out.Class, out.Status, err)
	}
	incs := f.incidents("web")
	if len(incs) != 1 {
		t.Fatalf("the re-check's round did not settle: %d incidents", len(incs))
	}
	// Recorded, with the incident it is about (it opened it).
	acts, err := f.d.store.ActionsFor(ctx, incs[0].ID)
	if err != nil || len(acts) != 1 || acts[0].What != store.ActionRecheck || acts[0].By != "uid 1000 (ana)" || acts[0].Detail != "bad_gateway (502)" {
		t.Errorf("actions = %+v, %v", acts, err)
	}
	// A scheduled round while a re-check runs is skipped, not doubled.
	m := f.d.lookup("web")
	m.busy.Lock()
	before := m.lastCheck
	f.d.round(ctx, "web", f.clock.Now())
	if !m.lastCheck.Equal(before) {
		t.Error("a scheduled round ran during a re-check")
	}
	m.busy.Unlock()
}

// crashCopy opens a second daemon on a copy of f's state directory taken
// while f runs, nothing closed or flushed: the files a kill -9 leaves (the
// WAL without its index, a lock file with no flock), on f's clock.
func (f *fixture) crashCopy(body string, tweak func(*Options)) *fixture {
	f.t.Helper()
	dir := f.t.TempDir()
	g := &fixture{t: f.t, dir: dir, clock: f.clock, logs: f.logs}
	g.file = writeConfig(f.t, dir, body)
	src, dst := filepath.Join(f.dir, "state"), filepath.Join(dir, "state")
	if err := os.MkdirAll(dst, 0o750); err != nil {
		f.t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
	g.open(tweak)
	return g
}

// TestKill9DuringASilence: the daemon dies (kill -9) while a silence holds
// a DOWN; the next one is still muted, and after the end exactly one alert.
func TestKill9DuringASilence(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	body := monitorTOML("web", tg.URL) + receiverTOML
	f := newFixture(t, body, withRecorder(rec))
	ctx := context.Background()
	end := f.clock.Now().Add(10 * time.Minute)
	if _, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Monitors: []string{"web"}}, End: end}, "ana"); err != nil {
		t.Fatal(err)
	}
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	g := f.crashCopy(body, withRecorder(rec))
	if got := g.d.silences(); len(got) != 1 {
		t.Fatalf("silences after a kill -9 = %+v", got)
	}
	g.round("web")
	if n := g.deliver(); n != 0 {
		t.Fatalf("delivered %d during the silence after a kill -9", n)
	}
	g.clock.Advance(end.Sub(g.clock.Now()) + time.Second)
	if n := g.deliver(); n != 1 {
		t.Fatalf("delivered %d when the silence ended, want exactly 1", n)
	}
	if n := g.deliver(); n != 0 {
		t.Fatalf("delivered %d more", n)
	}
	if msgs, _ := rec.got(); len(msgs) != 1 || msgs[0].Event != incident.NotifyOpen || msgs[0].Monitor != "web" {
		t.Fatalf("messages = %+v", msgs)
	}
}

// TestSilenceUntilResolved: a silence of one announced incident until it
// resolves drops its changes and reminders, and its UP goes out at once.
func TestSilenceUntilResolved(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML+repeatTOML, withRecorder(rec))
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if f.deliver() != 1 {
		t.Fatal("the DOWN did not go out")
	}
	id := f.incidents("web")[0].ID
	s, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Incident: id}, UntilResolved: true, Comment: "known"}, "slack:@ana")
	if err != nil {
		t.Fatal(err)
	}
	if acts, _ := f.d.store.ActionsFor(ctx, id); len(acts) != 1 || acts[0].What != store.ActionSilenceAdd || acts[0].SilenceID != s.ID {
		t.Errorf("the incident's actions = %+v", acts)
	}
	tg.status.Store(http.StatusServiceUnavailable)
	f.round("web")
	f.clock.Advance(time.Hour)
	f.d.remind(ctx)
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d for a silenced incident", n)
	}
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d on resolve, want the UP at once", n)
	}
	if msgs, _ := rec.got(); msgs[len(msgs)-1].Event != incident.NotifyResolve {
		t.Fatalf("last message: %+v", msgs[len(msgs)-1])
	}
	// It resolved: the silence mutes nothing more, and a new one of it is refused.
	if _, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Incident: id}, UntilResolved: true}, "ana"); !errors.Is(err, ErrUnknownIncident) {
		t.Errorf("until-resolved silence of a resolved incident: %v", err)
	}
}

// TestExpiringReleasesAHeldUp: the UP of an announced incident that
// resolved inside a silence is held to its end; expired early, it goes out
// at once, once, and a window's hold on another monitor stays.
func TestExpiringReleasesAHeldUp(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	winEnd := t0.Add(3 * time.Hour)
	win := fmt.Sprintf(`
[[maintenance]]
name = "blog-move"
monitors = ["blog"]
start = %s
end = %s
`, t0.Add(-time.Minute).Format(time.RFC3339), winEnd.Format(time.RFC3339))
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("blog", tg.URL+"/blog")+receiverTOML+win, withRecorder(rec))
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if f.deliver() != 1 {
		t.Fatal("the DOWN did not go out")
	}
	s, err := f.d.AddSilence(ctx, silence.Silence{Matchers: silence.Matchers{Classes: []result.Class{result.ClassBadGateway}}, End: f.clock.Now().Add(time.Hour)}, "ana")
	if err != nil {
		t.Fatal(err)
	}
	f.round("blog")
	f.round("blog") // blog's DOWN: held by its window (and the silence)
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d inside the silence", n)
	}
	if _, err := f.d.ExpireSilence(ctx, s.ID, "bo"); err != nil {
		t.Fatal(err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the expiry, want the held UP", n)
	}
	f.clock.Advance(2 * time.Hour)
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d more before the window's end", n)
	}
	msgs, _ := rec.got()
	if len(msgs) != 2 || msgs[1].Event != incident.NotifyResolve || msgs[1].Monitor != "web" {
		t.Fatalf("messages = %+v", msgs)
	}
	f.clock.Advance(winEnd.Sub(f.clock.Now()) + time.Second)
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d at the window's end, want blog's DOWN", n)
	}
	if msgs, _ = rec.got(); msgs[2].Monitor != "blog" || msgs[2].Event != incident.NotifyOpen {
		t.Fatalf("at the window's end: %+v", msgs[2])
	}
}

// TestAckAWarning: a performance warning is acknowledged on its own machine.
func TestAckAWarning(t *testing.T) {
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	f, _ := newWarnFixture(t, monitorTOML("web", srv.URL), withWarnings(nil, config.Degraded{TTFB: 100 * time.Millisecond}, 2), nil, nil)
	slow.Store(true)
	f.round("web")
	f.round("web")
	perf := f.kindIncidents("web", incident.KindPerformance)
	if len(perf) != 1 {
		t.Fatalf("performance incidents = %+v", perf)
	}
	inc, err := f.d.Ack(context.Background(), perf[0].ID, "ana", "known slow")
	if err != nil || inc.Ack == nil || inc.Kind != incident.KindPerformance {
		t.Fatalf("ack of a warning = %+v, %v", inc, err)
	}
	m := f.d.lookup("web")
	m.mu.Lock()
	got := m.perf.Incident()
	m.mu.Unlock()
	if got == nil || got.Ack == nil || got.Ack.Comment != "known slow" {
		t.Errorf("the performance machine's incident = %+v", got)
	}
}
