package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// round is the scheduler's Job: probe, observe, persist.
//
// Persisting is split by cost. A round that changes nothing durable (no
// event, same state) only appends its result to a buffer written in batches:
// a synchronous transaction per check would dominate the CPU of a daemon
// with thousands of monitors. A round with an event or a state change writes
// its result, the incident changes and the machine's snapshot in one
// transaction, so a crash can never leave one without the other.
func (d *Daemon) round(ctx context.Context, name string, _ time.Time) {
	m := d.lookup(name)
	if m == nil {
		return
	}
	m.mu.Lock()
	removed, mc := m.removed || m.broken != "", m.cfg
	m.mu.Unlock()
	if removed {
		return
	}
	at := d.clock.Now()
	// A target is a few words that point into the config: made for each
	// round, it costs nothing on the heap and cannot go stale on a reload.
	t := round.MonitorTarget(mc)
	var out round.Outcome
	if f := d.vs.fleet.Load(); f != nil && t.PlanErr == nil {
		out = d.vantageRound(ctx, f, t)
	} else {
		out = d.single.Load().Run(ctx, t)
	}
	// One rule for the vote and the severity on both paths: the round's.
	d.settle(ctx, m, at, &out.Outcome, out.Observation(at))
}

// settle is the second half of a round: everything after the probe. obs is
// what the machine observes of res.
func (d *Daemon) settle(ctx context.Context, m *mon, at time.Time, res *result.Outcome, obs incident.Observation) {
	d.metrics.observePhases(&res.Phases)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed || m.broken != "" {
		return
	}
	c := m.checks[res.Class]
	if c == nil {
		c = d.metrics.checks.WithLabelValues(m.name, string(res.Class))
		m.checks[res.Class] = c
	}
	c.Inc()
	d.hist.observe(d.config(), m.cfg, at, res)
	m.last, m.lastCheck = res, d.clock.Now()
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.Debug("check", "monitor", m.name, "ok", res.OK, "class", res.Class, "status", res.Status, "total_ms", res.Phases.TotalMs)
	}

	obs.Result = *res
	t, err := m.machine.Observe(obs)
	if err != nil {
		d.log.Error("observing a round", "monitor", m.name, "err", err)
		return
	}
	row := store.ResultRow{Monitor: m.name, At: at, Result: *res}
	if len(t.Events) == 0 && !t.Changed() && len(m.unsaved) == 0 {
		d.buf.add(row)
		return
	}
	if len(m.unsaved) > 0 {
		// Earlier rounds wait in memory: they go to the store first, in
		// order, with this one.
		d.buf.add(row)
		m.unsaved = append(m.unsaved, t)
		err = d.tryPersistUnsaved(ctx, m)
		if err != nil {
			m.unsaved = m.unsaved[:len(m.unsaved)-1]
		}
	} else {
		var prevID int64
		if inc := m.machine.Incident(); inc != nil {
			prevID = inc.ID
		}
		err = d.write(ctx, func(tx *store.Tx) error {
			if err := tx.RecordResult(ctx, &row); err != nil {
				return err
			}
			if err := d.persistEvents(ctx, tx, m.machine, &t); err != nil {
				return err
			}
			return saveState(ctx, tx, m)
		})
		if err != nil {
			// The transaction was rolled back: an ID it gave is not real.
			m.machine.SetIncidentID(prevID)
			d.buf.add(row)
		}
	}
	if err != nil {
		// Fail open: the machine keeps its state (the page and the API
		// show the truth) and the alerts go out from memory; the store
		// gets all of it when it writes again.
		d.keepInMemory(ctx, m, &t)
	}
	m.publish()
	if err == nil && len(t.Events) > 0 {
		d.kickOutbox()
	}
	if len(t.Events) == 0 && !t.Changed() {
		return // a steady round that only carried earlier ones to the store
	}
	d.logTransition(m, &t, res)
	if e := t.Find(incident.EventRecheck); e != nil {
		if err := d.sched.RunAfter(m.name, e.RecheckAfter); err != nil {
			d.log.Warn("scheduling the early re-check", "monitor", m.name, "err", err)
		}
	}
}

// logTransition writes one info line for a round that changed the state
// (or, without a state change, the open incident): what happened, the
// round's verdict and the incident it concerns.
func (d *Daemon) logTransition(m *mon, t *incident.Transition, res *result.Outcome) {
	var (
		id     int64
		events []string
	)
	if inc := m.machine.Incident(); inc != nil {
		id = inc.ID
	}
	for i := range t.Events {
		e := &t.Events[i]
		events = append(events, string(e.Kind))
		if id == 0 && e.Incident != nil {
			id = e.Incident.ID
		}
	}
	msg := "state changed"
	if !t.Changed() {
		msg = "incident updated"
	}
	args := []any{"monitor", m.name, "from", t.From, "to", t.To, "class", res.Class, "gateway", res.Gateway, "status", res.Status}
	if id != 0 {
		args = append(args, "incident", id)
	}
	if len(events) > 0 {
		args = append(args, "events", strings.Join(events, ","))
	}
	if t.Flapping {
		args = append(args, "flapping", true)
	}
	d.log.Info(msg, args...)
}

// persistEvents writes what a transition did to incidents. Call with the
// machine's owner locked, inside a transaction that also saves a target
// machine's snapshot.
func (d *Daemon) persistEvents(ctx context.Context, tx *store.Tx, machine *incident.Machine, t *incident.Transition) error {
	return d.persistEventsWith(ctx, tx, machine, t, nil)
}

