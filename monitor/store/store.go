// Package store is the daemon's durable state: recent results, incidents,
// each monitor's state-machine snapshot, the notification outbox and the
// history (rollups, measured time, maintenance windows), kept in
// one SQLite file (modernc.org/sqlite, WAL mode) so that one round of a
// monitor commits atomically and survives kill -9 without being lost or
// doubled. It never resets or recreates a database it cannot read: a corrupt
// file, a read-only directory or a full disk is a clear error.
//
// Concurrency: all writes go through a single connection (SQLite allows one
// writer at a time, and a pool of writers would only queue on the file lock
// and fail with SQLITE_BUSY under load); reads use a separate small pool of
// query-only connections, which WAL lets proceed while the writer commits.
//
// Durability: the connections run with synchronous=NORMAL, which in WAL mode
// loses nothing on a process crash (kill -9): a commit is in the OS page
// cache before Update returns. On power loss or a kernel crash NORMAL may drop
// the last commits. That is acceptable for results, but not for incident and
// outbox transitions: a lost "sending" mark would hide a possible repeat, and
// a lost "open" could page twice. So a transaction that touched incidents or
// the outbox is fsynced (the WAL file) before Update returns, which gives it
// synchronous=FULL durability without paying an fsync for every result.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the conventional name of the store inside state_dir.
const FileName = "vantage.db"

// Options tune a Store. The zero value is usable.
type Options struct {
	// Now is the clock used wherever the store stamps a time. Default time.Now.
	Now func() time.Time
	// KeepResults is how many results to keep per (monitor, vantage).
	// 0 means the default (100); a negative value means no count bound.
	KeepResults int
	// MaxResultAge drops results older than this. 0 means no age bound.
	MaxResultAge time.Duration
	// KeepDelivered is how long the keys of delivered notifications are
	// remembered, so that a late re-enqueue of the same key stays a no-op.
	// 0 means the default (30 days).
	KeepDelivered time.Duration
	// KeepRemoved is how long the history of a monitor removed from the
	// config is kept (its rollups, coverage, maintenance and resolved
	// incidents), so that it stays readable through the API for a while.
	// 0 means the default (30 days); a negative value keeps nothing: the
	// next prune drops it ([history] keep_removed = "0s").
	KeepRemoved time.Duration
	// PruneInterval is how often the background pruner runs. 0 means the
	// default (1 minute); a negative value disables the background pruner
	// (call Prune yourself).
	PruneInterval time.Duration
	// PruneEvery wakes the pruner early after this many recorded results.
	// 0 means the default (20,000).
	PruneEvery int
	// PruneBatch bounds how many rows one pruning transaction deletes, so
	// that pruning never holds the writer for long (about 50 ms per 1,000
	// results on a 2-core machine). 0 means 1,000.
	PruneBatch int
	// BusyTimeout is how long a connection waits for a lock. Default 5s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool. Default 4.
	ReadConns int
	// Logger receives background pruning errors. Default: discarded.
	Logger *slog.Logger
	// Redact is applied to every error text stored with a notification
	// (MarkRetry, MarkFailed): a server may echo a credential, and the
	// text is shown by the unauthenticated API. Default: stored as given.
	Redact func(string) string
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeepResults == 0 {
		o.KeepResults = 100
	}
	if o.KeepDelivered == 0 {
		o.KeepDelivered = 30 * 24 * time.Hour
	}
	o.KeepRemoved = keepRemoved(o.KeepRemoved)
	if o.PruneInterval == 0 {
		o.PruneInterval = time.Minute
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = 20000
	}
	if o.PruneBatch <= 0 {
		o.PruneBatch = 1000
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
}

// Errors that callers can test for with errors.Is. The returned errors wrap
// them with the path and what was being done.
var (
	// ErrCorrupt: the file is not a SQLite database or fails its check.
	ErrCorrupt = errors.New("database file is corrupt or not a vantage store")
	// ErrReadOnly: the file or its directory cannot be written.
	ErrReadOnly = errors.New("database is not writable")
	// ErrDiskFull: a write failed because the filesystem is full.
	ErrDiskFull = errors.New("disk full")
	// ErrNewerSchema: the file was written by a newer vantage.
	ErrNewerSchema = errors.New("database schema is newer than this vantage")
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrIncidentAlreadyOpen: an incident of that kind is already open for
	// that monitor. See AlreadyOpenError for its ID.
	ErrIncidentAlreadyOpen = errors.New("incident already open")
	// ErrIncidentResolved: the incident is resolved and cannot change.
	ErrIncidentResolved = errors.New("incident already resolved")
	// ErrInvalid: the caller passed something the store refuses to write.
	ErrInvalid = errors.New("invalid input")
	// ErrWrongState: an outbox row is not in a state that allows the move.
	ErrWrongState = errors.New("outbox row in wrong state")
)

// Store is an open state store. It is safe for concurrent use.
type Store struct {
	path string
	opts Options
	w    *sql.DB // exactly one connection: the single writer
	r    *sql.DB // query-only read pool
	wst  *writeStmts

	wmu sync.Mutex // serialises Update so a durable commit's fsync covers it
	pmu sync.Mutex // one Prune at a time

	sinceprune atomic.Int64
	kick       chan struct{}
	stop       chan struct{}
	done       chan struct{}
	closeOnce  sync.Once
	closeErr   error

	fault faultPtr // SetWriteFault (unpersisted.go)

	keepRemoved atomic.Int64 // Options.KeepRemoved, changed by SetKeepRemoved
}

// keepRemoved normalises Options.KeepRemoved: 0 is the default of 30 days,
// a negative value drops a removed monitor's history at the next prune.
func keepRemoved(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return 30 * 24 * time.Hour
	case d < 0:
		return -time.Nanosecond // the cutoff is just after now
	}
	return d
}

