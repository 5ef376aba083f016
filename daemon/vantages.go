package daemon

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// fleet is the vantage setup of one config: its rounds, their vantage
// runner and which vantages have shown since it was built that they work.
type fleet struct {
	round  *round.Runner
	runner *vantage.Runner // round.Vantages()
	cfg    *config.Config

	mu       sync.Mutex
	evidence map[string]bool // vantages that answered as healthy
	stop     context.CancelFunc
	done     chan struct{}
}

// vantageState is the daemon's side of vantage health: the fleet running
// now, the rounds in flight, and the vantage incidents.
type vantageState struct {
	fleet    atomic.Pointer[fleet]
	inflight atomic.Int64 // runner rounds not yet synced
	kick     chan struct{}

	mu     sync.Mutex      // guards runCtx
	runCtx context.Context // set by Run: where runners run

	incidents *vantage.Incidents
	// unsaved are the vantage transitions the store could not take, by
	// vantage, with the machine they were made on (unpersisted.go). Only
	// touched inside the incidents' lock: from vantageCommitter or
	// Incidents.Exclusive.
	unsaved map[string]*vantageUnsaved
}

// newFleet builds the vantage setup of cfg, nil when it uses none.
func (d *Daemon) newFleet(cfg *config.Config) (*fleet, error) {
	if !round.UsesVantages(cfg) {
		return nil, nil
	}
	f := &fleet{cfg: cfg, evidence: make(map[string]bool)}
	r, err := round.New(cfg, round.Options{Prober: d.prober, Remote: d.opts.Remote, Resolver: d.opts.Resolver, Clock: d.clock,
		Vantage: vantage.Options{
			Clock:     d.clock,
			OnChange:  func(vantage.Change) { d.vantageChanged(f) },
			OnSettled: func() { d.vantageChanged(f) },
		}})
	if err != nil {
		return nil, err
	}
	f.round, f.runner = r, r.Vantages()
	return f, nil
}

// newSingle builds the runner of cfg's rounds from this host alone, whose
// diagnosis asks cfg's resolvers.
func (d *Daemon) newSingle(cfg *config.Config) (*round.Runner, error) {
	return round.Single(cfg, round.Options{Prober: d.prober, Resolver: d.opts.Resolver, Clock: d.clock})
}

// fleetChanged reports whether a reload from old to new needs a new fleet.
func fleetChanged(old, new *config.Config, ch config.Changes) bool {
	return len(ch.VantagesChanged) > 0 || round.UsesVantages(old) != round.UsesVantages(new) ||
		!slices.Equal(old.Canary.URLs, new.Canary.URLs) || old.Canary.Every != new.Canary.Every ||
		old.Canary.Timeout != new.Canary.Timeout || !slices.Equal(old.Resolvers, new.Resolvers)
}

// swapFleet installs f (nil: no vantages) and, when the daemon runs, starts
// its canary loop and stops the old one's.
func (d *Daemon) swapFleet(ctx context.Context, f *fleet) {
	old := d.vs.fleet.Swap(f)
	d.vs.mu.Lock()
	runCtx := d.vs.runCtx
	d.vs.mu.Unlock()
	if runCtx != nil {
		d.startFleet(runCtx, f)
	}
	stopFleet(old)
	// Vantages that left the config resolve their incidents now.
	d.syncVantages(ctx)
}

func (d *Daemon) startFleet(ctx context.Context, f *fleet) {
	if f == nil {
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	f.mu.Lock()
	f.stop, f.done = cancel, done
	f.mu.Unlock()
	go func() {
		defer close(done)
		f.runner.Run(rctx)
	}()
}

func stopFleet(f *fleet) {
	if f == nil {
		return
	}
	f.mu.Lock()
	stop, done := f.stop, f.done
	f.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// startVantages runs the canary loop and the health syncer until ctx ends;
// the returned func waits for both.
func (d *Daemon) startVantages(ctx context.Context) (wait func()) {
	d.vs.mu.Lock()
	d.vs.runCtx = ctx
	d.vs.mu.Unlock()
	d.startFleet(ctx, d.vs.fleet.Load())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.vs.kick:
			}
			// Changes a round causes are synced when the round ends, with
			// the whole round's picture (isolation is only known once
			// every vantage has answered or not).
			// Likewise canary checks: they run in parallel and report one by
			// one, and a sync between the first and the last would open a
			// vantage incident a moment before isolation is known.
			if f := d.vs.fleet.Load(); d.vs.inflight.Load() == 0 && (f == nil || !f.runner.Checking()) {
				d.syncVantages(ctx)
			}
		}
	}()
	return func() {
		<-done
		d.vs.mu.Lock()
		d.vs.runCtx = nil
		d.vs.mu.Unlock()
		stopFleet(d.vs.fleet.Load())
	}
}

