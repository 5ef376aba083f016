package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockFileName is the lock file in state_dir that keeps a second daemon
// off the same store: two daemons on one store would each send every alert.
const LockFileName = "vantage.lock"

// ErrLocked: another process holds the state directory's lock.
var ErrLocked = errors.New("state directory is in use by another vantage run")

// stateLock is a held flock on <state_dir>/vantage.lock. The kernel drops
// the lock when the process dies, so a file left by a kill -9 never blocks
// a restart; the PID inside is only there to tell the operator who holds it.
type stateLock struct {
	f *os.File
}

// lockStateDir takes the lock without waiting. The file is never removed:
// unlinking a lock file lets two processes each lock a different inode.
func lockStateDir(dir string) (*stateLock, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
					holder = "PID " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("%w: lock file %s is held by %s; stop that daemon first (one daemon per state_dir)", ErrLocked, path, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := writePID(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("writing PID into lock file %s: %w", path, err)
	}
	return &stateLock{f: f}, nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// release drops the lock. The PID is cleared first, so the file no longer
// names a process that has stopped. Safe to call more than once.
func (l *stateLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = l.f.Close()
	l.f = nil
}
