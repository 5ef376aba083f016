package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondDaemonOnTheSameStateDirRefuses(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	ctx := context.Background()
	lockPath := filepath.Join(f.dir, "state", LockFileName)

	_, err := New(ctx, loadConfig(t, f.file), Options{Clock: f.clock})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("a second daemon on the same state_dir: %v, want ErrLocked", err)
	}
	pid := "PID " + strconv.Itoa(os.Getpid())
	if !strings.Contains(err.Error(), lockPath) || !strings.Contains(err.Error(), pid) {
		t.Fatalf("error %q does not name the lock file %s and %s", err, lockPath, pid)
	}
	// The refused daemon must not have touched the holder's lock.
	if b, err := os.ReadFile(lockPath); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want the holder's PID", b, err)
	}

	// Closing the first lets the next one start.
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(nil)
}

func TestStaleLockFileDoesNotBlock(t *testing.T) {
	tg := newTarget(t)
	dir := t.TempDir()
	file := writeConfig(t, dir, monitorTOML("web", tg.URL))
	// What a kill -9 leaves: the file with a dead process's PID, no flock.
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state", LockFileName), []byte("999999\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), loadConfig(t, file), Options{})
	if err != nil {
		t.Fatalf("a stale lock file blocked the start: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
