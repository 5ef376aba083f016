package daemon

import (
	"fmt"
	"net"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// peerName says who is at the other end of a control socket connection,
// from the kernel's SO_PEERCRED (not from anything the client says):
// "uid 1000 (ana)", or "uid 1000" when the UID has no name here.
func peerName(conn net.Conn) string {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return "unknown peer"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "unknown peer"
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return "unknown peer"
	}
	uid := strconv.FormatUint(uint64(cred.Uid), 10)
	if u, err := user.LookupId(uid); err == nil && u.Username != "" {
		return fmt.Sprintf("uid %s (%s)", uid, u.Username)
	}
	return "uid " + uid
}
