package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// stream returns a file standing in for stderr and its "dev:ino".
func stream(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, devIno(t, f, 0)
}

func devIno(t *testing.T, f *os.File, inoDelta uint64) string {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", uint64(st.Dev), st.Ino+inoDelta)
}

func contents(t *testing.T, f *os.File) []string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// logAll logs one record per level, with a secret, an attribute added by
// With and a group.
func logAll(l *slog.Logger) {
	l = l.With("component", "test")
	l.Debug("d msg", "token", config.NewSecret("hunter2"))
	l.Info("i msg", "token", config.NewSecret("hunter2"))
	l.WithGroup("g").Warn("w msg", "token", config.NewSecret("hunter2"))
	l.Error("e msg", slog.Group("auth", "token", config.NewSecret("hunter2")))
}

var wantPrefixes = []string{"<7>", "<6>", "<4>", "<3>"}

func TestJournalText(t *testing.T) {
	f, id := stream(t)
	l, _ := New(f, Options{Format: "text", Level: slog.LevelDebug, Getenv: env("JOURNAL_STREAM", id)})
	logAll(l)
	lines := contents(t, f)
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	levels := []string{"DEBUG", "INFO", "WARN", "ERROR"}
	for i, line := range lines {
		if !strings.HasPrefix(line, wantPrefixes[i]+"level="+levels[i]+" ") {
			t.Errorf("line %d = %q, want it to start with %q", i, line, wantPrefixes[i]+"level="+levels[i])
		}
		if strings.Contains(line, "time=") {
			t.Errorf("line %d has a timestamp under the journal: %q", i, line)
		}
		if strings.Contains(line, "hunter2") || !strings.Contains(line, "<secret>") {
			t.Errorf("line %d does not mask the secret: %q", i, line)
		}
		if !strings.Contains(line, "component=test") {
			t.Errorf("line %d lost the With attribute: %q", i, line)
		}
	}
	if !strings.Contains(lines[2], "g.token=<secret>") || !strings.Contains(lines[3], "auth.token=<secret>") {
		t.Errorf("groups lost: %q / %q", lines[2], lines[3])
	}
}

func TestJournalJSON(t *testing.T) {
	f, id := stream(t)
	l, _ := New(f, Options{Format: "json", Level: slog.LevelDebug, Getenv: env("JOURNAL_STREAM", id)})
	logAll(l)
	lines := contents(t, f)
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		rest, ok := strings.CutPrefix(line, wantPrefixes[i])
		if !ok {
			t.Errorf("line %d = %q, want prefix %s", i, line, wantPrefixes[i])
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(rest), &rec); err != nil {
			t.Errorf("line %d after the prefix is not JSON: %v: %q", i, err, rest)
			continue
		}
		if _, ok := rec["time"]; ok {
			t.Errorf("line %d has a time key under the journal: %q", i, line)
		}
		if rec["level"] == nil || rec["msg"] == nil || rec["component"] != "test" {
			t.Errorf("line %d lost fields: %q", i, line)
		}
		if strings.Contains(line, "hunter2") || !strings.Contains(line, `"<secret>"`) {
			t.Errorf("line %d does not mask the secret: %q", i, line)
		}
	}
}

