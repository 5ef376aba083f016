package daemon

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/monitor/web"
)

// historyFlushEvery is how often closed minutes of rollups, new coverage
// spans and maintenance windows go to the store, and how often the run's
// heartbeat moves: a kill -9 loses at most this much measured time (it
// reads as unknown) and the minute of rollups that was still open.
const historyFlushEvery = 5 * time.Second

// maxPendingBuckets bounds the rollups kept in memory while the store
// refuses writes: about a minute of 10,000 monitors from a few vantages.
const maxPendingBuckets = 50000

// keeper is the daemon's side of history: it feeds every round into the
// rollups, notes when each monitor began to be measured in this run and
// which maintenance windows covered it, and writes all of it in batches.
// The rules of what that means for uptime are monitor/history's.
type keeper struct {
	acc *history.Accumulator
	// rollups is [history] enabled: whether rounds feed acc. A reload
	// turns it on or off; what is stored stays readable either way.
	rollups atomic.Bool
	// run is this run's row in the store; 0 until the store took it
	// (a store that refuses writes at start gets it at a later flush).
	run       atomic.Int64
	startedAt time.Time

	mu        sync.Mutex
	begun     map[string]bool // monitors whose coverage span this run has begun
	spans     []spanStart     // begun, not yet written
	maint     map[string]history.Interval
	maintNew  []maintWindow
	pending   []history.Bucket // drained, refused by the store, retried next flush
	lastFlush time.Time
}

type spanStart struct {
	monitor string
	at      time.Time
}

type maintWindow struct {
	monitor string
	iv      history.Interval
}

func newKeeper(enabled bool) *keeper {
	k := &keeper{acc: history.NewAccumulator(), begun: map[string]bool{}, maint: map[string]history.Interval{}}
	k.rollups.Store(enabled)
	return k
}

// observe is a round's part in history; it runs on every round, so it only
// touches memory.
func (k *keeper) observe(cfg *config.Config, mc *config.Monitor, at time.Time, res *result.Outcome) {
	if acc := k.acc; k.rollups.Load() {
		if len(res.Vantages) == 0 {
			acc.Add(mc.Name, result.LocalVantage, at, &res.Result)
		}
		for i := range res.Vantages {
			// A refusal is the agent declining to dial: no check ran.
			if l := &res.Vantages[i]; l.Result != nil && l.Result.Refusal == nil {
				acc.Add(mc.Name, l.Name, at, l.Result)
			}
		}
	}
	var (
		iv    history.Interval
		inMnt bool
	)
	if len(cfg.Maintenance) > 0 {
		iv.Start, iv.End, inMnt = cfg.MaintenanceSpan(mc, at)
	}
	k.mu.Lock()
	if !k.begun[mc.Name] {
		k.begun[mc.Name] = true
		k.spans = append(k.spans, spanStart{mc.Name, at})
	}
	if inMnt && k.maint[mc.Name] != iv {
		k.maint[mc.Name] = iv
		k.maintNew = append(k.maintNew, maintWindow{mc.Name, iv})
	}
	k.mu.Unlock()
}

// forget ends what this run knows of monitors that left the config, so
// that one added back begins a new span.
func (k *keeper) forget(names []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range names {
		delete(k.begun, n)
		delete(k.maint, n)
	}
}

// due reports whether a periodic flush should run at now.
func (k *keeper) due(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	// A span begun or a maintenance window seen goes out at once: they
	// are rare (once per monitor and run, once per window), and until
	// written the monitor reads as not measured.
	soon := len(k.spans) > 0 || len(k.maintNew) > 0
	if !soon && now.Sub(k.lastFlush) < historyFlushEvery && !now.Before(k.lastFlush) {
		return false
	}
	k.lastFlush = now
	return true
}

