// Package vantage runs a monitor's round from all of its vantage points at
// once and keeps track of each vantage's own health (canaries, reachability),
// so that a failure a vantage reports about itself is never taken for a
// failure of the target. The incidents that health raises (a vantage
// problem, the notice that this host lost its network) live here too
// (incidents.go), committed through the caller's store.
package vantage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/schedule"
	"github.com/vantage-monitor/vantage/monitor/verdict"
)

// Defaults for Options' zero fields.
const (
	// DefaultMargin is added to a probe's timeout for the round deadline: the
	// agent round trip and its own bookkeeping.
	DefaultMargin = 2 * time.Second
	// minRecheckFloor is the least time between two canary checks of one
	// vantage triggered by failures, so that a burst of failing monitors
	// costs one canary check, not one per monitor.
	minRecheckFloor = 10 * time.Second
	// maxAffected bounds the monitors remembered per unhealthy vantage.
	maxAffected = 100
)

// Prober probes a spec from one vantage. An error means the vantage itself
// did not answer properly (unreachable, auth refused, busy, protocol): the
// outcome of the probe, good or bad, is always a Result.
type Prober interface {
	Probe(ctx context.Context, s probe.Spec) (result.Result, error)
}

// ProberFunc adapts a function to Prober.
type ProberFunc func(ctx context.Context, s probe.Spec) (result.Result, error)

// Probe calls f.
func (f ProberFunc) Probe(ctx context.Context, s probe.Spec) (result.Result, error) {
	return f(ctx, s)
}

// PlanProber is a Prober that also runs a compiled plan: the local vantage,
// which probes a monitor's spec as the config compiled it, never compiling
// it again per round.
type PlanProber interface {
	Prober
	ProbePlan(ctx context.Context, pl *probe.Plan) (result.Result, error)
}

// Local adapts the in-process prober to a PlanProber; it never returns an
// error, since the local host always "answers". A nil p means a zero
// probe.Prober.
func Local(p *probe.Prober) PlanProber {
	if p == nil {
		p = &probe.Prober{}
	}
	return local{p}
}

type local struct{ p *probe.Prober }

func (l local) Probe(ctx context.Context, s probe.Spec) (result.Result, error) {
	return l.p.Run(ctx, s), nil
}

func (l local) ProbePlan(ctx context.Context, pl *probe.Plan) (result.Result, error) {
	return l.p.RunPlan(ctx, pl), nil
}

// State is a vantage's health.
type State string

// The health states.
const (
	Healthy     State = "healthy"
	Impaired    State = "impaired"    // its canaries fail
	Unreachable State = "unreachable" // it did not answer, or refused our key
)

// Health is one vantage's health as the daemon shows and alerts on it.
type Health struct {
	Name  string    `json:"name"`
	State State     `json:"state"`
	Since time.Time `json:"since"`
	// Error says why the vantage is impaired or unreachable.
	Error string `json:"error,omitempty"`
	// Cause is, while impaired, the result of a canary that failed: why
	// the canaries fail, typed, for the vantage problem's fixes. Error
	// already says it in words, so the API leaves it out.
	Cause *result.Result `json:"-"`
	// Canary is the last canary verdict and CanaryAt when it was reached
	// (zero before the first check).
	Canary   string    `json:"canary"`
	CanaryAt time.Time `json:"canary_at,omitzero"`
	// Monitors names the monitors whose rounds this vantage could not vote
	// in since it became unhealthy (bounded), for the "vantage problem"
	// incident: one per vantage, however many monitors it failed.
	Monitors []string `json:"monitors,omitempty"`
}

// Snapshot is the health of every vantage at one moment.
type Snapshot struct {
	// Vantages lists local first, then the remote vantages by name.
	Vantages []Health `json:"vantages"`
	// Isolated is set while the local vantage is impaired and no remote
	// vantage answers: the daemon's host has lost its network. The daemon
	// raises one notice for it instead of a notice per vantage.
	Isolated      bool      `json:"isolated"`
	IsolatedSince time.Time `json:"isolated_since,omitzero"`
}

