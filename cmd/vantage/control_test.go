package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/web"
)

// TestSilenceAndAckAgainstTheDaemon runs the real daemon and drives it with
// vantage silence and vantage ack, finding the socket from --config as an
// operator would: the silence is made, listed, survives a kill -9 (the
// stale socket is replaced at the next start) and is expired; the ack
// names the Unix user; with the daemon gone the CLI says so.
func TestSilenceAndAckAgainstTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon twice")
	}
	target, status := switchTarget(t)
	status.Store(http.StatusBadGateway)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	addr := freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", stateDir, addr, daemonMonitor("shop", target.URL))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(stateDir, config.ControlSocketName)
	t.Setenv("RUNTIME_DIRECTORY", "")

	a := startDaemon(t, file, addr)
	v := a.view("shop", "down with an incident", down)
	a.waitFor("the control socket", func() bool { _, err := os.Lstat(sock); return err == nil })
	me := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		me += " (" + u.Username + ")"
	}

	code, out, errOut := runCLI(t, "silence", "add", "--monitor", "shop", "--for", "2h", "--comment", "deploy", "--config", file)
	if code != exitOK || !strings.HasPrefix(out, "silence 1 added: monitor shop, until ") || !strings.Contains(out, "by "+me) || !strings.Contains(out, "deploy") {
		t.Fatalf("silence add: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "silence", "list", "--config", file)
	if code != exitOK || !strings.Contains(out, "ID") || !strings.Contains(out, "monitor shop") || !strings.Contains(out, "deploy") {
		t.Errorf("silence list: exit %d\n%s%s", code, out, errOut)
	}

	id := strconv.FormatInt(v.OpenIncident.ID, 10)
	code, out, errOut = runCLI(t, "ack", id, "--comment", "looking at the db", "--socket", sock)
	if code != exitOK || !strings.HasPrefix(out, "incident "+id+" (shop) acknowledged by "+me) || !strings.Contains(out, ": looking at the db") {
		t.Errorf("ack: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "ack", "999999", "--socket", sock)
	if code != exitFailed || !strings.Contains(errOut, "HTTP 404") {
		t.Errorf("ack of an unknown incident: exit %d\n%s%s", code, out, errOut)
	}

	// kill -9 leaves the socket behind: the CLI says nobody listens, and
	// the next daemon replaces it; the silence was stored.
	a.kill()
	code, _, errOut = runCLI(t, "silence", "list", "--config", file)
	if code != exitFailed || !strings.Contains(errOut, "no daemon listening on "+sock+": is vantage running?") {
		t.Errorf("silence list with the daemon killed: exit %d, %s", code, errOut)
	}
	b := startDaemon(t, file, addr)
	b.waitFor("the control socket", func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	code, out, errOut = runCLI(t, "silence", "list", "--json", "--config", file)
	var list struct {
		Silences []silence.Silence `json:"silences"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list.Silences) != 1 || list.Silences[0].CreatedBy != me || list.Silences[0].Comment != "deploy" {
		t.Fatalf("silence list --json after a restart: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "silence", "expire", "1", "--config", file)
	if code != exitOK || !strings.HasPrefix(out, "silence 1 expired: monitor shop, by "+me) {
		t.Errorf("silence expire: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = runCLI(t, "silence", "list", "--config", file); code != exitOK || out != "no silences\n" {
		t.Errorf("silence list after expire: exit %d %q", code, out)
	}
	if code, out, _ = runCLI(t, "silence", "list", "--all", "--config", file); code != exitOK || !strings.Contains(out, "expired ") {
		t.Errorf("silence list --all: exit %d %q", code, out)
	}
	// The daemon's own page still shows the incident acked by whoever did.
	b.view("shop", "still down", func(v web.MonitorView) bool { return v.OpenIncident != nil })
	b.stop()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after a clean stop the socket is still there: %v", err)
	}
}

func TestSilenceCommandUsage(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no operation":   {[]string{"silence"}, exitUsage, "say what to do: add, list or expire ID"},
		"unknown op":     {[]string{"silence", "mute"}, exitUsage, `unknown operation "mute"`},
		"no matcher":     {[]string{"silence", "add", "--for", "2h"}, exitUsage, "name what to silence"},
		"no end":         {[]string{"silence", "add", "--monitor", "shop"}, exitUsage, "say how long"},
		"both ends":      {[]string{"silence", "add", "--monitor", "shop", "--for", "1h", "--until", "2030-01-01T00:00:00Z"}, exitUsage, "not both"},
		"bad until":      {[]string{"silence", "add", "--monitor", "shop", "--until", "tomorrow"}, exitUsage, `--until: "tomorrow" is not an RFC 3339 time`},
		"bare number":    {[]string{"silence", "add", "--monitor", "shop", "--for", "2"}, exitUsage, "2 is not a duration; did you mean 2s?"},
		"flag misplaced": {[]string{"silence", "list", "--monitor", "shop"}, exitUsage, "--monitor does not apply to silence list"},
		"expire no id":   {[]string{"silence", "expire"}, exitUsage, "takes one silence ID"},
		"expire bad id":  {[]string{"silence", "expire", "x"}, exitUsage, `"x" is not a silence ID`},
		"ack no id":      {[]string{"ack"}, exitUsage, "name one incident ID"},
		"ack bad id":     {[]string{"ack", "abc"}, exitUsage, `"abc" is not an incident ID`},
		"no daemon":      {[]string{"ack", "3", "--socket", sock}, exitFailed, "no daemon listening on " + sock + ": is vantage running? (dial: connect: no such file or directory)"},
		"no config":      {[]string{"silence", "list", "--config", filepath.Join(filepath.Dir(sock), "nope.toml")}, exitFailed, "or give --socket PATH"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("vantage %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
				t.Errorf("stderr is more than an error and a hint: %q", errOut)
			}
		})
	}
}

// Refused by the socket's permissions, the CLI names the group to join.
// (The tests may run as root, whom no mode refuses, so the error is the
// one connect(2) returns.)
func TestControlPermissionDeniedNamesTheGroup(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	c := newControlClient(sock)
	err = c.dialError(&net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)})
	want := "permission denied on " + sock + ": add yourself to group " + g.Name + " (then log in again), or run as root (dial: connect: permission denied)"
	if err == nil || err.Error() != want {
		t.Errorf("dialError(EACCES) = %v, want %q", err, want)
	}
}
