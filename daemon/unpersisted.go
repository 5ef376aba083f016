package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/outbox"
	"github.com/vantage-monitor/vantage/notify/plan"
)

// A store that cannot write never silences alerting. When a round's write
// fails the machine keeps its new state in memory (the page and the API
// show the truth), the transition waits in mon.unsaved, and the alerts it
// asks for are sent straight from memory (outbox.SendDirect), marked "not
// persisted". Every receiver is told once that the store is unwritable and
// once that it writes again. When it does, the waiting transitions are
// written in order, in one transaction per monitor: incidents, snapshot, and
// outbox rows, where what already went out from memory is recorded as
// delivered (with its message ref) so that nothing is sent twice.

// storeLogEvery bounds the log lines about a failing store.
const storeLogEvery = time.Minute

// storeOutage is the state of the store's writes, for the notices and the
// rate-limited log.
type storeOutage struct {
	mu         sync.Mutex
	down       bool
	since      time.Time
	ended      time.Time // when the last outage ended
	notified   bool      // this outage's notice went out
	lastLog    time.Time
	suppressed int // failures not logged since lastLog
	dropped    int // results dropped during this outage
}

// droppedResults reports results the buffer could not keep: on its own line
// while the store is healthy, in the once-a-minute line during an outage.
func (d *Daemon) droppedResults(n int) {
	o := &d.outage
	o.mu.Lock()
	down := o.down
	if down {
		o.dropped += n
	}
	o.mu.Unlock()
	if !down {
		d.log.Error("dropped results the store could not take", "rows", n)
	}
}

// noteStore records the outcome of a store write: the metric, the health,
// the notices and the log line.
func (d *Daemon) noteStore(err error) {
	if err == nil {
		if d.storeErr.Load() != nil {
			d.storeErr.Store(nil)
		}
		d.storeWritable()
		return
	}
	d.metrics.storeErrs.Inc()
	s := err.Error()
	d.storeErr.Store(&s)
	d.storeUnwritable(err)
}

func (d *Daemon) storeDown() bool {
	d.outage.mu.Lock()
	defer d.outage.mu.Unlock()
	return d.outage.down
}

func (d *Daemon) storeUnwritable(err error) {
	o := &d.outage
	now := d.clock.Now()
	o.mu.Lock()
	notice := false
	if !o.down {
		o.down, o.since = true, now
		// A store that flaps gets one notice a minute at most.
		notice = o.ended.IsZero() || now.Sub(o.ended) >= storeLogEvery
		o.notified = notice
	}
	logNow := o.lastLog.IsZero() || now.Sub(o.lastLog) >= storeLogEvery
	skipped := o.suppressed
	if logNow {
		o.lastLog, o.suppressed = now, 0
	} else {
		o.suppressed++
	}
	since, dropped := o.since, o.dropped
	o.mu.Unlock()
	if logNow {
		d.log.Error("state store unwritable; alerts are sent from memory, marked not persisted",
			"file", d.store.Path(), "err", err, "since", since, "failures_not_logged", skipped, "results_dropped", dropped)
	}
	if notice {
		d.noticeAll(since, "unwritable", incident.SeverityCritical,
			fmt.Sprintf("state store unwritable: alerts are sent from memory and marked not persisted until it writes again (%s, %v)", d.store.Path(), err))
	}
}

func (d *Daemon) storeWritable() {
	o := &d.outage
	o.mu.Lock()
	if !o.down {
		o.mu.Unlock()
		return
	}
	now := d.clock.Now()
	o.down, o.ended = false, now
	since, notified, skipped, dropped := o.since, o.notified, o.suppressed, o.dropped
	o.lastLog, o.suppressed, o.dropped = time.Time{}, 0, 0
	o.mu.Unlock()
	d.log.Info("state store writable again", "file", d.store.Path(), "unwritable_for", now.Sub(since).Round(time.Millisecond), "failures_not_logged", skipped, "results_dropped", dropped)
	if notified {
		d.noticeAll(since, "writable", incident.SeverityInfo,
			fmt.Sprintf("state store writable again after %s: alerting is persisted again (%s)", now.Sub(since).Round(time.Second), d.store.Path()))
	}
}

