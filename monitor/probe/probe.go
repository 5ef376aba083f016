package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// DefaultMaxHeaderBytes caps the response status line and headers.
const DefaultMaxHeaderBytes = 64 << 10

// excerptBytes bounds Evidence.Body and what the gateway package sees.
const excerptBytes = 2 << 10

// regexpCacheSize bounds the compiled expect_regex values a Prober keeps, so
// a long-running daemon with many monitors does not recompile every probe
// and a stream of distinct regexps cannot grow memory without limit.
const regexpCacheSize = 128

// Prober runs probes. The zero value is ready to use; set fields before the
// first Run and do not change or copy them afterwards. A Prober is safe for
// concurrent use.
//
// Every probe opens its own connection(s) and closes them when it ends, so
// the phases it reports are real and nothing leaks from one probe to the
// next. Probes speak HTTP/1.1 (ALPN offers only http/1.1) directly over the
// connection they dial, without proxies: a monitor measures the path from
// its vantage point, not a proxy's.
type Prober struct {
	// Resolver looks up host names; nil means net.DefaultResolver. Point it
	// at another server with a custom Dial. The same Dial is used for the
	// follow-up query that tells NXDOMAIN from an empty answer.
	Resolver *net.Resolver
	// DialControl is called on every TCP dial, including those made for
	// redirects, after the socket is created and before it connects. A
	// remote agent uses it to refuse private or loopback destinations.
	// An error it returns that is not a recognised errno ends the probe as
	// network_unreachable with the hook's message in Error; a *RefusedError
	// also sets Result.Refusal.
	DialControl func(network, address string, c syscall.RawConn) error
	// RootCAs verifies server certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// Now is the wall clock for StartedAt, certificate validity and
	// TLSInfo.DaysLeft; nil means time.Now. Durations always use the
	// monotonic clock.
	Now func() time.Time
	// MaxHeaderBytes caps the bytes of status line and headers read per
	// response; 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int64

	mu      sync.Mutex
	regexps map[string]*regexp.Regexp

	// identify replaces gateway.Identify in tests, so that classification
	// is tested apart from the fingerprints.
	identify func(status int, h http.Header, body []byte) gateway.Identification
}

// RefusedError is what a DialControl hook returns to refuse a destination
// by policy. The probe carries it as Result.Refusal, so that whoever reads
// the result, a coordinator across the wire included, tells "this vantage
// will not look" from "this vantage cannot get there" without reading the
// error text.
type RefusedError struct {
	Refusal result.Refusal
}

func (e *RefusedError) Error() string { return e.Refusal.String() }

// Plan is a Spec checked and prepared once (defaults applied, URL parsed,
// regexps compiled, pins parsed, ca_pem made a pool, JSONPaths parsed) so
// that repeated probes of the same monitor do no per-probe preparation.
type Plan struct {
	spec   Spec
	u      *url.URL
	re     *regexp.Regexp
	expect []byte
	pins   map[string]string // lowercase "host:port" → IP
	// roots, from ca_pem, replace Prober.RootCAs for this plan.
	roots   *x509.CertPool
	json    []jsonCheck
	headers []headerCheck
}

// Spec returns the spec the plan was made from, with defaults applied.
func (pl *Plan) Spec() Spec { return pl.spec }

// Compile validates s and prepares it for RunPlan.
func Compile(s Spec) (*Plan, error) {
	return compile(s, regexp.Compile)
}

func compile(s Spec, compileRe func(string) (*regexp.Regexp, error)) (*Plan, error) {
	prep, err := s.prepare()
	if err != nil {
		return nil, fmt.Errorf("checking the probe spec: %w", err)
	}
	s = s.WithDefaults()
	s.Method = strings.ToUpper(s.Method)
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing url %q: %w", s.URL, err)
	}
	pl := &Plan{spec: s, u: u}
	if s.ExpectRegex != "" {
		if pl.re, err = compileRe(s.ExpectRegex); err != nil {
			return nil, fmt.Errorf("compiling expect_regex: %w", err)
		}
	}
	if s.ExpectBody != "" {
		pl.expect = []byte(s.ExpectBody)
	}
	for _, r := range s.Resolve {
		host, port, addr, err := ParseResolve(r)
		if err != nil {
			return nil, fmt.Errorf("parsing resolve pin: %w", err)
		}
		if pl.pins == nil {
			pl.pins = make(map[string]string, len(s.Resolve))
		}
		pl.pins[strings.ToLower(host)+":"+strconv.Itoa(port)] = addr
	}
	pl.roots, pl.json, pl.headers = prep.roots, prep.json, prep.headers
	return pl, nil
}

// compileRegexp compiles through a bounded per-Prober cache.
func (p *Prober) compileRegexp(expr string) (*regexp.Regexp, error) {
	p.mu.Lock()
	re, ok := p.regexps[expr]
	p.mu.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.regexps == nil || len(p.regexps) >= regexpCacheSize {
		// Dropping everything is crude but keeps the bound without
		// bookkeeping; the monitors still configured refill it at once.
		p.regexps = make(map[string]*regexp.Regexp)
	}
	p.regexps[expr] = re
	p.mu.Unlock()
	return re, nil
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Prober) maxHeaderBytes() int64 {
	if p.MaxHeaderBytes > 0 {
		return p.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

// Run probes s once. It never fails: an invalid spec, like every network or
// HTTP failure, is reported in the Result, which is normalised. The probe
// ends by the earlier of ctx's deadline and s.Timeout.
func (p *Prober) Run(ctx context.Context, s Spec) result.Result {
	pl, err := compile(s, p.compileRegexp)
	if err != nil {
		return p.invalid(s, err)
	}
	return p.RunPlan(ctx, pl)
}

// invalid is the result for a check that could not be sent at all.
func (p *Prober) invalid(s Spec, err error) result.Result {
	r := result.Result{
		URL:       s.URL,
		Method:    s.Method,
		StartedAt: result.TimeOf(p.now()),
		// No class fits a check that was never sent; protocol_error is the
		// closest ("the request could not be expressed").
		Class: result.ClassProtocolError,
		Error: err.Error(),
	}
	r.Normalize()
	return r
}

// RunPlan probes a compiled plan once; see Run.
//
// Phases across redirects: every hop opens a fresh connection, and dns_ms,
// connect_ms, tls_ms and ttfb_ms are the sums over all hops. ttfb_ms of a
// hop runs from the first byte of the request being written (after the
// connection and TLS are ready) to the first byte of the response, so it is
// the server's (and network's) turnaround, not a repeat of the earlier
// phases. total_ms is the wall time of the whole probe, including redirects
// and reading the body, so the other phases add up to at most total_ms.
func (p *Prober) RunPlan(ctx context.Context, pl *Plan) result.Result {
	if pl == nil || pl.u == nil {
		return p.invalid(Spec{}, errors.New("probing: the plan is empty; make it with Compile"))
	}
	start := time.Now()
	r := result.Result{URL: pl.spec.URL, Method: pl.spec.Method, StartedAt: result.TimeOf(p.now())}
	deadline := start.Add(pl.spec.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	x := exchange{p: p, pl: pl, r: &r, ctx: ctx, start: start, deadline: deadline}
	x.run()
	cancel()
	r.Phases.TotalMs = ms(time.Since(start))
	r.OK = r.Class == result.ClassOK
	if r.OK {
		r.Error = ""
	}
	r.Normalize()
	return r
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
