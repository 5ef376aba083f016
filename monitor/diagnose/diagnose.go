// Package diagnose is the follow-up to a failing round (through vantages,
// one whose target is down for everyone or from some regions; from a single
// host, any that fails): it asks several resolvers for the target's
// name (the host's own, the configured extra ones, and each remote vantage
// point's own), tries a TCP connection to every address they give, and, when a
// gateway answered with an error and the monitor knows its origin, probes
// the origin directly, to say which layer is at fault (DNS, the network, the
// upstream, or the path from the gateway to it). What it finds is a typed
// result.Diagnosis, which the round (monitor/round) puts in its outcome for
// the fixes and the renderers to read.
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
	"github.com/vantage-monitor/vantage/monitor/resolver"
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
	d := &Diagnoser{opts: opts, resolvers: []namedResolver{{name: SystemResolver, lookup: lookupWith(sys)}}}
	for _, addr := range opts.Resolvers {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("making the diagnoser: resolver %q is not ip:port: %w", addr, err)
		}
		d.resolvers = append(d.resolvers, namedResolver{name: addr, lookup: lookupWith(resolver.At(ap.String()))})
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

// lookupWith asks r, so that a failure names the server r dialled.
func lookupWith(r *net.Resolver) lookupFunc {
	return func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		return resolver.LookupNetIP(ctx, r, network, host)
	}
}

// Needed reports whether the outcome of a round through vantages calls for
// a diagnosis: the target is down for everyone or from some regions. Our
// own trouble (just_me) and rounds nobody could vote in (unknown) say
// nothing about the target. A round of this host alone has no scope: it
// calls for one when it fails (monitor/round decides).
func Needed(o *result.Outcome) bool {
	return !o.OK && (o.Scope == result.ScopeEveryone || o.Scope == result.ScopePartial)
}

// Diagnose follows up on res, the result that stands for a round of spec.
// origin is the monitor's origin spec, nil when it has none. It never
// fails: what it could not learn is said in the diagnosis.
func (g *Diagnoser) Diagnose(ctx context.Context, res result.Result, spec probe.Spec, origin *probe.Spec) result.Diagnosis {
	var d result.Diagnosis
	d.Findings = []result.Finding{}
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
	var originCheck *result.OriginCheck
	if origin != nil && gatewayError(res.Class) {
		wg.Go(func() { originCheck = g.probeOrigin(ctx, *origin) })
	}

	addrs := g.resolve(ctx, &d, spec)
	d.Connects = g.connectAll(ctx, addrs, d.Port)
	if len(addrs) > 0 && !slices.ContainsFunc(d.Connects, func(c result.Connect) bool { return c.OK }) {
		d.Find(result.FindingConnectFailed, "none of %d addresses accepts a TCP connection on port %s", len(d.Connects), d.Port)
	}

	wg.Wait()
	if originCheck != nil {
		d.Origin = originCheck
		switch originCheck.Finding {
		case result.FindingUpstreamDown:
			d.Find(result.FindingUpstreamDown, "the gateway says %s and the origin %s does not answer (%s): the upstream is down",
				res.Class.Words(), originCheck.URL, originCheck.Result.Class.Words())
		case result.FindingUpstreamError:
			d.Find(result.FindingUpstreamError, "the gateway says %s and the origin %s answers with an error (%s): the application is failing",
				res.Class.Words(), originCheck.URL, originCheck.Result.Headline())
		case result.FindingGatewayPath:
			d.Find(result.FindingGatewayPath, "the gateway says %s but the origin %s answers fine: check the firewall, DNS or proxy config between them",
				res.Class.Words(), originCheck.URL)
		}
	}
	return d
}