// noticeAll sends a notice about the store to every receiver, from memory:
// the store is the one thing it cannot go through.
func (d *Daemon) noticeAll(outage time.Time, what string, sev incident.Severity, text string) {
	cfg := d.config()
	now := d.clock.Now()
	items := make([]outbox.DirectItem, 0, len(cfg.Receivers))
	for i := range cfg.Receivers {
		r := cfg.Receivers[i].Name
		items = append(items, outbox.DirectItem{Msg: notify.Message{
			Key:      fmt.Sprintf("store/%s/%s|%s", outage.UTC().Format(time.RFC3339Nano), what, r),
			Event:    incident.NotifyNotice,
			Receiver: r,
			Monitor:  "state store",
			Severity: sev,
			At:       now,
			Change:   text,
		}})
	}
	d.outbox.SendDirect(items...)
}

// replay is what writing transitions kept in memory needs besides the
// transaction: the IDs the store gives to incidents opened meanwhile, and
// the direct items the outbox now holds.
type replay struct {
	ids    map[string]int64    // incident key -> store ID
	set    []*incident.Machine // the machines whose open incident got its ID
	handed []string            // direct keys now in the store
}

// opened records the ID of an incident opened by a replayed transition;
// the machine's open incident takes it only if it is that incident (it may
// have resolved since, and another opened).
func (r *replay) opened(machine *incident.Machine, key string, id int64) {
	r.ids[key] = id
	if cur := machine.Incident(); cur != nil && cur.Key() == key && cur.ID == 0 {
		machine.SetIncidentID(id)
		r.set = append(r.set, machine)
	}
}

// undo takes back the IDs opened gave: the transaction that gave them was
// rolled back.
func (r *replay) undo() {
	for _, machine := range r.set {
		machine.SetIncidentID(0)
	}
	r.set = r.set[:0]
}

// enqueueReplayed writes one planned notification of a replayed event. One
// that went out from memory is recorded as delivered, with its message ref
// for the incident's later events; one that failed for good as failed; one
// still waiting is handed to the outbox.
func (d *Daemon) enqueueReplayed(ctx context.Context, tx *store.Tx, s *plan.Send, id int64, r *replay) error {
	out, direct := d.outbox.Direct(s.Msg.Key)
	if direct && out.MaybeSent {
		s.Msg.Repeat = true
	}
	existed, err := enqueueSend(ctx, tx, s)
	if err != nil || !direct || existed {
		// Already in the store: a row direct delivery adopted is recorded
		// by the outbox's next pass (outbox.settleAdopted), not here.
		return err
	}
	r.handed = append(r.handed, s.Msg.Key)
	switch {
	case out.Status == store.KeyDelivered:
		if err := tx.MarkDelivered(ctx, s.Msg.Key); err != nil {
			return err
		}
		if out.Ref != "" && id != 0 {
			return tx.SetMessageRef(ctx, s.Msg.Receiver, id, out.Ref)
		}
	case out.Failed:
		return tx.MarkFailed(ctx, s.Msg.Key, out.Reason)
	}
	return nil
}

// errDirectBusy: an alert was being sent from memory, so what was kept in
// memory is written later (by PersistUnsaved) rather than make a round wait
// for a slow receiver.
var errDirectBusy = errors.New("an alert is being sent from memory; the state is written at the next flush")

// tryPersistUnsaved is persistUnsaved for a round or a removal, which hold
// m.mu: it never waits for direct delivery (lock order: hold, then m.mu).
func (d *Daemon) tryPersistUnsaved(ctx context.Context, m *mon) error {
	release, ok := d.outbox.TryHoldDirect()
	if !ok {
		d.unsavedWaiting.Store(true)
		return errDirectBusy
	}
	defer release()
	return d.persistUnsaved(ctx, m)
}

// persistUnsaved writes m's transitions kept in memory, and its snapshot,
// in one transaction. Call with direct delivery held (HoldDirect), so that
// no attempt changes an outcome between reading it and the outbox taking it
// over, and with m.mu held.
func (d *Daemon) persistUnsaved(ctx context.Context, m *mon) error {
	r := &replay{ids: map[string]int64{}}
	n := len(m.unsaved)
	err := d.write(ctx, func(tx *store.Tx) error {
		clear(r.ids)
		r.handed = r.handed[:0]
		r.undo() // an earlier try of this transaction was rolled back
		for i := range m.unsaved {
			p := &m.unsaved[i]
			if err := d.persistEventsWith(ctx, tx, m.machineFor(p), &p.t, r); err != nil {
				return err
			}
		}
		if m.removed {
			return tx.DeleteState(ctx, m.name)
		}
		return saveState(ctx, tx, m)
	})
	if err != nil {
		r.undo()
		return err
	}
	m.unsaved = nil
	d.outbox.ForgetDirect(r.handed)
	d.kickOutbox()
	d.log.Info("state kept in memory written to the store", "monitor", m.name, "transitions", n, "sent_from_memory", len(r.handed))
	return nil
}

