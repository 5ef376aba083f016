package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
)

// Pruned says what one Prune removed.
type Pruned struct {
	Results   int64 // results beyond KeepResults or older than MaxResultAge
	Delivered int64 // delivered keys older than KeepDelivered
	Refs      int64 // message refs of incidents resolved before KeepDelivered, and grouped messages untouched as long
	Rollups   int64 // rollup buckets older than their resolution's Keep, or of monitors removed before KeepRemoved
	Incidents int64 // resolved incidents of monitors removed before KeepRemoved
	// History: coverage spans, maintenance intervals, daemon runs and known
	// monitors that no window reaches any more, or of monitors removed
	// before KeepRemoved.
	History int64
}

// Prune applies the retention bounds. It deletes in transactions of at most
// PruneBatch rows, so that rounds keep committing while it runs. It first
// compacts the rollups (CompactRollups), and never drops a minute or hour
// bucket that was not yet compacted into its hour or day. The background
// pruner calls it; calling it directly is safe too.
func (s *Store) Prune(ctx context.Context) (Pruned, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.sinceprune.Store(0)
	var p Pruned
	now := s.now()
	batch := s.opts.PruneBatch

	// A compaction that fails (and says why) must not stop the pruning of
	// results: the store would grow without bound.
	compactErr := s.CompactRollups(ctx, now)
	if ctx.Err() != nil {
		return p, compactErr
	}
	if err := s.pruneResults(ctx, now, batch, &p); err != nil {
		return p, errors.Join(compactErr, err)
	}
	err := s.pruneHistory(ctx, now, batch, &p)
	return p, errors.Join(compactErr, err)
}

// pruneResults applies the bounds on results and on the outbox's
// bookkeeping.
func (s *Store) pruneResults(ctx context.Context, now time.Time, batch int, p *Pruned) error {
	if s.opts.MaxResultAge > 0 {
		n, err := s.deleteInBatches(ctx, "prune old results",
			`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE at < ? LIMIT ?)`,
			toNanos(now.Add(-s.opts.MaxResultAge)), batch)
		p.Results += n
		if err != nil {
			return err
		}
	}
	if s.opts.KeepResults > 0 {
		n, err := s.pruneByCount(ctx)
		p.Results += n
		if err != nil {
			return err
		}
	}
	n, err := s.deleteInBatches(ctx, "prune delivered notifications",
		`DELETE FROM delivered WHERE key IN (SELECT key FROM delivered WHERE delivered_at < ? LIMIT ?)`,
		toNanos(now.Add(-s.opts.KeepDelivered)), batch)
	p.Delivered = n
	if err != nil {
		return err
	}
	p.Refs, err = s.deleteInBatches(ctx, "prune message refs",
		`DELETE FROM message_refs WHERE (receiver, incident_id) IN (
			SELECT m.receiver, m.incident_id FROM message_refs m JOIN incidents i ON i.id = m.incident_id
			WHERE i.resolved_at < ? LIMIT ?)`,
		toNanos(now.Add(-s.opts.KeepDelivered)), batch)
	if err != nil {
		return err
	}
	// A grouped message untouched for as long as delivered keys are kept
	// is not rewritten any more; a member resolving later still gets its
	// reply, only the group's message stays as it was.
	n, err = s.deleteInBatches(ctx, "prune grouped messages",
		`DELETE FROM message_groups WHERE (receiver, ref) IN (
			SELECT receiver, ref FROM message_groups WHERE updated_at < ? LIMIT ?)`,
		toNanos(now.Add(-s.opts.KeepDelivered)), batch)
	p.Refs += n
	return err
}