// Vantage returns the health of the vantage called name.
func (s Snapshot) Vantage(name string) (Health, bool) {
	for _, h := range s.Vantages {
		if h.Name == name {
			return h, true
		}
	}
	return Health{}, false
}

// ChangeKind says what a Change is about.
type ChangeKind string

// The kinds of change.
const (
	ChangeVantage   ChangeKind = "vantage"   // one vantage's State changed
	ChangeIsolation ChangeKind = "isolation" // Isolated changed
)

// Change is one health transition.
type Change struct {
	Kind ChangeKind
	At   time.Time
	// Vantage, From, To and Error describe a ChangeVantage.
	Vantage  string
	From, To State
	Error    string
	// Isolated is the isolation after the change (for both kinds).
	Isolated bool
}

// Options tune a Runner. The zero value works: no canaries, 2 s margin,
// the wall clock.
type Options struct {
	// Canary is the [canary] table. Without URLs no canary is checked and
	// a vantage's failures are taken at face value.
	Canary config.Canary
	// Margin is added to the spec's timeout for the round deadline.
	Margin time.Duration
	// MinRecheck is how recent a canary check must be for a failure not to
	// trigger another; 0 means Canary.Every/4, at least 10 s.
	MinRecheck time.Duration
	// Clock drives canary recency and Run; nil means the wall clock.
	Clock schedule.Clock
	// OnChange is called for every health transition, in order, outside
	// the Runner's lock (it may call Health, but not Round or Tick, which
	// may report changes of their own). It must not block for long: rounds
	// that cause a transition wait for it.
	OnChange func(Change)
	// OnSettled is called after every canary check ends, changed or not,
	// outside the lock. A caller that waits for Checking to turn false
	// before acting on the whole picture learns here when to look again.
	OnSettled func()
}

// Runner runs rounds and tracks vantage health. It is safe for concurrent
// use by many monitors' rounds at once.
type Runner struct {
	opts  Options
	clock schedule.Clock
	names []string // local first, then remotes sorted

	mu            sync.Mutex
	vs            map[string]*vstate
	isolated      bool
	isolatedSince time.Time
	flying        int // canary checks in progress

	// notifyMu keeps OnChange calls in the order the changes happened
	// without holding mu while the callback runs.
	notifyMu sync.Mutex
}

type vstate struct {
	name     string
	prober   Prober
	state    State
	since    time.Time
	reachErr error
	canary   verdict.Canary
	canaryAt time.Time // when the last check reached a verdict
	triedAt  time.Time // when the last check ended, verdict or not
	flight   *flight
	affected []string
}

// flight is one canary check in progress; everyone who wants a check of the
// same vantage meanwhile waits for it instead of starting another.
type flight struct {
	done chan struct{}
	res  verdict.Canary
}

// New makes a Runner for the local prober (nil means Local(nil)) and the
// remote vantages by name.
func New(local Prober, remotes map[string]Prober, opts Options) (*Runner, error) {
	if local == nil {
		local = Local(nil)
	}
	if opts.Margin <= 0 {
		opts.Margin = DefaultMargin
	}
	if opts.Canary.Timeout <= 0 {
		opts.Canary.Timeout = config.DefaultCanaryTimeout
	}
	if opts.Canary.Every <= 0 {
		opts.Canary.Every = config.DefaultCanaryEvery
	}
	if opts.MinRecheck <= 0 {
		opts.MinRecheck = max(opts.Canary.Every/4, minRecheckFloor)
	}
	for _, u := range opts.Canary.URLs {
		if err := (probe.Spec{URL: u}).Validate(); err != nil {
			return nil, fmt.Errorf("making the vantage runner: canary %q: %w", u, err)
		}
	}
	r := &Runner{opts: opts, clock: opts.Clock, vs: make(map[string]*vstate, len(remotes)+1)}
	if r.clock == nil {
		r.clock = schedule.RealClock{}
	}
	now := r.clock.Now()
	r.vs[result.LocalVantage] = &vstate{name: result.LocalVantage, prober: local, state: Healthy, since: now}
	var remote []string
	for name, p := range remotes {
		switch {
		case name == "" || name == result.LocalVantage:
			return nil, fmt.Errorf("making the vantage runner: %q is not a valid remote vantage name", name)
		case p == nil:
			return nil, fmt.Errorf("making the vantage runner: vantage %q has no prober", name)
		}
		r.vs[name] = &vstate{name: name, prober: p, state: Healthy, since: now}
		remote = append(remote, name)
	}
	sort.Strings(remote)
	r.names = append([]string{result.LocalVantage}, remote...)
	return r, nil
}