func TestNotJournal(t *testing.T) {
	timeRE := regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\S+ level=`)
	for _, tc := range []struct {
		name   string
		stream func(f *os.File, id string) string
	}{
		{"unset", func(*os.File, string) string { return "" }},
		{"another inode", func(f *os.File, _ string) string { return devIno(t, f, 1) }},
		{"malformed", func(*os.File, string) string { return "journal" }},
		{"not numbers", func(*os.File, string) string { return "a:b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, id := stream(t)
			l, _ := New(f, Options{Level: slog.LevelDebug, Getenv: env("JOURNAL_STREAM", tc.stream(f, id))})
			logAll(l)
			lines := contents(t, f)
			if len(lines) != 4 {
				t.Fatalf("got %d lines, want 4", len(lines))
			}
			for i, line := range lines {
				if !timeRE.MatchString(line) {
					t.Errorf("line %d = %q, want a plain slog text line with time=", i, line)
				}
				if strings.Contains(line, "hunter2") || !strings.Contains(line, "<secret>") {
					t.Errorf("line %d does not mask the secret: %q", i, line)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		f, _ := stream(t)
		l, _ := New(f, Options{Format: "json", Getenv: env()})
		l.Info("hi", "token", config.NewSecret("hunter2"))
		line := contents(t, f)[0]
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %v: %q", err, line)
		}
		if rec["time"] == nil || rec["token"] != "<secret>" {
			t.Errorf("want a time key and a masked token: %q", line)
		}
	})
}

// A writer that is not the journal's file is never treated as the journal,
// unless Options.Stream says which file it ends up in.
func TestStreamOption(t *testing.T) {
	f, id := stream(t)
	var buf bytes.Buffer
	l, _ := New(&buf, Options{Getenv: env("JOURNAL_STREAM", id)})
	l.Warn("x")
	if !strings.HasPrefix(buf.String(), "time=") {
		t.Errorf("a bytes.Buffer was taken for the journal: %q", buf.String())
	}
	buf.Reset()
	l, _ = New(&buf, Options{Getenv: env("JOURNAL_STREAM", id), Stream: f})
	l.Warn("x")
	if got := buf.String(); got != "<4>level=WARN msg=x\n" {
		t.Errorf("with Stream set to the journal's file: %q", got)
	}
}

func TestUnderJournalRealStderr(t *testing.T) {
	id := devIno(t, os.Stderr, 0)
	if !UnderJournal(env("JOURNAL_STREAM", id), os.Stderr) {
		t.Errorf("stderr's own dev:ino %s not recognised", id)
	}
	if UnderJournal(env("JOURNAL_STREAM", id), nil) {
		t.Error("a nil file was taken for the journal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if UnderJournal(env("JOURNAL_STREAM", id), w) {
		t.Error("a pipe was taken for stderr's journal stream")
	}
}

func TestLevelVar(t *testing.T) {
	for _, journal := range []bool{false, true} {
		t.Run(fmt.Sprintf("journal=%v", journal), func(t *testing.T) {
			f, id := stream(t)
			if !journal {
				id = ""
			}
			l, level := New(f, Options{Level: slog.LevelWarn, Getenv: env("JOURNAL_STREAM", id)})
			l.Info("dropped")
			l.Warn("kept1")
			level.Set(slog.LevelDebug)
			l.Debug("kept2")
			got := strings.Join(contents(t, f), "\n")
			if strings.Contains(got, "dropped") || !strings.Contains(got, "kept1") || !strings.Contains(got, "kept2") {
				t.Errorf("level not honoured or not adjustable:\n%s", got)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	for _, tc := range []struct {
		l    slog.Level
		want int
	}{
		{slog.LevelDebug - 4, 7}, {slog.LevelDebug, 7}, {slog.LevelInfo - 1, 7},
		{slog.LevelInfo, 6}, {slog.LevelInfo + 2, 6},
		{slog.LevelWarn, 4}, {slog.LevelWarn + 1, 4},
		{slog.LevelError, 3}, {slog.LevelError + 8, 3},
	} {
		if got := Priority(tc.l); got != tc.want {
			t.Errorf("Priority(%v) = %d, want %d", tc.l, got, tc.want)
		}
	}
}

// Lines logged at once at different levels stay whole, each with the
// prefix of its own level.
func TestJournalConcurrent(t *testing.T) {
	f, id := stream(t)
	l, _ := New(f, Options{Level: slog.LevelDebug, Getenv: env("JOURNAL_STREAM", id)})
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	var wg sync.WaitGroup
	for _, lv := range levels {
		wg.Go(func() {
			for i := range 200 {
				l.Log(t.Context(), lv, "m", "i", i, "pad", strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	lines := contents(t, f)
	if len(lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(lines))
	}
	lineRE := regexp.MustCompile(`^<(\d)>level=(\w+) msg=m i=\d+ pad=x{100}$`)
	want := map[string]string{"DEBUG": "7", "INFO": "6", "WARN": "4", "ERROR": "3"}
	for _, line := range lines {
		m := lineRE.FindStringSubmatch(line)
		if m == nil || want[m[2]] != m[1] {
			t.Fatalf("garbled or mislabelled line: %q", line)
		}
	}
}