// deleteInBatches repeats a DELETE whose last argument is the batch size
// until a batch deletes fewer rows than that.
func (s *Store) deleteInBatches(ctx context.Context, op, q string, args ...any) (int64, error) {
	batch := int64(args[len(args)-1].(int))
	var total int64
	for {
		var n int64
		err := s.Update(ctx, func(tx *Tx) error {
			res, err := tx.tx.ExecContext(ctx, q, args...)
			if err != nil {
				return tx.wrap(op, err)
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

type overGroup struct {
	monitor, vantage string
	excess           int64
}

// pruneByCount keeps the newest KeepResults of every (monitor, vantage).
// Finding the groups over the bound reads the whole index, so it runs on the
// read pool, where it does not hold up the writer.
func (s *Store) pruneByCount(ctx context.Context) (int64, error) {
	keep := s.opts.KeepResults
	rows, err := s.r.QueryContext(ctx, `SELECT monitor, vantage, count(*) FROM results
		GROUP BY monitor, vantage HAVING count(*) > ?`, keep)
	if err != nil {
		return 0, classify(s.path, "count results per monitor", err)
	}
	var groups []overGroup
	for rows.Next() {
		var g overGroup
		if err := rows.Scan(&g.monitor, &g.vantage, &g.excess); err != nil {
			rows.Close()
			return 0, classify(s.path, "count results per monitor", err)
		}
		g.excess -= int64(keep)
		groups = append(groups, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, classify(s.path, "count results per monitor", err)
	}

	var total int64
	for len(groups) > 0 {
		// Take groups until the batch is full (at least one, however big).
		var take int
		var rowsInBatch int64
		for take < len(groups) && (take == 0 || rowsInBatch+groups[take].excess <= int64(s.opts.PruneBatch)) {
			rowsInBatch += groups[take].excess
			take++
		}
		cur := groups[:take]
		groups = groups[take:]
		err := s.Update(ctx, func(tx *Tx) error {
			del, err := tx.tx.PrepareContext(ctx, `DELETE FROM results WHERE id IN (
				SELECT id FROM results WHERE monitor = ? AND vantage = ?
				ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?)`)
			if err != nil {
				return tx.wrap("prune results", err)
			}
			defer del.Close()
			for _, g := range cur {
				res, err := del.ExecContext(ctx, g.monitor, g.vantage, keep)
				if err != nil {
					return tx.wrap(fmt.Sprintf("prune results of %s from %s", g.monitor, g.vantage), err)
				}
				n, _ := res.RowsAffected()
				total += n
			}
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneLoop prunes every PruneInterval, and early when PruneEvery results
// were recorded since the last prune.
func (s *Store) pruneLoop() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.PruneInterval)
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.kick:
		}
		p, err := s.Prune(ctx)
		if err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("pruning the state store failed", "path", s.path, "err", err)
			continue
		}
		if p.Results+p.Delivered+p.Refs+p.Rollups+p.Incidents+p.History > 0 {
			s.opts.Logger.Debug("pruned the state store", "results", p.Results, "delivered", p.Delivered, "refs", p.Refs,
				"rollups", p.Rollups, "incidents", p.Incidents, "history", p.History)
		}
	}
}

// pruneHistory drops rollups by age, the history of monitors removed longer
// than KeepRemoved ago, and what no window reaches any more.
func (s *Store) pruneHistory(ctx context.Context, now time.Time, batch int, p *Pruned) error {
	// An unreadable compaction state keeps that resolution's rollups, not
	// the rest of the pruning.
	var stateErr error
	for _, res := range history.Resolutions {
		cutoff := toNanos(now.Add(-res.Keep()))
		// Until a bucket is compacted into the next resolution, it is the
		// only copy of its checks: however old, it waits.
		for _, c := range compactions {
			if c.src != res {
				continue
			}
			st, err := readCompactState(ctx, s.r, c.dst)
			if err != nil {
				stateErr = errors.Join(stateErr, classify(s.path, "prune "+string(res)+" rollups", err))
				st.Done = math.MinInt64
			}
			if st.Done == math.MinInt64 {
				cutoff = math.MinInt64
			}
			cutoff = min(cutoff, st.Done)
		}
		if cutoff == math.MinInt64 {
			continue
		}
		n, err := s.deleteInBatches(ctx, "prune "+string(res)+" rollups",
			`DELETE FROM rollups WHERE (monitor, res, bucket, vantage) IN (
				SELECT monitor, res, bucket, vantage FROM rollups WHERE res = ? AND bucket < ? LIMIT ?)`,
			string(res), cutoff, batch)
		p.Rollups += n
		if err != nil {
			return err
		}
	}

	// A removed monitor's history goes in full, the row that says it was
	// removed last: a prune stopped half way finds it again next time.
	removed := toNanos(now.Add(-time.Duration(s.keepRemoved.Load())))
	n, err := s.deleteInBatches(ctx, "prune rollups of removed monitors",
		`DELETE FROM rollups WHERE (monitor, res, bucket, vantage) IN (
			SELECT r.monitor, r.res, r.bucket, r.vantage FROM history_monitors m
			JOIN rollups r ON r.monitor = m.monitor WHERE m.removed_at < ? LIMIT ?)`, removed, batch)
	p.Rollups += n
	if err != nil {
		return err
	}
	for _, q := range []struct{ op, q string }{
		{"prune coverage of removed monitors", `DELETE FROM history_spans WHERE (monitor, run, start_at) IN (
			SELECT s.monitor, s.run, s.start_at FROM history_monitors m
			JOIN history_spans s ON s.monitor = m.monitor WHERE m.removed_at < ? LIMIT ?)`},
		{"prune maintenance of removed monitors", `DELETE FROM history_maintenance WHERE (monitor, start_at) IN (
			SELECT w.monitor, w.start_at FROM history_monitors m
			JOIN history_maintenance w ON w.monitor = m.monitor WHERE m.removed_at < ? LIMIT ?)`},
	} {
		n, err := s.deleteInBatches(ctx, q.op, q.q, removed, batch)
		p.History += n
		if err != nil {
			return err
		}
	}
	const removedIncidents = `SELECT i.id FROM history_monitors m JOIN incidents i ON i.monitor = m.monitor
		WHERE m.removed_at < ? AND i.kind = 'target' AND i.resolved_at IS NOT NULL`
	n, err = s.deleteInBatches(ctx, "prune message refs of removed monitors",
		`DELETE FROM message_refs WHERE (receiver, incident_id) IN (
			SELECT receiver, incident_id FROM message_refs WHERE incident_id IN (`+removedIncidents+`) LIMIT ?)`,
		removed, batch)
	p.Refs += n
	if err != nil {
		return err
	}
	n, err = s.deleteInBatches(ctx, "prune incidents of removed monitors",
		`DELETE FROM incidents WHERE id IN (`+removedIncidents+` LIMIT ?)`, removed, batch)
	p.Incidents += n
	if err != nil {
		return err
	}

	// No window reaches further back than the days are kept.
	old := toNanos(now.Add(-history.Day.Keep()))
	for _, q := range []struct{ op, q string }{
		{"prune old coverage", `DELETE FROM history_spans WHERE (monitor, run, start_at) IN (
			SELECT s.monitor, s.run, s.start_at FROM history_runs r JOIN history_spans s ON s.run = r.id
			WHERE r.seen_at < ?1 AND coalesce(s.end_at, r.seen_at) < ?1 LIMIT ?2)`},
		{"prune old maintenance", `DELETE FROM history_maintenance WHERE (monitor, start_at) IN (
			SELECT monitor, start_at FROM history_maintenance WHERE end_at < ? LIMIT ?)`},
		{"prune old daemon runs", `DELETE FROM history_runs WHERE id IN (
			SELECT r.id FROM history_runs r WHERE r.seen_at < ?
			AND NOT EXISTS (SELECT 1 FROM history_spans s WHERE s.run = r.id) LIMIT ?)`},
	} {
		n, err := s.deleteInBatches(ctx, q.op, q.q, old, batch)
		p.History += n
		if err != nil {
			return err
		}
	}
	n, err = s.deleteInBatches(ctx, "prune removed monitors",
		`DELETE FROM history_monitors WHERE monitor IN (
			SELECT monitor FROM history_monitors WHERE removed_at < ? LIMIT ?)`, removed, batch)
	p.History += n
	return errors.Join(stateErr, err)
}
