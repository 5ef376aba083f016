// Package fixes is the project's knowledge base of next steps for an
// operator, keyed by class, gateway and evidence, and by what was dialled;
// and of the steps for our own vantages' trouble, keyed by why their
// canaries fail.
//
// The knowledge itself lives in kb.go and vantage.go as reviewed Go tables;
// this file holds the small engine that decides which entries a result
// selects, orders them most specific first and fills their templates from
// the result.
package fixes

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// MaxSteps bounds how many steps Suggest returns: an alert that lists more
// than a handful of things to try gets none of them read.
const MaxSteps = 6

// MaxStepLen bounds one step, in runes, so a pathological hostname cannot
// blow up an alert line.
const MaxStepLen = 200

// Suggest returns ordered next steps for r, most specific first, given what
// the round's follow-up diagnosis d found (nil when there was none). A round
// calls it once, at its end, when every fact is known (monitor/round).
//
// Steps come from every knowledge-base entry whose conditions all hold for
// the facts, ordered by how specific the entry is (ties keep table order),
// with placeholders filled from them; an entry that another selected entry
// rules out is left out. A step whose placeholder has no value is left out
// rather than shown half-filled. The result is de-duplicated and at most
// MaxSteps long; a passing result gets nil.
func Suggest(r *result.Result, d *result.Diagnosis) []string {
	if r == nil || r.OK || r.Class == result.ClassOK {
		return nil
	}
	if steps, ok := warningSteps(r); ok {
		return steps
	}
	k := &known{Result: r, diag: d}
	return suggest(k, knowledge, newFacts(k))
}

// suggest renders the steps of the entries of table that k selects.
func suggest(k *known, table []entry, facts facts) []string {
	var out []string
	seen := make(map[string]bool)
	for _, e := range selectFrom(k, table) {
		for _, tmpl := range e.steps {
			if !fits(tmpl, k) {
				continue
			}
			step, ok := facts.render(tmpl)
			if !ok || seen[step] {
				continue
			}
			seen[step] = true
			out = append(out, step)
			if len(out) == MaxSteps {
				return out
			}
		}
	}
	return out
}

// known is every fact a round has when fixes are chosen: its result and
// the diagnosis (nil when none was made).
type known struct {
	*result.Result
	diag *result.Diagnosis
	dest *destination // what was dialled, worked out on first use
	// trouble is set when the steps are for one of our own vantages
	// (ForVantage); Result is then its failing canary's, if any.
	trouble *VantageTrouble
	// warned is set when the steps are for a certificate or performance
	// warning (ForCertificate, ForPerformance in warning.go).
	warned *warned
}

// destination is what the result says about the address the check dialled,
// worked out once from the URL, the remote address and the pin, so that
// entries choose steps that fit it by a condition instead of each template
// guessing from the host's spelling.
type destination struct {
	// addr is the address dialled: the remote address, else a host that is
	// an IP literal; invalid when neither is known.
	addr netip.Addr
	// named is set when a name was looked up to reach the target: the host
	// is not an IP literal and no resolve pin chose the address. Only then
	// can its DNS record be the fault.
	named bool
	// ipHost is set when the URL's host is an IP literal: the client sends
	// no SNI, and a certificate can only match it by an IP SAN.
	ipHost bool
}

func (k *known) destination() *destination {
	if k.dest != nil {
		return k.dest
	}
	d := &destination{}
	host := ""
	if u, err := url.Parse(k.URL); err == nil {
		host = u.Hostname()
	}
	lit, litErr := netip.ParseAddr(host)
	d.named = host != "" && litErr != nil && !k.Pinned
	d.ipHost = litErr == nil
	if ap, err := netip.ParseAddrPort(k.RemoteAddr); err == nil {
		d.addr = ap.Addr().Unmap()
	} else if litErr == nil {
		d.addr = lit.Unmap()
	}
	k.dest = d
	return d
}

// Kinds of address a check can dial, for binding and firewall advice.
type addrKind int

const (
	addrUnknown  addrKind = iota // no remote address and a host name
	addrLoopback                 // 127.0.0.0/8, ::1: the host the check ran on
	addrPrivate                  // RFC 1918, fc00::/7, link-local: one interface of a private network
	addrPublic
)

func (d *destination) kind() addrKind {
	switch a := d.addr; {
	case !a.IsValid():
		return addrUnknown
	case a.IsLoopback():
		return addrLoopback
	case a.IsPrivate() || a.IsLinkLocalUnicast():
		return addrPrivate
	}
	return addrPublic
}

