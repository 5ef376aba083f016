package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// ResultRow is one stored result.
type ResultRow struct {
	ID      int64 // assigned by the store
	Monitor string
	// Vantage is where the check ran; empty means result.LocalVantage.
	Vantage string
	// At orders results; zero means Result.StartedAt, or the store's clock
	// when that is zero too.
	At time.Time
	// Result is the round's outcome; rows written before outcomes existed
	// decode as an Outcome without scope, vantage lines or diagnosis.
	Result result.Outcome
}

// writeStmts are the statements on the hot path, prepared once on the writer
// connection: re-parsing the insert for every result costs more than the
// insert itself.
type writeStmts struct {
	insertResult *sql.Stmt
	newRollup    *sql.Stmt // rollups.go
	getRollup    *sql.Stmt
	putRollup    *sql.Stmt
}

func prepareWrites(ctx context.Context, db *sql.DB) (*writeStmts, error) {
	w := &writeStmts{}
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&w.insertResult, `INSERT INTO results
			(monitor, vantage, at, ok, class, status, total_ms, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&w.newRollup, `INSERT INTO rollups (monitor, vantage, res, bucket, checks, failures, data)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`},
		{&w.getRollup, `SELECT data FROM rollups
			WHERE monitor = ? AND res = ? AND bucket = ? AND vantage = ?`},
		{&w.putRollup, `INSERT INTO rollups (monitor, vantage, res, bucket, checks, failures, data)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (monitor, res, bucket, vantage) DO UPDATE SET
			checks = excluded.checks, failures = excluded.failures, data = excluded.data`},
	} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			w.close()
			return nil, err
		}
		*p.stmt = st
	}
	return w, nil
}

func (w *writeStmts) close() {
	for _, st := range []*sql.Stmt{w.insertResult, w.newRollup, w.getRollup, w.putRollup} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// RecordResult stores one result and sets row.ID.
func (t *Tx) RecordResult(ctx context.Context, row *ResultRow) error {
	if row.Monitor == "" {
		return fmt.Errorf("record result: %w: empty monitor name", ErrInvalid)
	}
	if row.Vantage == "" {
		row.Vantage = result.LocalVantage
	}
	if row.At.IsZero() {
		row.At = row.Result.StartedAt.Time
		if row.At.IsZero() {
			row.At = t.s.now()
		}
	}
	data, err := json.Marshal(&row.Result)
	if err != nil {
		return fmt.Errorf("record result of %s: encode: %w", row.Monitor, err)
	}
	r := &row.Result
	res, err := t.tx.StmtContext(ctx, t.s.wst.insertResult).ExecContext(ctx,
		row.Monitor, row.Vantage, toNanos(row.At), r.OK, string(r.Class), r.Status, r.Phases.TotalMs, data)
	if err != nil {
		return t.wrap("record result of "+row.Monitor, err)
	}
	row.ID, _ = res.LastInsertId()
	t.results++
	return nil
}

// RecordResults stores many results in one transaction: the batched path for
// a burst of rounds. It sets each row's ID.
func (s *Store) RecordResults(ctx context.Context, rows []ResultRow) error {
	return s.Update(ctx, func(tx *Tx) error {
		for i := range rows {
			if err := tx.RecordResult(ctx, &rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

const resultCols = `id, monitor, vantage, at, data`

func scanResult(sc interface{ Scan(...any) error }) (ResultRow, error) {
	var (
		row  ResultRow
		at   int64
		data []byte
	)
	if err := sc.Scan(&row.ID, &row.Monitor, &row.Vantage, &at, &data); err != nil {
		return row, err
	}
	row.At = fromNanos(at)
	if err := json.Unmarshal(data, &row.Result); err != nil {
		return row, fmt.Errorf("decode result %d of %s: %w", row.ID, row.Monitor, err)
	}
	return row, nil
}

func (s *Store) queryResults(ctx context.Context, op, q string, args ...any) ([]ResultRow, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, classify(s.path, op, err)
	}
	defer rows.Close()
	var out []ResultRow
	for rows.Next() {
		row, err := scanResult(rows)
		if err != nil {
			return nil, classify(s.path, op, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(s.path, op, err)
	}
	return out, nil
}

// RecentResults returns up to n results of monitor from every vantage,
// newest first.
func (s *Store) RecentResults(ctx context.Context, monitor string, n int) ([]ResultRow, error) {
	return s.queryResults(ctx, "read recent results of "+monitor,
		`SELECT `+resultCols+` FROM results WHERE monitor = ?
		 ORDER BY at DESC, id DESC LIMIT ?`, monitor, n)
}

// LastResult returns the newest result of monitor from vantage ("" means
// result.LocalVantage); ok is false when there is none.
func (s *Store) LastResult(ctx context.Context, monitor, vantage string) (row ResultRow, ok bool, err error) {
	if vantage == "" {
		vantage = result.LocalVantage
	}
	rows, err := s.queryResults(ctx, "read last result of "+monitor,
		`SELECT `+resultCols+` FROM results WHERE monitor = ? AND vantage = ?
		 ORDER BY at DESC, id DESC LIMIT 1`, monitor, vantage)
	if err != nil || len(rows) == 0 {
		return ResultRow{}, false, err
	}
	return rows[0], true, nil
}

// LastResults returns the newest result of every (monitor, vantage), ordered
// by monitor and vantage.
func (s *Store) LastResults(ctx context.Context) ([]ResultRow, error) {
	// The correlated subquery walks results_by_monitor backwards once per
	// group, so this costs one index seek per (monitor, vantage), not a scan
	// of every stored result.
	return s.queryResults(ctx, "read last results",
		`SELECT `+resultCols+` FROM results WHERE id IN (
			SELECT (SELECT r.id FROM results r
			        WHERE r.monitor = g.monitor AND r.vantage = g.vantage
			        ORDER BY r.at DESC, r.id DESC LIMIT 1)
			FROM (SELECT DISTINCT monitor, vantage FROM results) g)
		 ORDER BY monitor, vantage`)
}
