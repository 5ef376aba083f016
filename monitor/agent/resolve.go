package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ResolvePath is where the agent resolves a name with its own resolver, so
// that the coordinator can compare what DNS says from each vantage point.
//
// It is signed, verified, replay-checked, rate-limited and capped exactly
// like ProbePath, and draws on the same token bucket and concurrency slots.
// An agent with RefusePrivate still resolves any name and answers every
// address, private ones included: a refused probe names the address it
// refused anyway, so the answer tells a key holder nothing a probe would
// not, and a split-horizon answer is exactly what the comparison is for.
const ResolvePath = "/v1/resolve"

// DefaultResolveTimeout bounds a lookup whose request names no timeout.
const DefaultResolveTimeout = 5 * time.Second

// maxHostLen is the longest DNS name in its text form (RFC 1035 §2.3.4).
const maxHostLen = 253

// ResolveRequest asks the agent to resolve Host with its own resolver.
type ResolveRequest struct {
	// Host is a DNS name (ASCII; the punycode form of an international
	// name) or an IP literal, without port, path or brackets.
	Host string `json:"host"`
	// TimeoutMs bounds the lookup; 0 means DefaultResolveTimeout. The
	// agent lowers a larger value to its MaxTimeout.
	TimeoutMs int64 `json:"timeout_ms,omitempty"`
}

// ResolveKind says, in DNS terms, why a lookup gave no address.
type ResolveKind string

// The kinds of a failed lookup.
const (
	// ResolveNXDomain: the name does not exist, or has no address
	// records (the system resolver does not tell NXDOMAIN from NODATA).
	ResolveNXDomain ResolveKind = "nxdomain"
	// ResolveServFail: the server answered SERVFAIL.
	ResolveServFail ResolveKind = "servfail"
	// ResolveRefused: the server answered REFUSED (or another error
	// code), or nothing listens where the resolver asks.
	ResolveRefused ResolveKind = "refused"
	// ResolveTimeout: no answer within the timeout.
	ResolveTimeout ResolveKind = "timeout"
	// ResolveNoData: the lookup succeeded with no address.
	ResolveNoData ResolveKind = "nodata"
	// ResolveFailed: any other failure.
	ResolveFailed ResolveKind = "error"
)

// ResolveResponse is the agent's answer: the addresses its resolver gave,
// or how the lookup failed (Kind is then set and Addrs empty). A failed
// lookup is an answer about DNS, sent with 200 and signed like any other.
type ResolveResponse struct {
	Addrs []string    `json:"addrs"`
	Kind  ResolveKind `json:"kind,omitempty"`
	Error string      `json:"error,omitempty"`
}

// ResolveError is an agent's resolver failing to resolve a name: what DNS
// says from the agent's vantage point, not a failure to ask the agent
// (that is an *Error).
type ResolveError struct {
	Host string
	Kind ResolveKind
	// Msg is the agent resolver's own words.
	Msg string
}

func (e *ResolveError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("the agent's resolver: %s for %s", e.Kind, e.Host)
	}
	return fmt.Sprintf("the agent's resolver: %s: %s", e.Kind, e.Msg) // Msg names the host
}

// DNSKind returns the kind as a string. Consumers that must not depend on
// this package (the follow-up diagnosis) recognise a DNS answer, as opposed
// to an agent that could not be asked, by this method.
func (e *ResolveError) DNSKind() string { return string(e.Kind) }

// ValidHost checks that host is something to resolve: an IP literal
// without a zone, or an ASCII DNS name of at most 253 characters whose
// labels are 1 to 63 letters, digits, '-' or '_' (not starting or ending
// with '-'); one trailing dot is allowed.
func ValidHost(host string) error {
	switch {
	case host == "":
		return errors.New("host is empty")
	case len(host) > maxHostLen+1 || (len(host) > maxHostLen && !strings.HasSuffix(host, ".")):
		return fmt.Errorf("host is %d bytes long; a DNS name has at most %d", len(host), maxHostLen)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return fmt.Errorf("host %q: an IP address with a zone cannot be resolved remotely", host)
		}
		return nil
	}
	switch {
	case strings.ContainsAny(host, ":[]"):
		return fmt.Errorf("host %q: give a DNS name or an IP address, without port or brackets", host)
	case strings.ContainsAny(host, "/?#@"):
		return fmt.Errorf("host %q: give a DNS name, not a URL", host)
	case !utf8.ValidString(host):
		return errors.New("host is not valid UTF-8")
	}
	for _, r := range host {
		if r > 0x7f {
			return fmt.Errorf("host %q: use the ASCII (punycode) form of an international name", host)
		}
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(host, "."), ".") {
		if err := validLabel(label); err != nil {
			return fmt.Errorf("host %q: %w", host, err)
		}
	}
	return nil
}