// entry is one piece of operator knowledge: when every condition holds, its
// steps apply, in order.
type entry struct {
	id    string
	when  []cond
	steps []string
	// rulesOut names the entries whose steps the facts of this one exclude
	// (an nginx 502 whose origin refuses the connection is not a too big
	// header): when this entry is selected, they are not.
	rulesOut []string
}

// weight is the entry's specificity: the sum of its conditions' weights.
func (e entry) weight() int {
	w := 0
	for _, c := range e.when {
		w += c.weight
	}
	return w
}

func (e entry) matches(r *known) bool {
	for _, c := range e.when {
		if !c.test(r) {
			return false
		}
	}
	return true
}

// selectEntries returns the knowledge base's entries the facts select, most
// specific first.
func selectEntries(r *known) []entry { return selectFrom(r, knowledge) }

// selectFrom returns the entries of table the facts select, most specific
// first.
func selectFrom(r *known, table []entry) []entry {
	var sel []entry
	out := make(map[string]bool)
	for _, e := range table {
		if e.matches(r) {
			sel = append(sel, e)
			for _, id := range e.rulesOut {
				out[id] = true
			}
		}
	}
	if len(out) > 0 {
		sel = slices.DeleteFunc(sel, func(e entry) bool { return out[e.id] })
	}
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].weight() > sel[j].weight() })
	return sel
}

// fits reports whether step suits the target of k: a step listed in
// stepFits is left out unless all its conditions hold.
func fits(step string, k *known) bool {
	for _, c := range stepFits[step] {
		if !c.test(k) {
			return false
		}
	}
	return true
}

// cond is one fact an entry requires. A new kind of fact (say, how many
// vantages saw the failure) is a new constructor below; entries and the
// engine need no other change.
type cond struct {
	// name describes the fact for test failures and review, e.g. "class=dns_error".
	name string
	// weight ranks how much the fact narrows the diagnosis: a vendor detail
	// token says far more than a class shared by every proxy.
	weight int
	test   func(*known) bool
}

// Condition weights. Only their order matters.
const (
	wClass    = 1
	wStatus   = 1
	wFact     = 1 // a present/absent fact such as Retry-After or a certificate
	wGateway  = 2
	wVia      = 2
	wEvidence = 3
	wDetail   = 4
	// What the follow-up diagnosis saw (the origin probed directly, the
	// resolvers compared) says more than anything the response itself
	// carries.
	wDiagnosis = 5
)

func class(cs ...result.Class) cond {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = string(c)
	}
	return cond{"class=" + strings.Join(names, "|"), wClass, func(r *known) bool {
		for _, c := range cs {
			if r.Class == c {
				return true
			}
		}
		return false
	}}
}

func status(codes ...int) cond {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = strconv.Itoa(c)
	}
	return cond{"status=" + strings.Join(names, "|"), wStatus, func(r *known) bool {
		for _, c := range codes {
			if r.Status == c {
				return true
			}
		}
		return false
	}}
}

// gw requires the hop that generated the response to be g.
func gw(g string) cond {
	return cond{"gateway=" + g, wGateway, func(r *known) bool { return r.Gateway == g }}
}

// onPath requires g to be the generating hop or one of the outer hops.
func onPath(g string) cond {
	return cond{"on-path=" + g, wVia, func(r *known) bool {
		if r.Gateway == g {
			return true
		}
		for _, v := range r.Via {
			if v == g {
				return true
			}
		}
		return false
	}}
}

// via requires g among the outer hops that relayed the response.
func via(g string) cond {
	return cond{"via=" + g, wVia, func(r *known) bool {
		for _, v := range r.Via {
			if v == g {
				return true
			}
		}
		return false
	}}
}

// noGateway requires that no hop was recognised as the generator: with an
// outer hop in Via, the origin itself produced the response.
func noGateway() cond {
	return cond{"no-gateway", wFact, func(r *known) bool { return r.Gateway == "" }}
}

// relayed requires a recognised gateway behind at least one outer hop. It
// weighs as much as a gateway plus a class, because "the CDN only relayed
// this" is the first thing to know before the gateway's own steps.
func relayed() cond {
	return cond{"relayed", wGateway + wClass, func(r *known) bool { return r.Gateway != "" && len(r.Via) > 0 }}
}

// detail requires r.Detail to be one of ds.
func detail(ds ...string) cond {
	return cond{"detail=" + strings.Join(ds, "|"), wDetail, func(r *known) bool {
		for _, d := range ds {
			if r.Detail == d {
				return true
			}
		}
		return false
	}}
}

// header requires an evidence header line named name (case-insensitive).
func header(name string) cond {
	return cond{"header=" + name, wEvidence, func(r *known) bool { return hasHeader(r, name) }}
}