// Names lists the vantages, local first.
func (r *Runner) Names() []string { return slices.Clone(r.names) }

// Round probes spec from each of the named vantages (every vantage when
// names is empty) in parallel under one deadline, the spec's timeout plus
// the margin, and returns the merged result with its scope and one line per
// vantage. A vantage that reports a failure has its canaries checked first,
// unless they were checked very recently; that check has its own timeout.
// monitor names the monitor, so that a vantage's health can say which
// monitors it failed.
func (r *Runner) Round(ctx context.Context, monitor string, spec probe.Spec, names []string) result.Outcome {
	return r.RoundPlan(ctx, monitor, spec, nil, names)
}

// RoundPlan is Round with spec compiled: pl, when not nil, is what a
// vantage whose prober is a PlanProber (the local one) runs; the others are
// sent spec.
func (r *Runner) RoundPlan(ctx context.Context, monitor string, spec probe.Spec, pl *probe.Plan, names []string) result.Outcome {
	if len(names) == 0 {
		names = r.names
	}
	names = dedupe(names)
	timeout := spec.WithDefaults().Timeout + r.opts.Margin
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := r.clock.Now()
	lines := make([]result.VantageLine, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { lines[i] = r.line(ctx, rctx, name, spec, pl) })
	}
	wg.Wait()

	r.noteAffected(monitor, lines)
	v := verdict.Decide(lines)
	res := v.Result
	if res.URL == "" {
		res.URL = spec.URL
	}
	if res.Method == "" {
		res.Method = spec.WithDefaults().Method
	}
	if res.StartedAt.IsZero() {
		res.StartedAt = start
	}
	return res
}

// line probes from one vantage and classifies what came back.
func (r *Runner) line(ctx, rctx context.Context, name string, spec probe.Spec, pl *probe.Plan) result.VantageLine {
	v := r.lookup(name)
	if v == nil {
		return verdict.Classify(name, nil, fmt.Errorf("vantage %q is not configured", name), verdict.Canary{})
	}
	var (
		res result.Result
		err error
	)
	if pp, ok := v.prober.(PlanProber); ok && pl != nil {
		res, err = pp.ProbePlan(rctx, pl)
	} else {
		res, err = v.prober.Probe(rctx, spec)
	}
	if err != nil {
		err = fmt.Errorf("probing from %s: %w", name, err)
		if ctx.Err() == nil {
			// Only our own shutdown is not the vantage's fault.
			r.setReach(v, err)
		}
		return verdict.Classify(name, nil, err, verdict.Canary{})
	}
	r.setReach(v, nil)
	// A refusal is the vantage's policy, not a failure its canaries could
	// explain: it triggers no check.
	return verdict.Classify(name, &res, nil, r.canaryFor(ctx, v, !res.OK && res.Refusal == nil))
}

func (r *Runner) lookup(name string) *vstate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.vs[name]
}

// canaryFor is the canary health to judge a vantage's answer by. A failure
// triggers a check unless the last one is recent; a success does not, since
// a vantage that reaches the target has a working network, and the
// scheduled checks keep an impaired one from staying impaired for long.
func (r *Runner) canaryFor(ctx context.Context, v *vstate, failed bool) verdict.Canary {
	if len(r.opts.Canary.URLs) == 0 {
		return verdict.Canary{}
	}
	r.mu.Lock()
	c, at := v.canary, v.canaryAt
	r.mu.Unlock()
	if !failed || (!at.IsZero() && r.clock.Now().Sub(at) < r.opts.MinRecheck) {
		return c
	}
	return r.check(ctx, v)
}

