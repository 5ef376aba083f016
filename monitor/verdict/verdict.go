// Package verdict decides, from what each vantage point saw in one round, for
// whom a target is down ("everyone", "partial", "just_me", "unknown") and
// what that means for the target's incident. It is pure: no I/O, no clock.
package verdict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// CanaryState is what a vantage's most recent canary check said.
type CanaryState int

// The canary states.
const (
	// CanaryUnchecked: no canary check has been made (or none is
	// configured), so a failure the vantage reports is taken at face value.
	CanaryUnchecked CanaryState = iota
	// CanaryOK: at least one canary URL answered OK.
	CanaryOK
	// CanaryFailed: none of the canary URLs answered OK; the vantage's own
	// network is in trouble and nothing it reports is a vote.
	CanaryFailed
)

// String names the state for logs.
func (c CanaryState) String() string {
	switch c {
	case CanaryOK:
		return "ok"
	case CanaryFailed:
		return "failed"
	}
	return "unchecked"
}

// Canary is a vantage's canary health as a round's classification needs it.
type Canary struct {
	State CanaryState
	// Error says why the canaries failed, e.g. which URLs and how.
	Error string
	// Cause is the result of the first canary that failed, so that why
	// they failed (DNS, refused, timeout, TLS) stays typed for the vantage
	// problem's fixes (monitor/fixes); nil unless State is CanaryFailed.
	Cause *result.Result
}

// Classify makes the line of one vantage in a round from what its prober
// returned (res, err) and its canary health. Any error means the vantage did
// not answer (or refused us): unreachable. A result with a Refusal is a
// vantage that declined the destination by its policy: refused, whatever
// its canaries say, since it did not look. A vantage whose canaries fail is
// impaired whatever it saw, since neither its failures nor its successes can
// be trusted to describe the target. Otherwise the line is up or down as the
// probe says.
func Classify(name string, res *result.Result, err error, c Canary) result.VantageLine {
	line := result.VantageLine{Name: name}
	switch {
	case err != nil:
		line.Status = result.VantageUnreachable
		line.Error = err.Error()
		return line
	case res == nil:
		line.Status = result.VantageUnreachable
		line.Error = "the vantage returned no result"
		return line
	}
	r := *res
	line.Result = &r
	switch {
	case res.Refusal != nil:
		line.Status = result.VantageRefused
		line.Error = res.Refusal.String()
	case c.State == CanaryFailed:
		line.Status = result.VantageImpaired
		line.Error = "canaries fail"
		if c.Error != "" {
			line.Error += ": " + c.Error
		}
	case res.OK:
		line.Status = result.VantageUp
	default:
		line.Status = result.VantageDown
	}
	return line
}

// Verdict is the decision of one round.
type Verdict struct {
	Scope result.Scope
	// The vantage names by what they contributed, in the order of the lines.
	// Down and Up hold healthy vantages only: the votes.
	Down        []string
	Up          []string
	Impaired    []string
	Unreachable []string
	Refused     []string
	// Representative names the vantage whose result stands for the round;
	// empty when no vantage returned a result.
	Representative string
	// Result is the representative result with Scope and Vantages filled in
	// and a marker saying who saw what.
	Result result.Outcome
}

// Regions names the vantages that saw the target down when the scope is
// partial (for the incident and the alert), nil otherwise.
func (v *Verdict) Regions() []string {
	if v.Scope != result.ScopePartial {
		return nil
	}
	return slices.Clone(v.Down)
}

// Decide reads the lines of one round:
//
//   - everyone: every healthy vantage that answered sees the target down,
//     and at least one did;
//   - partial: some healthy vantages see it down, others up;
//   - just_me: no healthy vantage sees it down but an impaired one does,
//     whether or not healthy ones see it up;
//   - empty: healthy vantages see it up and no vantage reports a failure
//     that could be ours;
//   - unknown: none of the above, i.e. no healthy vantage answered and no
//     impaired one reported a failure (all unreachable or refused, say).
//     Never everyone.
//
// A refused line is never a vote: the others decide, as if the refusing
// vantage were not in the round.
//
// With only the local vantage, everyone therefore still needs its canaries
// to pass: a local failure with failing canaries is an impaired line, so
// just_me. Classify is what enforces it.
func Decide(lines []result.VantageLine) Verdict {
	var v Verdict
	var impairedDown []string
	for _, l := range lines {
		switch l.Status {
		case result.VantageDown:
			v.Down = append(v.Down, l.Name)
		case result.VantageUp:
			v.Up = append(v.Up, l.Name)
		case result.VantageImpaired:
			v.Impaired = append(v.Impaired, l.Name)
			if l.Result != nil && !l.Result.OK {
				impairedDown = append(impairedDown, l.Name)
			}
		case result.VantageRefused:
			v.Refused = append(v.Refused, l.Name)
		default:
			// An unknown status is treated like a vantage that did not
			// answer: it must never count as a vote.
			v.Unreachable = append(v.Unreachable, l.Name)
		}
	}
	var rep string
	switch {
	case len(v.Down) > 0 && len(v.Up) == 0:
		v.Scope, rep = result.ScopeEveryone, pick(v.Down)
	case len(v.Down) > 0:
		v.Scope, rep = result.ScopePartial, pick(v.Down)
	case len(impairedDown) > 0:
		v.Scope, rep = result.ScopeJustMe, pick(impairedDown)
	case len(v.Up) > 0:
		v.Scope, rep = result.ScopeNone, pick(v.Up)
	default:
		v.Scope = result.ScopeUnknown
		rep = pick(v.Impaired) // an impaired vantage that saw it up, if any
	}
	v.Representative = rep
	v.Result = merge(lines, rep, &v)
	return v
}