// noHeader requires that no evidence header line is named name. It is a weak
// fact on its own (evidence may simply not have been kept), so it weighs little.
func noHeader(name string) cond {
	return cond{"no-header=" + name, wFact, func(r *known) bool { return !hasHeader(r, name) }}
}

func hasHeader(r *known, name string) bool {
	for _, h := range r.Evidence.Headers {
		n, _, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}

// body requires the body excerpt to contain s (case-insensitive).
func body(s string) cond {
	ls := strings.ToLower(s)
	return cond{"body~" + s, wEvidence, func(r *known) bool {
		return strings.Contains(strings.ToLower(r.Evidence.Body), ls)
	}}
}

// evidence requires the body excerpt or a marker to contain s
// (case-insensitive). Gateway identification quotes the vendor's own words
// (an Envoy reset reason, say) in a marker even when the body is not kept.
func evidence(s string) cond {
	ls := strings.ToLower(s)
	return cond{"evidence~" + s, wEvidence, func(r *known) bool {
		if strings.Contains(strings.ToLower(r.Evidence.Body), ls) {
			return true
		}
		for _, m := range r.Evidence.Markers {
			if strings.Contains(strings.ToLower(m), ls) {
				return true
			}
		}
		return false
	}}
}

// found requires the round's diagnosis to have found f.
func found(f result.Finding) cond {
	return cond{"finding=" + string(f), wDiagnosis, func(r *known) bool { return r.diag.Has(f) }}
}

// originSaw requires the diagnosis's direct probe of the origin to have
// ended in one of cs.
func originSaw(cs ...result.Class) cond {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = string(c)
	}
	return cond{"origin=" + strings.Join(names, "|"), wDiagnosis, func(r *known) bool {
		return r.diag != nil && r.diag.Origin != nil && slices.Contains(cs, r.diag.Origin.Result.Class)
	}}
}

// Facts about the destination say which steps fit it, not what is wrong:
// they are the conditions of steps (stepFits in kb.go), which keep their
// entry's order, and weigh as little as any fact if an entry uses one.
const wDestination = wFact

// nameLookedUp requires that a name was resolved to reach the target: a
// host that is an IP literal, or pinned to an address, has no DNS record to
// blame.
func nameLookedUp() cond {
	return cond{"name-looked-up", wDestination, func(r *known) bool { return r.destination().named }}
}

// noNameLookedUp is nameLookedUp's opposite.
func noNameLookedUp() cond {
	return cond{"no-name-looked-up", wDestination, func(r *known) bool { return !r.destination().named }}
}

// hostIsIP requires the URL's host to be an IP literal (ip) or a name (!ip).
func hostIsIP(ip bool) cond {
	return cond{"host-is-ip=" + strconv.FormatBool(ip), wDestination, func(r *known) bool { return r.destination().ipHost == ip }}
}

// dialled requires the address dialled to be of one of the kinds ks.
func dialled(ks ...addrKind) cond {
	names := map[addrKind]string{addrUnknown: "unknown", addrLoopback: "loopback", addrPrivate: "private", addrPublic: "public"}
	ns := make([]string, len(ks))
	for i, k := range ks {
		ns[i] = names[k]
	}
	return cond{"dialled=" + strings.Join(ns, "|"), wDestination, func(r *known) bool {
		return slices.Contains(ks, r.destination().kind())
	}}
}

// retryAfter requires the response to have carried Retry-After.
func retryAfter() cond {
	return cond{"retry-after", wFact, func(r *known) bool { return r.RetryAfter != "" }}
}

// dnsServerKnown requires the result to name the DNS server its lookup
// asked.
func dnsServerKnown() cond {
	return cond{"dns-server", wFact, func(r *known) bool { return r.DNSServer != "" }}
}

// certSeen requires the leaf certificate to have been captured.
func certSeen() cond {
	return cond{"tls-cert", wFact, func(r *known) bool { return r.TLS != nil && !r.TLS.NotAfter.IsZero() }}
}

// certNames requires the captured certificate to list DNS names.
func certNames() cond {
	return cond{"tls-dns-names", wFact, func(r *known) bool { return r.TLS != nil && len(r.TLS.DNSNames) > 0 }}
}

// redirectedTo requires the final URL to contain s (case-insensitive), e.g.
// "login" for a check that ended on a sign-in page.
func redirectedTo(s string) cond {
	ls := strings.ToLower(s)
	return cond{"final-url~" + s, wVia, func(r *known) bool {
		return r.FinalURL != "" && r.FinalURL != r.URL && strings.Contains(strings.ToLower(r.FinalURL), ls)
	}}
}

