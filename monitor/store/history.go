package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
)

// What the history is measured against: which time each monitor was
// watched (coverage spans, per daemon run), its maintenance windows, and
// when it left the config. Rollups are in rollups.go.

// nameList encodes monitor names for json_each(?): one bound parameter
// whatever the number of names, where IN (?, ?, ...) would hit SQLite's
// limit on parameters at 10,000 monitors. json.Marshal would replace bad
// UTF-8, and the name would then match nothing, so such a name is refused.
func nameList(op string, monitors []string) (string, error) {
	for _, m := range monitors {
		if m == "" || !utf8.ValidString(m) {
			return "", fmt.Errorf("%s: %w: monitor name %q is empty or not UTF-8", op, ErrInvalid, m)
		}
	}
	if monitors == nil {
		monitors = []string{}
	}
	b, err := json.Marshal(monitors)
	if err != nil {
		return "", fmt.Errorf("%s: encode monitor names: %w", op, err)
	}
	return string(b), nil
}

// StartRun records the start of a daemon run at `at` and returns its ID,
// which StartSpans, Heartbeat and Coverage take.
func (s *Store) StartRun(ctx context.Context, at time.Time) (int64, error) {
	var id int64
	err := s.Update(ctx, func(tx *Tx) error {
		// The run before ended without a word if it was killed: its last
		// heartbeat may be seconds old, but every result it wrote after
		// that shows it was still measuring. So its end is its last
		// stored result, and a kill -9 loses only the unflushed batch.
		if _, err := tx.tx.ExecContext(ctx, `UPDATE history_runs SET seen_at = max(seen_at, coalesce(
				(SELECT max(r.at) FROM results r WHERE r.at >= history_runs.started_at AND r.at <= ?), seen_at))
			WHERE id = (SELECT max(id) FROM history_runs)`, toNanos(at)); err != nil {
			return tx.wrap("close the previous daemon run", err)
		}
		res, err := tx.tx.ExecContext(ctx, `INSERT INTO history_runs (started_at, seen_at) VALUES (?, ?)`,
			toNanos(at), toNanos(at))
		if err != nil {
			return tx.wrap("start daemon run", err)
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

// Heartbeat records that run was alive at `at`: a run that stops without a
// word (kill -9, power loss) has measured time up to its last heartbeat.
// The time never goes back.
func (s *Store) Heartbeat(ctx context.Context, run int64, at time.Time) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.Heartbeat(ctx, run, at) })
}

// Heartbeat is Store.Heartbeat inside the transaction, so that it commits
// with the rollups and spans it vouches for.
func (t *Tx) Heartbeat(ctx context.Context, run int64, at time.Time) error {
	op := fmt.Sprintf("record heartbeat of daemon run %d", run)
	res, err := t.tx.ExecContext(ctx, `UPDATE history_runs SET seen_at = max(seen_at, ?) WHERE id = ?`,
		toNanos(at), run)
	if err != nil {
		return t.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

// StartSpans starts measuring monitors in run from `at` (their first round
// in this run). A monitor already measured in run keeps its span, so the
// call is idempotent; one that was ended (removed, then put back in the
// config) gets a new span.
func (t *Tx) StartSpans(ctx context.Context, run int64, monitors []string, at time.Time) error {
	op := fmt.Sprintf("start coverage of %d monitors in daemon run %d", len(monitors), run)
	names, err := nameList(op, monitors)
	if err != nil {
		return err
	}
	var one int
	err = t.tx.QueryRowContext(ctx, `SELECT 1 FROM history_runs WHERE id = ?`, run).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w: no such run", op, ErrNotFound)
	}
	if err != nil {
		return t.wrap(op, err)
	}
	// A span ended at exactly `at` and started again at `at` is the same
	// key: it is reopened rather than duplicated.
	_, err = t.tx.ExecContext(ctx, `INSERT INTO history_spans (monitor, run, start_at, end_at)
		SELECT DISTINCT n.value, ?1, ?2, NULL FROM json_each(?3) n
		WHERE NOT EXISTS (SELECT 1 FROM history_spans s
		                  WHERE s.monitor = n.value AND s.run = ?1 AND s.end_at IS NULL)
		ON CONFLICT (monitor, run, start_at) DO UPDATE SET end_at = NULL`,
		run, toNanos(at), names)
	if err != nil {
		return t.wrap(op, err)
	}
	return nil
}

// EndSpans ends the measuring of monitors at `at`: they left the config.
// Only spans of the newest run are ended; a span of an earlier run lasts
// until that run's last heartbeat, whatever happens now.
func (t *Tx) EndSpans(ctx context.Context, monitors []string, at time.Time) error {
	op := fmt.Sprintf("end coverage of %d monitors", len(monitors))
	names, err := nameList(op, monitors)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE history_spans SET end_at = max(start_at, ?)
		WHERE end_at IS NULL AND run = (SELECT max(id) FROM history_runs)
		  AND monitor IN (SELECT value FROM json_each(?))`, toNanos(at), names)
	if err != nil {
		return t.wrap(op, err)
	}
	return nil
}

// Coverage returns, per monitor, the time inside [from, to) it was measured:
// its spans clipped to the window, merged, in time order. A span not ended
// lasts until its run's last heartbeat, except in liveRun (the running
// daemon's run), where it lasts until now. Monitors never measured in the
// window are absent from the map.
func (s *Store) Coverage(ctx context.Context, monitors []string, from, to, now time.Time, liveRun int64) (map[string][]history.Interval, error) {
	const op = "read coverage"
	names, err := nameList(op, monitors)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT s.monitor, s.start_at,
			coalesce(s.end_at, CASE WHEN s.run = ?1 THEN ?2 ELSE r.seen_at END) AS end_at
		FROM history_spans s JOIN history_runs r ON r.id = s.run
		WHERE s.monitor IN (SELECT value FROM json_each(?3))
		  AND s.start_at < ?5
		  AND coalesce(s.end_at, CASE WHEN s.run = ?1 THEN ?2 ELSE r.seen_at END) > ?4
		ORDER BY s.monitor, s.start_at`,
		liveRun, toNanos(now), names, toNanos(from), toNanos(to))
	if err != nil {
		return nil, classify(s.path, op, err)
	}
	return scanIntervals(rows, s.path, op, from, to)
}

// scanIntervals reads (monitor, start, end) rows, ordered by monitor and
// start, into clipped and merged intervals per monitor.
func scanIntervals(rows *sql.Rows, path, op string, from, to time.Time) (map[string][]history.Interval, error) {
	defer rows.Close()
	out := make(map[string][]history.Interval)
	for rows.Next() {
		var (
			m          string
			start, end int64
		)
		if err := rows.Scan(&m, &start, &end); err != nil {
			return nil, classify(path, op, err)
		}
		iv := clip(history.Interval{Start: fromNanos(start), End: fromNanos(end)}, from, to)
		if iv.Duration() > 0 {
			out[m] = appendMerged(out[m], iv)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(path, op, err)
	}
	return out, nil
}

func clip(iv history.Interval, from, to time.Time) history.Interval {
	if iv.Start.Before(from) {
		iv.Start = from
	}
	if iv.End.After(to) {
		iv.End = to
	}
	return iv
}

// appendMerged appends iv to ivs, which are sorted by start and disjoint,
// with iv starting no earlier than the last: overlapping or touching
// intervals become one.
func appendMerged(ivs []history.Interval, iv history.Interval) []history.Interval {
	if n := len(ivs); n > 0 && !iv.Start.After(ivs[n-1].End) {
		if iv.End.After(ivs[n-1].End) {
			ivs[n-1].End = iv.End
		}
		return ivs
	}
	return append(ivs, iv)
}

// RecordMaintenance records that monitor was in a maintenance window during
// iv (the window's exact start and end). Recording the same window again,
// or one that overlaps or touches a recorded one, leaves one interval: their
// union.
func (t *Tx) RecordMaintenance(ctx context.Context, monitor string, iv history.Interval) error {
	op := "record maintenance of " + monitor
	if monitor == "" {
		return fmt.Errorf("record maintenance: %w: empty monitor name", ErrInvalid)
	}
	if iv.Start.IsZero() || !iv.End.After(iv.Start) {
		return fmt.Errorf("%s: %w: interval [%v, %v) is empty", op, ErrInvalid, iv.Start, iv.End)
	}
	start, end := toNanos(iv.Start), toNanos(iv.End)
	var lo, hi sql.NullInt64
	if err := t.tx.QueryRowContext(ctx, `SELECT min(start_at), max(end_at) FROM history_maintenance
		WHERE monitor = ? AND start_at <= ? AND end_at >= ?`, monitor, end, start).Scan(&lo, &hi); err != nil {
		return t.wrap(op, err)
	}
	if lo.Valid && lo.Int64 < start {
		start = lo.Int64
	}
	if hi.Valid && hi.Int64 > end {
		end = hi.Int64
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM history_maintenance
		WHERE monitor = ? AND start_at >= ? AND start_at <= ?`, monitor, start, end); err != nil {
		return t.wrap(op, err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO history_maintenance (monitor, start_at, end_at)
		VALUES (?, ?, ?)`, monitor, start, end); err != nil {
		return t.wrap(op, err)
	}
	return nil
}

// Maintenance returns, per monitor, its maintenance intervals inside
// [from, to), clipped to the window, in time order. Monitors without any
// are absent from the map.
func (s *Store) Maintenance(ctx context.Context, monitors []string, from, to time.Time) (map[string][]history.Interval, error) {
	const op = "read maintenance windows"
	names, err := nameList(op, monitors)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT monitor, start_at, end_at FROM history_maintenance
		WHERE monitor IN (SELECT value FROM json_each(?)) AND start_at < ? AND end_at > ?
		ORDER BY monitor, start_at`, names, toNanos(to), toNanos(from))
	if err != nil {
		return nil, classify(s.path, op, err)
	}
	return scanIntervals(rows, s.path, op, from, to)
}

// SyncMonitors records that the config has exactly the monitors present at
// `at`: a new one is first seen now, one put back is no longer removed, and
// every other known monitor is removed from `at` on (unless it already was).
// Its history is kept for Options.KeepRemoved after that.
func (s *Store) SyncMonitors(ctx context.Context, present []string, at time.Time) error {
	op := fmt.Sprintf("record the %d monitors of the config", len(present))
	names, err := nameList(op, present)
	if err != nil {
		return err
	}
	return s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO history_monitors (monitor, first_seen, removed_at)
			SELECT DISTINCT value, ?, NULL FROM json_each(?) WHERE true
			ON CONFLICT (monitor) DO UPDATE SET removed_at = NULL`, toNanos(at), names); err != nil {
			return tx.wrap(op, err)
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE history_monitors SET removed_at = ?
			WHERE removed_at IS NULL AND monitor NOT IN (SELECT value FROM json_each(?))`,
			toNanos(at), names); err != nil {
			return tx.wrap(op, err)
		}
		return nil
	})
}

// KnownMonitor says whether the store has a history for name (ok), and when
// it left the config (zero while it is in it).
func (s *Store) KnownMonitor(ctx context.Context, name string) (removedAt time.Time, ok bool, err error) {
	var removed sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT removed_at FROM history_monitors WHERE monitor = ?`, name).Scan(&removed)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, classify(s.path, "look up monitor "+name, err)
	}
	return fromNullNanos(removed), true, nil
}

