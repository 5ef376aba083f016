// Package round runs one round of one monitor: the local probe and the
// remote vantages, the verdict (for whom the target is down, what the round
// votes and at which severity), the follow-up diagnosis and, at the end and
// once, the fixes chosen from all of it. The daemon, `vantage check` (with
// and without -config) and `vantage demo` all run their rounds here, so each
// of those decisions is made in one place.
package round

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/diagnose"
	"github.com/vantage-monitor/vantage/monitor/fixes"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/schedule"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/monitor/verdict"
)

// Prober runs the local probe of a compiled plan: a *probe.Prober, or a
// fake in tests.
type Prober interface {
	RunPlan(ctx context.Context, pl *probe.Plan) result.Result
}

// Options build a Runner; the zero value probes from this host only, with
// the host's resolver.
type Options struct {
	// Prober is the local probe; a zero *probe.Prober if nil.
	Prober Prober
	// Remote builds the prober of a configured [[vantage]]; RemoteProber
	// (an agent client) if nil.
	Remote func(*config.Vantage) (vantage.Prober, error)
	// Resolver is the host's resolver for the follow-up diagnosis;
	// net.DefaultResolver if nil. (The probe's own resolver is the
	// Prober's.)
	Resolver *net.Resolver
	// Vantage tunes the vantage runner (its clock and callbacks); its
	// canaries are always the config's.
	Vantage vantage.Options
	// Clock stamps a round that could not probe at all; the real clock if
	// nil.
	Clock schedule.Clock
}

// Runner runs rounds for the monitors of one config. It is safe for
// concurrent use.
type Runner struct {
	local Prober
	clock schedule.Clock
	// fleet is nil when the config uses no vantages: a round is then the
	// local probe alone.
	fleet *vantage.Runner
	diag  *diagnose.Diagnoser
}

// New makes the Runner of cfg: through the vantages when cfg configures
// any (UsesVantages), from this host alone otherwise.
func New(cfg *config.Config, opts Options) (*Runner, error) {
	if !UsesVantages(cfg) {
		return Single(cfg, opts)
	}
	r := single(opts)
	local := localProber{r}
	fleet, err := NewRunner(cfg, local, opts.Remote, opts.Vantage)
	if err != nil {
		return nil, fmt.Errorf("setting up vantages: %w", err)
	}
	// Each remote vantage resolves through its own resolver (an agent's
	// /v1/resolve), so the diagnosis can tell a region's DNS from ours.
	var vrs []diagnose.VantageResolver
	for _, name := range fleet.Names() {
		p, _ := fleet.Prober(name)
		if rs, ok := p.(interface {
			Resolve(context.Context, string) ([]netip.Addr, error)
		}); ok && name != result.LocalVantage {
			vrs = append(vrs, diagnose.VantageResolver{Name: name, Lookup: rs.Resolve})
		}
	}
	if r.diag, err = newDiagnoser(cfg, opts, vrs, local); err != nil {
		return nil, err
	}
	r.fleet = fleet
	return r, nil
}

// Single is a Runner that probes from this host alone, whatever cfg says
// about vantages: the rounds of a daemon without vantages, and of `vantage
// check` without --config (cfg nil). Its diagnosis asks the host's resolver
// (Options.Resolver) and cfg's resolvers. Options.Remote and Vantage are
// not used.
func Single(cfg *config.Config, opts Options) (*Runner, error) {
	r := single(opts)
	var err error
	if r.diag, err = newDiagnoser(cfg, opts, nil, localProber{r}); err != nil {
		return nil, err
	}
	return r, nil
}

func single(opts Options) *Runner {
	r := &Runner{local: opts.Prober, clock: opts.Clock}
	if r.local == nil {
		r.local = &probe.Prober{}
	}
	if r.clock == nil {
		r.clock = schedule.RealClock{}
	}
	return r
}

