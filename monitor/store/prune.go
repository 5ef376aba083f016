package store

import (
	"context"
	"fmt"
	"time"
)

// Pruned says what one Prune removed.
type Pruned struct {
	Results   int64 // results beyond KeepResults or older than MaxResultAge
	Delivered int64 // delivered keys older than KeepDelivered
	Refs      int64 // message refs of incidents resolved before KeepDelivered, and grouped messages untouched as long
}

// Prune applies the retention bounds. It deletes in transactions of at most
// PruneBatch rows, so that rounds keep committing while it runs. The
// background pruner calls it; calling it directly is safe too.
func (s *Store) Prune(ctx context.Context) (Pruned, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.sinceprune.Store(0)
	var p Pruned
	now := s.now()
	batch := s.opts.PruneBatch

	if s.opts.MaxResultAge > 0 {
		n, err := s.deleteInBatches(ctx, "prune old results",
			`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE at < ? LIMIT ?)`,
			toNanos(now.Add(-s.opts.MaxResultAge)), batch)
		p.Results += n
		if err != nil {
			return p, err
		}
	}
	if s.opts.KeepResults > 0 {
		n, err := s.pruneByCount(ctx)
		p.Results += n
		if err != nil {
			return p, err
		}
	}
	n, err := s.deleteInBatches(ctx, "prune delivered notifications",
		`DELETE FROM delivered WHERE key IN (SELECT key FROM delivered WHERE delivered_at < ? LIMIT ?)`,
		toNanos(now.Add(-s.opts.KeepDelivered)), batch)
	p.Delivered = n
	if err != nil {
		return p, err
	}
	p.Refs, err = s.deleteInBatches(ctx, "prune message refs",
		`DELETE FROM message_refs WHERE (receiver, incident_id) IN (
			SELECT m.receiver, m.incident_id FROM message_refs m JOIN incidents i ON i.id = m.incident_id
			WHERE i.resolved_at < ? LIMIT ?)`,
		toNanos(now.Add(-s.opts.KeepDelivered)), batch)
	if err != nil {
		return p, err
	}
	// A grouped message untouched for as long as delivered keys are kept
	// is not rewritten any more; a member resolving later still gets its
	// reply, only the group's message stays as it was.
	n, err = s.deleteInBatches(ctx, "prune grouped messages",
		`DELETE FROM message_groups WHERE (receiver, ref) IN (
			SELECT receiver, ref FROM message_groups WHERE updated_at < ? LIMIT ?)`,
		toNanos(now.Add(-s.opts.KeepDelivered)), batch)
	p.Refs += n
	return p, err
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
		if p.Results+p.Delivered+p.Refs > 0 {
			s.opts.Logger.Debug("pruned the state store", "results", p.Results, "delivered", p.Delivered, "refs", p.Refs)
		}
	}
}
