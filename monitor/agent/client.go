package agent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// maxResponseBytes bounds what the client reads from an agent: a result
// with its bounded excerpt is a few KiB.
const maxResponseBytes = 256 << 10

// clientSlack is added to a spec's timeout when Client.Timeout is zero, for
// the round trip to the agent itself.
const clientSlack = 5 * time.Second

// Kind says how a call to an agent failed, so that the coordinator can
// tell "the agent could not be asked" (not a vote about the target) from
// a result.
type Kind string

// The kinds of Error.
const (
	// KindUnreachable: no answer (connect failure, TLS failure, timeout).
	KindUnreachable Kind = "unreachable"
	// KindAuth: the agent answered 401; the keys or the clocks disagree.
	KindAuth Kind = "auth"
	// KindBusy: the agent refused for its limits (429 or 503);
	// RetryAfter says when to try again.
	KindBusy Kind = "busy"
	// KindRejected: the agent refused the spec (400, 413): a
	// configuration problem, not a fault of the agent or the target.
	KindRejected Kind = "rejected"
	// KindProtocol: the agent answered something that is not a valid,
	// signed result.
	KindProtocol Kind = "protocol"
)

// Error is the error of a Client call.
type Error struct {
	Kind Kind
	// Status is the agent's HTTP status, 0 when it did not answer.
	Status int
	// RetryAfter is the agent's Retry-After, for KindBusy.
	RetryAfter time.Duration
	// Msg says what went wrong, including the agent's own explanation.
	Msg string
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "agent %s: %s", e.Kind, e.Msg)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Client asks one agent to probe. Set the fields before the first call and
// do not change or copy the Client afterwards; it is safe for concurrent
// use and keeps connections to the agent alive between calls.
type Client struct {
	// URL is the agent's base URL, e.g. "https://fra1.example.net:9208".
	URL string
	// Key is the shared key the client signs with (the first line of the
	// key file, see ParseKeys).
	Key []byte
	// HTTPClient, when set, is used as is (CA is then ignored).
	HTTPClient *http.Client
	// Timeout bounds one call; 0 means the spec's timeout (after
	// defaults) plus a few seconds. The caller's ctx bounds it too.
	Timeout time.Duration
	// CA verifies an https agent's certificate (for self-signed agents);
	// nil means the system roots. The coordinator passes the pool its
	// config loaded from the vantage's ca_file.
	CA *x509.CertPool
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time

	once    sync.Once
	hc      *http.Client
	base    string // URL without a trailing '/'
	initErr error
}

func (c *Client) init() {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		c.initErr = fmt.Errorf("agent url: %w", err)
		return
	case u.Scheme != "http" && u.Scheme != "https":
		c.initErr = fmt.Errorf("agent url %q: scheme is not http or https", c.URL)
		return
	case u.Host == "":
		c.initErr = fmt.Errorf("agent url %q has no host", c.URL)
		return
	case len(c.Key) < MinKeyBytes:
		c.initErr = fmt.Errorf("agent key has %d bytes; at least %d are required", len(c.Key), MinKeyBytes)
		return
	}
	c.base = strings.TrimSuffix(u.String(), "/")
	if c.HTTPClient != nil {
		c.hc = c.HTTPClient
		return
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the agent is asked directly, never through a proxy
	t.TLSClientConfig = &tls.Config{RootCAs: c.CA, MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = 32
	t.ResponseHeaderTimeout = 0 // a probe may take its whole timeout
	c.hc = &http.Client{
		Transport: t,
		// A redirect from an agent is not a result; never follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Probe asks the agent to probe spec and returns its result. A failure to
// get a result is an *Error whose Kind says why; the target's own failures
// are in the result, with a nil error, and so is a destination the agent
// refused by its policy (Result.Refusal, which agents older than the field
// never set).
func (c *Client) Probe(ctx context.Context, spec probe.Spec) (result.Result, error) {
	c.once.Do(c.init)
	if c.initErr != nil {
		return result.Result{}, &Error{Kind: KindRejected, Msg: "bad client configuration", Err: c.initErr}
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return result.Result{}, &Error{Kind: KindRejected, Msg: "encoding the spec", Err: err}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = spec.WithDefaults().Timeout + clientSlack
	}
	out, status, err := c.call(ctx, ProbePath, body, timeout)
	if err != nil {
		return result.Result{}, err
	}
	var r result.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return result.Result{}, &Error{Kind: KindProtocol, Status: status, Msg: "decoding the result", Err: err}
	}
	if !r.Class.Valid() {
		return result.Result{}, &Error{Kind: KindProtocol, Status: status, Msg: fmt.Sprintf("the result has unknown class %q", r.Class)}
	}
	if r.Refusal != nil && r.OK {
		// A refusal is the agent declining to look; with an OK beside it
		// the answer contradicts itself, and neither half can be a vote.
		return result.Result{}, &Error{Kind: KindProtocol, Status: status, Msg: "the result is both OK and refused"}
	}
	r.Normalize()
	return r, nil
}

// call sends body, signed, to the agent's path and returns the body of a
// 200 answer whose signature it has checked, with the status. Any other
// outcome is an *Error.
func (c *Client) call(ctx context.Context, path string, body []byte, timeout time.Duration) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, &Error{Kind: KindRejected, Msg: "building the request", Err: err}
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	nonce := NewNonce()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set("Authorization", Sign(c.Key, http.MethodPost, req.URL.RequestURI(), ts, nonce, body))

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, &Error{Kind: KindUnreachable, Msg: "asking " + c.URL, Err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, resp.StatusCode, &Error{Kind: KindUnreachable, Status: resp.StatusCode, Msg: "reading the answer of " + c.URL, Err: err}
	}
	if len(out) > maxResponseBytes {
		return nil, resp.StatusCode, &Error{Kind: KindProtocol, Status: resp.StatusCode, Msg: fmt.Sprintf("answer over %d bytes", maxResponseBytes)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, statusError(resp, out)
	}
	want := responseMAC(c.Key, nonce, http.StatusOK, out)
	got := resp.Header.Get(HeaderResponseSignature)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(got))) {
		return nil, resp.StatusCode, &Error{Kind: KindProtocol, Status: resp.StatusCode, Msg: "the answer is not signed with our key (a proxy in between, or not a vantage agent)"}
	}
	return out, resp.StatusCode, nil
}