// IncidentsBetween returns, per monitor, its target and performance
// incidents whose downtime (history.Downtime: for a performance incident,
// its slow time) overlaps [from, to), open ones included, oldest first:
// what the monitor's uptime and degraded time are made of
// (history.Timeline). Vantage incidents never count against a monitor, and
// certificate incidents not in its time at all (an expiring certificate
// still serves), so both are left out.
func (s *Store) IncidentsBetween(ctx context.Context, monitors []string, from, to time.Time) (map[string][]incident.Incident, error) {
	const op = "read incidents of a window"
	names, err := nameList(op, monitors)
	if err != nil {
		return nil, err
	}
	// recovered_at <= resolved_at, so a downtime that ends after `from`
	// belongs to an incident open or resolved after it: the union below is
	// two index ranges per monitor (open ones; resolved after `from`), and
	// the exact test of the downtime is made on what they find.
	const end = `coalesce(recovered_at, resolved_at)`
	list, err := queryIncidents(ctx, s.r, s.path, op, `SELECT `+incidentCols+` FROM (
			SELECT * FROM incidents WHERE resolved_at IS NULL
			  AND monitor IN (SELECT value FROM json_each(?1))
			UNION ALL
			SELECT * FROM incidents WHERE resolved_at > ?2
			  AND monitor IN (SELECT value FROM json_each(?1)))
		WHERE kind IN (?4, ?5) AND coalesce(first_failure_at, opened_at) < ?3
		  AND (`+end+` IS NULL OR `+end+` > ?2)
		ORDER BY monitor, opened_at, id`,
		names, toNanos(from), toNanos(to), string(incident.KindTarget), string(incident.KindPerformance))
	if err != nil {
		return nil, err
	}
	out := make(map[string][]incident.Incident)
	for _, inc := range list {
		out[inc.Monitor] = append(out[inc.Monitor], inc)
	}
	return out, nil
}

