package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Rollups: the daemon writes minute buckets (WriteRollups); the store makes
// hour buckets from minutes and day buckets from hours once they have closed
// (CompactRollups), and drops each resolution by age (Prune).
//
// Compaction writes a coarser bucket as the merge of every finer bucket in
// it, replacing what was there, so doing it again gives the same row. How
// far it got is kept in store_meta and moves in the same transaction as the
// rows it wrote, a chunk of monitors at a time: a crash loses at most the
// chunk being written, which is done again. A finer bucket written after
// its coarser one was made (a late drain) is merged into that one too, so
// no check is ever left out nor counted twice.

// compactGrace is how long after a bucket closes compaction waits: the
// daemon drains a closed minute within seconds, and what comes later still
// counts, only at the cost of a second write.
const compactGrace = 2 * time.Minute

// compactState is how far compaction into one resolution got.
type compactState struct {
	// Done: every bucket of the resolution before it is made (math.MinInt64
	// before the first compaction).
	Done int64 `json:"done"`
	// Active: buckets in [Done, End) are being made, monitor by monitor in
	// name order, and those up to After are made.
	Active bool   `json:"active,omitempty"`
	End    int64  `json:"end,omitempty"`
	After  string `json:"after,omitempty"`
}

// made reports whether the bucket of dst starting at bucket (Unix ns) was
// already made for monitor.
func (st compactState) made(monitor string, bucket int64) bool {
	return bucket < st.Done || (st.Active && bucket < st.End && monitor <= st.After)
}

func compactKey(dst history.Resolution) string { return "rollups_compacted_" + string(dst) }

