package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/web"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// vantageBinary builds the real command once per test run.
func vantageBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vantage-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vantage")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// switchTarget answers every path with the status the test sets.
func switchTarget(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var status atomic.Int32
	status.Store(http.StatusBadGateway)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &status
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func daemonMonitor(name, url string) string {
	return fmt.Sprintf(`
[[monitor]]
name = %q
url = %q
schedule = "@every 1s"
timeout = "500ms"
confirm = 2
recover = 2
retry_delay = "200ms"
`, name, url)
}

type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *testkit.Buffer
	addr   string
	done   chan error
}

func startDaemon(t *testing.T, file, addr string) *daemonProc {
	t.Helper()
	p := &daemonProc{t: t, stderr: &testkit.Buffer{}, addr: addr, done: make(chan error, 1)}
	p.cmd = exec.Command(vantageBinary(t), "run", "-config", file, "-log-level", "debug")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	p.waitFor("the API to answer", func() bool {
		_, err := p.monitors()
		return err == nil
	})
	return p
}

func (p *daemonProc) monitors() (map[string]web.MonitorView, error) {
	resp, err := http.Get("http://" + p.addr + "/api/v1/monitors")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var body struct {
		Monitors []web.MonitorView `json:"monitors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	out := make(map[string]web.MonitorView, len(body.Monitors))
	for _, m := range body.Monitors {
		out[m.Name] = m
	}
	return out, nil
}

func (p *daemonProc) waitFor(what string, cond func() bool) {
	p.t.Helper()
	reached := testkit.Eventually(10*time.Second, func() bool {
		if cond() {
			return true
		}
		select {
		case err := <-p.done:
			p.done <- err
			p.t.Fatalf("vantage run exited (%v) while waiting for %s; stderr:\n%s", err, what, p.stderr.String())
		default:
		}
		return false
	})
	if !reached {
		p.t.Fatalf("timed out waiting for %s; stderr:\n%s", what, p.stderr.String())
	}
}

// view waits until the API shows name matching cond and returns it.
func (p *daemonProc) view(name, what string, cond func(v web.MonitorView) bool) web.MonitorView {
	p.t.Helper()
	var got web.MonitorView
	p.waitFor(name+" "+what, func() bool {
		ms, err := p.monitors()
		if err != nil {
			return false
		}
		v, ok := ms[name]
		got = v
		return ok && cond(v)
	})
	return got
}

func (p *daemonProc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	err := <-p.done
	p.done <- err
}

// stop sends SIGTERM and expects a clean exit.
func (p *daemonProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			p.t.Fatalf("vantage run after SIGTERM: %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		p.t.Fatalf("vantage run did not stop after SIGTERM; stderr:\n%s", p.stderr.String())
	}
}

// storedIncidents reads the incidents of monitor from the store of a
// daemon that is not running.
func storedIncidents(t *testing.T, stateDir, monitor string) []incident.Incident {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(stateDir, store.FileName), store.Options{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incs, err := st.RecentIncidents(ctx, monitor, 100)
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

func down(v web.MonitorView) bool {
	return v.State == incident.StateDown && v.OpenIncident != nil && v.OpenIncident.ID != 0
}

func TestRunSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon several times")
	}
	target, status := switchTarget(t)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	addr := freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", stateDir, addr, daemonMonitor("web", target.URL))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// 1. The target fails: an incident opens.
	a := startDaemon(t, file, addr)
	id := a.view("web", "down with an incident", down).OpenIncident.ID
	a.kill()
	if incs := storedIncidents(t, stateDir, "web"); len(incs) != 1 || incs[0].ID != id || !incs[0].Open() {
		t.Fatalf("after kill -9: incidents %+v, want only #%d, open", incs, id)
	}

	// 2. Restart while still failing: the same incident, not a new one.
	b := startDaemon(t, file, addr)
	v := b.view("web", "checked after restart", func(v web.MonitorView) bool { return v.LastResult != nil })
	first := v.LastCheck
	v = b.view("web", "checked again", func(v web.MonitorView) bool { return v.LastCheck.After(first.Time) })
	if !down(v) || v.OpenIncident.ID != id {
		t.Fatalf("after restart: %s with incident %+v, want down with #%d", v.State, v.OpenIncident, id)
	}
	b.kill()

	// 3. The target recovers while the daemon is down.
	status.Store(http.StatusOK)
	if incs := storedIncidents(t, stateDir, "web"); len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("after second kill: incidents %+v, want only #%d, open", incs, id)
	}
	c := startDaemon(t, file, addr)
	c.view("web", "resolved", func(v web.MonitorView) bool { return v.State == incident.StateUp && v.OpenIncident == nil })
	c.stop()
	incs := storedIncidents(t, stateDir, "web")
	if len(incs) != 1 || incs[0].ID != id || incs[0].Open() || !strings.HasPrefix(incs[0].Resolution, "recovered") {
		t.Fatalf("after recovery: incidents %+v, want only #%d, resolved as recovered", incs, id)
	}
	if !strings.Contains(c.stderr.String(), "restored open incident") {
		t.Errorf("restart did not log the restored incident:\n%s", c.stderr.String())
	}
}

func TestRunReloadsOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon")
	}
	target, _ := switchTarget(t)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	addr := freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	write := func(body string) {
		t.Helper()
		cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", stateDir, addr, body)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(daemonMonitor("keep", target.URL+"/keep") + daemonMonitor("gone", target.URL+"/gone"))
	p := startDaemon(t, file, addr)
	keepID := p.view("keep", "down", down).OpenIncident.ID
	goneID := p.view("gone", "down", down).OpenIncident.ID

	// Invalid: every error is logged and the old config keeps running.
	write(daemonMonitor("keep", target.URL+"/keep") + "\n[[monitor]]\nname = \"bad\"\nurl = \"ftp://x\"\nconfirm = 0\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the reload failure", func() bool { return strings.Contains(p.stderr.String(), "config reload failed") })
	logs := p.stderr.String()
	for _, want := range []string{`url: scheme \"ftp\" is not http or https`, `confirm: must be at least 1`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	ms, err := p.monitors()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || !down(ms["gone"]) || !down(ms["keep"]) {
		t.Fatalf("after an invalid reload: %+v, want keep and gone, both down", ms)
	}

	// Valid: gone leaves (its incident resolves), fresh arrives, keep keeps
	// its incident.
	write(daemonMonitor("keep", target.URL+"/keep") + daemonMonitor("fresh", target.URL+"/fresh"))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the new monitor", func() bool {
		ms, err := p.monitors()
		_, hasFresh := ms["fresh"]
		_, hasGone := ms["gone"]
		return err == nil && hasFresh && !hasGone
	})
	if k := p.view("keep", "still down", down); k.OpenIncident.ID != keepID {
		t.Errorf("keep's incident %d after reload, want %d", k.OpenIncident.ID, keepID)
	}
	p.view("fresh", "checked", func(v web.MonitorView) bool { return v.LastResult != nil })
	if !strings.Contains(p.stderr.String(), "added: fresh; removed: gone") {
		t.Errorf("reload log does not say what changed:\n%s", p.stderr.String())
	}
	p.stop()

	gone := storedIncidents(t, stateDir, "gone")
	if len(gone) != 1 || gone[0].ID != goneID || gone[0].Open() || gone[0].Resolution != incident.ResolutionRemoved {
		t.Fatalf("gone's incidents %+v, want #%d resolved as %q", gone, goneID, incident.ResolutionRemoved)
	}
	if keep := storedIncidents(t, stateDir, "keep"); len(keep) != 1 || !keep[0].Open() {
		t.Fatalf("keep's incidents %+v, want one, still open", keep)
	}
}

