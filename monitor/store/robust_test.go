package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestCorruptFileIsRefusedAndUntouched(t *testing.T) {
	ctx := context.Background()
	garbage := bytes.Repeat([]byte("this is not a database\n"), 500)

	// A healthy store whose pages are then damaged: the header is fine, so
	// only quick_check can tell.
	damaged := func(t *testing.T) []byte {
		path := filepath.Join(t.TempDir(), "x.db")
		s, err := Open(ctx, path, Options{PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		var rows []ResultRow
		for i := range 300 {
			rows = append(rows, ResultRow{Monitor: fmt.Sprint("m", i), Result: sampleResult(true, result.ClassOK, 200, s.now())})
		}
		if err := s.RecordResults(ctx, rows); err != nil {
			t.Fatal(err)
		}
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 8*4096 {
			t.Fatalf("database too small to damage: %d bytes", len(b))
		}
		// Overwrite pages 2.. with garbage, keep page 1 (header and schema).
		for i := 4096; i < len(b); i++ {
			b[i] = byte(i*7 + 3)
		}
		return b
	}

	for _, tc := range []struct {
		name    string
		content func(t *testing.T) []byte
	}{
		{"garbage", func(*testing.T) []byte { return garbage }},
		{"short garbage", func(*testing.T) []byte { return []byte("SQLite") }},
		{"damaged pages", damaged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			content := tc.content(t)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, path, Options{PruneInterval: -1})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a corrupt file")
			}
			t.Log(err)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
			for _, want := range []string{path, "backup", "move it aside"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(after, content) {
				t.Error("Open changed the corrupt file")
			}
			// And it did not start a fresh store beside it.
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != FileName && !strings.HasSuffix(e.Name(), "-shm") && !strings.HasSuffix(e.Name(), "-wal") {
					t.Errorf("unexpected file %s", e.Name())
				}
			}
		})
	}
}

// mountTmpfs mounts a tmpfs of size bytes (with extra mount flags) in a temp
// dir and unmounts it at cleanup. Writes by root ignore permission bits, so a
// mount is the only honest way to get a read-only or full filesystem.
func mountTmpfs(t *testing.T, size string, flags uintptr) string {
	t.Helper()
	// CI runs as root and must run these tests: there, a missing privilege
	// is a failure, never a silent skip.
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root to mount a tmpfs (root ignores chmod, so only a mount can make the directory read-only or full); CI runs as root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "size="+size); err != nil {
		skip("needs root with CAP_SYS_ADMIN to mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func remountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	ctx := context.Background()
	t.Run("new store", func(t *testing.T) {
		dir := mountTmpfs(t, "4m", unix.MS_RDONLY)
		path := filepath.Join(dir, FileName)
		_, err := Open(ctx, path, Options{PruneInterval: -1})
		t.Log(err)
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want ErrReadOnly naming %s", err, path)
		}
	})
	t.Run("existing store", func(t *testing.T) {
		dir := mountTmpfs(t, "4m", 0)
		path := filepath.Join(dir, FileName)
		s, err := Open(ctx, path, Options{PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		update(t, s, func(tx *Tx) error {
			return tx.OpenIncident(ctx, &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassBadGateway})
		})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		remountReadOnly(t, dir)
		_, err = Open(ctx, path, Options{PruneInterval: -1})
		t.Log(err)
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want ErrReadOnly naming %s", err, path)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Error("file changed")
		}
	})
	t.Run("state dir cannot be created", func(t *testing.T) {
		dir := mountTmpfs(t, "4m", unix.MS_RDONLY)
		path := filepath.Join(dir, "sub", FileName)
		_, err := Open(ctx, path, Options{PruneInterval: -1})
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := mountTmpfs(t, "1m", 0)
	path := filepath.Join(dir, FileName)
	s, err := Open(ctx, path, Options{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inc := &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassBadGateway}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, inc) })

	big := sampleResult(false, result.ClassBadGateway, 502, s.now())
	big.Evidence.Body = strings.Repeat("x", 64<<10)
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		full = s.RecordResults(ctx, []ResultRow{{Monitor: "shop", Result: big}, {Monitor: "shop", Result: big}})
	}
	if full == nil {
		t.Fatal("1 MiB filesystem never filled up")
	}
	t.Log(full)
	if !errors.Is(full, ErrDiskFull) || !strings.Contains(full.Error(), "disk full") || !strings.Contains(full.Error(), path) {
		t.Fatalf("err = %v, want ErrDiskFull naming the path", full)
	}
	// Nothing committed earlier was lost, and reads still work.
	if got, ok, err := s.OpenIncidentFor(ctx, "shop", incident.KindTarget); err != nil || !ok || got.ID != inc.ID {
		t.Errorf("after disk full: %v %v", ok, err)
	}
	s.Close()
	// Free space; the store opens with its data.
	if out, err := exec.Command("mount", "-o", "remount,size=16m", dir).CombinedOutput(); err != nil {
		t.Fatalf("grow tmpfs: %v %s", err, out)
	}
	s2, err := Open(ctx, path, Options{PruneInterval: -1})
	if err != nil {
		t.Fatalf("reopen after freeing space: %v", err)
	}
	defer s2.Close()
	if _, ok, _ := s2.OpenIncidentFor(ctx, "shop", incident.KindTarget); !ok {
		t.Error("open incident lost after disk full")
	}
	if err := s2.RecordResults(ctx, []ResultRow{{Monitor: "shop", Result: big}}); err != nil {
		t.Errorf("write after freeing space: %v", err)
	}
}
