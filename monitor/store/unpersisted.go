package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

// What the daemon needs while the store cannot write: a way to read the
// outbox's bookkeeping without the writer, and, for tests, a way to make
// every write fail as a full disk does without filling one.

// View runs fn in a read-only transaction on the read pool, so that what
// a Tx can read (KeyStatus, MessageRef, ...) is available while writes
// fail. Anything fn tries to write fails.
func (s *Store) View(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return classify(s.path, "begin read transaction", err)
	}
	defer func() { _ = stx.Rollback() }()
	return fn(&Tx{s: s, tx: stx})
}

// writeFault is an injected failure of every Update (see SetWriteFault).
type writeFault struct{ err error }

// SetWriteFault makes every Update fail with err (classified like a real
// failure: syscall.ENOSPC reads as ErrDiskFull) until it is called with
// nil. It is for tests of what the daemon does when its disk is full or
// read-only; nothing in production calls it.
func (s *Store) SetWriteFault(err error) {
	if err == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&writeFault{err})
}

func (s *Store) injectedFault() error {
	if f := s.fault.Load(); f != nil {
		return classify(s.path, "begin transaction", f.err)
	}
	return nil
}

// faultPtr keeps the field's type next to its use.
type faultPtr = atomic.Pointer[writeFault]

// BadRow is a stored row that does not decode, reported instead of failing
// the whole read so that one bad row stops only what it belongs to.
type BadRow struct {
	Table   string
	ID      int64
	Monitor string
	// Kind is the incident's kind (incidents rows), "" when unknown.
	Kind incident.Kind
	Err  error
}

func (b BadRow) Error() string {
	return fmt.Sprintf("%s row %d of %s does not decode: %v", b.Table, b.ID, b.Monitor, b.Err)
}

// OpenIncidentsTolerant is OpenIncidents, except that an incident row that
// does not decode is returned in bad rather than failing the read.
func (s *Store) OpenIncidentsTolerant(ctx context.Context) (good []incident.Incident, bad []BadRow, err error) {
	const op = "list open incidents"
	rows, err := s.r.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE resolved_at IS NULL ORDER BY opened_at, id`)
	if err != nil {
		return nil, nil, classify(s.path, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			if inc.Monitor == "" {
				return nil, nil, classify(s.path, op, err) // not even its columns: the table is unreadable
			}
			bad = append(bad, BadRow{Table: "incidents", ID: inc.ID, Monitor: inc.Monitor, Kind: inc.Kind, Err: err})
			continue
		}
		good = append(good, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, classify(s.path, op, err)
	}
	return good, bad, nil
}