func TestRunInvalidConfigExits1(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(file, []byte("listen = 5\n[[monitor]]\nname = \"a\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "run", "-config", file)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stderr, "vantage.toml:1:") || !strings.Contains(stderr, `monitor "a"`) {
		t.Errorf("stderr does not list every error with its line:\n%s", stderr)
	}
	if code, _, _ := runCLI(t, "run", "-log-format", "xml", "-config", file); code != exitUsage {
		t.Errorf("bad -log-format: exit %d, want %d", code, exitUsage)
	}
}

func TestRunFailsFastOnBusyListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", filepath.Join(dir, "state"), ln.Addr().String(), daemonMonitor("web", "http://127.0.0.1:1/"))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	code := dispatch(ctx, []string{"run", "-config", file}, &bytes.Buffer{}, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "binding listen address") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestRunRefusesASecondDaemonOnTheSameStateDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon twice")
	}
	target, status := switchTarget(t)
	status.Store(http.StatusOK)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	addr := freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", stateDir, addr, daemonMonitor("web", target.URL))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The second daemon gets its own listen address, so only the lock can
	// stop it.
	file2 := filepath.Join(dir, "second.toml")
	addr2 := freeAddr(t)
	cfg2 := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", stateDir, addr2, daemonMonitor("web", target.URL))
	if err := os.WriteFile(file2, []byte(cfg2), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startDaemon(t, file, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, vantageBinary(t), "run", "-config", file2).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFailed {
		t.Fatalf("second vantage run on the same state_dir: %v, want exit %d; output:\n%s", err, exitFailed, out)
	}
	lockPath := filepath.Join(stateDir, "vantage.lock")
	pid := fmt.Sprintf("PID %d", a.cmd.Process.Pid)
	if !strings.Contains(string(out), lockPath) || !strings.Contains(string(out), pid) {
		t.Fatalf("the refusal does not name %s and %s:\n%s", lockPath, pid, out)
	}

	// Neither validate nor check -config take the lock.
	if code, _, stderr := runCLI(t, "validate", "-config", file2); code != exitOK {
		t.Errorf("validate while a daemon runs: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "check", "-config", file2, target.URL); code != exitOK {
		t.Errorf("check -config while a daemon runs: exit %d\n%s", code, stderr)
	}

	// Once the first stops (or is killed), the lock is free again.
	a.kill()
	b := startDaemon(t, file2, addr2)
	b.stop()
}