// newDiagnoser is the follow-up diagnosis of cfg's rounds (cfg may be
// nil): the origin is probed like any target of this host.
func newDiagnoser(cfg *config.Config, opts Options, vrs []diagnose.VantageResolver, local localProber) (*diagnose.Diagnoser, error) {
	var resolvers []string
	if cfg != nil {
		resolvers = cfg.Resolvers
	}
	dg, err := diagnose.New(diagnose.Options{System: opts.Resolver, Resolvers: resolvers, Vantages: vrs,
		Probe: func(ctx context.Context, s probe.Spec) result.Result {
			res, _ := local.Probe(ctx, s)
			return res
		}})
	if err != nil {
		return nil, fmt.Errorf("setting up the follow-up diagnosis: %w", err)
	}
	return dg, nil
}

// Vantages is the vantage runner (health, canary checks); nil when the
// config uses no vantages.
func (r *Runner) Vantages() *vantage.Runner { return r.fleet }

// Target is one monitor as a round probes it.
type Target struct {
	// Name is the monitor's, "" for an ad-hoc check.
	Name string
	// Monitor is the configured monitor; AdHoc the spec of a check from
	// the shell. A round asks them for the spec only when remote vantages
	// or the diagnosis need it, so that a daemon can keep a target per
	// monitor for a few words each, and a round of this host alone copies
	// nothing.
	Monitor *config.Monitor
	AdHoc   *probe.Spec
	// Plan is the spec compiled once, when the config was loaded: the
	// local vantage runs it, so a round never compiles its spec again. Nil
	// when there is none; PlanErr says why.
	Plan    *probe.Plan
	PlanErr error
	// Vantages names the vantages to ask; empty means all.
	Vantages []string
	// Severity is the monitor's configured severity (empty: critical).
	Severity incident.Severity
}

// MonitorTarget is the target of the configured monitor mc, with the plan
// the config compiled at load.
func MonitorTarget(mc *config.Monitor) Target {
	t := Target{Name: mc.Name, Monitor: mc, Plan: mc.Plan, Vantages: mc.Vantages, Severity: mc.Severity}
	if t.Plan == nil {
		t.PlanErr = fmt.Errorf("monitor %s has no compiled probe plan: its config was not made by config.Load", mc.Name)
	}
	return t
}

// SpecTarget is the target of an ad-hoc check of s, compiled here once.
func SpecTarget(s probe.Spec) Target {
	pl, err := probe.Compile(s)
	return Target{AdHoc: &s, Plan: pl, PlanErr: err}
}

// Spec is what remote vantages are asked to probe: the monitor's spec as
// configured (each agent applies its own defaults and caps), or the ad-hoc
// one.
func (t *Target) Spec() probe.Spec {
	switch {
	case t.Monitor != nil:
		return t.Monitor.Spec()
	case t.AdHoc != nil:
		return *t.AdHoc
	}
	return probe.Spec{}
}

// Origin is the monitor's origin, probed directly by the diagnosis of a
// failing gateway; nil when it has none.
func (t *Target) Origin() *probe.Spec {
	if t.Monitor == nil {
		return nil
	}
	if o, ok := t.Monitor.OriginSpec(); ok {
		return &o
	}
	return nil
}

// Outcome is what a round found and what it votes.
type Outcome struct {
	result.Outcome
	// Vote, Severity and Regions are what the target's incident machine is
	// to make of the round (monitor/verdict's one rule).
	Vote     incident.Vote
	Severity incident.Severity
	Regions  []string
}

// Observation is the round as the target's incident machine observes it,
// at the time the round ran.
func (o *Outcome) Observation(at time.Time) incident.Observation {
	return incident.Observation{At: at, Result: o.Outcome, Vote: o.Vote, Scope: o.Scope,
		Regions: o.Regions, Severity: o.Severity}
}

// Probed is a round whose vantages have all answered; Finish diagnoses it
// and chooses its fixes. The daemon looks at the vantages' health in
// between, before the diagnosis takes its time.
type Probed struct {
	r *Runner
	t Target
	o result.Outcome
}