// SetKeepRemoved changes Options.KeepRemoved from the next prune on: the
// daemon follows [history] keep_removed across reloads.
func (s *Store) SetKeepRemoved(d time.Duration) { s.keepRemoved.Store(int64(keepRemoved(d))) }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Open opens (creating if absent) the store at path. It refuses a file that is
// not a healthy SQLite database, a schema newer than it knows, and a location
// it cannot write; it never deletes, truncates or recreates an existing file.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts.defaults()
	if path == "" {
		return nil, fmt.Errorf("open state store: %w: empty path", ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open state store %q: %w", path, err)
	}
	path = abs
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, classify(path, "create state directory", err)
	}
	if err := checkHeader(path); err != nil {
		return nil, err
	}

	s := &Store{path: path, opts: opts}
	s.keepRemoved.Store(int64(opts.KeepRemoved))
	base := "file:" + (&urlPath{path}).String()
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	// journal_mode is set explicitly below, after quick_check, so that a
	// damaged file is examined before anything is written to it.
	wdsn := base + "?" + busy + "&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	s.w, err = sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, classify(path, "open", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	fail := func(err error) (*Store, error) {
		if s.r != nil {
			_ = s.r.Close()
		}
		_ = s.w.Close()
		return nil, err
	}
	if err := s.w.PingContext(ctx); err != nil {
		// A schema larger than the first page is read here already, so a
		// damaged file can fail at the ping: give it the same advice.
		return fail(s.openErr("open", err))
	}
	if err := s.quickCheck(ctx); err != nil {
		return fail(err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fail(classify(path, "switch to WAL mode", err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("state store %s: %w: could not switch to WAL mode (journal_mode is %q); is the directory writable?", path, ErrReadOnly, mode))
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if err := s.recoverOutbox(ctx); err != nil {
		return fail(err)
	}
	// The WAL file was just created; its directory entry must be on disk too
	// before the per-commit fsync of the WAL can make anything durable.
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fail(classify(path, "sync state directory", err))
	}
	s.wst, err = prepareWrites(ctx, s.w)
	if err != nil {
		return fail(classify(path, "prepare statements", err))
	}
	rdsn := base + "?" + busy + "&_pragma=query_only(1)"
	s.r, err = sql.Open("sqlite", rdsn)
	if err != nil {
		return fail(classify(path, "open read pool", err))
	}
	s.r.SetMaxOpenConns(opts.ReadConns)
	s.r.SetMaxIdleConns(opts.ReadConns)
	if err := s.r.PingContext(ctx); err != nil {
		return fail(classify(path, "open read pool", err))
	}

	s.kick = make(chan struct{}, 1)
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	if opts.PruneInterval > 0 {
		go s.pruneLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// urlPath escapes a file path for a "file:" URI without touching slashes.
type urlPath struct{ p string }

func (u *urlPath) String() string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(u.p)
}

// sqliteMagic starts every SQLite 3 database file.
const sqliteMagic = "SQLite format 3\x00"

// checkHeader refuses, before SQLite ever opens it read-write, a file that is
// not a SQLite database, so that garbage is reported rather than touched.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return classify(path, "read database header", err)
	}
	defer f.Close()
	buf := make([]byte, len(sqliteMagic))
	n, err := f.Read(buf)
	if n == 0 {
		// An empty file is a valid, empty SQLite database.
		return nil
	}
	if err != nil || n < len(buf) || string(buf) != sqliteMagic {
		return corruptError(path, "the file does not start with a SQLite header")
	}
	return nil
}

