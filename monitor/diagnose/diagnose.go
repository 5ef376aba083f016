// Package diagnose is the follow-up to a round whose target is down for
// everyone or from some regions: it asks several resolvers for the target's
// name (the host's own, the configured extra ones, and each remote vantage
// point's own), tries a TCP connection to every address they give, and, when a
// gateway answered with an error and the monitor knows its origin, probes
// the origin directly, to say which layer is at fault (DNS, the network, the
// upstream, or the path from the gateway to it).
package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Defaults for Options' zero fields.
const (
	DefaultLookupTimeout  = 3 * time.Second
	DefaultConnectTimeout = 3 * time.Second
	// maxConnects bounds the addresses tried, against a name with hundreds.
	maxConnects = 8
	// vantageSlack is added to LookupTimeout for a vantage's resolver, for
	// the round trip to its agent.
	vantageSlack = 2 * time.Second
)

// SystemResolver names the host's own resolver in answers and markers.
const SystemResolver = "system"

// Finding is a short, stable token for what the diagnosis found. The fixes
// knowledge base selects on them, so they never change once released.
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

// MarkerPrefix starts every marker a Diagnosis adds to a result, and
// FindingPrefix the markers that carry a finding token, so that readers of
// Evidence.Markers can pick them out.
const (
	MarkerPrefix  = "diagnosis: "
	FindingPrefix = "finding: "
)

// Options tune a Diagnoser; the zero value asks only the system resolver.
type Options struct {
	// Resolvers are extra DNS servers, "ip:port" (the config's resolvers).
	Resolvers []string
	// Vantages are the remote vantage points' own resolvers, asked
	// alongside the others and compared with them. The local vantage is
	// not one of them: its resolver is System.
	Vantages []VantageResolver
	// System is the host's resolver; nil means net.DefaultResolver.
	System *net.Resolver
	// LookupTimeout bounds each resolver's answer, ConnectTimeout each TCP
	// connection.
	LookupTimeout  time.Duration
	ConnectTimeout time.Duration
	// Probe probes the origin; nil means a zero probe.Prober's Run.
	Probe func(ctx context.Context, s probe.Spec) result.Result
}

// Diagnoser runs follow-up diagnoses. It is safe for concurrent use.
type Diagnoser struct {
	opts      Options
	resolvers []namedResolver
}

// VantageResolver is a remote vantage point's own resolver.
type VantageResolver struct {
	// Name is the vantage's name, as answers and markers give it.
	Name string
	// Lookup resolves host from the vantage (agent.Client.Resolve). An
	// error that wraps a *net.DNSError, or has a method DNSKind() string
	// (agent.ResolveError), is the vantage's resolver failing: a DNS answer
	// that is compared. Any other error means the vantage could not be
	// asked; it is noted and left out of the comparison.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// lookupFunc is how a resolver is asked; network is "ip", "ip4" or "ip6".
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

type namedResolver struct {
	name   string
	lookup lookupFunc
	// vantage: the resolver is asked through an agent, which may not
	// answer at all.
	vantage bool
}

// New checks the resolver addresses and makes a Diagnoser.
func New(opts Options) (*Diagnoser, error) {
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = DefaultLookupTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Probe == nil {
		p := &probe.Prober{}
		opts.Probe = p.Run
	}
	sys := opts.System
	if sys == nil {
		sys = net.DefaultResolver
	}
	d := &Diagnoser{opts: opts, resolvers: []namedResolver{{name: SystemResolver, lookup: sys.LookupNetIP}}}
	for _, addr := range opts.Resolvers {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("making the diagnoser: resolver %q is not ip:port: %w", addr, err)
		}
		d.resolvers = append(d.resolvers, namedResolver{name: addr, lookup: ResolverAt(ap.String()).LookupNetIP})
	}
	for _, v := range opts.Vantages {
		switch {
		case v.Name == "":
			return nil, errors.New("making the diagnoser: a vantage resolver has no name")
		case v.Lookup == nil:
			return nil, fmt.Errorf("making the diagnoser: vantage %s has no Lookup", v.Name)
		case slices.ContainsFunc(d.resolvers, func(r namedResolver) bool { return r.name == v.Name }):
			return nil, fmt.Errorf("making the diagnoser: vantage %s has the name of another resolver; answers would be confused", v.Name)
		}
		d.resolvers = append(d.resolvers, namedResolver{name: v.Name, lookup: vantageLookup(v.Lookup), vantage: true})
	}
	return d, nil
}