// PersistUnsaved writes what every monitor kept in memory while the store
// failed; the daemon calls it after each flush, so it happens soon after
// the store writes again even for a monitor whose next round is far off.
func (d *Daemon) PersistUnsaved(ctx context.Context) error {
	if !d.unsavedWaiting.Swap(false) {
		return nil // nothing waits: the common case, checked every flush
	}
	var firstErr error
	defer func() {
		if firstErr != nil {
			d.unsavedWaiting.Store(true)
		}
	}()
	release := d.outbox.HoldDirect()
	defer release()
	for _, m := range append(d.retiring.take(), d.monitorList()...) {
		m.mu.Lock()
		if firstErr == nil && len(m.unsaved) > 0 {
			firstErr = d.persistUnsaved(ctx, m)
		}
		if m.removed && len(m.unsaved) > 0 {
			d.retiring.add(m) // still waiting
		}
		m.mu.Unlock()
	}
	d.vs.incidents.Exclusive(func() {
		names := make([]string, 0, len(d.vs.unsaved))
		for name := range d.vs.unsaved {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if firstErr != nil {
				break
			}
			firstErr = d.persistVantageUnsaved(ctx, name, d.vs.unsaved[name])
		}
	})
	return firstErr
}

// retiringMons are removed monitors whose removal the store has not taken
// yet: they are no longer in Daemon.monitors, but their transitions still
// wait to be written.
type retiringMons struct {
	mu   sync.Mutex
	mons []*mon
}

func (r *retiringMons) add(m *mon) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.mons, m) {
		r.mons = append(r.mons, m)
	}
}

func (r *retiringMons) take() []*mon {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.mons
	r.mons = nil
	return l
}

// keepInMemory is what a round does when its write failed: the transition
// of one of m's machines waits in m.unsaved, and its alerts go out from
// memory. Call with m.mu held.
func (d *Daemon) keepInMemory(ctx context.Context, m *mon, p *pendingT) {
	if !p.quiet() {
		m.unsaved = append(m.unsaved, *p)
		d.unsavedWaiting.Store(true)
	}
	d.sendFromMemory(ctx, m.name, &p.t)
}

// memoryLookup says where a notification key stands while the store cannot
// write: direct delivery first, then what the store last recorded.
func (d *Daemon) memoryLookup(ctx context.Context) plan.Lookup {
	return func(key string) (store.KeyStatus, error) {
		if st, ok := d.outbox.DirectStatus(key); ok {
			return st, nil
		}
		// If the store cannot say, assume the receiver was told: an extra
		// RESOLVED is better than a page that stays red.
		st := store.KeyAttempted
		_ = d.store.View(ctx, func(tx *store.Tx) error {
			s, err := tx.KeyStatus(ctx, key)
			if err == nil {
				st = s
			}
			return err
		})
		return st, nil
	}
}

// vantageCommitter is how the vantage incidents reach the store and the
// outbox (vantage.Committer): a change and its notifications in one
// transaction, or, when the store cannot write, kept in memory with its
// alerts sent from memory, as a round does. Its methods run inside the
// incidents' lock, which also guards d.vs.unsaved.
type vantageCommitter struct{ d *Daemon }

func (c vantageCommitter) Commit(ctx context.Context, ch vantage.IncidentChange) error {
	if err := c.d.persistVantage(ctx, ch.Name, ch.Machine, ch.Transition); err != nil {
		return err
	}
	c.d.kickOutbox()
	return nil
}

func (c vantageCommitter) Keep(ctx context.Context, ch vantage.IncidentChange, err error) {
	c.d.keepVantageInMemory(ctx, ch.Name, ch.Machine, ch.Transition)
	if !c.d.storeDown() { // a failing store is logged once a minute by noteStore
		c.d.log.Error("persisting a vantage incident; its alerts go out from memory", "vantage", ch.Name, "err", err)
	}
	c.d.kickOutbox()
}

