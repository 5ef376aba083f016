package store

import (
	"context"
	"database/sql"
	"sync/atomic"
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
