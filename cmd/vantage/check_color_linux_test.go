//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair (/dev/ptmx and its /dev/pts/N).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("naming the pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pseudo-terminal's slave: %v", err)
	}
	return m, s
}

// checkOnTTY runs the real binary's `vantage check url` with its stdout on
// a pseudo-terminal, with env added to an environment without NO_COLOR,
// and returns what the terminal received.
func checkOnTTY(t *testing.T, url string, env ...string) string {
	t.Helper()
	master, slave := openPTY(t)
	cmd := exec.Command(vantageBinary(t), "check", url)
	cmd.Env = append(colorlessEnv(), env...)
	cmd.Stdout = slave
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = slave.Close() // the child has it; the master reads EIO once the child is gone
	var out bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(&out, master); close(read) }()
	_ = cmd.Wait()
	<-read
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// colorlessEnv is this process's environment without what decides colour.
func colorlessEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TERM=") {
			env = append(env, kv)
		}
	}
	return append(env, "TERM=xterm-256color")
}

func nginx502(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPaletteForATerminal: a terminal gets colour, unless NO_COLOR has
// any value (no-color.org) or TERM is dumb.
func TestPaletteForATerminal(t *testing.T) {
	_, tty := openPTY(t)
	defer tty.Close()
	for _, c := range []struct {
		env map[string]string
		on  bool
	}{
		{map[string]string{"TERM": "xterm"}, true},
		{map[string]string{}, true},
		{map[string]string{"TERM": "xterm", "NO_COLOR": ""}, true},
		{map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{map[string]string{"TERM": "xterm", "NO_COLOR": "0"}, false},
		{map[string]string{"TERM": "dumb"}, false},
	} {
		if p := paletteFor(tty, env(c.env)); p.on != c.on {
			t.Errorf("a terminal with %v: colour %v, want %v", c.env, p.on, c.on)
		}
	}
}

// TestCheckColoursOnlyATerminal: on a terminal DOWN is red, UP green and
// the gateway coloured; through a pipe, or with NO_COLOR set to anything,
// not one escape code.
func TestCheckColoursOnlyATerminal(t *testing.T) {
	down := nginx502(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(up.Close)

	got := checkOnTTY(t, down.URL)
	for _, want := range []string{"\x1b[1;31mDOWN\x1b[0m  " + down.URL + "\n", "  gateway   \x1b[36mnginx\x1b[0m\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("on a terminal, a 502 from nginx lacks %q:\n%q", want, got)
		}
	}
	if got := checkOnTTY(t, up.URL); !strings.HasPrefix(got, "\x1b[1;32mUP\x1b[0m  "+up.URL+"\n") {
		t.Errorf("on a terminal, UP is not green:\n%q", got)
	}
	for _, v := range []string{"1", "0", "false"} { // no-color.org: any non-empty value
		if got := checkOnTTY(t, down.URL, "NO_COLOR="+v); strings.Contains(got, "\x1b") || !strings.HasPrefix(got, "DOWN  ") {
			t.Errorf("NO_COLOR=%s on a terminal: %q, want plain text", v, got)
		}
	}
	if got := checkOnTTY(t, down.URL, "TERM=dumb"); strings.Contains(got, "\x1b") {
		t.Errorf("TERM=dumb: %q, want plain text", got)
	}
	if got := checkOnTTY(t, down.URL, "NO_COLOR="); !strings.Contains(got, "\x1b[1;31mDOWN") {
		t.Errorf("an empty NO_COLOR still colours (no-color.org); got %q", got)
	}

	cmd := exec.Command(vantageBinary(t), "check", down.URL)
	cmd.Env = colorlessEnv()
	piped, _ := cmd.Output()
	if strings.Contains(string(piped), "\x1b") || !strings.HasPrefix(string(piped), "DOWN  ") {
		t.Errorf("through a pipe: %q, want plain text", piped)
	}
}
