// Package daemon is `vantage run`, and it is only wiring: it builds the
// store, the outbox and its receivers, the scheduler, the vantage runner
// with its incidents, and the HTTP surface from the config, and connects
// them. It sits above monitor/ and notify/, and nothing there imports it
// (layout_test.go): what a round decides, what an incident is and which
// alert goes where are decided in those packages. The daemon restores every
// monitor's machine from the store at start, persists what each round
// changed together with its alerts (or keeps it in memory while the store
// cannot write), swaps configs on reload while monitors keep their identity
// by name, and at shutdown undoes start-up in reverse without losing a
// result or an incident.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	toolkit "github.com/prometheus/exporter-toolkit/web"

	"github.com/vantage-monitor/vantage/internal/cleanup"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
	"github.com/vantage-monitor/vantage/monitor/schedule"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/monitor/web"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/outbox"
	"github.com/vantage-monitor/vantage/notify/receiver"
)

// Prober runs one check of a compiled spec; *probe.Prober is the real one.
type Prober interface {
	RunPlan(ctx context.Context, pl *probe.Plan) result.Result
}

// Defaults of Options.
const (
	DefaultFlushInterval = 250 * time.Millisecond
	DefaultFlushRows     = 500
	// shutdownGrace is added to the longest monitor timeout when waiting
	// for checks in flight at shutdown.
	shutdownGrace = 2 * time.Second
)

// Options tune a Daemon. The zero value is the production setup.
type Options struct {
	Logger *slog.Logger
	// Clock drives the scheduler and stamps rounds; the wall clock if nil.
	Clock schedule.Clock
	// Prober checks the targets; a zero *probe.Prober if nil.
	Prober Prober
	// Registry receives the metrics and serves /metrics; a fresh
	// prometheus.NewRegistry() if nil (never the global default registry).
	Registry *prometheus.Registry
	// Listen overrides cfg.Listen (tests use "127.0.0.1:0").
	Listen string
	// Ready is called once the config is loaded, the store open and the
	// listener bound (systemd's READY=1).
	Ready func()
	// FlushInterval and FlushRows bound how long and how many steady-state
	// results wait in memory before a batched write.
	FlushInterval time.Duration
	FlushRows     int
	// OnReload is called after a config reload succeeded (e.g. to apply a
	// new log level).
	OnReload func(*config.Config)
	// Remote builds the prober of a configured [[vantage]]; RemoteProber
	// (an agent client) if nil. Tests use fakes.
	Remote func(v *config.Vantage) (vantage.Prober, error)
	// Resolver is the host's resolver for the follow-up diagnosis;
	// net.DefaultResolver if nil. (The probe's own resolver is the
	// Prober's.)
	Resolver *net.Resolver
	// Notifier builds the notifier of a configured receiver;
	// receiver.New (the real Slack and email clients) if nil.
	Notifier func(r *config.Receiver) (notify.Notifier, error)
	// Outbox tunes notification delivery (tests shorten the backoff and
	// poll); Store, Logger, Now, Registerer, MaxAttempts and GroupMin are
	// always the daemon's.
	Outbox outbox.Options
	// Handler builds the HTTP surface; web.Handler if nil.
	Handler func(src web.Source, metrics http.Handler, logger *slog.Logger) http.Handler
	// Redact receives the Redactor of every config the daemon loads (New,
	// each reload); the caller's logger may redact through it too. A fresh
	// one if nil. The daemon's log lines, store error texts, page and API,
	// and receivers all go through it.
	Redact *redact.Current

	// storeOpened lets tests reach the store before restore writes to it
	// (to inject a write fault).
	storeOpened func(*store.Store)
}