// ListIncidents returns a page of incidents of every kind, newest opened
// first (ties by ID), that match q; next is the cursor of the following
// page, zero when this page is the last.
func (s *Store) ListIncidents(ctx context.Context, q history.IncidentQuery) (page []incident.Incident, next history.Cursor, err error) {
	const op = "list incidents"
	limit := q.Limit
	if limit == 0 {
		limit = history.DefaultIncidentLimit
	}
	if limit < 0 || limit > history.MaxIncidentLimit {
		return nil, next, fmt.Errorf("%s: %w: limit %d is not within 1..%d", op, ErrInvalid, q.Limit, history.MaxIncidentLimit)
	}
	where := []string{"true"}
	var args []any
	switch q.State {
	case "":
	case "open":
		where = append(where, "resolved_at IS NULL")
	case "resolved":
		where = append(where, "resolved_at IS NOT NULL")
	default:
		return nil, next, fmt.Errorf("%s: %w: state %q is not open or resolved", op, ErrInvalid, q.State)
	}
	if q.Monitor != "" {
		where = append(where, "monitor = ?")
		args = append(args, q.Monitor)
	}
	if !q.Since.IsZero() {
		where = append(where, "(resolved_at IS NULL OR resolved_at >= ?)")
		args = append(args, toNanos(q.Since))
	}
	if !q.Before.IsZero() {
		where = append(where, "(opened_at, id) < (?, ?)")
		args = append(args, toNanos(q.Before.OpenedAt), q.Before.ID)
	}
	// One more than the page tells whether another page follows.
	args = append(args, limit+1)
	list, err := queryIncidents(ctx, s.r, s.path, op, `SELECT `+incidentCols+` FROM incidents
		WHERE `+strings.Join(where, " AND ")+` ORDER BY opened_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, next, err
	}
	if len(list) > limit {
		list = slices.Clip(list[:limit])
		last := list[limit-1]
		next = history.Cursor{OpenedAt: last.OpenedAt.Time, ID: last.ID}
	}
	return list, next, nil
}