// flushHistory writes what history holds in memory: the rollups of closed
// minutes (of every minute when final, at shutdown), the spans begun and
// the maintenance windows seen since the last flush, and the heartbeat.
// What the store refuses is kept for the next flush.
func (d *Daemon) flushHistory(ctx context.Context, final bool) error {
	k := d.hist
	now := d.clock.Now()
	before := now
	if final {
		before = time.Time{}
	}
	drained := k.acc.Drain(before)
	k.mu.Lock()
	buckets := append(k.pending, drained...)
	spans, maint := k.spans, k.maintNew
	k.pending, k.spans, k.maintNew = nil, nil, nil
	k.mu.Unlock()

	err := d.beginRun(ctx)
	run := k.run.Load()
	if err == nil {
		err = d.store.Update(ctx, func(tx *store.Tx) error {
			if err := tx.WriteRollups(ctx, buckets); err != nil {
				return err
			}
			for _, s := range spans {
				if err := tx.StartSpans(ctx, run, []string{s.monitor}, s.at); err != nil {
					return err
				}
			}
			for _, w := range maint {
				if err := tx.RecordMaintenance(ctx, w.monitor, w.iv); err != nil {
					return err
				}
			}
			return tx.Heartbeat(ctx, run, now)
		})
	}
	if err == nil {
		return nil
	}
	k.mu.Lock()
	k.pending = append(buckets, k.pending...)
	if n := len(k.pending) - maxPendingBuckets; n > 0 {
		k.pending = append(k.pending[:0:0], k.pending[n:]...)
		d.log.Warn("history: the store refuses writes; dropped the oldest rollups", "buckets", n)
	}
	k.spans = append(spans, k.spans...)
	k.maintNew = append(maint, k.maintNew...)
	k.mu.Unlock()
	return fmt.Errorf("writing history: %w", err)
}

// startHistory begins this run in the store and marks which monitors the
// config has; the others keep their history for [history] keep_removed. A
// store that refuses the writes does not stop the daemon (it fails open):
// the next flush tries again.
func (d *Daemon) startHistory(ctx context.Context) {
	d.hist.startedAt = d.clock.Now()
	if err := d.beginRun(ctx); err != nil {
		d.log.Warn("history: cannot record this run yet; will retry", "err", err)
	}
	if err := d.syncHistory(ctx, d.config(), nil, d.hist.startedAt); err != nil {
		d.log.Warn("history: cannot record which monitors the config has yet", "err", err)
	}
}

// beginRun gives this run its row in the store, once.
func (d *Daemon) beginRun(ctx context.Context) error {
	if d.hist.run.Load() != 0 {
		return nil
	}
	run, err := d.store.StartRun(ctx, d.hist.startedAt)
	if err != nil {
		return fmt.Errorf("starting history: %w", err)
	}
	d.hist.run.Store(run)
	return nil
}

// syncHistory follows a config change: monitors that left end their spans.
func (d *Daemon) syncHistory(ctx context.Context, cfg *config.Config, removed []string, at time.Time) error {
	names := make([]string, len(cfg.Monitors))
	for i := range cfg.Monitors {
		names[i] = cfg.Monitors[i].Name
	}
	d.hist.forget(removed)
	d.hist.rollups.Store(cfg.History.Enabled)
	d.store.SetKeepRemoved(keepRemovedOf(cfg))
	if len(removed) > 0 {
		if err := d.store.Update(ctx, func(tx *store.Tx) error { return tx.EndSpans(ctx, removed, at) }); err != nil {
			return fmt.Errorf("ending the history of removed monitors: %w", err)
		}
	}
	if err := d.store.SyncMonitors(ctx, names, at); err != nil {
		return fmt.Errorf("recording which monitors the config has: %w", err)
	}
	return nil
}

// keepRemovedOf is [history] keep_removed as the store takes it: there 0
// means its default and a negative value "at the next prune", which is
// what keep_removed = 0 asks for.
func keepRemovedOf(cfg *config.Config) time.Duration {
	if cfg.History.KeepRemoved == 0 {
		return -1
	}
	return cfg.History.KeepRemoved
}

var _ web.HistorySource = (*Daemon)(nil)

// timelines reads what uptime is computed from, for each of names.
func (d *Daemon) timelines(ctx context.Context, names []string, from, now time.Time) (map[string]*history.Timeline, error) {
	cov, err := d.store.Coverage(ctx, names, from, now, now, d.hist.run.Load())
	if err != nil {
		return nil, err
	}
	mnt, err := d.store.Maintenance(ctx, names, from, now)
	if err != nil {
		return nil, err
	}
	incs, err := d.store.IncidentsBetween(ctx, names, from, now)
	if err != nil {
		return nil, err
	}
	asDown := d.config().History.MaintenanceCountsAsDown
	out := make(map[string]*history.Timeline, len(names))
	for _, n := range names {
		out[n] = &history.Timeline{Measured: cov[n], Maintenance: mnt[n], Incidents: incs[n], MaintenanceCountsAsDown: asDown}
	}
	return out, nil
}