func readCompactState(ctx context.Context, q querier, dst history.Resolution) (compactState, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE key = ?`, compactKey(dst)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return compactState{Done: math.MinInt64}, nil
	}
	if err != nil {
		return compactState{}, err
	}
	var st compactState
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		// Compaction replaces what it makes, so starting again is safe.
		return compactState{}, fmt.Errorf("%w: the rollup compaction state %q (store_meta key %s) does not decode; delete that row to compact from the start: %v",
			ErrCorrupt, v, compactKey(dst), err)
	}
	return st, nil
}

func (t *Tx) writeCompactState(ctx context.Context, dst history.Resolution, st compactState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO store_meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, compactKey(dst), string(b))
	return err
}

func validRes(r history.Resolution) bool {
	return r == history.Minute || r == history.Hour || r == history.Day
}

// WriteRollups stores buckets, merging each with the row of the same key if
// there is one (a minute drained in two parts, or written again after a
// failed transaction the caller retries with only the new part). Bucket
// starts must be aligned to their resolution. A minute whose hour (or day)
// was already compacted is merged into that hour (and day) as well.
func (t *Tx) WriteRollups(ctx context.Context, buckets []history.Bucket) error {
	for i := range buckets {
		k := &buckets[i].Key
		switch {
		case k.Monitor == "":
			return fmt.Errorf("write rollups: %w: empty monitor name", ErrInvalid)
		case !validRes(k.Res):
			return fmt.Errorf("write rollups of %s: %w: resolution %q is not 1m, 1h or 1d", k.Monitor, ErrInvalid, k.Res)
		case k.Bucket.IsZero() || !k.Res.Truncate(k.Bucket).Equal(k.Bucket):
			return fmt.Errorf("write rollups of %s: %w: bucket %v is not the start of a %s bucket", k.Monitor, ErrInvalid, k.Bucket, k.Res)
		}
	}
	if len(buckets) == 0 {
		return nil
	}
	hours, err := t.compactStateForWrite(ctx, history.Hour)
	if err != nil {
		return err
	}
	days, err := t.compactStateForWrite(ctx, history.Day)
	if err != nil {
		return err
	}
	st := rollupStmts{
		add: t.tx.StmtContext(ctx, t.s.wst.newRollup),
		get: t.tx.StmtContext(ctx, t.s.wst.getRollup),
		put: t.tx.StmtContext(ctx, t.s.wst.putRollup),
	}
	var buf []byte
	for i := range buckets {
		b := &buckets[i]
		k := b.Key
		if k.Vantage == "" {
			k.Vantage = result.LocalVantage
		}
		k.Bucket = k.Bucket.UTC()
		if buf, err = t.mergeRollup(ctx, st, k, &b.Agg, buf); err != nil {
			return err
		}
		if k.Res == history.Minute {
			h := history.Hour.Truncate(k.Bucket)
			if !hours.made(k.Monitor, toNanos(h)) {
				continue
			}
			hk := k
			hk.Res, hk.Bucket = history.Hour, h
			if buf, err = t.mergeRollup(ctx, st, hk, &b.Agg, buf); err != nil {
				return err
			}
		}
		if k.Res != history.Day {
			d := history.Day.Truncate(k.Bucket)
			if !days.made(k.Monitor, toNanos(d)) {
				continue
			}
			dk := k
			dk.Res, dk.Bucket = history.Day, d
			if buf, err = t.mergeRollup(ctx, st, dk, &b.Agg, buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// compactStateForWrite is readCompactState for WriteRollups: a state that
// does not decode (CompactRollups reports it) counts as nothing compacted,
// rather than stopping every write of checks.
func (t *Tx) compactStateForWrite(ctx context.Context, dst history.Resolution) (compactState, error) {
	st, err := readCompactState(ctx, t.tx, dst)
	if errors.Is(err, ErrCorrupt) {
		t.s.opts.Logger.Warn("late rollups are not merged into compacted ones", "path", t.s.path, "err", err)
		return compactState{Done: math.MinInt64}, nil
	}
	if err != nil {
		return st, t.wrap("write rollups", err)
	}
	return st, nil
}

// rollupStmts are the writer's prepared statements, bound to a Tx.
type rollupStmts struct{ add, get, put *sql.Stmt }

// mergeRollup adds a to the row of k; buf is scratch space, returned for
// the next call. Most buckets are new, so an insert is tried first and the
// stored row read only when there is one. A stored row that does not decode
// is replaced: it is lost already, and refusing would stop every later
// write of the batch.
func (t *Tx) mergeRollup(ctx context.Context, st rollupStmts, k history.Key, a *history.Agg, buf []byte) ([]byte, error) {
	op := fmt.Sprintf("write %s rollup of %s from %s at %s", k.Res, k.Monitor, k.Vantage, k.Bucket.Format(time.RFC3339))
	buf, err := a.AppendBinary(buf[:0])
	if err != nil {
		return buf, fmt.Errorf("%s: encode: %w", op, err)
	}
	res, err := st.add.ExecContext(ctx, k.Monitor, k.Vantage, string(k.Res), toNanos(k.Bucket),
		clampInt64(a.Checks), clampInt64(a.Failures), buf)
	if err != nil {
		return buf, t.wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		if err != nil {
			return buf, t.wrap(op, err)
		}
		return buf, nil
	}
	var data []byte
	if err := st.get.QueryRowContext(ctx, k.Monitor, string(k.Res), toNanos(k.Bucket), k.Vantage).Scan(&data); err != nil {
		return buf, t.wrap(op, err)
	}
	var old history.Agg
	if err := old.UnmarshalBinary(data); err != nil {
		t.s.opts.Logger.Warn("a stored rollup does not decode; it is replaced by the new checks",
			"path", t.s.path, "monitor", k.Monitor, "vantage", k.Vantage, "res", string(k.Res),
			"bucket", k.Bucket, "err", err)
	} else {
		old.Merge(a)
		a = &old
	}
	return t.putRollup(ctx, st.put, op, k, a, buf)
}

func (t *Tx) putRollup(ctx context.Context, put *sql.Stmt, op string, k history.Key, a *history.Agg, buf []byte) ([]byte, error) {
	buf, err := a.AppendBinary(buf[:0])
	if err != nil {
		return buf, fmt.Errorf("%s: encode: %w", op, err)
	}
	if _, err := put.ExecContext(ctx, k.Monitor, k.Vantage, string(k.Res), toNanos(k.Bucket),
		clampInt64(a.Checks), clampInt64(a.Failures), buf); err != nil {
		return buf, t.wrap(op, err)
	}
	return buf, nil
}

func clampInt64(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// Rollups returns monitor's buckets of resolution res that start inside
// [from, to), from every vantage, ordered by start and vantage. A stored
// bucket that does not decode is left out and logged, so that one bad row
// does not take a monitor's whole history with it.
func (s *Store) Rollups(ctx context.Context, monitor string, res history.Resolution, from, to time.Time) ([]history.Bucket, error) {
	op := fmt.Sprintf("read %s rollups of %s", res, monitor)
	if !validRes(res) {
		return nil, fmt.Errorf("%s: %w: resolution %q is not 1m, 1h or 1d", op, ErrInvalid, res)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT vantage, bucket, data FROM rollups
		WHERE monitor = ? AND res = ? AND bucket >= ? AND bucket < ?
		ORDER BY bucket, vantage`, monitor, string(res), toNanos(from), toNanos(to))
	if err != nil {
		return nil, classify(s.path, op, err)
	}
	defer rows.Close()
	var out []history.Bucket
	for rows.Next() {
		var (
			b      history.Bucket
			bucket int64
			data   []byte
		)
		if err := rows.Scan(&b.Vantage, &bucket, &data); err != nil {
			return nil, classify(s.path, op, err)
		}
		b.Monitor, b.Res, b.Bucket = monitor, res, fromNanos(bucket)
		if err := b.Agg.UnmarshalBinary(data); err != nil {
			s.opts.Logger.Warn("a stored rollup does not decode; it is left out", "path", s.path,
				"monitor", monitor, "vantage", b.Vantage, "res", string(res), "bucket", b.Bucket, "err", err)
			continue
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(s.path, op, err)
	}
	return out, nil
}

