//go:build !linux

package daemon

import "net"

// peerName: SO_PEERCRED is Linux's; elsewhere the socket's permissions
// still decide who may connect, but not who it was.
func peerName(net.Conn) string { return "unknown peer" }