// check runs one canary check of v, or joins the one in progress. The check
// runs detached from ctx, so that a round which gives up (or a caller that
// is cancelled) does not cut short a check others are waiting for; its own
// timeout bounds it.
func (r *Runner) check(ctx context.Context, v *vstate) verdict.Canary {
	r.mu.Lock()
	f := v.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		v.flight = f
		r.flying++
		go r.fly(context.WithoutCancel(ctx), v, f)
	}
	current := v.canary
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return current
	}
}

func (r *Runner) fly(ctx context.Context, v *vstate, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Canary.Timeout+r.opts.Margin)
	defer cancel()
	c, reachErr := r.runCanaries(ctx, v)

	r.mu.Lock()
	v.flight = nil
	v.triedAt = r.clock.Now()
	if reachErr != nil {
		v.reachErr = reachErr
	} else {
		v.reachErr = nil
		v.canary, v.canaryAt = c, r.clock.Now()
	}
	f.res = v.canary
	r.flying--
	changes := r.settleLocked()
	close(f.done)
	r.unlockNotify(changes)
	if r.opts.OnSettled != nil {
		r.opts.OnSettled()
	}
}

// Prober returns the prober of the vantage called name.
func (r *Runner) Prober(name string) (Prober, bool) {
	v := r.lookup(name)
	if v == nil {
		return nil, false
	}
	return v.prober, true
}

// Checking reports whether canary checks are in progress: while they are,
// the health picture is partial (one vantage may show impaired a moment
// before the others show the host is cut off).
func (r *Runner) Checking() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flying > 0
}

// runCanaries probes every canary URL from v in parallel. The canaries pass
// when any URL answers OK: one unlucky canary must not make a vantage
// impaired, and a vantage that reaches none of them cannot be trusted. When
// the vantage answers for none of them, it is unreachable (reachErr). A
// canary the vantage refuses by its policy (a private canary URL and an
// agent with refuse_private) says nothing about its network; when it
// refuses them all, its canaries are unchecked and its answers are taken at
// face value, as without canaries.
func (r *Runner) runCanaries(ctx context.Context, v *vstate) (c verdict.Canary, reachErr error) {
	urls := r.opts.Canary.URLs
	type out struct {
		res result.Result
		err error
	}
	outs := make([]out, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			res, err := v.prober.Probe(ctx, probe.Spec{URL: u, Timeout: r.opts.Canary.Timeout})
			outs[i] = out{res, err}
		})
	}
	wg.Wait()
	var fails, refused []string
	var errs []error
	var cause *result.Result
	for i, o := range outs {
		switch {
		case o.err != nil:
			errs = append(errs, o.err)
		case o.res.OK:
			return verdict.Canary{State: verdict.CanaryOK}, nil
		case o.res.Refusal != nil:
			refused = append(refused, urls[i])
		default:
			fails = append(fails, fmt.Sprintf("%s: %s", urls[i], o.res.Headline()))
			if cause == nil {
				c := o.res.Clone()
				cause = &c
			}
		}
	}
	if len(fails) == 0 && len(refused) > 0 {
		return verdict.Canary{State: verdict.CanaryUnchecked}, nil
	}
	if len(fails) == 0 {
		return verdict.Canary{}, fmt.Errorf("checking canaries from %s: %w", v.name, errors.Join(errs...))
	}
	return verdict.Canary{State: verdict.CanaryFailed,
		Error: fmt.Sprintf("no canary answered OK (%s)", strings.Join(fails, "; ")), Cause: cause}, nil
}

// setReach records whether v answered.
func (r *Runner) setReach(v *vstate, err error) {
	r.mu.Lock()
	was := v.reachErr != nil
	v.reachErr = err // a new reason alone is not a transition
	if was == (err != nil) {
		r.mu.Unlock()
		return
	}
	r.unlockNotify(r.settleLocked())
}

