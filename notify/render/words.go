package render

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// Duration formats how long an incident lasted, coarsely, the way people
// say it: "45s", "4m 30s", "12m", "1h 5m", "2d 3h". Short outages keep
// their seconds because "1m" and "1m 59s" are different stories; long ones
// drop them because nobody reads them.
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 10*60:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm %ds", s/60, s%60)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 24*3600:
		if m := (s % 3600) / 60; m != 0 {
			return fmt.Sprintf("%dh %dm", s/3600, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	default:
		if h := (s % (24 * 3600)) / 3600; h != 0 {
			return fmt.Sprintf("%dd %dh", s/(24*3600), h)
		}
		return fmt.Sprintf("%dd", s/(24*3600))
	}
}

// timeFormat is how every time is shown: UTC, to the second, so an operator
// can line an alert up with log files without guessing the zone.
const timeFormat = "2006-01-02 15:04:05 UTC"

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// Verdict says in words for whom the message's subject is down, or how it
// ended: "down for everyone", "down from fra1 and iad1 only (up from
// local)", "resolved after 12m (recovered)", "impaired: ...". It is the
// phrase that follows "<monitor> is".
func Verdict(m *notify.Message) string {
	if m.Kind == incident.KindVantage {
		return vantageVerdict(m)
	}
	if m.Kind.Warning() {
		return warningVerdict(m)
	}
	if m.Event == incident.NotifyResolve {
		v := "back up after " + Duration(m.Duration())
		if r := m.Resolution; r != "" && r != "recovered" {
			v = "resolved after " + Duration(m.Duration()) + " (" + clipRunes(oneLine(r), 80) + ")"
		}
		return v
	}
	return scopeVerdict(m)
}

func scopeVerdict(m *notify.Message) string {
	switch scopeOf(m) {
	case result.ScopeEveryone:
		return "down for everyone"
	case result.ScopePartial:
		down, up := regions(m)
		v := "down from some places only"
		if len(down) > 0 {
			v = "down from " + andList(down) + " only"
		}
		if len(up) > 0 {
			v += " (up from " + andList(up) + ")"
		}
		return v
	case result.ScopeJustMe:
		return "down only as seen from our own network, whose vantages are impaired: probably our side, not the target"
	case result.ScopeUnknown:
		return "possibly down: no healthy vantage could check it"
	}
	return "down"
}

func scopeOf(m *notify.Message) result.Scope {
	if m.Scope != "" {
		return m.Scope
	}
	if m.Result != nil {
		return m.Result.Scope
	}
	return ""
}

// regions returns the vantages that see the target down (Message.Regions
// first, else the round's down votes) and those that see it up.
func regions(m *notify.Message) (down, up []string) {
	down = append(down, m.Regions...)
	if m.Result == nil {
		return down, nil
	}
	for _, v := range m.Result.Vantages {
		switch v.Status {
		case result.VantageDown:
			if len(m.Regions) == 0 {
				down = append(down, v.Name)
			}
		case result.VantageUp:
			up = append(up, v.Name)
		}
	}
	return down, up
}

// scopeTag is the scope in the title's brackets.
func scopeTag(m *notify.Message) string {
	switch scopeOf(m) {
	case result.ScopeEveryone:
		return "everyone"
	case result.ScopePartial:
		down, _ := regions(m)
		if len(down) == 0 {
			return "partial"
		}
		return "partial: " + clipRunes(strings.Join(down, ", "), 60)
	case result.ScopeJustMe:
		return "our network only"
	case result.ScopeUnknown:
		return "unconfirmed"
	}
	return ""
}

func andList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// vantageState reads a vantage incident's state and reason out of its
// detail, which the daemon writes as "vantage NAME is STATE: WHY; monitors
// it could not vote in: A, B".
func vantageState(m *notify.Message) (state, why string, monitors []string) {
	d := m.Detail
	if d == "" && m.Result != nil {
		d = m.Result.Detail
		if d == "" {
			d = m.Result.Error
		}
	}
	d, mons, ok := strings.Cut(d, "; monitors it could not vote in: ")
	if ok {
		for _, s := range strings.Split(mons, ",") {
			if s = strings.TrimSpace(s); s != "" {
				monitors = append(monitors, s)
			}
		}
	}
	if rest, ok := strings.CutPrefix(d, "vantage "+m.Monitor+" is "); ok {
		state, why, _ = strings.Cut(rest, ": ")
		return state, why, monitors
	}
	if rest, ok := strings.CutPrefix(d, "this host has lost its network: "); ok {
		return "", rest, monitors
	}
	return "", d, monitors
}

func vantageVerdict(m *notify.Message) string {
	if m.Monitor == incident.IsolationIncident {
		if m.Event == incident.NotifyResolve {
			return "back after " + Duration(m.Duration()) + ": this host has its network again"
		}
		return "down: this host has lost its network, so no check can tell whether a target is down until it is back"
	}
	if m.Event == incident.NotifyResolve {
		return "working again after " + Duration(m.Duration())
	}
	state, _, _ := vantageState(m)
	switch state {
	case "impaired":
		return "impaired: its canary checks fail, so what it sees of targets does not count"
	case "unreachable":
		return "unreachable: it does not answer or refuses our key, so it takes no part in checks"
	case "":
		return "not working, so what it sees of targets does not count"
	}
	return state + ", so what it sees of targets does not count"
}