// vantageChanged is the runner's OnChange: it must not block, so it only
// asks the syncer to look.
func (d *Daemon) vantageChanged(f *fleet) {
	if d.vs.fleet.Load() != f {
		return // a replaced runner's last words
	}
	select {
	case d.vs.kick <- struct{}{}:
	default:
	}
}

// noteRound records which vantages answered a round as healthy: the
// evidence that lets an incident adopted at start resolve.
func (f *fleet) noteRound(lines []result.VantageLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range lines {
		if l.Status == result.VantageUp || l.Status == result.VantageDown {
			f.evidence[l.Name] = true
		}
	}
}

func (f *fleet) proven(h vantage.Health) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.evidence[h.Name] || (h.Canary == "ok" && !h.CanaryAt.IsZero())
}

// restoreVantages sets up the vantage incidents and adopts the store's open
// ones, so a restart neither forgets nor doubles them.
func (d *Daemon) restoreVantages(ctx context.Context) error {
	d.vs.kick = make(chan struct{}, 1)
	d.vs.incidents = vantage.NewIncidents(vantage.IncidentsOptions{
		Committer: vantageCommitter{d},
		Fleet:     d.currentFleet,
		Logger:    d.log,
		Now:       d.clock.Now,
	})
	// A row that does not decode is reported by restore (a monitor's) or
	// skipped here with a log line (a vantage's, which the next sync opens
	// again if the vantage is still failing): it never stops the others.
	open, bad, err := d.store.OpenIncidentsTolerant(ctx)
	if err != nil {
		return fmt.Errorf("restoring vantage incidents: %w", err)
	}
	for _, b := range bad {
		if d.cfg.Monitor(b.Monitor) == nil {
			d.log.Error("skipping an open incident that does not decode", "monitor", b.Monitor, "incident", b.ID, "err", b.Err, "file", d.store.Path())
		}
	}
	return d.vs.incidents.Restore(open)
}

// syncVantages brings the vantage incidents in line with the fleet's health
// (vantage.Incidents.Sync).
func (d *Daemon) syncVantages(ctx context.Context) {
	d.vs.incidents.Sync(ctx)
}

// currentFleet is the fleet the vantage incidents read, nil without one.
func (d *Daemon) currentFleet() vantage.Fleet {
	if f := d.vs.fleet.Load(); f != nil {
		return fleetView{f}
	}
	return nil
}

// fleetView is what the vantage incidents read of a fleet.
type fleetView struct{ f *fleet }

func (v fleetView) Health() vantage.Snapshot { return v.f.runner.Health() }

func (v fleetView) Proven(h vantage.Health) bool { return v.f.proven(h) }

func (v fleetView) URL(name string) string {
	if cv := v.f.cfg.Vantage(name); cv != nil {
		return cv.URL
	}
	return name
}

// VantageHealth is the health of every vantage, ok false when the daemon
// runs without vantages.
func (d *Daemon) VantageHealth() (vantage.Snapshot, bool) {
	f := d.vs.fleet.Load()
	if f == nil {
		return vantage.Snapshot{}, false
	}
	return f.runner.Health(), true
}

// vantageRound runs one round of t through the fleet. The vantage
// incidents are brought up to date once every vantage has answered, before
// the diagnosis: the round's picture of their health is then whole.
func (d *Daemon) vantageRound(ctx context.Context, f *fleet, t round.Target) round.Outcome {
	d.vs.inflight.Add(1)
	p := f.round.Probe(ctx, t)
	f.noteRound(p.Vantages())
	d.vs.inflight.Add(-1)
	d.syncVantages(ctx)
	return p.Finish(ctx)
}