// pick prefers the local vantage, else the first named: the local phases
// are the ones an operator can reproduce from the shell.
func pick(names []string) string {
	if len(names) == 0 {
		return ""
	}
	if slices.Contains(names, result.LocalVantage) {
		return result.LocalVantage
	}
	return names[0]
}

func merge(lines []result.VantageLine, rep string, v *Verdict) result.Outcome {
	var r result.Outcome
	for _, l := range lines {
		if l.Name == rep && l.Result != nil {
			r.Result = l.Result.Clone()
			break
		}
	}
	if v.Scope == result.ScopeUnknown {
		// No vote was cast, so the round cannot be "up" even if an impaired
		// vantage reached the target.
		if rep == "" {
			r.Class = result.ClassNetworkUnreachable
		}
		r.OK = false
		r.Error = "no healthy vantage answered: " + summary(lines)
	}
	if v.Scope == result.ScopeJustMe && len(v.Up) > 0 {
		r.Evidence.Markers = append(r.Evidence.Markers,
			fmt.Sprintf("healthy vantages see the target up: %s", strings.Join(v.Up, ", ")))
	}
	r.Scope = v.Scope
	r.Vantages = make([]result.VantageLine, len(lines))
	for i, l := range lines {
		if l.Result != nil {
			c := l.Result.Clone()
			l.Result = &c
		}
		r.Vantages[i] = l
	}
	if len(lines) > 1 || v.Scope != result.ScopeNone {
		r.Evidence.Markers = append(r.Evidence.Markers, scopeMarker(v, rep))
	}
	r.Normalize()
	return r
}

// scopeMarker says in one line which lines the scope rests on.
func scopeMarker(v *Verdict, rep string) string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ", "))
		}
	}
	add("down from", v.Down)
	add("up from", v.Up)
	add("impaired:", v.Impaired)
	add("unreachable:", v.Unreachable)
	add("refused by policy:", v.Refused)
	scope := string(v.Scope)
	if scope == "" {
		scope = "up"
	}
	m := fmt.Sprintf("scope %s: %s", scope, strings.Join(parts, "; "))
	if rep != "" {
		m += fmt.Sprintf(" (result shown from %s)", rep)
	}
	return m
}

func summary(lines []result.VantageLine) string {
	if len(lines) == 0 {
		return "no vantage took part"
	}
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprintf("%s %s", l.Name, l.Status)
		if l.Error != "" {
			parts[i] += " (" + l.Error + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// Severity is the severity of a target incident for a scope, given the
// monitor's configured severity (empty means critical): everyone gets the
// configured severity, partial one step lower. just_me and unknown never
// open a target incident; they get info.
func Severity(scope result.Scope, configured incident.Severity) incident.Severity {
	if !configured.Valid() {
		configured = incident.SeverityCritical
	}
	switch scope {
	case result.ScopePartial:
		if configured == incident.SeverityCritical {
			return incident.SeverityWarning
		}
		return incident.SeverityInfo
	case result.ScopeJustMe, result.ScopeUnknown:
		return incident.SeverityInfo
	}
	return configured
}

// Observation turns a round's outcome (as Decide or a Runner made it, or a
// single probe's result with no scope) into what the target's incident
// machine observes: everyone and partial vote down at their severity,
// partial naming its regions; just_me and unknown are no vote; an up round
// votes up.
func Observation(r result.Outcome, configured incident.Severity) incident.Observation {
	o := incident.Observation{Result: r, Scope: r.Scope}
	switch {
	case r.Scope == result.ScopeJustMe || r.Scope == result.ScopeUnknown:
		o.Vote = incident.VoteNone
	case r.OK && r.Scope == result.ScopeNone:
		o.Vote = incident.VoteUp
	default:
		o.Vote = incident.VoteDown
		o.Severity = Severity(r.Scope, configured)
	}
	if r.Scope == result.ScopePartial {
		for _, l := range r.Vantages {
			if l.Status == result.VantageDown {
				o.Regions = append(o.Regions, l.Name)
			}
		}
	}
	return o
}