func validLabel(l string) error {
	if l == "" {
		return errors.New("empty label")
	}
	if len(l) > 63 {
		return fmt.Errorf("label of %d bytes; at most 63", len(l))
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q has the character %q", l, c)
		}
	}
	return nil
}

func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	log := s.log.With("remote", r.RemoteAddr)
	body, key, nonce, ok := s.admit(w, r, log)
	if !ok {
		return
	}
	req, timeout, clamped, err := s.decodeResolve(body)
	if err != nil {
		log.Warn("agent request refused", "reason", "bad resolve request", "err", err)
		plain(w, http.StatusBadRequest, "bad resolve request: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	var resp ResolveResponse
	if ip, err := netip.ParseAddr(req.Host); err == nil {
		// An address is its own answer; no resolver is asked.
		resp.Addrs = []string{ip.Unmap().String()}
	} else {
		if !s.acquire(w, log) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		addrs, err := s.opts.Lookup(ctx, "ip", req.Host)
		ctxErr := ctx.Err()
		cancel()
		<-s.sem
		resp = resolveAnswer(addrs, err, ctxErr)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		log.Error("agent could not encode an answer", "err", err)
		plain(w, http.StatusInternalServerError, "could not encode the answer")
		return
	}
	log.Info("agent resolve", "host", req.Host, "addrs", len(resp.Addrs), "kind", resp.Kind,
		"ms", time.Since(start).Milliseconds(), "clamped", clamped, "key", KeyID(key))
	signed(w, key, nonce, out)
}

// decodeResolve reads a request strictly and bounds its timeout.
func (s *Server) decodeResolve(body []byte) (ResolveRequest, time.Duration, bool, error) {
	var req ResolveRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, 0, false, fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return req, 0, false, errors.New("decoding JSON: data after the request")
	}
	if err := ValidHost(req.Host); err != nil {
		return req, 0, false, err
	}
	switch {
	case req.TimeoutMs < 0:
		return req, 0, false, fmt.Errorf("timeout_ms %d is negative", req.TimeoutMs)
	case req.TimeoutMs == 0:
		return req, min(DefaultResolveTimeout, s.opts.MaxTimeout), false, nil
	case req.TimeoutMs > s.opts.MaxTimeout.Milliseconds(): // compared in ms: no overflow
		return req, s.opts.MaxTimeout, true, nil
	}
	return req, time.Duration(req.TimeoutMs) * time.Millisecond, false, nil
}

// resolveAnswer turns a lookup's outcome into the answer. ctxErr is the
// lookup context's error: a resolver that gives up at the deadline does
// not always say it timed out.
func resolveAnswer(addrs []netip.Addr, err, ctxErr error) ResolveResponse {
	if err != nil {
		kind := ResolveKindOf(err)
		if kind == ResolveFailed && errors.Is(ctxErr, context.DeadlineExceeded) {
			kind = ResolveTimeout
		}
		return ResolveResponse{Addrs: []string{}, Kind: kind, Error: truncate(err.Error(), maxLine)}
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if s := a.Unmap().String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > maxEvidenceLines {
		out = out[:maxEvidenceLines]
	}
	if len(out) == 0 {
		return ResolveResponse{Addrs: out, Kind: ResolveNoData, Error: "the resolver gave no address"}
	}
	return ResolveResponse{Addrs: out}
}

// ResolveKindOf classifies a lookup error of a net.Resolver. The Go
// resolver reports SERVFAIL as a temporary "server misbehaving" and the
// other error codes (REFUSED above all) as a permanent one.
func ResolveKindOf(err error) ResolveKind {
	var de *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de) && de.IsNotFound:
		return ResolveNXDomain
	case errors.Is(err, context.DeadlineExceeded) || (de != nil && de.IsTimeout):
		return ResolveTimeout
	case de != nil && strings.Contains(de.Err, "server misbehaving"):
		if de.IsTemporary {
			return ResolveServFail
		}
		return ResolveRefused
	case de != nil && strings.Contains(de.Err, "connection refused"):
		return ResolveRefused
	}
	return ResolveFailed
}
