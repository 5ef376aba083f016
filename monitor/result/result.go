// Package result defines the typed outcome of one check: the Result of one
// probe, which the probe produces and agents send, and the Outcome of one
// round (its scope, vantage lines and diagnosis), which incidents and
// notifications carry. Their JSON field names are a public interface:
// scripts parse them, and renaming one is a breaking change. Time (time.go)
// is how every time in that JSON, and in the API's, is written.
package result

import (
	"fmt"
	"strings"
)

// Class names what kind of failure a check saw. It is a closed set so that
// routing rules, fixes and metrics can switch on it.
type Class string

// The classes, as promised to users in README and `vantage check --json`.
const (
	ClassOK                 Class = "ok"
	ClassBadGateway         Class = "bad_gateway"         // 502; Cloudflare 520, 521, 523, 525, 526, 530
	ClassGatewayTimeout     Class = "gateway_timeout"     // 504; Cloudflare 522, 524
	ClassServiceUnavailable Class = "service_unavailable" // 503
	ClassServerError        Class = "server_error"        // any other 5xx
	ClassClientError        Class = "client_error"        // an unexpected 4xx
	ClassUnexpectedStatus   Class = "unexpected_status"   // any other unexpected status
	ClassContentMismatch    Class = "content_mismatch"
	ClassDNSError           Class = "dns_error"
	ClassConnectionRefused  Class = "connection_refused"
	ClassConnectionReset    Class = "connection_reset"
	ClassConnectTimeout     Class = "connect_timeout"
	ClassNetworkUnreachable Class = "network_unreachable"
	ClassTLSError           Class = "tls_error"
	ClassTimeout            Class = "timeout" // connected, but headers or body did not arrive in time
	ClassProtocolError      Class = "protocol_error"
	ClassTooManyRedirects   Class = "too_many_redirects"

	// The warning classes: the target is up, but something is about to
	// break. They are the classes of certificate and performance incidents
	// (monitor/warning), never of a probe's own result.
	ClassCertExpiring Class = "cert_expiring" // a certificate served is under a cert_warn_days threshold
	ClassDegraded     Class = "degraded"      // a phase is over its degraded threshold
)

// AllClasses lists every class in a stable order (for docs, metrics and
// validation of routing filters).
func AllClasses() []Class {
	return []Class{
		ClassOK, ClassBadGateway, ClassGatewayTimeout, ClassServiceUnavailable,
		ClassServerError, ClassClientError, ClassUnexpectedStatus, ClassContentMismatch,
		ClassDNSError, ClassConnectionRefused, ClassConnectionReset, ClassConnectTimeout,
		ClassNetworkUnreachable, ClassTLSError, ClassTimeout, ClassProtocolError,
		ClassTooManyRedirects, ClassCertExpiring, ClassDegraded,
	}
}

// Valid reports whether c is one of the known classes.
func (c Class) Valid() bool {
	for _, k := range AllClasses() {
		if c == k {
			return true
		}
	}
	return false
}

// Words is the class in plain words, for people reading an alert.
func (c Class) Words() string {
	switch c {
	case ClassOK:
		return "up"
	case ClassBadGateway:
		return "bad gateway"
	case ClassGatewayTimeout:
		return "gateway timeout"
	case ClassServiceUnavailable:
		return "service unavailable"
	case ClassServerError:
		return "server error"
	case ClassClientError:
		return "client error"
	case ClassUnexpectedStatus:
		return "unexpected status"
	case ClassContentMismatch:
		return "wrong content"
	case ClassDNSError:
		return "DNS failure"
	case ClassConnectionRefused:
		return "connection refused"
	case ClassConnectionReset:
		return "connection reset"
	case ClassConnectTimeout:
		return "connect timeout"
	case ClassNetworkUnreachable:
		return "network unreachable"
	case ClassTLSError:
		return "TLS failure"
	case ClassTimeout:
		return "timeout"
	case ClassProtocolError:
		return "protocol error"
	case ClassTooManyRedirects:
		return "too many redirects"
	case ClassCertExpiring:
		return "certificate expiring"
	case ClassDegraded:
		return "slow"
	}
	return string(c)
}

// Phases are the durations of each step of the request, in milliseconds.
// A phase that did not happen (no DNS for an IP literal, no TLS for http) is 0.
type Phases struct {
	DNSMs     float64 `json:"dns_ms"`
	ConnectMs float64 `json:"connect_ms"`
	TLSMs     float64 `json:"tls_ms"`
	TTFBMs    float64 `json:"ttfb_ms"`
	TotalMs   float64 `json:"total_ms"`
}

