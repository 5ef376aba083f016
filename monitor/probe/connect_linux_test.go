//go:build linux

package probe

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// fullListener returns a loopback address whose accept queue is full, so
// the kernel drops further SYNs and a connect hangs as it would against a
// black-holed host, without leaving loopback.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue; the connections stay open until the test ends.
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestConnectTimeout(t *testing.T) {
	addr := fullListener(t)
	const timeout = 300 * time.Millisecond
	r, el := runTimed(&Prober{}, Spec{URL: "http://" + addr + "/", Timeout: timeout})
	check(t, r, result.ClassConnectTimeout, result.DetailConnect)
	within(t, el, timeout)
	if el < timeout-20*time.Millisecond {
		t.Errorf("gave up after %s", el)
	}
}
