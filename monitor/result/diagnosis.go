package result

import (
	"fmt"
	"slices"
	"strings"
)

// Finding is a short, stable token for what a round's follow-up diagnosis
// found (monitor/diagnose makes them). The fixes knowledge base and the
// renderers select on them, so they never change once released.
type Finding string

// The findings.
const (
	// FindingDNSDisagreement: resolvers gave disjoint answers, or some gave
	// none while others did.
	FindingDNSDisagreement Finding = "dns-disagreement"
	// FindingDNSFailure: no resolver gave an address.
	FindingDNSFailure Finding = "dns-failure"
	// FindingConnectFailed: no resolved address accepts a TCP connection.
	FindingConnectFailed Finding = "connect-failed"
	// FindingUpstreamDown: the gateway errs and the origin refuses or
	// times out: the upstream itself is down.
	FindingUpstreamDown Finding = "upstream-down"
	// FindingUpstreamError: the gateway errs and the origin answers, but
	// with an error: the application is failing, not the path.
	FindingUpstreamError Finding = "upstream-error"
	// FindingGatewayPath: the gateway errs but the origin answers fine: the
	// path between them is at fault (a firewall, DNS or proxy config).
	FindingGatewayPath Finding = "gateway-path"
)

// MarkerPrefix starts every line Diagnosis.Markers gives for a step, and
// FindingPrefix the lines that give a finding, so a person reading them
// among a result's own markers (`vantage check`) can tell them apart.
const (
	MarkerPrefix  = "diagnosis: "
	FindingPrefix = "finding: "
)

// Answer is what one resolver said.
type Answer struct {
	Resolver string   `json:"resolver"`
	Addrs    []string `json:"addrs,omitempty"`
	// Kind says why there is no address: one of the Answer* kinds.
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
}

// The kinds of an Answer without addresses. All but AnswerUnreachable are
// the resolver's own answer and take part in the comparison.
const (
	AnswerNXDomain = "nxdomain" // no such name (or no address records)
	AnswerServFail = "servfail"
	AnswerRefused  = "refused" // REFUSED or another error code
	AnswerTimeout  = "timeout"
	AnswerNoData   = "nodata" // an answer without addresses
	AnswerError    = "error"  // any other failure of the resolver
	// AnswerUnreachable: the vantage's agent could not be asked; its answer
	// is left out of the comparison.
	AnswerUnreachable = "unreachable"
)

// Unreachable reports whether the answer is no answer at all.
func (a Answer) Unreachable() bool { return a.Kind == AnswerUnreachable }

// Connect is one TCP connection attempt.
type Connect struct {
	Addr  string  `json:"addr"`
	OK    bool    `json:"ok"`
	Ms    float64 `json:"ms"`
	Error string  `json:"error,omitempty"`
}

// OriginCheck is the direct probe of the origin behind a failing gateway.
type OriginCheck struct {
	URL    string `json:"url"`
	Result Result `json:"result"`
	// Finding is the side at fault; empty when the probe cannot tell
	// (e.g. the origin's own name does not resolve from here).
	Finding Finding `json:"finding,omitempty"`
}

// Diagnosis is what the follow-up to a round found.
type Diagnosis struct {
	Host     string       `json:"host"`
	Port     string       `json:"port"`
	Answers  []Answer     `json:"answers,omitempty"`
	Connects []Connect    `json:"connects,omitempty"`
	Origin   *OriginCheck `json:"origin,omitempty"`
	Findings []Finding    `json:"findings"`
	// Notes explain the findings for a person, one per finding, in order.
	Notes []string `json:"notes,omitempty"`
	// Error says why no diagnosis could be made at all.
	Error string `json:"error,omitempty"`
}

// Has reports whether the diagnosis found f. A nil diagnosis found nothing.
func (d *Diagnosis) Has(f Finding) bool { return d != nil && slices.Contains(d.Findings, f) }

// Find adds finding f, explained by the note format and args.
func (d *Diagnosis) Find(f Finding, format string, args ...any) {
	d.Findings = append(d.Findings, f)
	d.Notes = append(d.Notes, fmt.Sprintf(format, args...))
}

// Note is the explanation of the i-th finding, "" when there is none.
func (d *Diagnosis) Note(i int) string {
	if i < len(d.Notes) {
		return d.Notes[i]
	}
	return ""
}

// OriginHeadline is the headline of the direct probe of the origin, ""
// when there was none.
func (d *Diagnosis) OriginHeadline() string {
	if d == nil || d.Origin == nil {
		return ""
	}
	return d.Origin.Result.Headline()
}

// Steps says, one line each, what every step of the diagnosis saw, without
// a prefix: "resolver system answered 192.0.2.1", "tcp 192.0.2.1:443
// failed: ...".
func (d *Diagnosis) Steps() []string {
	if d == nil {
		return nil
	}
	var m []string
	if d.Error != "" {
		m = append(m, d.Error)
	}
	for _, a := range d.Answers {
		switch {
		case a.Unreachable():
			m = append(m, fmt.Sprintf("resolver %s: unreachable, left out of the comparison (%s)", a.Resolver, a.Error))
		case a.Error != "" && a.Kind == "":
			m = append(m, fmt.Sprintf("resolver %s: %s", a.Resolver, a.Error))
		case a.Error != "":
			m = append(m, fmt.Sprintf("resolver %s: %s (%s)", a.Resolver, a.Kind, a.Error))
		default:
			m = append(m, fmt.Sprintf("resolver %s answered %s", a.Resolver, strings.Join(a.Addrs, ", ")))
		}
	}
	for _, c := range d.Connects {
		if c.OK {
			m = append(m, fmt.Sprintf("tcp %s connected in %.1f ms", c.Addr, c.Ms))
		} else {
			m = append(m, fmt.Sprintf("tcp %s failed: %s", c.Addr, c.Error))
		}
	}
	if o := d.Origin; o != nil {
		m = append(m, fmt.Sprintf("origin %s: %s", o.URL, o.Result.Headline()))
	}
	return m
}

// Markers says, one line each, what every step saw (MarkerPrefix) and what
// it concluded (FindingPrefix, then the finding's token and its note): the
// diagnosis as `vantage check` prints it among the evidence.
func (d *Diagnosis) Markers() []string {
	if d == nil {
		return nil
	}
	var m []string
	for _, s := range d.Steps() {
		m = append(m, MarkerPrefix+s)
	}
	for i, f := range d.Findings {
		m = append(m, fmt.Sprintf("%s%s: %s", FindingPrefix, f, d.Note(i)))
	}
	return m
}

// Clone is a deep copy of d; nil stays nil.
func (d *Diagnosis) Clone() *Diagnosis {
	if d == nil {
		return nil
	}
	c := *d
	c.Answers = slices.Clone(d.Answers)
	for i := range c.Answers {
		c.Answers[i].Addrs = slices.Clone(c.Answers[i].Addrs)
	}
	c.Connects = slices.Clone(d.Connects)
	c.Findings = slices.Clone(d.Findings)
	c.Notes = slices.Clone(d.Notes)
	if d.Origin != nil {
		o := *d.Origin
		o.Result = o.Result.Clone()
		c.Origin = &o
	}
	return &c
}