// vantageLookup adapts a vantage's Lookup, which asks for every address,
// to a network: the addresses of the other IP version are dropped here.
func vantageLookup(f func(ctx context.Context, host string) ([]netip.Addr, error)) lookupFunc {
	return func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		ips, err := f(ctx, host)
		if err != nil || network == "ip" {
			return ips, err
		}
		var out []netip.Addr
		for _, ip := range ips {
			if ip = ip.Unmap(); ip.Is4() == (network == "ip4") {
				out = append(out, ip)
			}
		}
		return out, nil
	}
}

// ResolverAt returns a resolver that asks only the DNS server at addr
// ("ip:port"), bypassing the host's configured servers.
func ResolverAt(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// Needed reports whether a round's result calls for a diagnosis: the target
// is down for everyone or from some regions. Our own trouble (just_me) and
// rounds nobody could vote in (unknown) say nothing about the target.
func Needed(r result.Result) bool {
	return !r.OK && (r.Scope == result.ScopeEveryone || r.Scope == result.ScopePartial)
}

// Answer is what one resolver said.
type Answer struct {
	Resolver string   `json:"resolver"`
	Addrs    []string `json:"addrs,omitempty"`
	// Kind says why there is no address: one of the Kind constants.
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
}

// The kinds of an Answer without addresses. All but KindUnreachable are
// the resolver's own answer and take part in the comparison.
const (
	KindNXDomain = "nxdomain" // no such name (or no address records)
	KindServFail = "servfail"
	KindRefused  = "refused" // REFUSED or another error code
	KindTimeout  = "timeout"
	KindNoData   = "nodata" // an answer without addresses
	KindError    = "error"  // any other failure of the resolver
	// KindUnreachable: the vantage's agent could not be asked; its answer
	// is left out of the comparison.
	KindUnreachable = "unreachable"
)

// unreachable reports whether the answer is no answer at all.
func (a Answer) unreachable() bool { return a.Kind == KindUnreachable }

// Connect is one TCP connection attempt.
type Connect struct {
	Addr  string  `json:"addr"`
	OK    bool    `json:"ok"`
	Ms    float64 `json:"ms"`
	Error string  `json:"error,omitempty"`
}

// OriginCheck is the direct probe of the origin behind a failing gateway.
type OriginCheck struct {
	URL    string        `json:"url"`
	Result result.Result `json:"result"`
	// Finding is the side at fault; empty when the probe cannot tell
	// (e.g. the origin's own name does not resolve from here).
	Finding Finding `json:"finding,omitempty"`
}

// Diagnosis is what the follow-up found.
type Diagnosis struct {
	Host     string       `json:"host"`
	Port     string       `json:"port"`
	Answers  []Answer     `json:"answers,omitempty"`
	Connects []Connect    `json:"connects,omitempty"`
	Origin   *OriginCheck `json:"origin,omitempty"`
	Findings []Finding    `json:"findings"`
	// Error says why no diagnosis could be made at all.
	Error string `json:"error,omitempty"`
	// notes explain the findings, one per finding, in order.
	notes []string
}

// Has reports whether the diagnosis found f.
func (d *Diagnosis) Has(f Finding) bool { return slices.Contains(d.Findings, f) }

func (d *Diagnosis) find(f Finding, format string, args ...any) {
	d.Findings = append(d.Findings, f)
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

// Markers says, one line each, what every step saw and what it concluded.
func (d *Diagnosis) Markers() []string {
	var m []string
	if d.Error != "" {
		m = append(m, MarkerPrefix+d.Error)
	}
	for _, a := range d.Answers {
		switch {
		case a.unreachable():
			m = append(m, fmt.Sprintf("%sresolver %s: unreachable, left out of the comparison (%s)", MarkerPrefix, a.Resolver, a.Error))
		case a.Error != "":
			m = append(m, fmt.Sprintf("%sresolver %s: %s (%s)", MarkerPrefix, a.Resolver, a.Kind, a.Error))
		default:
			m = append(m, fmt.Sprintf("%sresolver %s answered %s", MarkerPrefix, a.Resolver, strings.Join(a.Addrs, ", ")))
		}
	}
	for _, c := range d.Connects {
		if c.OK {
			m = append(m, fmt.Sprintf("%stcp %s connected in %.1f ms", MarkerPrefix, c.Addr, c.Ms))
		} else {
			m = append(m, fmt.Sprintf("%stcp %s failed: %s", MarkerPrefix, c.Addr, c.Error))
		}
	}
	if o := d.Origin; o != nil {
		m = append(m, fmt.Sprintf("%sorigin %s: %s", MarkerPrefix, o.URL, o.Result.Headline()))
	}
	for i, f := range d.Findings {
		m = append(m, fmt.Sprintf("%s%s: %s", FindingPrefix, f, d.notes[i]))
	}
	return m
}

// Apply adds the diagnosis to a result's evidence.
func (d *Diagnosis) Apply(r *result.Result) {
	r.Evidence.Markers = append(r.Evidence.Markers, d.Markers()...)
}

// Findings reads the finding tokens back out of a result's markers, for
// consumers (such as the fixes) that see only the result.
func Findings(r *result.Result) []Finding {
	var out []Finding
	for _, m := range r.Evidence.Markers {
		rest, ok := strings.CutPrefix(m, FindingPrefix)
		if !ok {
			continue
		}
		tok, _, _ := strings.Cut(rest, ":")
		out = append(out, Finding(tok))
	}
	return out
}

// Diagnose follows up on res, the merged result of a round of spec. origin
// is the monitor's origin spec, nil when it has none. It never fails: what
// it could not learn is said in the diagnosis.
func (g *Diagnoser) Diagnose(ctx context.Context, res result.Result, spec probe.Spec, origin *probe.Spec) Diagnosis {
	var d Diagnosis
	d.Findings = []Finding{}
	u, err := url.Parse(spec.URL)
	if err != nil || u.Hostname() == "" {
		d.Error = fmt.Sprintf("cannot diagnose %q: not a URL with a host", spec.URL)
		return d
	}
	d.Host, d.Port = u.Hostname(), u.Port()
	if d.Port == "" {
		d.Port = "80"
		if u.Scheme == "https" {
			d.Port = "443"
		}
	}

	var wg sync.WaitGroup
	var originCheck *OriginCheck
	if origin != nil && gatewayError(res.Class) {
		wg.Go(func() { originCheck = g.probeOrigin(ctx, *origin) })
	}

	addrs := g.resolve(ctx, &d, spec)
	d.Connects = g.connectAll(ctx, addrs, d.Port)
	if len(addrs) > 0 && !slices.ContainsFunc(d.Connects, func(c Connect) bool { return c.OK }) {
		d.find(FindingConnectFailed, "none of %d addresses accepts a TCP connection on port %s", len(d.Connects), d.Port)
	}

	wg.Wait()
	if originCheck != nil {
		d.Origin = originCheck
		switch originCheck.Finding {
		case FindingUpstreamDown:
			d.find(FindingUpstreamDown, "the gateway says %s and the origin %s does not answer (%s): the upstream is down",
				res.Class.Words(), originCheck.URL, originCheck.Result.Class.Words())
		case FindingUpstreamError:
			d.find(FindingUpstreamError, "the gateway says %s and the origin %s answers with an error (%s): the application is failing",
				res.Class.Words(), originCheck.URL, originCheck.Result.Headline())
		case FindingGatewayPath:
			d.find(FindingGatewayPath, "the gateway says %s but the origin %s answers fine: check the firewall, DNS or proxy config between them",
				res.Class.Words(), originCheck.URL)
		}
	}
	return d
}

// resolve asks every resolver and records their answers and any
// disagreement; it returns the addresses to try, pinned ones first.
func (g *Diagnoser) resolve(ctx context.Context, d *Diagnosis, spec probe.Spec) []netip.Addr {
	var addrs []netip.Addr
	for _, r := range spec.Resolve {
		host, port, addr, err := probe.ParseResolve(r)
		if err == nil && strings.EqualFold(host, d.Host) && fmt.Sprint(port) == d.Port {
			if a, err := netip.ParseAddr(addr); err == nil {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	if ip, err := netip.ParseAddr(strings.Trim(d.Host, "[]")); err == nil {
		return appendNew(addrs, ip.Unmap())
	}
	network := "ip"
	switch spec.IPVersion {
	case 4:
		network = "ip4"
	case 6:
		network = "ip6"
	}
	d.Answers = make([]Answer, len(g.resolvers))
	var wg sync.WaitGroup
	for i, r := range g.resolvers {
		wg.Go(func() { d.Answers[i] = g.ask(ctx, r, network, d.Host) })
	}
	wg.Wait()

	// Unreachable vantages said nothing about DNS: they are in neither list.
	var answered, failed []Answer
	for _, a := range d.Answers {
		switch {
		case a.unreachable():
		case len(a.Addrs) == 0:
			failed = append(failed, a)
		default:
			answered = append(answered, a)
			for _, s := range a.Addrs {
				if ip, err := netip.ParseAddr(s); err == nil {
					addrs = appendNew(addrs, ip)
				}
			}
		}
	}
	switch {
	case len(answered) == 0:
		d.find(FindingDNSFailure, "no resolver gave an address for %s (%s)", d.Host, kinds(failed, "%s: %s"))
	case len(failed) > 0:
		d.find(FindingDNSDisagreement, "%s gave no address for %s while %s did", kinds(failed, "%s (%s)"), d.Host, names(answered))
	default:
		// Overlapping answers are round robin or geo DNS at work; only
		// answers with nothing in common point to DNS.
		if o, others, ok := outlier(answered); ok {
			d.find(FindingDNSDisagreement, "resolver %s answered %s for %s (others: %s)",
				o.Resolver, strings.Join(o.Addrs, ", "), d.Host, strings.Join(others, ", "))
		} else if a, b, ok := disjointPair(answered); ok {
			d.find(FindingDNSDisagreement, "resolver %s answered %s but %s answered %s for %s",
				a.Resolver, strings.Join(a.Addrs, ", "), b.Resolver, strings.Join(b.Addrs, ", "), d.Host)
		}
	}
	return addrs
}

// ask asks one resolver for host and says what it answered.
func (g *Diagnoser) ask(ctx context.Context, r namedResolver, network, host string) Answer {
	timeout := g.opts.LookupTimeout
	if r.vantage {
		timeout += vantageSlack
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := Answer{Resolver: r.name}
	ips, err := r.lookup(lctx, network, host)
	switch {
	case err != nil:
		a.Kind = errorKind(err, r.vantage)
		a.Error = fmt.Sprintf("looking up %s: %v", host, err)
		return a
	case len(ips) == 0:
		a.Kind = KindNoData
		a.Error = fmt.Sprintf("looking up %s: no addresses", host)
		return a
	}
	for _, ip := range ips {
		if s := ip.Unmap().String(); !slices.Contains(a.Addrs, s) {
			a.Addrs = append(a.Addrs, s)
		}
	}
	slices.Sort(a.Addrs)
	return a
}

// dnsKinder is an error that carries a DNS answer's kind, such as
// agent.ResolveError; matched by method so this package need not import
// the agent protocol.
type dnsKinder interface{ DNSKind() string }

// errorKind classifies a failed lookup. Every error of a local resolver is
// its answer; a vantage's error is an answer only when it says it is one
// (a *net.DNSError or a dnsKinder), otherwise its agent was not asked.
func errorKind(err error, vantage bool) string {
	var k dnsKinder
	if errors.As(err, &k) && k.DNSKind() != "" {
		return k.DNSKind()
	}
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return KindNXDomain
	case de != nil && de.IsTimeout:
		return KindTimeout
	case de != nil && strings.Contains(de.Err, "server misbehaving"):
		// The Go resolver says SERVFAIL is temporary, REFUSED and the
		// other error codes are not.
		if de.IsTemporary {
			return KindServFail
		}
		return KindRefused
	case de != nil && strings.Contains(de.Err, "connection refused"):
		return KindRefused
	case de != nil:
		return KindError
	case vantage:
		return KindUnreachable
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	}
	return KindError
}

func names(answers []Answer) string {
	n := make([]string, len(answers))
	for i, a := range answers {
		n[i] = a.Resolver
	}
	return strings.Join(n, ", ")
}

// kinds lists failed answers, each as format of its resolver and kind.
func kinds(answers []Answer, format string) string {
	n := make([]string, len(answers))
	for i, a := range answers {
		n[i] = fmt.Sprintf(format, a.Resolver, a.Kind)
	}
	return strings.Join(n, ", ")
}

// outlier finds, among three or more answers, one that shares no address
// with any other while the others agree among themselves (a vantage whose
// resolver sees something else), and returns it with the others' addresses.
func outlier(answers []Answer) (Answer, []string, bool) {
	if len(answers) < 3 {
		return Answer{}, nil, false
	}
	for i, a := range answers {
		rest := slices.Concat(answers[:i:i], answers[i+1:])
		var others []string
		for _, o := range rest {
			for _, s := range o.Addrs {
				if !slices.Contains(others, s) {
					others = append(others, s)
				}
			}
		}
		if _, _, split := disjointPair(rest); split {
			continue
		}
		if !slices.ContainsFunc(a.Addrs, func(s string) bool { return slices.Contains(others, s) }) {
			slices.Sort(others)
			return a, others, true
		}
	}
	return Answer{}, nil, false
}

func disjointPair(answers []Answer) (Answer, Answer, bool) {
	for i := range answers {
		for j := i + 1; j < len(answers); j++ {
			if !slices.ContainsFunc(answers[i].Addrs, func(s string) bool { return slices.Contains(answers[j].Addrs, s) }) {
				return answers[i], answers[j], true
			}
		}
	}
	return Answer{}, Answer{}, false
}

func appendNew(addrs []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(addrs, a) {
		return addrs
	}
	return append(addrs, a)
}

// connectAll tries a TCP connection to every address at once.
func (g *Diagnoser) connectAll(ctx context.Context, addrs []netip.Addr, port string) []Connect {
	if len(addrs) > maxConnects {
		addrs = addrs[:maxConnects]
	}
	out := make([]Connect, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			hp := net.JoinHostPort(a.String(), port)
			cctx, cancel := context.WithTimeout(ctx, g.opts.ConnectTimeout)
			defer cancel()
			var dl net.Dialer
			start := time.Now()
			conn, err := dl.DialContext(cctx, "tcp", hp)
			c := Connect{Addr: hp, Ms: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				c.Error = err.Error()
			} else {
				c.OK = true
				_ = conn.Close() // only the handshake mattered
			}
			out[i] = c
		})
	}
	wg.Wait()
	return out
}

func gatewayError(c result.Class) bool {
	switch c {
	case result.ClassBadGateway, result.ClassGatewayTimeout, result.ClassServiceUnavailable:
		return true
	}
	return false
}

// probeOrigin probes the origin directly and says which side is at fault.
func (g *Diagnoser) probeOrigin(ctx context.Context, s probe.Spec) *OriginCheck {
	r := g.opts.Probe(ctx, s)
	o := &OriginCheck{URL: s.URL, Result: r}
	switch r.Class {
	case result.ClassOK:
		o.Finding = FindingGatewayPath
	case result.ClassConnectionRefused, result.ClassConnectTimeout, result.ClassTimeout,
		result.ClassNetworkUnreachable, result.ClassConnectionReset:
		o.Finding = FindingUpstreamDown
	case result.ClassBadGateway, result.ClassGatewayTimeout, result.ClassServiceUnavailable,
		result.ClassServerError, result.ClassClientError, result.ClassUnexpectedStatus,
		result.ClassContentMismatch:
		o.Finding = FindingUpstreamError
	}
	// dns_error, tls_error, protocol_error, too_many_redirects: the probe
	// from here cannot tell which side is at fault, so no finding.
	return o
}