// Of is the duration of one phase (a Phase* name) in milliseconds, 0 for
// an unknown name. Transfer is what the total leaves after the others:
// reading the body, and whatever else the probe spent after the first byte.
func (p Phases) Of(phase string) float64 {
	switch phase {
	case PhaseDNS:
		return p.DNSMs
	case PhaseConnect:
		return p.ConnectMs
	case PhaseTLS:
		return p.TLSMs
	case PhaseTTFB:
		return p.TTFBMs
	case PhaseTransfer:
		return max(0, p.TotalMs-p.DNSMs-p.ConnectMs-p.TLSMs-p.TTFBMs)
	case PhaseTotal:
		return p.TotalMs
	}
	return 0
}

// TLSInfo describes the leaf certificate the server presented, when TLS was
// used, even when verification failed (so an alert can say when it expired),
// and the certificate of the served chain that expires first.
type TLSInfo struct {
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Serial    string   `json:"serial,omitempty"` // the leaf's serial, hex with colons
	NotBefore Time     `json:"not_before"`
	NotAfter  Time     `json:"not_after"`
	DaysLeft  int      `json:"days_left"`
	DNSNames  []string `json:"dns_names,omitempty"`
	Version   string   `json:"version,omitempty"`
	// Earliest is the certificate, among all the server sent (leaf and
	// intermediates, as served, not as verified), whose not_after comes
	// first: an intermediate that expires before the leaf is caught here.
	// It is the leaf when the leaf expires first.
	Earliest *CertInfo `json:"earliest,omitempty"`
}

// CertInfo is one certificate of a served chain.
type CertInfo struct {
	Subject  string   `json:"subject"`
	Issuer   string   `json:"issuer"`
	Serial   string   `json:"serial"` // hex with colons, as openssl prints it
	NotAfter Time     `json:"not_after"`
	DaysLeft int      `json:"days_left"`
	DNSNames []string `json:"dns_names,omitempty"`
	// Depth is its place in the chain as served: 0 is the leaf.
	Depth int `json:"depth"`
}

// Evidence is what the class and gateway verdicts rest on, so a person can
// check the verdict instead of trusting it.
type Evidence struct {
	// Headers are the response header lines that mattered, as "Name: value".
	Headers []string `json:"headers"`
	// Body is a bounded excerpt of the response body.
	Body string `json:"body_excerpt"`
	// Markers say, one line each, which fact selected which verdict,
	// e.g. `body contains "<hr><center>nginx"`.
	Markers []string `json:"markers"`
	// Assertion is the expect_json or expect_header assertion that failed
	// (content_mismatch with detail json-path or header); nil otherwise.
	Assertion *Assertion `json:"assertion,omitempty"`
}

// Assertion says which assertion on a response failed, what it expected and
// what the response had instead. Found is bounded (a few hundred bytes).
type Assertion struct {
	// Kind is the detail token: json-path or header.
	Kind string `json:"kind"`
	// Path is the JSONPath (json-path) or the header name (header).
	Path string `json:"path"`
	// Expected is the assertion as written: `= "ok"`, `matches ^2\.`,
	// `contains application/json`, `~^text/`.
	Expected string `json:"expected"`
	// Found is what the response had: the JSON values the path selected,
	// "nothing" for a path that selects no node, the header's value, or
	// why the body could not be read as JSON ("body is not JSON: ...").
	Found string `json:"found"`
}

// Result is the outcome of one probe of one URL from one place. What a
// round of several vantages made of it is an Outcome (outcome.go).
//
// Fixes are chosen once per round, from all its facts (monitor/round): a
// probe leaves them empty, and a vantage's own result in an Outcome keeps
// whatever its agent sent.
type Result struct {
	URL        string   `json:"url"`
	OK         bool     `json:"ok"`
	Class      Class    `json:"class"`
	Status     int      `json:"status"`
	Gateway    string   `json:"gateway"`
	Via        []string `json:"via"`
	Detail     string   `json:"detail"`
	Error      string   `json:"error"`
	Phases     Phases   `json:"phases"`
	RemoteAddr string   `json:"remote_addr"`
	TLS        *TLSInfo `json:"tls,omitempty"`
	Evidence   Evidence `json:"evidence"`
	Fixes      []string `json:"fixes"`

	// Fields beyond the fixed contract.
	Method     string `json:"method,omitempty"`
	StartedAt  Time   `json:"started_at"`
	FinalURL   string `json:"final_url,omitempty"`
	Redirects  int    `json:"redirects"`
	BodyBytes  int64  `json:"body_bytes"`
	Truncated  bool   `json:"body_truncated"`
	RetryAfter string `json:"retry_after,omitempty"`
	// Pinned is set when the address dialled came from the check's resolve
	// pin (curl's --resolve), so no name was looked up: advice about the
	// host's DNS records does not fit it.
	Pinned bool `json:"pinned,omitempty"`
	// DNSServer is the DNS server ("ip:port") a failed lookup asked, as
	// far as the probe knows it: the resolver that answered or timed out,
	// which a custom resolver's Go error would misname.
	DNSServer string `json:"dns_server,omitempty"`
	// Refusal is set when the vantage declined to reach the destination by
	// its own policy (an agent's refuse_private). Class then stays
	// network_unreachable, which is what older coordinators make of it,
	// but the result says nothing about the target and is never a vote.
	Refusal *Refusal `json:"refusal,omitempty"`
}