// settleLocked recomputes every state from the facts and returns the
// transitions. r.mu is held.
func (r *Runner) settleLocked() []Change {
	now := r.clock.Now()
	var changes []Change
	for _, name := range r.names {
		v := r.vs[name]
		to, why := Healthy, ""
		switch {
		case v.reachErr != nil:
			to, why = Unreachable, v.reachErr.Error()
		case v.canary.State == verdict.CanaryFailed:
			to, why = Impaired, v.canary.Error
		}
		if to == v.state {
			continue
		}
		changes = append(changes, Change{Kind: ChangeVantage, At: now, Vantage: name, From: v.state, To: to, Error: why})
		v.state, v.since = to, now
		if to == Healthy {
			v.affected = nil
		}
	}
	iso := r.vs[result.LocalVantage].state == Impaired
	for _, name := range r.names[1:] {
		iso = iso && r.vs[name].state == Unreachable
	}
	if iso != r.isolated {
		r.isolated = iso
		if iso {
			r.isolatedSince = now
		} else {
			r.isolatedSince = time.Time{}
		}
		changes = append(changes, Change{Kind: ChangeIsolation, At: now})
	}
	for i := range changes {
		changes[i].Isolated = r.isolated
	}
	return changes
}

// unlockNotify releases r.mu and reports changes in order.
func (r *Runner) unlockNotify(changes []Change) {
	if len(changes) == 0 || r.opts.OnChange == nil {
		r.mu.Unlock()
		return
	}
	r.notifyMu.Lock()
	r.mu.Unlock()
	defer r.notifyMu.Unlock()
	for _, c := range changes {
		r.opts.OnChange(c)
	}
}

func (r *Runner) noteAffected(monitor string, lines []result.VantageLine) {
	if monitor == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range lines {
		if l.Status != result.VantageImpaired && l.Status != result.VantageUnreachable {
			continue
		}
		v := r.vs[l.Name]
		if v == nil || v.state == Healthy || slices.Contains(v.affected, monitor) || len(v.affected) >= maxAffected {
			continue
		}
		v.affected = append(v.affected, monitor)
	}
}

// Health returns every vantage's health.
func (r *Runner) Health() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Isolated: r.isolated, IsolatedSince: r.isolatedSince}
	for _, name := range r.names {
		v := r.vs[name]
		h := Health{Name: name, State: v.state, Since: v.since, Canary: v.canary.State.String(),
			CanaryAt: v.canaryAt, Monitors: slices.Clone(v.affected)}
		switch v.state {
		case Unreachable:
			h.Error = v.reachErr.Error()
		case Impaired:
			h.Error, h.Cause = v.canary.Error, v.canary.Cause
		}
		s.Vantages = append(s.Vantages, h)
	}
	return s
}

// Tick checks the canaries of every vantage whose last check is at least
// Canary.Every old, all at once, and returns when they are done (or ctx is).
// Without canary URLs it does nothing.
func (r *Runner) Tick(ctx context.Context) {
	if len(r.opts.Canary.URLs) == 0 {
		return
	}
	now := r.clock.Now()
	var wg sync.WaitGroup
	for _, name := range r.names {
		v := r.lookup(name)
		r.mu.Lock()
		due := v.triedAt.IsZero() || now.Sub(v.triedAt) >= r.opts.Canary.Every
		r.mu.Unlock()
		if due {
			wg.Go(func() { r.check(ctx, v) })
		}
	}
	wg.Wait()
}

// Run calls Tick whenever a vantage's canaries fall due, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	if len(r.opts.Canary.URLs) == 0 {
		<-ctx.Done()
		return
	}
	for {
		r.Tick(ctx)
		t := r.clock.TimerAt(r.nextDue())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// nextDue is when the oldest canary check falls due, but not sooner than a
// second from now, so that checks which end at slightly different moments
// are batched instead of spinning the loop.
func (r *Runner) nextDue() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	next := now.Add(r.opts.Canary.Every)
	for _, v := range r.vs {
		if d := v.triedAt.Add(r.opts.Canary.Every); !v.triedAt.IsZero() && d.Before(next) {
			next = d
		}
	}
	return maxTime(next, now.Add(time.Second))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func dedupe(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