// persistEventsWith is persistEvents; with a replay it writes a transition
// that was kept in memory while the store failed (see unpersisted.go).
func (d *Daemon) persistEventsWith(ctx context.Context, tx *store.Tx, machine *incident.Machine, t *incident.Transition, r *replay) error {
	var id int64
	if inc := machine.Incident(); inc != nil && r == nil {
		id = inc.ID
	}
	for i := range t.Events {
		e := &t.Events[i]
		if e.Incident == nil {
			continue // recheck: nothing durable
		}
		if e.Incident.ID != 0 {
			id = e.Incident.ID
		} else if r != nil {
			id = r.ids[e.Incident.Key()]
		}
		switch e.Kind {
		case incident.EventOpened:
			inc := *e.Incident
			inc.ID = 0
			err := tx.OpenIncident(ctx, &inc)
			var already *store.AlreadyOpenError
			if errors.As(err, &already) && already.ID != 0 {
				// The store has this outage open already: adopt it rather
				// than open a second one, and bring it up to date.
				inc.ID = already.ID
				err = tx.SaveIncident(ctx, &inc)
			}
			if err != nil {
				return err
			}
			id = inc.ID
			if r == nil {
				machine.SetIncidentID(id)
			} else {
				r.opened(machine, e.Incident.Key(), id)
			}
		case incident.EventChanged:
			if id == 0 || e.Change == nil {
				continue
			}
			if err := tx.AppendIncidentChange(ctx, id, *e.Change, e.Result); err != nil {
				return err
			}
		case incident.EventResolved:
			if id == 0 {
				continue // never stored: nothing to resolve
			}
			if err := tx.ResolveIncident(ctx, id, e.Incident.ResolvedAt.Time, e.Incident.RecoveredAt.Time, e.Incident.Resolution, e.Result); err != nil {
				return err
			}
		case incident.EventFlappingStarted, incident.EventFlappingStopped:
			if id == 0 {
				continue
			}
			inc := *e.Incident
			inc.ID = id
			if err := tx.SaveIncident(ctx, &inc); err != nil {
				return err
			}
		}
		if id != 0 {
			if err := d.enqueue(ctx, tx, e, id, r); err != nil {
				return err
			}
		}
	}
	// A state change with no event of its own can still move where the
	// open incident's downtime ends (down → recovering and back), which
	// history reads from the store's copy.
	if r == nil && t.Changed() && t.Find(incident.EventOpened) == nil {
		if inc := machine.Incident(); inc != nil && inc.ID != 0 {
			if err := tx.SaveIncident(ctx, inc); err != nil {
				return err
			}
		}
	}
	return nil
}

func saveState(ctx context.Context, tx *store.Tx, m *mon) error {
	data, err := m.machine.MarshalSnapshot()
	if err != nil {
		return err
	}
	return tx.SaveState(ctx, m.name, data)
}

// resultBuffer holds steady-state results until the next batched write.
type resultBuffer struct {
	mu    sync.Mutex
	rows  []store.ResultRow
	limit int // rows that trigger an early flush
	kick  chan struct{}
}

// maxBufferedRows bounds the rows kept for a retry while the store fails,
// so a long outage of the disk cannot grow memory without limit.
const maxBufferedRowsFactor = 20

func (b *resultBuffer) init(limit int) {
	b.limit = limit
	b.kick = make(chan struct{}, 1)
}

func (b *resultBuffer) add(row store.ResultRow) {
	b.mu.Lock()
	b.rows = append(b.rows, row)
	n := len(b.rows)
	b.mu.Unlock()
	if n >= b.limit {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (d *Daemon) flushLoop(ctx context.Context) {
	tk := time.NewTicker(d.opts.FlushInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		case <-d.buf.kick:
		}
		d.storeTick(ctx)
	}
}

// storeTick is the flush loop's work: write the buffered results; then,
// if the store took them, what monitors kept in memory, else hand the
// outbox's queued alerts to direct delivery. A failing store is logged
// (once a minute) and counted by noteStore; the rows stay buffered.
func (d *Daemon) storeTick(ctx context.Context) {
	if err := d.Flush(ctx); err == nil {
		_ = d.PersistUnsaved(ctx)
		if d.hist.due(d.clock.Now()) {
			if err := d.flushHistory(ctx, false); err != nil {
				d.log.Warn("history not written; kept for the next try", "err", err)
			}
		}
	}
	if d.storeDown() {
		if _, err := d.outbox.AdoptDue(ctx); err != nil {
			d.log.Warn("reading queued alerts to send them from memory", "err", err)
		}
	}
}

// Flush writes the buffered results now. On failure the rows stay buffered
// for the next attempt (up to a bound, beyond which the oldest are dropped
// and the loss is logged).
func (d *Daemon) Flush(ctx context.Context) error {
	b := &d.buf
	b.mu.Lock()
	rows := b.rows
	b.rows = nil
	b.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	start := time.Now()
	err := d.store.RecordResults(ctx, rows)
	d.metrics.writeTime.Observe(time.Since(start).Seconds())
	d.noteStore(err)
	if err == nil {
		return nil
	}
	b.mu.Lock()
	b.rows = append(rows, b.rows...)
	if limit := b.limit * maxBufferedRowsFactor; len(b.rows) > limit {
		drop := len(b.rows) - limit
		b.rows = append(b.rows[:0:0], b.rows[drop:]...)
		d.droppedResults(drop)
	}
	b.mu.Unlock()
	return fmt.Errorf("writing %d results: %w", len(rows), err)
}

// Buffered reports how many results wait for the next batched write.
func (d *Daemon) Buffered() int {
	d.buf.mu.Lock()
	defer d.buf.mu.Unlock()
	return len(d.buf.rows)
}
