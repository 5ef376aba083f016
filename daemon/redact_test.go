package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/redact"
)

// TestRedactorFollowsReloads: the daemon's Redactor knows the secrets of
// the config in force, swapped on reload; the previous config's stay
// hidden for one more reload (a send may still be under way with them).
// The daemon's own log lines go through it.
func TestRedactorFollowsReloads(t *testing.T) {
	tg := newTarget(t)
	current := redact.NewCurrent(nil)
	f := newFixture(t, monitorTOML("a", tg.URL+"/?token=first-secret-1"), func(o *Options) { o.Redact = current })
	hidden := func(s string) bool { return !strings.Contains(current.String("x "+s+" y"), s) }
	if !hidden("first-secret-1") {
		t.Fatal("the first config's secret is not hidden")
	}
	ctx := context.Background()
	if err := f.d.Reload(ctx, loadConfig(t, writeConfig(t, f.dir, monitorTOML("a", tg.URL+"/?token=second-secret-2")))); err != nil {
		t.Fatal(err)
	}
	if !hidden("second-secret-2") || !hidden("first-secret-1") {
		t.Error("after a reload: want the new and the previous secret hidden")
	}
	if err := f.d.Reload(ctx, loadConfig(t, writeConfig(t, f.dir, monitorTOML("a", tg.URL+"/")))); err != nil {
		t.Fatal(err)
	}
	if !hidden("second-secret-2") || hidden("first-secret-1") {
		t.Error("after a second reload: want only the previous config's secret still hidden")
	}
	f.d.log.Info("probe said second-secret-2")
	if logs := f.logs.String(); strings.Contains(logs, "second-secret-2") || !strings.Contains(logs, "probe said <secret>") {
		t.Errorf("the daemon's log is not redacted:\n%s", logs)
	}
}