func corruptError(path, why string) error {
	return fmt.Errorf("state store %s: %w: %s. The file was left untouched: restore it from a backup, or move it aside (e.g. mv %s %s.corrupt, with any -wal/-shm files) to start with an empty store",
		path, ErrCorrupt, why, path, path)
}

func (s *Store) quickCheck(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return s.openErr("check database integrity", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return s.openErr("check database integrity", err)
		}
		if line != "ok" && len(problems) < 5 {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return s.openErr("check database integrity", err)
	}
	if len(problems) > 0 {
		return corruptError(s.path, "quick_check found: "+strings.Join(problems, "; "))
	}
	return nil
}

// openErr is classify, but a SQLite "corrupt" or "not a database" code gets
// the full advice of corruptError.
func (s *Store) openErr(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return corruptError(s.path, op+": "+err.Error())
		}
	}
	return classify(s.path, op, err)
}

// classify wraps err with the path and op, and with one of the package's
// sentinel errors when the cause is one an operator must act on.
func classify(path, op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("state store %s: %s: %w: free space on that filesystem; the failed transaction was rolled back and nothing earlier was lost: %v", path, op, ErrDiskFull, err)
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("state store %s: %s: %w: the file and its directory must be writable by vantage (a read-only mount or directory?): %v", path, op, ErrReadOnly, err)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("state store %s: %s: %w: %v", path, op, ErrCorrupt, err)
		}
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("state store %s: %s: %w: %v", path, op, ErrDiskFull, err)
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("state store %s: %s: %w: %v", path, op, ErrReadOnly, err)
	}
	return fmt.Errorf("state store %s: %s: %w", path, op, err)
}

// Close stops the pruner and closes the database. Rows left in state
// "sending" are reported as MaybeSent after the next Open.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		var errs []error
		if s.wst != nil {
			s.wst.close()
		}
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = classify(s.path, "close", err)
		}
	})
	return s.closeErr
}

// Tx is one write transaction. It is only valid inside the function passed
// to Update.
type Tx struct {
	s       *Store
	tx      *sql.Tx
	durable bool // touched incidents or the outbox: fsync before returning
	results int  // results inserted, to wake the pruner
}

// Update runs fn in one write transaction and commits it if fn returns nil;
// if fn returns an error or panics, nothing of it is written. Updates are
// serialised. A transaction that changed incidents or the outbox is on stable
// storage when Update returns (see the package comment).
func (s *Store) Update(ctx context.Context, fn func(tx *Tx) error) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.injectedFault(); err != nil {
		return err
	}
	stx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(s.path, "begin transaction", err)
	}
	t := &Tx{s: s, tx: stx}
	committed := false
	defer func() {
		if !committed {
			_ = stx.Rollback()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := stx.Commit(); err != nil {
		return classify(s.path, "commit", err)
	}
	committed = true
	if t.durable {
		if err := s.syncWAL(); err != nil {
			return err
		}
	}
	if t.results > 0 && s.sinceprune.Add(int64(t.results)) >= int64(s.opts.PruneEvery) {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// syncWAL flushes the write-ahead log to stable storage. fsync works on the
// file, not the descriptor, so a second descriptor flushes SQLite's writes.
func (s *Store) syncWAL() error {
	f, err := os.Open(s.path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return nil // checkpointed and removed: already in the synced main file
	}
	if err != nil {
		return classify(s.path, "sync write-ahead log", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return classify(s.path, "sync write-ahead log", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (t *Tx) wrap(op string, err error) error { return classify(t.s.path, op, err) }

func (s *Store) now() time.Time { return s.opts.Now() }

// querier is what both the read pool and a Tx can run reads on.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Times are stored as Unix nanoseconds and come back in UTC.
func toNanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}
