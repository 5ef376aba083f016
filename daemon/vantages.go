package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/diagnose"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/monitor/verdict"
	"github.com/vantage-monitor/vantage/notify"
)

// IsolationIncident is the name of the one KindVantage incident raised while
// the daemon's own host has lost its network (the local vantage is impaired
// and no remote vantage answers), instead of one incident per vantage. The
// '/' keeps it apart from every vantage name, which the config restricts to
// letters, digits, '.', '_' and '-'.
const IsolationIncident = notify.IsolationMonitor

// ResolutionIsolated is how a vantage incident ends when the isolation
// notice takes over from it.
const ResolutionIsolated = "covered by the notice that this host lost its network"

// vantageSeverity is the severity of vantage problem incidents and of the
// isolation notice: our own trouble is worth a look, never a page at night.
const vantageSeverity = incident.SeverityWarning

// RemoteProber is the prober of a configured remote vantage: an agent.Client
// signing with the first key of the vantage's key file.
func RemoteProber(v *config.Vantage) (vantage.Prober, error) {
	if v.Key.IsZero() {
		return nil, fmt.Errorf("vantage %s: no key configured", v.Name)
	}
	keys, err := agent.ParseKeys(v.Key.Reveal())
	if err != nil {
		return nil, fmt.Errorf("vantage %s: reading its key: %w", v.Name, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("vantage %s: its key file holds no key", v.Name)
	}
	c := &agent.Client{URL: v.URL, Key: keys[0], Timeout: v.Timeout, CA: v.CAPool}
	if v.Insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator asked for it (insecure = true)
		c.HTTPClient = &http.Client{Transport: tr}
	}
	return c, nil
}

// UsesVantages reports whether cfg asks for rounds through vantage points:
// any [[vantage]] or a [canary]. Without either the daemon keeps the plain
// single-host path.
func UsesVantages(cfg *config.Config) bool {
	return len(cfg.Vantages) > 0 || len(cfg.Canary.URLs) > 0
}

// NewRunner builds the vantage runner of cfg: local probes through local,
// every [[vantage]] through remote (RemoteProber when nil).
func NewRunner(cfg *config.Config, local vantage.Prober, remote func(*config.Vantage) (vantage.Prober, error), opts vantage.Options) (*vantage.Runner, error) {
	if remote == nil {
		remote = RemoteProber
	}
	remotes := make(map[string]vantage.Prober, len(cfg.Vantages))
	for i := range cfg.Vantages {
		v := &cfg.Vantages[i]
		p, err := remote(v)
		if err != nil {
			return nil, err
		}
		remotes[v.Name] = p
	}
	opts.Canary = cfg.Canary
	return vantage.New(local, remotes, opts)
}

// fleet is the vantage setup of one config: the runner, the diagnoser and
// which vantages have shown since it was built that they work.
type fleet struct {
	runner *vantage.Runner
	diag   *diagnose.Diagnoser
	cfg    *config.Config

	mu       sync.Mutex
	evidence map[string]bool // vantages that answered as healthy
	stop     context.CancelFunc
	done     chan struct{}
}

// vantageState is the daemon's side of vantage health: one incident machine
// per vantage problem (and the isolation notice), and the rounds in flight.
type vantageState struct {
	fleet    atomic.Pointer[fleet]
	inflight atomic.Int64 // runner rounds not yet synced
	kick     chan struct{}

	mu       sync.Mutex // guards machines and serialises syncs
	machines map[string]*incident.Machine
	runCtx   context.Context // set by Run: where runners run
	// isolated is the isolation the last sync saw, isoEnded when it last
	// ended: an impaired state older than that is stale (its canaries were
	// checked while nothing worked) until the next canary verdict.
	isolated bool
	isoEnded time.Time
	// unsaved are the vantage transitions the store could not take, by
	// vantage, with the machine they were made on (unpersisted.go).
	unsaved map[string]*vantageUnsaved
}

// vantageSettings: the runner already debounces health (a failure triggers
// a canary check), so one transition opens and one resolves.
func vantageSettings() incident.Settings {
	return incident.Settings{Confirm: 1, Recover: 1, RetryDelay: -1, FlapChanges: -1}
}

// localProber runs the local vantage's probes through the daemon's Prober.
func (d *Daemon) localProber() vantage.Prober {
	return vantage.ProberFunc(func(ctx context.Context, s probe.Spec) (result.Result, error) {
		pl, err := probe.Compile(s)
		if err != nil {
			r := result.Result{URL: s.URL, StartedAt: d.clock.Now(), Class: result.ClassProtocolError, Error: err.Error()}
			r.Normalize()
			return r, nil
		}
		return d.prober.RunPlan(ctx, pl), nil
	})
}