// Run runs one round of t: Probe, then Finish.
func (r *Runner) Run(ctx context.Context, t Target) Outcome {
	p := r.Probe(ctx, t)
	return p.Finish(ctx)
}

// Probe asks every vantage of t (or only this host) and decides the
// verdict.
func (r *Runner) Probe(ctx context.Context, t Target) Probed {
	p := Probed{r: r, t: t}
	switch {
	case t.PlanErr != nil || t.Plan == nil:
		// The config validated the spec, so this is unexpected; report it
		// as a failed check rather than silently never checking.
		err := t.PlanErr
		if err == nil {
			err = fmt.Errorf("probing %s: the spec has no compiled plan", t.Spec().URL)
		}
		s := t.Spec()
		p.o.Result = result.Result{URL: s.URL, Method: s.Method, StartedAt: result.TimeOf(r.clock.Now()), Class: result.ClassProtocolError, Error: err.Error()}
	case r.fleet != nil:
		p.o = r.fleet.RoundPlan(ctx, t.Name, t.Spec(), t.Plan, t.Vantages)
	default:
		p.o.Result = r.local.RunPlan(ctx, t.Plan)
	}
	return p
}

// Vantages is what each vantage saw; nil for a round of this host alone.
func (p *Probed) Vantages() []result.VantageLine { return p.o.Vantages }

// Finish follows a failing round up with the diagnosis, then concludes the
// round.
//
// Every round that counts against the target is diagnosed, not only the
// ones that open or change an incident: which ones do is the incident
// machine's rule, and it observes the concluded round, diagnosis included
// (an incident keeps the round it opened on). The diagnosis costs a failing
// round at most its timeouts (lookups and connects in parallel, a few
// seconds); a passing round, and one through vantages that is only our
// trouble (diagnose.Needed), pays nothing.
func (p *Probed) Finish(ctx context.Context) Outcome {
	o := p.o
	if p.r.diag != nil && p.diagnosable() {
		d := p.r.diag.Diagnose(ctx, o.Result, p.t.Spec(), p.t.Origin())
		o.Diagnosis = &d
	}
	return Conclude(o, p.t.Severity)
}

// diagnosable reports whether the round calls for a diagnosis: a failure
// of this host alone (there is no scope to wait for), or, through the
// vantages, a target down for everyone or from some regions.
func (p *Probed) diagnosable() bool {
	if p.r.fleet == nil {
		return !p.o.OK && p.t.PlanErr == nil && p.t.Plan != nil
	}
	return diagnose.Needed(&p.o)
}

// Conclude is the last step of every round, and of any outcome made
// without one (`vantage notify-test`'s sample): the fixes, chosen once from
// all the facts (the result and the diagnosis), and the vote and severity
// by the verdict's rule, given the monitor's configured severity.
func Conclude(o result.Outcome, configured incident.Severity) Outcome {
	if !o.OK {
		// Suggest keeps a pointer to what it is given: a copy, so that a
		// round that passed (most of them) puts nothing on the heap here.
		r := o.Result
		o.Fixes = fixes.Suggest(&r, o.Diagnosis)
	}
	o.Normalize()
	obs := verdict.Observation(o, configured)
	return Outcome{Outcome: o, Vote: obs.Vote, Severity: obs.Severity, Regions: obs.Regions}
}

// localProber is the local vantage: rounds run their compiled plan, canary
// checks (plain URLs) and the diagnosis's origin probe compile their spec.
type localProber struct{ r *Runner }

func (l localProber) ProbePlan(ctx context.Context, pl *probe.Plan) (result.Result, error) {
	return l.r.local.RunPlan(ctx, pl), nil
}

func (l localProber) Probe(ctx context.Context, s probe.Spec) (result.Result, error) {
	pl, err := probe.Compile(s)
	if err != nil {
		r := result.Result{URL: s.URL, StartedAt: result.TimeOf(l.r.clock.Now()), Class: result.ClassProtocolError, Error: err.Error()}
		r.Normalize()
		return r, nil
	}
	return l.r.local.RunPlan(ctx, pl), nil
}