// vantageUnsaved are a vantage's transitions the store could not take, and
// the machine they were made on (the daemon forgets a vantage's machine
// once nothing is open, but a replay still needs it).
type vantageUnsaved struct {
	machine *incident.Machine
	ts      []incident.Transition
}

// persistVantage writes a vantage transition; earlier ones kept in memory
// go first, in order. Call inside the vantage incidents' lock.
func (d *Daemon) persistVantage(ctx context.Context, name string, m *incident.Machine, t *incident.Transition) error {
	if u := d.vs.unsaved[name]; u != nil {
		release, ok := d.outbox.TryHoldDirect()
		if !ok {
			return errDirectBusy
		}
		defer release()
		u.machine = m
		u.ts = append(u.ts, *t)
		if err := d.persistVantageUnsaved(ctx, name, u); err != nil {
			u.ts = u.ts[:len(u.ts)-1]
			return err
		}
		return nil
	}
	var prevID int64
	if inc := m.Incident(); inc != nil {
		prevID = inc.ID
	}
	err := d.write(ctx, func(tx *store.Tx) error { return d.persistEvents(ctx, tx, m, t) })
	if err != nil {
		m.SetIncidentID(prevID) // rolled back: an ID it gave is not real
	}
	return err
}

// keepVantageInMemory is keepInMemory for a vantage. Call inside the
// vantage incidents' lock.
func (d *Daemon) keepVantageInMemory(ctx context.Context, name string, m *incident.Machine, t *incident.Transition) {
	if d.vs.unsaved == nil {
		d.vs.unsaved = map[string]*vantageUnsaved{}
	}
	u := d.vs.unsaved[name]
	if u == nil {
		u = &vantageUnsaved{}
		d.vs.unsaved[name] = u
	}
	u.machine = m
	u.ts = append(u.ts, *t)
	d.unsavedWaiting.Store(true)
	d.sendFromMemory(ctx, name, t)
}

// persistVantageUnsaved writes a vantage's transitions kept in memory. Call
// with direct delivery held, inside the vantage incidents' lock.
func (d *Daemon) persistVantageUnsaved(ctx context.Context, name string, u *vantageUnsaved) error {
	r := &replay{ids: map[string]int64{}}
	err := d.write(ctx, func(tx *store.Tx) error {
		for i := range u.ts {
			if err := d.persistEventsWith(ctx, tx, u.machine, &u.ts[i], r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.undo()
		return err
	}
	delete(d.vs.unsaved, name)
	d.outbox.ForgetDirect(r.handed)
	d.kickOutbox()
	d.log.Info("vantage incident kept in memory written to the store", "vantage", name, "transitions", len(u.ts), "sent_from_memory", len(r.handed))
	return nil
}

// sendFromMemory plans the alerts of t as the outbox would and hands them
// to direct delivery.
func (d *Daemon) sendFromMemory(ctx context.Context, name string, t *incident.Transition) {
	cfg := d.config()
	lookup := d.memoryLookup(ctx)
	for i := range t.Events {
		e := &t.Events[i]
		if e.Incident == nil || e.Kind == incident.EventRecheck {
			continue
		}
		dec, err := plan.Event(cfg, d.silences(), e, e.Incident.ID, lookup)
		if err != nil {
			d.log.Error("planning notifications from memory", "monitor", name, "event", e.Key(), "err", err)
			continue
		}
		for _, w := range dec.Withdraws {
			d.outbox.WithdrawDirect(w.Receiver, e.Incident.Key())
		}
		items := make([]outbox.DirectItem, 0, len(dec.Sends))
		for _, s := range dec.Sends {
			items = append(items, outbox.DirectItem{Msg: s.Msg, IncidentKey: e.Incident.Key(), NotBefore: s.NotBefore})
		}
		d.outbox.SendDirect(items...)
	}
}

// quietHandler drops the outbox's "pass failed" lines while the store is
// known to be unwritable (every pass fails on it, every few seconds): the
// daemon already logs the outage once a minute, with the count. What a
// receiver answered is still logged.
// outboxPassFailed is the message of the outbox's line for a pass that
// stopped on a store error (notify/outbox/outbox.go).
const outboxPassFailed = "notification pass failed"

type quietHandler struct {
	slog.Handler
	d *Daemon
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && r.Message == outboxPassFailed && h.d.storeDown() {
		h.d.outage.mu.Lock()
		h.d.outage.suppressed++
		h.d.outage.mu.Unlock()
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as), h.d}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name), h.d}
}
