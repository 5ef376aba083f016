// Package logging builds the command's slog logger so that it reads well
// both on a terminal and in systemd's journal: under the journal it drops
// the timestamp (journald stamps every line) and starts each line with the
// sd-daemon "<N>" syslog priority, which journald strips and turns into the
// entry's PRIORITY, so `journalctl -p warning` works.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vantage-monitor/vantage/monitor/redact"
)

// Options configure New.
type Options struct {
	// Format is "json" for JSON lines; anything else gives logfmt text.
	// Callers validate user input (run's -log-format does).
	Format string
	// Level is the initial level of the returned LevelVar.
	Level slog.Level
	// Getenv reads $JOURNAL_STREAM; os.Getenv if nil.
	Getenv func(string) string
	// Stream is the file w finally writes to, compared with
	// $JOURNAL_STREAM. If nil, w itself when it is an *os.File; a w of any
	// other type is never treated as the journal.
	Stream *os.File
	// Redact, if set, is applied to every record (message, attributes,
	// errors) before it is written: the config's Redactor, so that no
	// secret reaches the journal in any encoding.
	Redact func(string) string
}

// New returns a logger writing to w and the LevelVar that controls it, so a
// config reload can change the level of a running logger.
func New(w io.Writer, opts Options) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(opts.Level)
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	stream := opts.Stream
	if stream == nil {
		stream, _ = w.(*os.File)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch {
	case UnderJournal(getenv, stream):
		h = newJournalHandler(w, opts.Format, hopts)
	case opts.Format == "json":
		h = slog.NewJSONHandler(w, hopts)
	default:
		h = slog.NewTextHandler(w, hopts)
	}
	if opts.Redact != nil {
		h = redact.NewHandler(h, opts.Redact)
	}
	return slog.New(h), level
}

// UnderJournal reports whether f is the stream systemd connected to the
// journal: $JOURNAL_STREAM holds its "device:inode", which tells it apart
// from a stream the service redirected (a pipe, a file) after inheriting
// the variable.
func UnderJournal(getenv func(string) string, f *os.File) bool {
	if f == nil {
		return false
	}
	devStr, inoStr, ok := strings.Cut(getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devStr, 10, 64)
	ino, err2 := strconv.ParseUint(inoStr, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	// Stat_t.Dev is narrower than uint64 on some platforms.
	return uint64(st.Dev) == dev && st.Ino == ino
}

// Priority is the syslog priority journald files a record of level l
// under: debug 7, info 6, warning 4, error 3. Levels between slog's named
// ones take the priority of the named level below them.
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	default:
		return 7
	}
}

// priorities lists the distinct values of Priority, indexing the journal
// handler's per-priority handlers.
var priorities = [...]int{3, 4, 6, 7}

func priorityIndex(l slog.Level) int {
	switch Priority(l) {
	case 3:
		return 0
	case 4:
		return 1
	case 6:
		return 2
	default:
		return 3
	}
}

// journalHandler keeps one slog handler per priority, each writing through
// a prefixWriter with its fixed "<N>": slog's handlers write a record in
// one Write, so the prefix lands at the start of every line without
// reformatting anything slog does.
type journalHandler struct {
	level slog.Leveler
	hs    [len(priorities)]slog.Handler
}

func newJournalHandler(w io.Writer, format string, hopts *slog.HandlerOptions) *journalHandler {
	// One lock for all priorities, so lines of different levels never
	// interleave on w.
	mu := new(sync.Mutex)
	h := &journalHandler{level: hopts.Level}
	for i, p := range priorities {
		pw := &prefixWriter{mu: mu, w: w, prefix: "<" + strconv.Itoa(p) + ">"}
		if format == "json" {
			h.hs[i] = slog.NewJSONHandler(pw, hopts)
		} else {
			h.hs[i] = slog.NewTextHandler(pw, hopts)
		}
	}
	return h
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	// journald stamps each line itself; slog omits a zero time.
	r.Time = time.Time{}
	return h.hs[priorityIndex(r.Level)].Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &journalHandler{level: h.level}
	for i, inner := range h.hs {
		n.hs[i] = inner.WithAttrs(attrs)
	}
	return n
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	n := &journalHandler{level: h.level}
	for i, inner := range h.hs {
		n.hs[i] = inner.WithGroup(name)
	}
	return n
}

// prefixWriter writes each record (one Write from slog) with its prefix in
// a single write, so a concurrent writer to the same stream cannot split it.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(append(p.buf[:0], p.prefix...), b...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