// Resolve asks the agent to resolve host with its own resolver and returns
// the addresses it got. When the agent's resolver fails the error is a
// *ResolveError saying how (NXDOMAIN, SERVFAIL, ...): an answer about DNS
// from the agent's vantage point. A failure to ask the agent is an *Error,
// as for Probe.
//
// The agent's lookup gets three quarters of what remains of ctx's deadline
// (DefaultResolveTimeout without one), so that a slow resolver comes back
// as a timeout answer instead of as an agent that did not answer.
func (c *Client) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	c.once.Do(c.init)
	if c.initErr != nil {
		return nil, &Error{Kind: KindRejected, Msg: "bad client configuration", Err: c.initErr}
	}
	if err := ValidHost(host); err != nil {
		return nil, &Error{Kind: KindRejected, Msg: "not a name to resolve", Err: err}
	}
	lookup := DefaultResolveTimeout
	if dl, ok := ctx.Deadline(); ok {
		lookup = min(lookup, max(time.Until(dl)*3/4, time.Millisecond))
	}
	body, err := json.Marshal(ResolveRequest{Host: host, TimeoutMs: max(lookup.Milliseconds(), 1)})
	if err != nil {
		return nil, &Error{Kind: KindRejected, Msg: "encoding the request", Err: err}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = lookup + clientSlack
	}
	out, status, err := c.call(ctx, ResolvePath, body, timeout)
	if err != nil {
		return nil, err
	}
	var ans ResolveResponse
	if err := json.Unmarshal(out, &ans); err != nil {
		return nil, &Error{Kind: KindProtocol, Status: status, Msg: "decoding the answer", Err: err}
	}
	if ans.Kind != "" {
		return nil, &ResolveError{Host: host, Kind: ans.Kind, Msg: ans.Error}
	}
	addrs := make([]netip.Addr, 0, len(ans.Addrs))
	for _, s := range ans.Addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, &Error{Kind: KindProtocol, Status: status, Msg: fmt.Sprintf("the answer has %q, not an IP address", truncate(s, 64))}
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, &ResolveError{Host: host, Kind: ResolveNoData, Msg: "the resolver gave no address"}
	}
	return addrs, nil
}

func statusError(resp *http.Response, body []byte) *Error {
	msg := strings.TrimSpace(string(body))
	msg = truncate(msg, 200)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e := &Error{Status: resp.StatusCode, Msg: fmt.Sprintf("%d: %s", resp.StatusCode, msg)}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Kind = KindAuth
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		e.Kind = KindBusy
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		e.Kind = KindRejected
	default:
		e.Kind = KindProtocol
	}
	return e
}
