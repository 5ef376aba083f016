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
	if !m.busy.TryLock() {
		// A re-check (daemon/actions.go) is running this monitor's round
		// right now: it stands for this one, as the scheduler skips a
		// round while the previous one runs.
		return
	}
	defer m.busy.Unlock()
	d.runRound(ctx, m)
}

// runRound probes m and settles the round. Call with m.busy held.
func (d *Daemon) runRound(ctx context.Context, m *mon) {
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
	d.publishMetrics(m, res)
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.Debug("check", "monitor", m.name, "ok", res.OK, "class", res.Class, "status", res.Status, "total_ms", res.Phases.TotalMs)
	}

	obs.Result = *res
	t, err := m.machine.Observe(obs)
	if err != nil {
		d.log.Error("observing a round", "monitor", m.name, "err", err)
		return
	}
	// The warnings see the same rounds as the target: each round that
	// its machine took.
	var arr [1 + len(warningKinds)]pendingT
	ts := append(arr[:0], pendingT{kind: incident.KindTarget, t: t, machine: m.machine})
	ts = d.observeWarnings(ts, m, at, res)
	row := store.ResultRow{Monitor: m.name, At: at, Result: *res}
	quiet, events := true, false
	for i := range ts {
		quiet = quiet && ts[i].quiet()
		events = events || len(ts[i].t.Events) > 0
	}
	if quiet && len(m.unsaved) == 0 {
		d.buf.add(row)
		return
	}
	err = d.commit(ctx, m, &row, ts)
	m.publish()
	if err == nil && events {
		d.kickOutbox()
	}
	recheck := time.Duration(-1)
	for i := range ts {
		p := &ts[i]
		if p.quiet() {
			continue // a steady machine, or a round that only carried earlier ones to the store
		}
		d.logTransition(m, p, res)
		if e := p.t.Find(incident.EventRecheck); e != nil && (recheck < 0 || e.RecheckAfter < recheck) {
			recheck = e.RecheckAfter
		}
	}
	if recheck >= 0 {
		if err := d.sched.RunAfter(m.name, recheck); err != nil {
			d.log.Warn("scheduling the early re-check", "monitor", m.name, "err", err)
		}
	}
}

// commit persists ts, what a round (with its result row), a reload or a
// removal did to m's machines, and m's state, in one transaction, after the
// transitions m keeps in memory. When the store does not take it, the
// transitions wait in m.unsaved and their alerts go out from memory (fail
// open); the error says so. Call with m.mu held.
func (d *Daemon) commit(ctx context.Context, m *mon, row *store.ResultRow, ts []pendingT) error {
	var err error
	if len(m.unsaved) > 0 {
		// Earlier rounds wait in memory: they go to the store first, in
		// order, with this one.
		if row != nil {
			d.buf.add(*row)
		}
		n := len(m.unsaved)
		for i := range ts {
			if !ts[i].quiet() {
				m.unsaved = append(m.unsaved, ts[i])
			}
		}
		if err = d.tryPersistUnsaved(ctx, m); err != nil {
			m.unsaved = m.unsaved[:n]
		}
	} else {
		prevIDs := incidentIDs(ts)
		err = d.write(ctx, func(tx *store.Tx) error {
			if row != nil {
				if err := tx.RecordResult(ctx, row); err != nil {
					return err
				}
			}
			for i := range ts {
				if err := d.persistEvents(ctx, tx, ts[i].machine, &ts[i].t); err != nil {
					return err
				}
			}
			if m.removed {
				return tx.DeleteState(ctx, m.name)
			}
			return saveState(ctx, tx, m)
		})
		if err != nil {
			// The transaction was rolled back: an ID it gave is not real.
			setIncidentIDs(ts, prevIDs)
			if row != nil {
				d.buf.add(*row)
			}
		}
	}
	if err != nil {
		// Fail open: the machines keep their state (the page and the API
		// show the truth) and the alerts go out from memory; the store
		// gets all of it when it writes again.
		for i := range ts {
			d.keepInMemory(ctx, m, &ts[i])
		}
	}
	return err
}

// incidentIDs are the IDs of the open incidents of ts's machines (0 for
// none), for setIncidentIDs to put back after a rollback.
func incidentIDs(ts []pendingT) []int64 {
	ids := make([]int64, len(ts))
	for i := range ts {
		if inc := ts[i].machine.Incident(); inc != nil {
			ids[i] = inc.ID
		}
	}
	return ids
}

func setIncidentIDs(ts []pendingT, ids []int64) {
	for i := range ts {
		ts[i].machine.SetIncidentID(ids[i])
	}
}

// logTransition writes one info line for a machine that changed its state
// (or, without a state change, its open incident) in a round: what
// happened, the round's verdict and the incident it concerns. A warning's
// line names its kind and the warning's class and detail.
func (d *Daemon) logTransition(m *mon, p *pendingT, res *result.Outcome) {
	t := &p.t
	var (
		id     int64
		events []string
		inc    = p.machine.Incident()
	)
	if inc != nil {
		id = inc.ID
	}
	for i := range t.Events {
		e := &t.Events[i]
		events = append(events, string(e.Kind))
		if e.Incident != nil {
			if id == 0 {
				id = e.Incident.ID
			}
			if inc == nil {
				inc = e.Incident
			}
		}
	}
	msg := "state changed"
	if !t.Changed() {
		msg = "incident updated"
	}
	var args []any
	if p.kind == incident.KindTarget {
		args = []any{"monitor", m.name, "from", t.From, "to", t.To, "class", res.Class, "gateway", res.Gateway, "status", res.Status}
	} else {
		args = []any{"monitor", m.name, "kind", p.kind, "from", t.From, "to", t.To}
		if inc != nil {
			args = append(args, "class", inc.Class, "detail", inc.Detail)
		}
	}
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
// machine's owner locked, inside a transaction that also saves the owner's
// snapshot (a monitor's, for a target or warning machine).
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

// saveState writes the states row of m's machines. Call with m.mu held.
func saveState(ctx context.Context, tx *store.Tx, m *mon) error {
	data, err := m.stateBlob()
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