// newFleet builds the vantage setup of cfg, nil when it uses none.
func (d *Daemon) newFleet(cfg *config.Config) (*fleet, error) {
	if !UsesVantages(cfg) {
		return nil, nil
	}
	f := &fleet{cfg: cfg, evidence: make(map[string]bool)}
	r, err := NewRunner(cfg, d.localProber(), d.opts.Remote, vantage.Options{
		Clock:     d.clock,
		OnChange:  func(vantage.Change) { d.vantageChanged(f) },
		OnSettled: func() { d.vantageChanged(f) },
	})
	if err != nil {
		return nil, fmt.Errorf("setting up vantages: %w", err)
	}
	f.runner = r
	// Each remote vantage resolves through its own resolver (an agent's
	// /v1/resolve), so the diagnosis can tell a region's DNS from ours.
	var vrs []diagnose.VantageResolver
	for _, name := range r.Names() {
		p, _ := r.Prober(name)
		if rs, ok := p.(interface {
			Resolve(context.Context, string) ([]netip.Addr, error)
		}); ok && name != result.LocalVantage {
			vrs = append(vrs, diagnose.VantageResolver{Name: name, Lookup: rs.Resolve})
		}
	}
	dg, err := diagnose.New(diagnose.Options{System: d.opts.Resolver, Resolvers: cfg.Resolvers, Vantages: vrs, Probe: func(ctx context.Context, s probe.Spec) result.Result {
		res, _ := d.localProber().Probe(ctx, s)
		return res
	}})
	if err != nil {
		return nil, fmt.Errorf("setting up the follow-up diagnosis: %w", err)
	}
	f.diag = dg
	return f, nil
}

