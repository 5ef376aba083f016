//go:build !unix

package demo

import (
	"io"
	"net"
)

// refusedPort returns a loopback address that refuses connections: a port
// bound and closed again. Unlike on Unix the port is not held, so another
// socket may take it later; the demo is meant for Unix hosts.
func refusedPort() (string, io.Closer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", nil, err
	}
	return addr, io.NopCloser(nil), nil
}