// Daemon is a running `vantage run`.
type Daemon struct {
	// sil is the silences in force or to come (daemon/silences.go);
	// silMu serialises the adds and expiries that replace it.
	sil     atomic.Pointer[silence.Set]
	silMu   sync.Mutex
	log     *slog.Logger
	clock   schedule.Clock
	prober  Prober
	single  atomic.Pointer[round.Runner] // the rounds of a config without vantages: the current config's, swapped on reload
	opts    Options
	store   *store.Store
	sched   *schedule.Scheduler
	metrics *metrics
	reg     *prometheus.Registry
	// down undoes what New and Run started, in reverse: at the end of Run,
	// in Close, or when starting fails half way.
	down *cleanup.Stack
	// listen runs the receivers' listeners (daemon/listen.go).
	listen listeners

	mu       sync.RWMutex
	cfg      *config.Config
	monitors map[string]*mon

	vs vantageState // the vantage runner and the vantage incidents

	outbox *outbox.Outbox

	buf      resultBuffer
	hist     *keeper                // history: rollups, coverage, maintenance (history.go)
	storeErr atomic.Pointer[string] // last store write error, nil when the last write worked
	outage   storeOutage            // notices and log of a failing store (unpersisted.go)
	// unsavedWaiting is set while some monitor has transitions the store
	// could not take yet.
	unsavedWaiting atomic.Bool
	retiring       retiringMons // removed monitors the store has not retired yet

	addr       atomic.Pointer[net.TCPAddr]
	publicAddr atomic.Pointer[net.TCPAddr] // the [status_page] listener's
	running    atomic.Bool
	reload     sync.Mutex // one Reload at a time
}

// mon is one configured monitor.
type mon struct {
	name string

	// mu guards everything below and serialises a round's observe-and-
	// persist step with reloads and removal. It is never held while
	// probing, so the API does not wait on a slow target.
	mu sync.Mutex
	// busy is held while a round of the monitor runs (daemon/round.go):
	// a scheduled round skips while a re-check's round runs, and a
	// re-check waits for the scheduled round in flight.
	busy      sync.Mutex
	cfg       *config.Monitor
	machine   *incident.Machine
	last      *result.Outcome
	lastCheck time.Time
	removed   bool
	checks    map[result.Class]prometheus.Counter
	// cert and perf are the certificate and performance warnings'
	// machines (warnings.go), nil while the config turns that warning off.
	cert, perf *incident.Machine
	// unsaved are the transitions of its machines the store could not
	// take, oldest first; the machines are ahead of the store until they
	// are written.
	unsaved []pendingT
	// broken says why the monitor is stopped: its stored state is
	// unreadable. It is kept as it is for the operator; the others run.
	broken string
	// series is what its last round contributes to /metrics
	// (daemon/metrics_series.go), read by scrapes without mu.
	series atomic.Pointer[monSeries]

	// status mirrors the machine for metrics without taking mu.
	status atomic.Pointer[monStatus]
}

type monStatus struct {
	state        incident.State
	incidentOpen bool
	// degraded and certWarning are set while the monitor's performance
	// and certificate incidents are open.
	degraded    bool
	certWarning bool
}

// publish mirrors the machines into status. Call with m.mu held (or before
// m is shared).
func (m *mon) publish() {
	st := &monStatus{state: m.machine.State(), incidentOpen: m.machine.Incident() != nil}
	st.certWarning = m.cert != nil && m.cert.Incident() != nil
	st.degraded = m.perf != nil && m.perf.Incident() != nil
	m.status.Store(st)
}

// settingsOf is the monitor's target machine settings (config.Monitor.Settings).
func settingsOf(m *config.Monitor) incident.Settings { return m.Settings() }