// fleetChanged reports whether a reload from old to new needs a new fleet.
func fleetChanged(old, new *config.Config, ch config.Changes) bool {
	return len(ch.VantagesChanged) > 0 || UsesVantages(old) != UsesVantages(new) ||
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

// restoreVantages adopts the store's open vantage incidents, so a restart
// neither forgets nor doubles them. They resolve once the vantage shows it
// works again.
func (d *Daemon) restoreVantages(ctx context.Context) error {
	d.vs.kick = make(chan struct{}, 1)
	d.vs.machines = make(map[string]*incident.Machine)
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
	for i := range open {
		inc := &open[i]
		if inc.Kind != incident.KindVantage {
			continue
		}
		m, err := incident.New(inc.Monitor, incident.KindVantage, vantageSettings())
		if err != nil {
			return fmt.Errorf("restoring vantage incident of %s: %w", inc.Monitor, err)
		}
		m.Reconcile(inc)
		d.vs.machines[inc.Monitor] = m
		if inc.Monitor == IsolationIncident {
			d.vs.isolated = true
		}
		d.log.Info("restored open vantage incident", "vantage", inc.Monitor, "incident", inc.ID)
	}
	return nil
}

// syncVantages brings the vantage incidents in line with the runner's
// health: while the host is isolated, only the isolation notice is open;
// otherwise each impaired or unreachable vantage has one incident, however
// many monitors it failed. A vantage that left the config resolves as
// removed.
func (d *Daemon) syncVantages(ctx context.Context) {
	d.vs.mu.Lock()
	defer d.vs.mu.Unlock()
	f := d.vs.fleet.Load()
	now := d.clock.Now()

	type want struct {
		down   bool
		hold   bool // isolated: the notice speaks for every vantage
		proven bool // up is backed by evidence, not just the default
		why    string
		url    string
		mons   []string
	}
	wants := make(map[string]want)
	if f != nil {
		h := f.runner.Health()
		if d.vs.isolated && !h.Isolated {
			d.vs.isoEnded = now
		}
		d.vs.isolated = h.Isolated
		anyProven := false
		for _, v := range h.Vantages {
			stale := v.State == vantage.Impaired && !d.vs.isoEnded.IsZero() && !v.CanaryAt.After(d.vs.isoEnded)
			w := want{url: v.Name, proven: f.proven(v), hold: h.Isolated || stale}
			anyProven = anyProven || w.proven
			if cv := f.cfg.Vantage(v.Name); cv != nil {
				w.url = cv.URL
			}
			if v.State != vantage.Healthy && !h.Isolated {
				w.down, w.why, w.mons = true, fmt.Sprintf("vantage %s is %s: %s", v.Name, v.State, v.Error), v.Monitors
			}
			wants[v.Name] = w
		}
		// The notice ends once any vantage has shown it works: the network
		// is back, even if the local canaries are yet to be re-checked.
		iso := want{url: IsolationIncident, proven: anyProven}
		if local, ok := h.Vantage(result.LocalVantage); ok && h.Isolated {
			iso.down, iso.why = true, "this host has lost its network: the local canaries fail and no remote vantage answers ("+local.Error+")"
		}
		wants[IsolationIncident] = iso
	}
	names := make([]string, 0, len(wants)+len(d.vs.machines))
	for n := range wants {
		names = append(names, n)
	}
	for n := range d.vs.machines {
		if _, ok := wants[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)

	for _, name := range names {
		w, configured := wants[name]
		m := d.vs.machines[name]
		covered := false
		if w.hold {
			// While the host is cut off, the isolation notice speaks for
			// every vantage. A vantage incident opened on the way there
			// (the picture arrives one check at a time) is closed as
			// covered by it; an alert for it that nobody has seen yet is
			// withdrawn by the planner, so the operator hears one thing.
			if !d.vs.isolated || m == nil || m.Incident() == nil {
				continue
			}
			covered = true
		}
		var (
			t   incident.Transition
			err error
		)
		switch {
		case covered:
			t = m.Close(now, ResolutionIsolated)
		case !configured:
			if m == nil {
				continue
			}
			t = m.Remove(now)
		case w.down && (m == nil || m.Incident() == nil):
			if m == nil {
				if m, err = incident.New(name, incident.KindVantage, vantageSettings()); err != nil {
					d.log.Error("making a vantage incident machine", "vantage", name, "err", err)
					continue
				}
			}
			detail := w.why
			if len(w.mons) > 0 {
				detail += "; monitors it could not vote in: " + strings.Join(w.mons, ", ")
			}
			r := result.Result{URL: w.url, StartedAt: now, Class: result.ClassNetworkUnreachable, Detail: detail, Error: w.why}
			r.Normalize()
			t, err = m.Observe(incident.Observation{At: now, Result: r, Vote: incident.VoteDown, Severity: vantageSeverity})
		case !w.down && m != nil && m.Incident() != nil && w.proven:
			r := result.Result{URL: w.url, StartedAt: now, OK: true, Class: result.ClassOK}
			r.Normalize()
			t, err = m.Observe(incident.Observation{At: now, Result: r, Vote: incident.VoteUp})
		default:
			continue
		}
		if err != nil {
			d.log.Error("observing a vantage's health", "vantage", name, "err", err)
			continue
		}
		if len(t.Events) > 0 {
			err = d.persistVantage(ctx, name, m, &t)
		}
		if err != nil {
			// Fail open, as a round does: the machine keeps its state, the
			// alerts go out from memory, the store gets them later.
			d.keepVantageInMemory(ctx, name, m, &t)
			if !d.storeDown() { // a failing store is logged once a minute by noteStore
				d.log.Error("persisting a vantage incident; its alerts go out from memory", "vantage", name, "err", err)
			}
		}
		d.logVantage(name, m, &t)
		if len(t.Events) > 0 {
			d.kickOutbox()
		}
		if !configured || m.Incident() == nil {
			delete(d.vs.machines, name) // nothing open: nothing to remember
		} else {
			d.vs.machines[name] = m
		}
	}
}

func (d *Daemon) logVantage(name string, m *incident.Machine, t *incident.Transition) {
	for i := range t.Events {
		e := &t.Events[i]
		if e.Incident == nil {
			continue
		}
		switch e.Kind {
		case incident.EventOpened:
			// The event's copy predates the store's id; the machine has it.
			id := e.Incident.ID
			if inc := m.Incident(); id == 0 && inc != nil {
				id = inc.ID
			}
			d.log.Warn("vantage problem", "vantage", name, "incident", id, "detail", e.Incident.Detail)
		case incident.EventResolved:
			d.log.Info("vantage problem resolved", "vantage", name, "incident", e.Incident.ID, "resolution", e.Incident.Resolution)
		}
	}
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

// vantageRound runs one round of m through the fleet: every vantage of the
// monitor, the follow-up diagnosis when the target is down for everyone or
// from some regions, and the observation the verdict makes of it.
func (d *Daemon) vantageRound(ctx context.Context, f *fleet, name string, mc *config.Monitor, at time.Time) (result.Result, incident.Observation) {
	d.vs.inflight.Add(1)
	spec := mc.Spec()
	res := f.runner.Round(ctx, name, spec, mc.Vantages)
	f.noteRound(res.Vantages)
	d.vs.inflight.Add(-1)
	d.syncVantages(ctx)
	if diagnose.Needed(res) {
		var origin *probe.Spec
		if o, ok := mc.OriginSpec(); ok {
			origin = &o
		}
		dg := f.diag.Diagnose(ctx, res, spec, origin)
		dg.Apply(&res)
	}
	obs := verdict.Observation(res, mc.Severity)
	obs.At = at
	return res, obs
}
