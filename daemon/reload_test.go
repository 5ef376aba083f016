package daemon

import (
	"context"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

func TestReload(t *testing.T) {
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	f := newFixture(t, monitorTOML("keep", tg.URL)+monitorTOML("gone", tg.URL+"/gone")+monitorTOML("tune", tg.URL+"/tune"), nil)
	ctx := context.Background()
	for _, name := range []string{"keep", "gone", "tune"} {
		f.round(name)
		f.round(name)
		if s := f.state(name); s != incident.StateDown {
			t.Fatalf("%s: %s, want down", name, s)
		}
	}
	keepInc := f.incidents("keep")[0]
	goneInc := f.incidents("gone")[0]
	tuneInc := f.incidents("tune")[0]

	// An invalid file changes nothing and logs every error.
	bad := writeConfig(t, f.dir, monitorTOML("keep", tg.URL)+"\n[[monitor]]\nname = \"x\"\nurl = \"ftp://nope\"\nschedul = \"@every 1s\"\n")
	if err := f.d.ReloadFile(ctx, bad); err == nil {
		t.Fatal("ReloadFile of an invalid config returned nil")
	}
	logs := f.logs.String()
	for _, want := range []string{`schedul`, `did you mean`, `is not http or https`} {
		if !strings.Contains(logs, want) {
			t.Errorf("reload failure log lacks %q:\n%s", want, logs)
		}
	}
	if names := f.d.sched.Names(); !slices.Equal(names, []string{"gone", "keep", "tune"}) {
		t.Fatalf("after an invalid reload the schedule is %v", names)
	}
	if v := counterValue(t, f.d.reg, "vantage_config_reloads_total", map[string]string{"result": "failure"}); v != 1 {
		t.Errorf("reloads_total{failure} = %v, want 1", v)
	}
	if !f.incidents("gone")[0].Open() {
		t.Fatal("an invalid reload resolved an incident")
	}

	// A valid file: gone is removed, fresh is added, tune gets a new
	// recover count, keep is untouched.
	tuned := strings.Replace(monitorTOML("tune", tg.URL+"/tune"), "recover = 2", "recover = 3", 1)
	good := writeConfig(t, f.dir, monitorTOML("keep", tg.URL)+tuned+monitorTOML("fresh", tg.URL+"/fresh"))
	if err := f.d.ReloadFile(ctx, good); err != nil {
		t.Fatalf("valid reload: %v", err)
	}
	if names := f.d.sched.Names(); !slices.Equal(names, []string{"fresh", "keep", "tune"}) {
		t.Fatalf("after reload the schedule is %v", names)
	}
	if v := counterValue(t, f.d.reg, "vantage_config_reloads_total", map[string]string{"result": "success"}); v != 1 {
		t.Errorf("reloads_total{success} = %v, want 1", v)
	}
	logs = f.logs.String()
	if !strings.Contains(logs, "added: fresh") || !strings.Contains(logs, "removed: gone") || !strings.Contains(logs, "changed: tune") {
		t.Errorf("reload log does not say what changed:\n%s", logs)
	}
	gone, err := f.d.store.Incident(ctx, goneInc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gone.Open() || gone.Resolution != incident.ResolutionRemoved {
		t.Fatalf("removed monitor's incident: open=%v resolution %q", gone.Open(), gone.Resolution)
	}
	for name, inc := range map[string]incident.Incident{"keep": keepInc, "tune": tuneInc} {
		if s := f.state(name); s != incident.StateDown {
			t.Errorf("%s after reload: %s, want down (state kept)", name, s)
		}
		if got := f.d.lookup(name).machine.Incident(); got == nil || got.ID != inc.ID {
			t.Errorf("%s after reload: incident %+v, want ID %d", name, got, inc.ID)
		}
	}
	if r := f.d.lookup("tune").machine.Settings().Recover; r != 3 {
		t.Errorf("tune's recover = %d, want the new 3", r)
	}
	if s := f.state("fresh"); s != incident.StateUp {
		t.Errorf("fresh: %s, want up", s)
	}
	views, _ := f.d.Monitors(ctx)
	if len(views) != 3 {
		t.Errorf("API lists %d monitors after reload, want 3", len(views))
	}

	// The new recover count is in force: 3 good rounds, not 2.
	tg.status.Store(http.StatusOK)
	for range 2 {
		f.round("tune")
	}
	if s := f.state("tune"); s != incident.StateRecovering {
		t.Fatalf("tune after 2 good rounds: %s, want recovering", s)
	}
	f.round("tune")
	if s := f.state("tune"); s != incident.StateUp {
		t.Fatalf("tune after 3 good rounds: %s, want up", s)
	}
}

func TestMonitorRemovedWhileDownIsRetiredAtStart(t *testing.T) {
	tg := newTarget(t)
	tg.status.Store(http.StatusGatewayTimeout)
	f := newFixture(t, monitorTOML("keep", tg.URL)+monitorTOML("gone", tg.URL+"/gone"), nil)
	ctx := context.Background()
	f.round("gone")
	f.round("gone")
	goneInc := f.incidents("gone")
	if len(goneInc) != 1 || !goneInc[0].Open() {
		t.Fatalf("gone's incidents %+v, want one open", goneInc)
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}

	writeConfig(t, f.dir, monitorTOML("keep", tg.URL))
	f.open(nil)
	inc, err := f.d.store.Incident(ctx, goneInc[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Open() || inc.Resolution != incident.ResolutionRemoved {
		t.Fatalf("incident of a monitor dropped while down: open=%v resolution %q", inc.Open(), inc.Resolution)
	}
	if _, ok, err := f.d.store.State(ctx, "gone"); err != nil || ok {
		t.Fatalf("gone's state still stored (ok=%v, err=%v)", ok, err)
	}
}

// TestReloadRefusesHostileConfig: on SIGHUP, a nesting bomb or a file over
// 16 MiB is refused before parsing (it once took the daemon from 23 MB to
// 1.6 GB), the error names file and line, and the old config keeps running.
func TestReloadRefusesHostileConfig(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("keep", tg.URL), nil)
	ctx := context.Background()
	const depth = 2000
	bombBody := monitorTOML("keep", tg.URL) + monitorTOML("new", tg.URL) +
		"headers = " + strings.Repeat("{a = ", depth) + "\"x\"" + strings.Repeat("}", depth) + "\n"
	for name, body := range map[string]string{
		"bomb":     bombBody,
		"oversize": monitorTOML("new", tg.URL) + strings.Repeat("#"+strings.Repeat("x", 1023)+"\n", 16<<10),
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, f.dir, body)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := f.d.ReloadFile(ctx, path)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("ReloadFile of a hostile config returned nil")
			}
			// Reading the 16 MiB file is the only big allocation.
			if got := after.TotalAlloc - before.TotalAlloc; got > 20<<20 {
				t.Errorf("refusing it allocated %d MiB", got>>20)
			}
			want := path + ": file is larger than 16 MiB"
			if name == "bomb" {
				want = path + ":21: nested deeper than 32 levels"
			}
			if logs := f.logs.String(); !strings.Contains(logs, want) {
				t.Errorf("reload log lacks %q:\n%s", want, logs)
			}
			if names := f.d.sched.Names(); !slices.Equal(names, []string{"keep"}) {
				t.Fatalf("after a refused reload the schedule is %v", names)
			}
		})
	}
	if v := counterValue(t, f.d.reg, "vantage_config_reloads_total", map[string]string{"result": "failure"}); v != 2 {
		t.Errorf("reloads_total{failure} = %v, want 2", v)
	}
}