// New opens the store in cfg.StateDir and restores every monitor's machine,
// reconciled with the store's open incidents, so that after a kill -9 no
// incident is lost or opened twice. A store that cannot be opened (corrupt,
// read-only) is an error: the daemon never starts over from an empty state
// by itself. A store that opens but cannot write fails open (unpersisted.go),
// and a row that does not decode stops only its monitor. A second daemon on
// the same state_dir is refused (lock.go).
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *Daemon, err error) {
	if cfg == nil {
		return nil, errors.New("starting daemon: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Redact == nil {
		opts.Redact = redact.NewCurrent(nil)
	}
	opts.Redact.Set(redact.New(cfg.Secrets()))
	opts.Logger = slog.New(redact.NewHandler(opts.Logger.Handler(), opts.Redact.String))
	if opts.Clock == nil {
		opts.Clock = schedule.RealClock{}
	}
	if opts.Prober == nil {
		opts.Prober = &probe.Prober{}
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.FlushRows <= 0 {
		opts.FlushRows = DefaultFlushRows
	}
	if opts.Notifier == nil {
		opts.Notifier = func(r *config.Receiver) (notify.Notifier, error) {
			return receiver.New(r, receiver.Options{Logger: opts.Logger, Redact: opts.Redact.String})
		}
	}
	if opts.Handler == nil {
		opts.Handler = func(src web.Source, metrics http.Handler, logger *slog.Logger) http.Handler {
			return web.Handler(src, metrics, logger, web.WithRedact(opts.Redact.String))
		}
	}
	d := &Daemon{
		log: opts.Logger, clock: opts.Clock, prober: opts.Prober, opts: opts,
		reg: opts.Registry, cfg: cfg, monitors: make(map[string]*mon, len(cfg.Monitors)),
	}
	single, err := d.newSingle(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	d.single.Store(single)
	d.buf.init(opts.FlushRows)
	d.hist = newKeeper(cfg.History.Enabled)
	d.down = cleanup.New(d.log)
	defer func() {
		if err != nil {
			_ = d.down.Run() // a failing cleanup is logged; the start's error is the one to return
		}
	}()
	m, err := newMetrics(opts.Registry, opts.Registry, d)
	if err != nil {
		return nil, fmt.Errorf("starting daemon: registering metrics: %w", err)
	}
	d.metrics = m

	if cfg.StateDir == "" {
		return nil, errors.New("starting daemon: no state_dir")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("starting daemon: creating state_dir: %w", err)
	}
	lock, err := lockStateDir(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	// The lock is released last: the next daemon finds the store closed.
	d.down.PushFunc("releasing the state directory lock", lock.release)
	st, err := store.Open(ctx, filepath.Join(cfg.StateDir, store.FileName), store.Options{
		Now:          d.clock.Now,
		KeepResults:  cfg.Retention,
		KeepRemoved:  keepRemovedOf(cfg),
		MaxResultAge: cfg.RetentionAge,
		Logger:       d.log,
		Redact:       opts.Redact.String,
	})
	if err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	d.store = st
	d.down.Push("closing store", st.Close)
	if opts.storeOpened != nil {
		opts.storeOpened(st)
	}
	ob := opts.Outbox
	ob.Store, ob.Logger, ob.Now, ob.Registerer = st, slog.New(quietHandler{d.log.Handler(), d}), d.clock.Now, opts.Registry
	ob.MaxAttempts, ob.GroupMin = cfg.Notify.MaxAttempts, cfg.Notify.GroupMin
	ob.MaxRetryAfter = cfg.Notify.MaxRetryAfter
	d.outbox = outbox.New(ob)
	notifiers, err := d.notifiers(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	d.outbox.SetNotifiers(notifiers)
	d.setListeners(notifiers)
	// The silences first: restoring may plan notifications (an incident
	// the store never got), and those must be muted as they were.
	if err := d.loadSilences(ctx); err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	if err := d.restore(ctx); err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	if err := d.restoreVantages(ctx); err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	d.startHistory(ctx)
	f, err := d.newFleet(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	d.vs.fleet.Store(f)
	workers := cfg.MaxConcurrency
	d.sched = schedule.New(schedule.Options{
		Workers:  workers,
		Clock:    d.clock,
		Logger:   d.log,
		Observer: observer{d.metrics},
	})
	if _, err := d.sched.Sync(d.entries(cfg)); err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	return d, nil
}

// newMon makes a monitor's runtime from its config and its machine.
func (d *Daemon) newMon(mc *config.Monitor, machine *incident.Machine) *mon {
	m := &mon{name: mc.Name, machine: machine, checks: make(map[result.Class]prometheus.Counter)}
	m.setConfig(mc)
	m.publish()
	return m
}

// setConfig installs mc, with the plan the config compiled at load, so
// rounds do no per-check preparation. Call with m.mu held (or before m is
// shared).
func (m *mon) setConfig(mc *config.Monitor) {
	m.cfg = mc
}

// restore rebuilds every configured monitor's machines from the store and
// reconciles each with the store's open incident of its kind. Monitors that
// left the config while the daemon was down are retired as on a reload.
func (d *Daemon) restore(ctx context.Context) error {
	states, err := d.store.States(ctx)
	if err != nil {
		return fmt.Errorf("restoring monitor states: %w", err)
	}
	openList, badRows, err := d.store.OpenIncidentsTolerant(ctx)
	if err != nil {
		return fmt.Errorf("restoring monitor states: %w", err)
	}
	// A monitor whose open incident does not decode cannot know whether it
	// is down: it stops, like one whose snapshot does not decode.
	// A warning's bad row stops only that warning: its machine starts
	// afresh, and the row is adopted (rewritten) when the warning opens
	// again.
	badIncident := map[string]error{}
	for _, b := range badRows {
		switch {
		case b.Kind.Warning():
			d.log.Error("open warning incident does not decode; the warning starts afresh and takes the row over when it opens again",
				"monitor", b.Monitor, "kind", b.Kind, "incident", b.ID, "err", b.Err, "file", d.store.Path())
		case b.Kind.OfMonitor() || b.Kind == "":
			badIncident[b.Monitor] = b
		}
	}
	// The open incidents of monitors (target and warnings), by monitor and
	// kind; the vantages' are restoreVantages'.
	open := make(map[string]map[incident.Kind]*incident.Incident, len(openList))
	for i := range openList {
		inc := &openList[i]
		if !inc.Kind.OfMonitor() {
			continue
		}
		if open[inc.Monitor] == nil {
			open[inc.Monitor] = map[incident.Kind]*incident.Incident{}
		}
		open[inc.Monitor][inc.Kind] = inc
	}
	type pending struct {
		m  *mon
		ts []pendingT
	}
	var dirty []pending
	for i := range d.cfg.Monitors {
		mc := &d.cfg.Monitors[i]
		s := settingsOf(mc)
		stored := open[mc.Name]
		delete(open, mc.Name)
		var (
			machine *incident.Machine
			before  []byte
			snaps   map[incident.Kind][]byte
		)
		if snap, ok := states[mc.Name]; ok || badIncident[mc.Name] != nil {
			if bad := badIncident[mc.Name]; bad != nil {
				err = bad
			} else {
				var target []byte
				target, snaps = splitState(snap.Data)
				machine, err = incident.Restore(target, s)
			}
			if err != nil {
				// One bad row stops one monitor: the others must go on
				// alerting. Its row is left as it is for the operator.
				problem := fmt.Sprintf("stopped: its stored state does not decode: %v (the row in %s is kept as it is; fix or delete the row and restart, or remove the monitor from the config)", err, d.store.Path())
				d.log.Error("monitor stopped: its stored state does not decode", "monitor", mc.Name, "err", err, "file", d.store.Path())
				fresh, nerr := incident.New(mc.Name, incident.KindTarget, s)
				if nerr != nil {
					return fmt.Errorf("monitor %s: %w", mc.Name, nerr)
				}
				m := d.newMon(mc, fresh)
				m.broken = problem
				d.monitors[mc.Name] = m
				continue
			}
			before = snap.Data
		} else {
			machine, err = incident.New(mc.Name, incident.KindTarget, s)
			if err != nil {
				return fmt.Errorf("monitor %s: %w", mc.Name, err)
			}
		}
		t := machine.Reconcile(stored[incident.KindTarget])
		m := d.newMon(mc, machine)
		ws, err := d.startWarnings(m, mc, snaps, stored)
		if err != nil {
			return err
		}
		m.publish()
		d.monitors[mc.Name] = m
		ts := append([]pendingT{{kind: incident.KindTarget, t: t, machine: machine}}, ws...)
		after, err := m.stateBlob()
		if err != nil {
			return err
		}
		write := before != nil && string(before) != string(after)
		for i := range ts {
			if len(ts[i].t.Events) > 0 || before == nil && ts[i].machine.State() != incident.StateUp {
				write = true
			}
		}
		if write {
			dirty = append(dirty, pending{m, ts})
		}
		if inc := machine.Incident(); inc != nil {
			d.log.Info("restored open incident", "monitor", mc.Name, "state", machine.State(), "incident", inc.ID, "class", inc.Class)
		}
	}
	if len(dirty) > 0 {
		prevIDs := make([][]int64, len(dirty))
		for i, p := range dirty {
			prevIDs[i] = incidentIDs(p.ts)
		}
		err := d.write(ctx, func(tx *store.Tx) error {
			for _, p := range dirty {
				for i := range p.ts {
					if err := d.persistEvents(ctx, tx, p.ts[i].machine, &p.ts[i].t); err != nil {
						return err
					}
				}
				if err := saveState(ctx, tx, p.m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			// Fail open, as a round does: the machines hold the truth, the
			// store gets it when it writes again, alerts go from memory.
			// The target's transition always waits, so that the state is
			// written even when only the snapshot changed.
			for i, p := range dirty {
				setIncidentIDs(p.ts, prevIDs[i])
				for j := range p.ts {
					if j == 0 || !p.ts[j].quiet() {
						p.m.unsaved = append(p.m.unsaved, p.ts[j])
					}
					d.sendFromMemory(ctx, p.m.name, &p.ts[j].t)
				}
				d.unsavedWaiting.Store(true)
			}
		}
		for _, p := range dirty {
			p.m.publish()
		}
	}
	// Monitors in the store but not in the config: removed while down.
	var gone []string
	for name := range states {
		if d.monitors[name] == nil {
			gone = append(gone, name)
		}
	}
	for name := range open {
		if _, ok := states[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		if err := d.retireStored(ctx, name, states, open[name]); err != nil {
			return err
		}
	}
	return nil
}

// retireStored resolves the open incidents (target and warnings) of a
// monitor that is no longer configured and forgets its state. It goes
// through the monitor's machines and persistEvents exactly as a reload that
// removes the monitor does, so whoever was told one opened gets its RESOLVED
// (updating the same message).
func (d *Daemon) retireStored(ctx context.Context, name string, states map[string]store.Snapshot, stored map[incident.Kind]*incident.Incident) error {
	var (
		target []byte
		snaps  map[incident.Kind][]byte
	)
	if snap, ok := states[name]; ok {
		target, snaps = splitState(snap.Data)
	}
	m := &mon{name: name, removed: true, checks: map[result.Class]prometheus.Counter{}}
	now := d.clock.Now()
	var ts []pendingT
	for _, k := range append([]incident.Kind{incident.KindTarget}, warningKinds[:]...) {
		data := target
		if k != incident.KindTarget {
			data = snaps[k]
		}
		var machine *incident.Machine
		if data != nil {
			if r, err := incident.Restore(data, incident.Settings{}); err == nil {
				machine = r
			} else {
				d.log.Warn("snapshot of a monitor that left the config does not decode; resolving from its stored incident", "monitor", name, "kind", k, "err", err)
			}
		}
		if machine == nil {
			if k != incident.KindTarget && stored[k] == nil {
				continue // no such warning: nothing to resolve
			}
			r, err := incident.New(name, k, incident.Settings{})
			if err != nil {
				return fmt.Errorf("retiring monitor %s that left the config: %w", name, err)
			}
			machine = r
		}
		// The store's open incident is the one notifications refer to; an
		// incident only the snapshot knows (ID 0) was never stored, nor
		// alerted.
		machine.Reconcile(stored[k])
		if k == incident.KindTarget {
			m.machine = machine
		} else {
			m.setWarning(k, machine)
		}
		ts = append(ts, pendingT{kind: k, t: machine.Remove(now), machine: machine})
	}
	err := d.write(ctx, func(tx *store.Tx) error {
		for i := range ts {
			if err := d.persistEvents(ctx, tx, ts[i].machine, &ts[i].t); err != nil && !errors.Is(err, store.ErrIncidentResolved) && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return tx.DeleteState(ctx, name)
	})
	if err != nil {
		// Its RESOLVED goes out from memory; the store retires it when it
		// writes again (or the next start does). The target's transition
		// always waits, so that the state row is deleted then.
		for i := range ts {
			if i == 0 || !ts[i].quiet() {
				m.unsaved = append(m.unsaved, ts[i])
			}
			d.sendFromMemory(ctx, name, &ts[i].t)
		}
		d.unsavedWaiting.Store(true)
		d.retiring.add(m)
		d.log.Error("retiring a monitor that left the config: the store did not take it; its RESOLVED goes out from memory", "monitor", name, "err", err)
		return nil
	}
	for i := range ts {
		if e := ts[i].t.Find(incident.EventResolved); e != nil && e.Incident.ID != 0 {
			d.log.Info("incident resolved", "monitor", name, "kind", ts[i].kind, "incident", e.Incident.ID, "resolution", incident.ResolutionRemoved)
		}
	}
	return nil
}

// entries are the scheduler entries of cfg's monitors.
func (d *Daemon) entries(cfg *config.Config) []schedule.Entry {
	es := make([]schedule.Entry, 0, len(cfg.Monitors))
	for i := range cfg.Monitors {
		mc := &cfg.Monitors[i]
		if mc.Schedule.IsZero() {
			// config.Load always sets one; a config made otherwise is a
			// bug worth a log line, not a crash.
			d.log.Error("monitor not scheduled: it has no schedule", "monitor", mc.Name)
			continue
		}
		es = append(es, schedule.Entry{Name: mc.Name, Spec: mc.Schedule, Job: d.round})
	}
	return es
}

// allowedHosts is what web.AllowHosts accepts besides loopback: the listen
// address, when it is one address, and the [web] hostnames of the config
// running now.
func (d *Daemon) allowedHosts(listen string) func() []string {
	return hostsOf(listen, func() []string { return d.config().Web.Hostnames })
}

// hostsOf is the Host check's list for a listener on listen: its address,
// when it is one address, and the hostnames configured for it now.
func hostsOf(listen string, hostnames func() []string) func() []string {
	host, _, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = ""
	}
	return func() []string {
		hs := hostnames()
		if host == "" {
			return hs
		}
		return append([]string{host}, hs...)
	}
}

// warnExposed warns when the HTTP surface is open to other hosts and asks
// for no credentials: the status page and the API show every monitored URL
// and its errors.
func warnExposed(log *slog.Logger, listen string, w config.Web) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || web.IsLoopback(host) || w.Auth {
		return
	}
	log.Warn("the HTTP surface is reachable from other hosts and asks for no credentials; set basic_auth_users in a [web] config_file, or listen on 127.0.0.1",
		"listen", listen, "config_file", w.ConfigFile)
}

// Run binds the listener, starts the scheduler and serves HTTP until ctx is
// done, then shuts down: scheduling stops, checks in flight end within
// their timeout, buffered results are written and the store is closed.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("running daemon: already running")
	}
	listen := d.opts.Listen
	if listen == "" {
		listen = d.config().Listen
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		_ = d.down.Run()
		return fmt.Errorf("running daemon: binding listen address %s: %w", listen, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		d.addr.Store(a)
	}
	// Each part started below pushes its cleanup on d.down, so shutdown
	// stops them in reverse: the scheduler first (no new rounds), then what
	// rounds use (vantages, delivery), the HTTP surface, the flush loop,
	// the last results, and the store.
	d.down.Push("flushing results", func() error {
		return errors.Join(d.Flush(context.Background()), d.flushHistory(context.Background(), true))
	})
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		d.flushLoop(flushCtx)
	}()
	d.down.PushFunc("stopping the result flush loop", func() {
		stopFlush()
		<-flushDone
	})

	srv := &http.Server{
		Handler:           web.AllowHosts(d.withControl(d.opts.Handler(d, d.metrics.handler(), d.log)), d.allowedHosts(listen)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	webCfg := d.config().Web
	warnExposed(d.log, listen, webCfg)
	serveErr := make(chan error, 1)
	// TLS and basic auth, when [web] config_file asks, are the
	// exporter-toolkit's: the same file format and behaviour as Prometheus.
	go func() {
		serveErr <- toolkit.Serve(ln, srv, &toolkit.FlagConfig{WebConfigFile: &webCfg.ConfigFile}, d.log)
	}()
	d.down.Push("stopping HTTP server", func() error {
		httpCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(httpCtx)
	})

	if err := d.servePublic(serveErr); err != nil {
		_ = d.down.Run()
		return fmt.Errorf("running daemon: %w", err)
	}
	// The control socket (daemon/control.go) is up before READY=1, so a
	// `vantage silence add` right after `systemctl start` finds it.
	if err := d.serveControl(serveErr); err != nil {
		_ = d.down.Run()
		return fmt.Errorf("running daemon: %w", err)
	}

	// Delivery outlives ctx by a moment so a send in flight can finish;
	// the outbox bounds each attempt, and what is left stays in the store.
	octx, stopOutbox := context.WithCancel(context.WithoutCancel(ctx))
	outboxDone := make(chan struct{})
	go func() {
		defer close(outboxDone)
		if err := d.outbox.Run(octx); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("notification delivery stopped", "err", err)
		}
	}()
	go d.remindLoop(octx)
	directDone := make(chan struct{})
	go func() {
		defer close(directDone)
		d.outbox.RunDirect(octx)
	}()
	d.down.PushFunc("stopping notification delivery", func() {
		stopOutbox()
		<-outboxDone
		<-directDone
	})
	// The buttons (Slack over Socket Mode) act through the outbox and the
	// store, so they stop first.
	d.startListeners(octx)
	d.down.PushFunc("stopping the receivers' listeners", d.stopListeners)

	vctx, stopVantages := context.WithCancel(context.WithoutCancel(ctx))
	waitVantages := d.startVantages(vctx)
	d.down.PushFunc("stopping vantages", func() {
		stopVantages()
		waitVantages()
	})

	// Checks in flight must be allowed to finish after ctx ends, so the
	// jobs' context does not inherit its cancellation; Stop bounds them.
	if err := d.sched.Start(context.WithoutCancel(ctx)); err != nil {
		_ = d.down.Run()
		return fmt.Errorf("running daemon: %w", err)
	}
	d.down.Push("stopping scheduler", func() error {
		stopCtx, cancel := context.WithTimeout(context.Background(), d.maxTimeout()+shutdownGrace)
		defer cancel()
		return d.sched.Stop(stopCtx)
	})
	d.log.Info("vantage running", "listen", ln.Addr().String(), "monitors", len(d.monitorList()), "state", d.store.Path())
	if d.opts.Ready != nil {
		d.opts.Ready()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("running daemon: serving HTTP: %w", err)
	}
	d.log.Info("shutting down")

	err = d.down.Run()
	d.log.Info("stopped")
	return errors.Join(runErr, err)
}

// Addr is the bound listen address, nil before Run binds it.
func (d *Daemon) Addr() *net.TCPAddr { return d.addr.Load() }

// LastTick is when the scheduler last made progress, for a watchdog.
func (d *Daemon) LastTick() time.Time { return d.sched.LastTick() }

// Registry is the metrics registry.
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Store is the daemon's state store (closed once Run returns).
func (d *Daemon) Store() *store.Store { return d.store }

// Close releases the store of a daemon that was never Run.
func (d *Daemon) Close() error {
	if d.running.Load() {
		return nil
	}
	return d.down.Run()
}

func (d *Daemon) config() *config.Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

func (d *Daemon) lookup(name string) *mon {
	d.mu.RLock()
	m := d.monitors[name]
	d.mu.RUnlock()
	return m
}

// monitorList returns the monitors sorted by name.
func (d *Daemon) monitorList() []*mon {
	d.mu.RLock()
	l := make([]*mon, 0, len(d.monitors))
	for _, m := range d.monitors {
		l = append(l, m)
	}
	d.mu.RUnlock()
	sort.Slice(l, func(i, j int) bool { return l[i].name < l[j].name })
	return l
}

func (d *Daemon) maxTimeout() time.Duration {
	var t time.Duration
	for _, m := range d.monitorList() {
		m.mu.Lock()
		t = max(t, m.cfg.Timeout)
		m.mu.Unlock()
	}
	if t == 0 {
		t = probe.DefaultTimeout
	}
	return t
}

// write runs fn in one store transaction, timing it and counting failures.
func (d *Daemon) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	start := time.Now()
	err := d.store.Update(ctx, fn)
	d.metrics.writeTime.Observe(time.Since(start).Seconds())
	d.noteStore(err)
	return err
}