// Refusal says which destination a vantage refused to dial, and why.
type Refusal struct {
	// Policy names the setting that refused, e.g. "refuse_private".
	Policy string `json:"policy"`
	// Destination is the address as dialled (after DNS and redirects).
	Destination string `json:"destination"`
	// Reason says, for a person, what is wrong with the destination.
	Reason string `json:"reason"`
}

// String is the refusal in one line, e.g. "destination 10.0.0.5 refused:
// private addresses are not allowed on this agent (refuse_private)".
func (r *Refusal) String() string {
	s := fmt.Sprintf("destination %s refused: %s", r.Destination, r.Reason)
	if r.Policy != "" {
		s += " (" + r.Policy + ")"
	}
	return s
}

// Scope says for whom a target is down.
type Scope string

// The scopes of a round's verdict.
const (
	ScopeNone     Scope = ""         // the target is up
	ScopeEveryone Scope = "everyone" // every healthy vantage that answered sees it down
	ScopePartial  Scope = "partial"  // some healthy vantages see it down, others up
	ScopeJustMe   Scope = "just_me"  // only impaired vantages see it down: our side
	ScopeUnknown  Scope = "unknown"  // no healthy vantage answered
)

// VantageStatus is how one vantage took part in a round.
type VantageStatus string

// The statuses of a vantage in a round.
const (
	VantageUp          VantageStatus = "up"          // healthy, saw the target up
	VantageDown        VantageStatus = "down"        // healthy, saw the target down
	VantageImpaired    VantageStatus = "impaired"    // its canaries fail: not a vote
	VantageUnreachable VantageStatus = "unreachable" // did not answer, or auth failed: not a vote
	VantageRefused     VantageStatus = "refused"     // declined the destination by its policy: not a vote
)

// Words is the status for people reading a vantage line.
func (s VantageStatus) Words() string {
	if s == VantageRefused {
		return "refused by policy"
	}
	return string(s)
}

// VantageLine is what one vantage saw in a round.
type VantageLine struct {
	Name   string        `json:"name"`
	Status VantageStatus `json:"status"`
	// Result is what the vantage's probe returned; nil when unreachable.
	Result *Result `json:"result,omitempty"`
	// Error says why a vantage is impaired, unreachable or refused.
	Error string `json:"error,omitempty"`
}

// Normalize replaces nil slices with empty ones so the JSON always has arrays,
// never null, for the fixed fields: consumers should not need null checks.
func (r *Result) Normalize() {
	if r.Via == nil {
		r.Via = []string{}
	}
	if r.Fixes == nil {
		r.Fixes = []string{}
	}
	if r.Evidence.Headers == nil {
		r.Evidence.Headers = []string{}
	}
	if r.Evidence.Markers == nil {
		r.Evidence.Markers = []string{}
	}
}

// Headline says in a few words what was seen, e.g.
// "502 from nginx (behind cloudflare), upstream refused" or "DNS failure: nxdomain".
// It is the one-line summary used by the CLI, logs and alert subjects.
func (r *Result) Headline() string {
	if r.OK {
		if r.Status > 0 {
			return fmt.Sprintf("up (%d)", r.Status)
		}
		return "up"
	}
	var b strings.Builder
	if r.Status > 0 {
		fmt.Fprintf(&b, "%d", r.Status)
		if r.Class == ClassContentMismatch {
			b.WriteString(" with wrong content")
		}
	} else {
		b.WriteString(r.Class.Words())
	}
	if r.Gateway != "" {
		fmt.Fprintf(&b, " from %s", r.Gateway)
		if len(r.Via) > 0 {
			fmt.Fprintf(&b, " (behind %s)", strings.Join(r.Via, ", "))
		}
	}
	if r.Detail != "" {
		fmt.Fprintf(&b, ", %s", strings.ReplaceAll(r.Detail, "-", " "))
	}
	return b.String()
}