// resolve asks every resolver and records their answers and any
// disagreement; it returns the addresses to try, pinned ones first.
func (g *Diagnoser) resolve(ctx context.Context, d *result.Diagnosis, spec probe.Spec) []netip.Addr {
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
	d.Answers = make([]result.Answer, len(g.resolvers))
	var wg sync.WaitGroup
	for i, r := range g.resolvers {
		wg.Go(func() { d.Answers[i] = g.ask(ctx, r, network, d.Host) })
	}
	wg.Wait()

	// Unreachable vantages said nothing about DNS: they are in neither list.
	var answered, failed []result.Answer
	for _, a := range d.Answers {
		switch {
		case a.Unreachable():
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
		d.Find(result.FindingDNSFailure, "no resolver gave an address for %s (%s)", d.Host, kinds(failed, "%s: %s"))
	case len(failed) > 0:
		d.Find(result.FindingDNSDisagreement, "%s gave no address for %s while %s did", kinds(failed, "%s (%s)"), d.Host, names(answered))
	default:
		// Overlapping answers are round robin or geo DNS at work; only
		// answers with nothing in common point to DNS.
		if o, others, ok := outlier(answered); ok {
			d.Find(result.FindingDNSDisagreement, "resolver %s answered %s for %s (others: %s)",
				o.Resolver, strings.Join(o.Addrs, ", "), d.Host, strings.Join(others, ", "))
		} else if a, b, ok := disjointPair(answered); ok {
			d.Find(result.FindingDNSDisagreement, "resolver %s answered %s but %s answered %s for %s",
				a.Resolver, strings.Join(a.Addrs, ", "), b.Resolver, strings.Join(b.Addrs, ", "), d.Host)
		}
	}
	return addrs
}

// ask asks one resolver for host and says what it answered.
func (g *Diagnoser) ask(ctx context.Context, r namedResolver, network, host string) result.Answer {
	timeout := g.opts.LookupTimeout
	if r.vantage {
		timeout += vantageSlack
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := result.Answer{Resolver: r.name}
	ips, err := r.lookup(lctx, network, host)
	switch {
	case err != nil:
		a.Kind = errorKind(err, r.vantage)
		a.Error = fmt.Sprintf("looking up %s: %v", host, err)
		return a
	case len(ips) == 0:
		a.Kind = result.AnswerNoData
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
		return result.AnswerNXDomain
	case de != nil && de.IsTimeout:
		return result.AnswerTimeout
	case de != nil && strings.Contains(de.Err, "server misbehaving"):
		// The Go resolver says SERVFAIL is temporary, REFUSED and the
		// other error codes are not.
		if de.IsTemporary {
			return result.AnswerServFail
		}
		return result.AnswerRefused
	case de != nil && strings.Contains(de.Err, "connection refused"):
		return result.AnswerRefused
	case de != nil:
		return result.AnswerError
	case vantage:
		return result.AnswerUnreachable
	case errors.Is(err, context.DeadlineExceeded):
		return result.AnswerTimeout
	}
	return result.AnswerError
}

func names(answers []result.Answer) string {
	n := make([]string, len(answers))
	for i, a := range answers {
		n[i] = a.Resolver
	}
	return strings.Join(n, ", ")
}

// kinds lists failed answers, each as format of its resolver and kind.
func kinds(answers []result.Answer, format string) string {
	n := make([]string, len(answers))
	for i, a := range answers {
		n[i] = fmt.Sprintf(format, a.Resolver, a.Kind)
	}
	return strings.Join(n, ", ")
}

// outlier finds, among three or more answers, one that shares no address
// with any other while the others agree among themselves (a vantage whose
// resolver sees something else), and returns it with the others' addresses.
func outlier(answers []result.Answer) (result.Answer, []string, bool) {
	if len(answers) < 3 {
		return result.Answer{}, nil, false
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
	return result.Answer{}, nil, false
}

func disjointPair(answers []result.Answer) (result.Answer, result.Answer, bool) {
	for i := range answers {
		for j := i + 1; j < len(answers); j++ {
			if !slices.ContainsFunc(answers[i].Addrs, func(s string) bool { return slices.Contains(answers[j].Addrs, s) }) {
				return answers[i], answers[j], true
			}
		}
	}
	return result.Answer{}, result.Answer{}, false
}

func appendNew(addrs []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(addrs, a) {
		return addrs
	}
	return append(addrs, a)
}

// connectAll tries a TCP connection to every address at once.
func (g *Diagnoser) connectAll(ctx context.Context, addrs []netip.Addr, port string) []result.Connect {
	if len(addrs) > maxConnects {
		addrs = addrs[:maxConnects]
	}
	out := make([]result.Connect, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			hp := net.JoinHostPort(a.String(), port)
			cctx, cancel := context.WithTimeout(ctx, g.opts.ConnectTimeout)
			defer cancel()
			var dl net.Dialer
			start := time.Now()
			conn, err := dl.DialContext(cctx, "tcp", hp)
			c := result.Connect{Addr: hp, Ms: float64(time.Since(start).Microseconds()) / 1000}
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
func (g *Diagnoser) probeOrigin(ctx context.Context, s probe.Spec) *result.OriginCheck {
	r := g.opts.Probe(ctx, s)
	o := &result.OriginCheck{URL: s.URL, Result: r}
	switch r.Class {
	case result.ClassOK:
		o.Finding = result.FindingGatewayPath
	case result.ClassConnectionRefused, result.ClassConnectTimeout, result.ClassTimeout,
		result.ClassNetworkUnreachable, result.ClassConnectionReset:
		o.Finding = result.FindingUpstreamDown
	case result.ClassBadGateway, result.ClassGatewayTimeout, result.ClassServiceUnavailable,
		result.ClassServerError, result.ClassClientError, result.ClassUnexpectedStatus,
		result.ClassContentMismatch:
		o.Finding = result.FindingUpstreamError
	}
	// dns_error, tls_error, protocol_error, too_many_redirects: the probe
	// from here cannot tell which side is at fault, so no finding.
	return o
}