// Summary is the failure in a few words, for the title and the lead:
// "502 from nginx, upstream refused", "DNS failure, name does not exist
// (NXDOMAIN)". It describes the message's verdict fields, falling back to
// its result.
func Summary(m *notify.Message) string {
	if m.Kind.Warning() {
		return warningSummary(m)
	}
	r := m.Result
	f := failure{class: m.Class, status: m.Status, gateway: m.Gateway, detail: m.Detail}
	if r != nil {
		if f.class == "" {
			f.class, f.status, f.gateway, f.detail = r.Class, r.Status, r.Gateway, r.Detail
		}
		if r.Gateway == f.gateway {
			f.via = r.Via
		}
		if r.Diagnosis != nil {
			f.findings = r.Diagnosis.Findings
		}
		f.origin = r.Diagnosis.OriginHeadline()
	}
	return f.summary()
}

// failure is what Summary needs of a message or a vantage's result.
type failure struct {
	class    result.Class
	status   int
	gateway  string
	via      []string
	detail   string
	findings []result.Finding
	origin   string // the diagnosis's direct probe of the origin, if any
}

// resultFailure is what one vantage's result says; the diagnosis is the
// round's, not the vantage's, so it has none.
func resultFailure(r *result.Result) failure {
	return failure{class: r.Class, status: r.Status, gateway: r.Gateway, via: r.Via, detail: r.Detail}
}

// statusFirst are the classes an HTTP status tells best.
func statusFirst(c result.Class) bool {
	switch c {
	case result.ClassBadGateway, result.ClassGatewayTimeout, result.ClassServiceUnavailable,
		result.ClassServerError, result.ClassClientError, result.ClassUnexpectedStatus:
		return true
	}
	return false
}

func (f failure) summary() string {
	var b strings.Builder
	switch {
	case f.class == result.ClassOK:
		b.WriteString("up")
		if f.status > 0 {
			fmt.Fprintf(&b, " (%d)", f.status)
		}
		return b.String()
	case f.status > 0 && statusFirst(f.class):
		fmt.Fprintf(&b, "%d", f.status)
		if f.gateway == "" {
			b.WriteString(" " + statusWords(f.status, f.class))
		}
	case f.class == result.ClassContentMismatch && f.status > 0:
		fmt.Fprintf(&b, "wrong content (HTTP %d)", f.status)
	case f.class != "":
		b.WriteString(f.class.Words())
	default:
		b.WriteString("down")
	}
	if f.gateway != "" {
		b.WriteString(" from " + f.gateway)
		if len(f.via) > 0 {
			b.WriteString(" (behind " + strings.Join(f.via, ", ") + ")")
		}
	} else if len(f.via) > 0 {
		b.WriteString(" (through " + strings.Join(f.via, ", ") + ")")
	}
	if w := detailWords(f.detail); w != "" {
		b.WriteString(", " + w)
	} else if w := findingWords(f.class, f.findings, f.origin); w != "" {
		b.WriteString(", " + w)
	}
	return b.String()
}

// statusWords is the status's reason phrase, lower-cased, or the class's
// words for codes with none (Cloudflare's 52x).
func statusWords(status int, c result.Class) string {
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return c.Words()
}

// detailWords turns a detail token into a few plain words. Tokens nobody
// has described yet keep their words with the hyphens dropped; free text
// (a vantage's reason) is clipped. A gateway vendor's tokens are described
// beside its fingerprints, in monitor/gateway (gateway.Words).
func detailWords(d string) string {
	switch d {
	case "":
		return ""
	// result's own tokens
	case result.DetailNXDomain:
		return "name does not exist (NXDOMAIN)"
	case result.DetailServFail:
		return "resolver failed (SERVFAIL)"
	case result.DetailNoAnswer:
		return "name has no address records"
	case result.DetailResolverTimeout:
		return "resolver did not answer"
	case result.DetailCertExpired:
		return "certificate expired"
	case result.DetailCertNotYetValid:
		return "certificate not yet valid"
	case result.DetailUnknownAuthority:
		return "certificate from an untrusted issuer"
	case result.DetailHostnameMismatch:
		return "certificate is for another name"
	case result.DetailHandshakeFailure:
		return "handshake failed"
	case result.DetailTLSHandshake:
		return "during the TLS handshake"
	case result.DetailSendingRequest:
		return "while sending the request"
	case result.DetailWaitingHeaders:
		return "no response headers in time"
	case result.DetailReadingBody:
		return "body stalled"
	case result.DetailConnect:
		return "no reply to the TCP SYN"
	case result.DetailHostUnreachable:
		return "host unreachable"
	case result.DetailNetUnreachable:
		return "no route to the network"
	case result.DetailResetBeforeResponse:
		return "reset before any response"
	case result.DetailResetReadingBody:
		return "reset while reading the body"
	case result.DetailClosedBeforeResp:
		return "closed before any response"
	case result.DetailMalformedResponse:
		return "malformed response"
	case result.DetailHeadersTooLarge:
		return "response headers too large"
	case result.DetailBadBody:
		return "broken body (chunking, length or gzip)"
	case result.DetailBodyMissingText:
		return "expected text missing"
	case result.DetailBodyRegexFailed:
		return "body does not match the pattern"
	case result.DetailJSONPath:
		return "a JSON assertion failed"
	case result.DetailHeader:
		return "a header assertion failed"
	case result.DetailRedirectLoop:
		return "redirect loop"
	case result.DetailRedirectLimit:
		return "redirect limit reached"
	}
	if w := gateway.Words(d); w != "" {
		return w
	}
	if isToken(d) {
		return strings.ReplaceAll(d, "-", " ")
	}
	return clipRunes(oneLine(d), 80)
}