func TestMonitorRemovedWhileStoppedGetsItsResolved(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	tg.status.Store(http.StatusGatewayTimeout)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("keep", tg.URL)+monitorTOML("gone", tg.URL+"/gone")+receiverTOML, withRecorder(rec))
	f.round("gone")
	f.round("gone")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after gone went down, want its DOWN", n)
	}
	msgs, _ := rec.got()
	open := msgs[0]
	if open.Event != incident.NotifyOpen || open.Monitor != "gone" {
		t.Fatalf("first alert: %+v", open)
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}

	writeConfig(t, f.dir, monitorTOML("keep", tg.URL)+receiverTOML)
	f.open(withRecorder(rec))
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after a restart without gone, want exactly its RESOLVED", n)
	}
	msgs, refs := rec.got()
	res := msgs[len(msgs)-1]
	if res.Event != incident.NotifyResolve || res.Monitor != "gone" || res.IncidentID != open.IncidentID || res.Resolution != incident.ResolutionRemoved {
		t.Fatalf("alert after the restart: %+v, want gone's RESOLVED as %q", res, incident.ResolutionRemoved)
	}
	if refs[len(refs)-1] != "C1/1.000" {
		t.Errorf("the RESOLVED was given ref %q, want the DOWN's message C1/1.000", refs[len(refs)-1])
	}
	if f.deliver() != 0 {
		t.Fatal("more than one alert for the removed monitor")
	}
	if inc, err := f.d.store.Incident(context.Background(), open.IncidentID); err != nil || inc.Open() || inc.Resolution != incident.ResolutionRemoved {
		t.Fatalf("gone's incident: %+v, %v; want resolved as removed", inc, err)
	}
}