// History reports one monitor over w, from the store.
func (d *Daemon) History(ctx context.Context, name string, w history.Window) (*history.Report, error) {
	now := d.clock.Now().UTC()
	from := now.Add(-w.Duration())
	rep := &history.Report{
		Monitor: name, Window: w, From: result.TimeOf(from), To: result.TimeOf(now),
		MaintenanceCountsAsDown: d.config().History.MaintenanceCountsAsDown,
	}
	if d.lookup(name) == nil {
		removed, ok, err := d.store.KnownMonitor(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", name, err)
		}
		if !ok {
			return nil, fmt.Errorf("reading the history of %q: %w", name, web.ErrUnknownMonitor)
		}
		rep.RemovedAt = result.TimeOf(removed)
	}
	tls, err := d.timelines(ctx, []string{name}, from, now)
	if err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", name, err)
	}
	tl := tls[name]
	rep.SetUptime(tl.Uptime(from, now, now))
	rep.Incidents = entries(tl.Incidents, now)
	if err := d.withActions(ctx, rep.Incidents); err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", name, err)
	}
	step, res := w.Step()
	rep.Step = stepName(step)
	buckets, err := d.store.Rollups(ctx, name, res, from, now)
	if err != nil {
		return nil, fmt.Errorf("reading the response times of %s: %w", name, err)
	}
	rep.Latency = history.Latency(buckets, from, now, step)
	return rep, nil
}

// entries are a monitor's incidents for the history report, newest first:
// its outages and its slow spells (kind performance), each entry's kind
// saying which, so that every second of down_seconds and degraded_seconds
// is in one of them. Certificate incidents are not in the monitor's time
// and stay in /api/v1/incidents only.
func entries(incs []incident.Incident, now time.Time) []history.IncidentEntry {
	out := make([]history.IncidentEntry, 0, len(incs))
	for i := range incs {
		if k := incs[i].Kind; k == incident.KindTarget || k == incident.KindPerformance {
			out = append(out, history.Entry(&incs[i], now))
		}
	}
	slices.SortFunc(out, func(a, b history.IncidentEntry) int {
		if c := b.OpenedAt.Compare(a.OpenedAt.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out
}

func stepName(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

// Incidents lists incidents across monitors, newest first, a page at a time.
func (d *Daemon) Incidents(ctx context.Context, q history.IncidentQuery) ([]history.IncidentEntry, history.Cursor, error) {
	incs, next, err := d.store.ListIncidents(ctx, q)
	if err != nil {
		return nil, history.Cursor{}, fmt.Errorf("listing incidents: %w", err)
	}
	now := d.clock.Now()
	out := make([]history.IncidentEntry, len(incs))
	for i := range incs {
		out[i] = history.Entry(&incs[i], now)
	}
	if err := d.withActions(ctx, out); err != nil {
		return nil, history.Cursor{}, err
	}
	return out, next, nil
}

// withActions fills in each entry's actions from the store's action log.
func (d *Daemon) withActions(ctx context.Context, es []history.IncidentEntry) error {
	if len(es) == 0 {
		return nil
	}
	ids := make([]int64, len(es))
	for i := range es {
		ids[i] = es[i].ID
	}
	acts, err := d.store.ActionsForIncidents(ctx, ids)
	if err != nil {
		return fmt.Errorf("reading what operators did about incidents: %w", err)
	}
	for i := range es {
		list := make([]history.Action, 0, len(acts[es[i].ID]))
		for _, a := range acts[es[i].ID] {
			list = append(list, history.Action{At: result.TimeOf(a.At), By: a.By, What: a.What, Comment: a.Detail})
		}
		es[i].Actions = list
	}
	return nil
}

// Overview is the status page's 90-day bar and 30-day uptime of each of names.
func (d *Daemon) Overview(ctx context.Context, names []string) (map[string]web.Overview, error) {
	now := d.clock.Now().UTC()
	from := now.Truncate(24*time.Hour).AddDate(0, 0, -89)
	tls, err := d.timelines(ctx, names, from, now)
	if err != nil {
		return nil, fmt.Errorf("reading the status page's history: %w", err)
	}
	out := make(map[string]web.Overview, len(names))
	for n, tl := range tls {
		out[n] = web.Overview{Days: tl.Days(90, now), Uptime30d: tl.Uptime(now.AddDate(0, 0, -30), now, now)}
	}
	return out, nil
}

// Vantages is the health of every vantage, for the status page's panel.
func (d *Daemon) Vantages(context.Context) (vantage.Snapshot, bool) { return d.VantageHealth() }