// compactions are the coarser resolutions and what each is made from,
// in the order they must run: days are made from finished hours.
var compactions = []struct{ src, dst history.Resolution }{
	{history.Minute, history.Hour},
	{history.Hour, history.Day},
}

// CompactRollups makes the hour buckets of every hour closed by now from
// their minutes, then the day buckets of every closed day from their hours.
// It works in transactions of a bounded number of rows, so rounds keep
// committing while it runs, and picks up where it stopped after a crash.
// Prune calls it first, so the background pruner keeps compaction going.
func (s *Store) CompactRollups(ctx context.Context, now time.Time) error {
	for _, c := range compactions {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			finished, err := s.compactStep(ctx, c.src, c.dst, now)
			if err != nil {
				return err
			}
			if finished {
				break
			}
		}
	}
	return nil
}

// compactStep does one transaction of compaction into dst; finished says
// there is nothing more to do for now.
func (s *Store) compactStep(ctx context.Context, src, dst history.Resolution, now time.Time) (finished bool, err error) {
	op := fmt.Sprintf("compact %s rollups into %s", src, dst)
	budget := 4 * s.opts.PruneBatch
	err = s.Update(ctx, func(tx *Tx) error {
		st, err := readCompactState(ctx, tx.tx, dst)
		if err != nil {
			return tx.wrap(op, err)
		}
		if !st.Active {
			end := toNanos(dst.Truncate(now.Add(-compactGrace)))
			if src != history.Minute {
				// Only from finished source buckets.
				up, err := readCompactState(ctx, tx.tx, src)
				if err != nil {
					return tx.wrap(op, err)
				}
				if up.Done == math.MinInt64 {
					finished = true
					return nil
				}
				end = min(end, toNanos(dst.Truncate(fromNanos(up.Done))))
			}
			if end <= st.Done {
				finished = true
				return nil
			}
			st = compactState{Done: st.Done, Active: true, End: end}
		}
		var rowsRead, visited int
		for rowsRead < budget && visited < budget {
			var next sql.NullString
			if err := tx.tx.QueryRowContext(ctx, `SELECT min(monitor) FROM rollups WHERE monitor > ?`,
				st.After).Scan(&next); err != nil {
				return tx.wrap(op, err)
			}
			if !next.Valid {
				st = compactState{Done: st.End}
				finished = true
				break
			}
			n, err := tx.compactMonitor(ctx, next.String, src, dst, st.Done, st.End)
			if err != nil {
				return err
			}
			rowsRead += n
			visited++
			st.After = next.String
		}
		if err := tx.writeCompactState(ctx, dst, st); err != nil {
			return tx.wrap(op, err)
		}
		return nil
	})
	return finished, err
}

// compactMonitor makes monitor's dst buckets in [from, end) from its src
// buckets, replacing what was there, and says how many it read.
func (t *Tx) compactMonitor(ctx context.Context, monitor string, src, dst history.Resolution, from, end int64) (int, error) {
	op := fmt.Sprintf("compact %s rollups of %s into %s", src, monitor, dst)
	rows, err := t.tx.QueryContext(ctx, `SELECT vantage, bucket, data FROM rollups
		WHERE monitor = ? AND res = ? AND bucket >= ? AND bucket < ?`, monitor, string(src), from, end)
	if err != nil {
		return 0, t.wrap(op, err)
	}
	type group struct {
		vantage string
		bucket  time.Time
	}
	var (
		aggs  = make(map[group]*history.Agg)
		order []group
		n     int
	)
	for rows.Next() {
		var (
			v    string
			b    int64
			data []byte
		)
		if err := rows.Scan(&v, &b, &data); err != nil {
			rows.Close()
			return n, t.wrap(op, err)
		}
		n++
		var a history.Agg
		if err := a.UnmarshalBinary(data); err != nil {
			t.s.opts.Logger.Warn("a stored rollup does not decode; it is left out of the compaction",
				"path", t.s.path, "monitor", monitor, "vantage", v, "res", string(src), "bucket", fromNanos(b), "err", err)
			continue
		}
		g := group{v, dst.Truncate(fromNanos(b))}
		acc := aggs[g]
		if acc == nil {
			acc = new(history.Agg)
			aggs[g] = acc
			order = append(order, g)
		}
		acc.Merge(&a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, t.wrap(op, err)
	}
	put := t.tx.StmtContext(ctx, t.s.wst.putRollup)
	var buf []byte
	for _, g := range order {
		k := history.Key{Monitor: monitor, Vantage: g.vantage, Res: dst, Bucket: g.bucket}
		if buf, err = t.putRollup(ctx, put, op, k, aggs[g], buf); err != nil {
			return n, err
		}
	}
	return n, nil
}