// placeholder matches a template field such as {host}. Only lowercase names
// with underscores, so braces in config syntax like "upstream{}" stay literal.
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Bounds on values that come from a certificate, so a step stays readable.
const (
	maxNames     = 5  // certificate names listed
	maxNamesLen  = 80 // runes of certificate names listed
	maxIssuerLen = 64
)

// issuerName shortens an issuer DN to its common name, which names the
// issuing CA (e.g. "R11"), falling back to the whole DN.
func issuerName(dn string) string {
	for _, part := range strings.Split(dn, ",") {
		if cn, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok && cn != "" {
			dn = cn
			break
		}
	}
	if rs := []rune(dn); len(rs) > maxIssuerLen {
		return string(rs[:maxIssuerLen-1]) + "…"
	}
	return dn
}

// nameList joins the first certificate names that fit the bounds and says
// how many were left out.
func nameList(names []string) string {
	var b strings.Builder
	n := 0
	for _, name := range names {
		if n == maxNames || (n > 0 && utf8.RuneCountInString(b.String())+2+utf8.RuneCountInString(name) > maxNamesLen) {
			break
		}
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		n++
	}
	if rest := len(names) - n; rest > 0 {
		if n == 0 {
			return strconv.Itoa(rest) + " names"
		}
		fmt.Fprintf(&b, " and %d more", rest)
	}
	return b.String()
}

// facts are the template values taken from one result; a missing value is "".
type facts map[string]string

func newFacts(r *known) facts {
	f := facts{
		"url":         r.URL,
		"final_url":   r.FinalURL,
		"gateway":     r.Gateway,
		"via":         strings.Join(r.Via, ", "),
		"detail":      r.Detail,
		"retry_after": r.RetryAfter,
	}
	if r.Status > 0 {
		f["status"] = strconv.Itoa(r.Status)
	}
	if u, err := url.Parse(r.URL); err == nil && u.Hostname() != "" {
		f["host"] = u.Hostname()
		port := u.Port()
		if port == "" {
			switch strings.ToLower(u.Scheme) {
			case "https":
				port = "443"
			case "http":
				port = "80"
			}
		}
		f["port"] = port
	}
	if ip, port, err := net.SplitHostPort(r.RemoteAddr); err == nil && ip != "" {
		f["ip"] = ip
		// The port actually dialled wins over the URL's: a pinned --resolve
		// address or a proxy may have sent the check elsewhere.
		if port != "" {
			f["port"] = port
		}
	}
	if f["ip"] == "" {
		if a := r.destination().addr; a.IsValid() {
			f["ip"] = a.String() // the host is an IP literal: that is what was dialled
		}
	}
	switch {
	case r.RemoteAddr != "":
		f["target"] = r.RemoteAddr
	case f["host"] != "" && f["port"] != "":
		f["target"] = net.JoinHostPort(f["host"], f["port"])
	}
	if ip, port, err := net.SplitHostPort(r.DNSServer); err == nil {
		// The DNS server the lookup asked, which is not always this
		// host's (a configured resolver, an agent's, the demo's).
		f["dns_server"], f["dns_ip"], f["dns_port"] = r.DNSServer, ip, port
	}
	if r.diag != nil && r.diag.Origin != nil {
		f["origin"] = r.diag.Origin.URL
	}
	if t := r.TLS; t != nil {
		if !t.NotAfter.IsZero() {
			f["not_after"] = t.NotAfter.UTC().Format("2006-01-02")
		}
		if !t.NotBefore.IsZero() {
			f["not_before"] = t.NotBefore.UTC().Format("2006-01-02")
		}
		f["issuer"] = issuerName(t.Issuer)
		f["dns_names"] = nameList(t.DNSNames)
	}
	return f
}

// render fills tmpl's placeholders and bounds the result. It reports false
// when a placeholder has no value, so the caller can drop the step instead of
// showing "{host}".
func (f facts) render(tmpl string) (string, bool) {
	out, ok := f.fill(tmpl)
	if !ok {
		return "", false
	}
	return clip(out), true
}

func (f facts) fill(tmpl string) (string, bool) {
	ok := true
	out := placeholder.ReplaceAllStringFunc(tmpl, func(p string) string {
		v := f[p[1:len(p)-1]]
		if v == "" {
			ok = false
		}
		return v
	})
	return out, ok
}

// clip bounds a step to MaxStepLen runes, marking the cut.
func clip(s string) string {
	if len(s) <= MaxStepLen { // bytes ≥ runes, so this is the common fast path
		return s
	}
	rs := []rune(s)
	if len(rs) <= MaxStepLen {
		return s
	}
	return string(rs[:MaxStepLen-1]) + "…"
}
