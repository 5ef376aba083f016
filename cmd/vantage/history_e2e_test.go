package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/web"
)

// historyOf asks the daemon at addr for a monitor's history report.
func historyOf(t *testing.T, addr, name, window string) history.Report {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/monitors/" + name + "/history?window=" + window)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("history of %s: %d %s", name, resp.StatusCode, body)
	}
	var rep history.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("history of %s: %v in %s", name, err, body)
	}
	return rep
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHistoryOfAnOutage runs the real binary against a target that is up,
// then down for a known time, then up, and checks that the history API
// measures the outage from its first failed round to its first good one
// (within one schedule period at either end), that it survives a kill -9,
// and that the public status page shows it without the target's URL.
func TestHistoryOfAnOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon twice and waits out an outage")
	}
	const period = time.Second
	target, status := switchTarget(t)
	status.Store(http.StatusOK)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	addr, public := freeAddr(t), freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n[status_page]\nlisten = %q\ntitle = \"Acme status\"\n%s",
		stateDir, addr, public, daemonMonitor("web", target.URL))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	a := startDaemon(t, file, addr)
	a.view("web", "up", func(v web.MonitorView) bool { return v.State == incident.StateUp && v.LastResult != nil })
	time.Sleep(2 * period)
	downAt := time.Now()
	status.Store(http.StatusBadGateway)
	a.view("web", "down with an incident", down)
	time.Sleep(2 * period)
	upAt := time.Now()
	status.Store(http.StatusOK)
	a.view("web", "resolved", func(v web.MonitorView) bool { return v.State == incident.StateUp && v.OpenIncident == nil })
	outage := upAt.Sub(downAt).Seconds()

	check := func(when string, rep history.Report) {
		t.Helper()
		// The first failed round ran within a period after the switch, and
		// so did the first good one: the measured outage is the real one
		// give or take a period.
		if math.Abs(rep.DownSeconds-outage) > period.Seconds() {
			t.Errorf("%s: down_seconds = %.3f, want %.3f ± %s", when, rep.DownSeconds, outage, period)
		}
		if rep.UptimeRatio == nil || *rep.UptimeRatio >= 1 || *rep.UptimeRatio <= 0 {
			t.Errorf("%s: uptime_ratio = %v, want strictly between 0 and 1", when, rep.UptimeRatio)
		}
		// Nearly all of the 24 hours is before the monitor's first check.
		if rep.UnknownSeconds < 23*3600 {
			t.Errorf("%s: unknown_seconds = %.0f, want most of the day", when, rep.UnknownSeconds)
		}
		if len(rep.Incidents) != 1 {
			t.Fatalf("%s: %d incidents, want 1: %+v", when, len(rep.Incidents), rep.Incidents)
		}
		inc := rep.Incidents[0]
		if d := inc.FirstFailureAt.Sub(downAt); d < 0 || d > period+200*time.Millisecond {
			t.Errorf("%s: first_failure_at %s is %s after the target failed, want within a period", when, inc.FirstFailureAt, d)
		}
		if d := inc.RecoveredAt.Sub(upAt); d < 0 || d > period+200*time.Millisecond {
			t.Errorf("%s: recovered_at %s is %s after the target came back, want within a period", when, inc.RecoveredAt, d)
		}
		if inc.ResolvedAt.IsZero() || !inc.ResolvedAt.After(inc.RecoveredAt.Time) {
			t.Errorf("%s: resolved_at %s, want after recovered_at %s (recover = 2)", when, inc.ResolvedAt, inc.RecoveredAt)
		}
		if math.Abs(inc.DurationSeconds-rep.DownSeconds) > 0.01 {
			t.Errorf("%s: incident duration %.3f s, but down_seconds %.3f", when, inc.DurationSeconds, rep.DownSeconds)
		}
		if inc.Class == "" || inc.Kind != incident.KindTarget {
			t.Errorf("%s: incident %+v lacks its class or kind", when, inc)
		}
	}
	rep := historyOf(t, addr, "web", "24h")
	check("running", rep)

	// The public page shows the monitor and its incident, never its URL,
	// and has none of the private surface.
	code, page := get(t, "http://"+public+"/")
	if code != http.StatusOK || !strings.Contains(page, "web") || !strings.Contains(page, "Acme status") {
		t.Errorf("public /: %d\n%s", code, page)
	}
	for _, p := range []string{"/", "/monitors/web", "/badge/web/status.svg", "/badge/web/uptime/24h.svg"} {
		if _, body := get(t, "http://"+public+p); strings.Contains(body, target.URL) || strings.Contains(body, strings.TrimPrefix(target.URL, "http://")) {
			t.Errorf("public %s shows the target's address", p)
		}
	}
	for _, p := range []string{"/api/v1/monitors", "/api/v1/monitors/web/history", "/api/v1/incidents", "/metrics", "/healthz"} {
		if code, _ := get(t, "http://"+public+p); code != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", p, code)
		}
	}

	// kill -9 and start again: the history is still there, and the time
	// the daemon was down is unknown, not up. Between the two reports the
	// measured time can grow by at most the wall time that passed minus
	// the time the daemon was away.
	a.kill()
	killedAt := time.Now()
	time.Sleep(2 * period)
	restartedAt := time.Now()
	b := startDaemon(t, file, addr)
	b.view("web", "checked after restart", func(v web.MonitorView) bool { return v.LastResult != nil })
	time.Sleep(2 * period)
	after := historyOf(t, addr, "web", "24h")
	check("after kill -9", after)
	grew := (after.To.Sub(after.From.Time).Seconds() - after.UnknownSeconds) - (rep.To.Sub(rep.From.Time).Seconds() - rep.UnknownSeconds)
	limit := after.To.Sub(rep.To.Time).Seconds() - restartedAt.Sub(killedAt).Seconds() + 0.5
	if grew > limit {
		t.Errorf("measured time grew by %.2f s across a kill -9, more than the %.2f s the daemon ran: the gap counted as measured", grew, limit)
	}
	// It ran two periods since its first round after the restart.
	if grew < period.Seconds() {
		t.Errorf("measured time grew by %.2f s after the restart, want at least %s", grew, period)
	}
}
