//go:build unix

package demo

import (
	"fmt"
	"io"
	"net"
	"syscall"
)

// refusedPort returns a loopback address that refuses connections, and the
// closer that frees it. The port is bound but never listened on: the kernel
// answers a SYN with RST, and no other socket (a later server of the demo
// or of anyone else) can take the port while the demo runs.
func refusedPort() (string, io.Closer, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return "", nil, fmt.Errorf("reserving a refused port: %w", err)
	}
	syscall.CloseOnExec(fd)
	c := fdCloser(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = c.Close()
		return "", nil, fmt.Errorf("reserving a refused port: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	in4, ok := sa.(*syscall.SockaddrInet4)
	if err != nil || !ok {
		_ = c.Close()
		return "", nil, fmt.Errorf("reserving a refused port: getsockname: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(in4.Port)), c, nil
}

type fdCloser int

func (f fdCloser) Close() error { return syscall.Close(int(f)) }
