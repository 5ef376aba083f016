package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

func TestRunNotifiesSystemd(t *testing.T) {
	target, _ := switchTarget(t)
	dir := t.TempDir()
	sockDir, _ := os.MkdirTemp("", "sdw")
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "n.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	addr := freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf("state_dir = %q\nlisten = %q\n%s", filepath.Join(dir, "state"), addr, daemonMonitor("a", target.URL))
	os.WriteFile(file, []byte(cfg), 0o600)
	cmd := exec.Command(vantageBinary(t), "run", "-config", file)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	stderr := &testkit.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	buf := make([]byte, 4096)
	var got []string
	read := func(until string) {
		for {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("%v; got %q; stderr %s", err, got, stderr.String())
			}
			got = append(got, strings.ReplaceAll(string(buf[:n]), "\n", "|"))
			if strings.HasPrefix(string(buf[:n]), until) {
				return
			}
		}
	}
	read("READY=1")
	read("WATCHDOG=1")
	read("WATCHDOG=1")
	cmd.Process.Signal(syscall.SIGHUP)
	read("READY=1")
	cmd.Process.Signal(syscall.SIGTERM)
	read("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vantage run after SIGTERM: %v", err)
	}
	// Watchdog pings interleave anywhere; the rest must come in this order.
	var seq []string
	for _, g := range got {
		if g != "WATCHDOG=1" {
			seq = append(seq, strings.SplitN(g, "|", 2)[0])
		}
	}
	want := `[STATUS=running: 1 monitors READY=1 RELOADING=1 STATUS=running: 1 monitors READY=1 STOPPING=1]`
	if fmt.Sprint(seq) != want {
		t.Errorf("notifications %q, want %s", got, want)
	}
	if !strings.Contains(strings.Join(got, " "), "RELOADING=1|MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", got)
	}
}
