package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Snapshot is a monitor's state machine as that package serialised it; the
// store does not look inside.
type Snapshot struct {
	Monitor   string
	Data      json.RawMessage
	UpdatedAt time.Time
}

// SaveState stores monitor's state-machine snapshot, replacing the previous
// one. data must be valid JSON, so a bug upstream is caught at write time
// instead of at the next restart.
func (t *Tx) SaveState(ctx context.Context, monitor string, data json.RawMessage) error {
	if monitor == "" {
		return fmt.Errorf("save state: %w: empty monitor name", ErrInvalid)
	}
	if !json.Valid(data) {
		return fmt.Errorf("save state of %s: %w: not valid JSON", monitor, ErrInvalid)
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO states (monitor, data, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (monitor) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		monitor, string(data), toNanos(t.s.now()))
	if err != nil {
		return t.wrap("save state of "+monitor, err)
	}
	return nil
}

// DeleteState forgets a monitor's snapshot (a monitor removed from the
// config). Deleting an absent snapshot is not an error.
func (t *Tx) DeleteState(ctx context.Context, monitor string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM states WHERE monitor = ?`, monitor); err != nil {
		return t.wrap("delete state of "+monitor, err)
	}
	return nil
}

// State returns monitor's snapshot; ok is false when there is none.
func (s *Store) State(ctx context.Context, monitor string) (snap Snapshot, ok bool, err error) {
	var (
		data string
		at   int64
	)
	err = s.r.QueryRowContext(ctx, `SELECT data, updated_at FROM states WHERE monitor = ?`, monitor).Scan(&data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, classify(s.path, "read state of "+monitor, err)
	}
	return Snapshot{Monitor: monitor, Data: json.RawMessage(data), UpdatedAt: fromNanos(at)}, true, nil
}

// States returns every stored snapshot, by monitor name: what the daemon
// restores at start.
func (s *Store) States(ctx context.Context) (map[string]Snapshot, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT monitor, data, updated_at FROM states`)
	if err != nil {
		return nil, classify(s.path, "read states", err)
	}
	defer rows.Close()
	out := make(map[string]Snapshot)
	for rows.Next() {
		var (
			snap Snapshot
			data string
			at   int64
		)
		if err := rows.Scan(&snap.Monitor, &data, &at); err != nil {
			return nil, classify(s.path, "read states", err)
		}
		snap.Data, snap.UpdatedAt = json.RawMessage(data), fromNanos(at)
		out[snap.Monitor] = snap
	}
	if err := rows.Err(); err != nil {
		return nil, classify(s.path, "read states", err)
	}
	return out, nil
}