func isToken(s string) bool {
	if len(s) > 48 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// findingWords is what the diagnosis adds to a summary when the response
// itself named no detail: a 502 from nginx whose origin refuses is
// "upstream refused", not a DNS failure.
func findingWords(c result.Class, fs []result.Finding, origin string) string {
	for _, f := range fs {
		switch f {
		case result.FindingUpstreamDown:
			switch {
			case strings.HasPrefix(origin, result.ClassConnectionRefused.Words()):
				return "upstream refused"
			case strings.HasPrefix(origin, result.ClassConnectTimeout.Words()), strings.HasPrefix(origin, result.ClassTimeout.Words()):
				return "upstream not answering"
			}
			return "upstream down"
		case result.FindingUpstreamError:
			return "app behind it failing"
		case result.FindingGatewayPath:
			return "path to the upstream broken"
		}
	}
	for _, f := range fs {
		switch f {
		case result.FindingDNSDisagreement:
			return "resolvers disagree"
		case result.FindingDNSFailure:
			if c != result.ClassDNSError { // a DNS failure says so already
				return "no resolver answers"
			}
		case result.FindingConnectFailed:
			switch c {
			case result.ClassConnectionRefused, result.ClassConnectTimeout, result.ClassNetworkUnreachable:
			default:
				return "no address accepts connections"
			}
		}
	}
	return ""
}

// findingLabel names a finding for the diagnosis section.
func findingLabel(f result.Finding) string {
	switch f {
	case result.FindingUpstreamDown:
		return "Upstream down"
	case result.FindingUpstreamError:
		return "Application failing"
	case result.FindingGatewayPath:
		return "Path from the gateway to the upstream broken"
	case result.FindingDNSDisagreement:
		return "DNS resolvers disagree"
	case result.FindingDNSFailure:
		return "DNS fails from every resolver"
	case result.FindingConnectFailed:
		return "No address accepts a connection"
	}
	return strings.ReplaceAll(string(f), "-", " ")
}

// explain says what the class means, in a sentence an on-call person
// can act on without knowing the class names.
func explain(c result.Class, gw string) string {
	hop := "a proxy in front of the app"
	if gw != "" {
		hop = gw
	}
	switch c {
	case result.ClassBadGateway:
		return hop + " could not get a valid response from the server behind it (refused, reset or broken reply)"
	case result.ClassGatewayTimeout:
		return hop + " gave up waiting for the server behind it"
	case result.ClassServiceUnavailable:
		if gw != "" {
			return gw + " has no healthy server to pass the request to, or the app says it is overloaded or in maintenance"
		}
		return "the service says it is unavailable: overloaded, in maintenance, or without a healthy backend"
	case result.ClassServerError:
		return "the server failed while handling the request"
	case result.ClassClientError:
		return "the server rejected the request: wrong URL, missing authorisation or rate limiting"
	case result.ClassUnexpectedStatus:
		return "the server answered with a status the monitor does not expect"
	case result.ClassContentMismatch:
		return "the page loads but does not contain what the monitor expects"
	case result.ClassDNSError:
		return "the hostname does not resolve to an address"
	case result.ClassConnectionRefused:
		return "the host is reachable but nothing accepts connections on the port"
	case result.ClassConnectionReset:
		return "the connection was cut by the server or something on the path"
	case result.ClassConnectTimeout:
		return "the TCP connection got no answer in time: host down or packets dropped by a firewall"
	case result.ClassNetworkUnreachable:
		return "there is no network route to the host"
	case result.ClassTLSError:
		return "the secure (TLS) connection could not be set up"
	case result.ClassTimeout:
		return "the server accepted the connection but the response did not arrive in time"
	case result.ClassProtocolError:
		return "the server's answer is not valid HTTP"
	case result.ClassTooManyRedirects:
		return "the URL keeps redirecting and never reaches a page"
	case result.ClassOK:
		return "the check passes"
	}
	return string(c)
}
