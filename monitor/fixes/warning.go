package fixes

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// CertWarning is what the fixes of a certificate warning are chosen from
// (monitor/warning decides the warning; this file knows what to do about it).
type CertWarning struct {
	// Result is the round's result: its URL, gateway and Via.
	Result *result.Result
	// Cert is the certificate that expires first among those served to the
	// vantages that saw the warning.
	Cert result.CertInfo
	// Saw names the vantages that were served a certificate under the
	// threshold, in the round's order. Partial is set when other vantages
	// were served a later one.
	Saw     []string
	Partial bool
	// From is the vantage to check from (one of Saw, result.LocalVantage
	// for this host), Addr the address it dialled ("ip:port").
	From, Addr string
}

// SlowWarning is what the fixes of a performance warning are chosen from.
type SlowWarning struct {
	// Result is the round's result: its URL.
	Result *result.Result
	// Phase is the slow phase (a result.Phase* name).
	Phase string
	// Slow names the healthy vantages over the phase's threshold, Fast the
	// healthy ones under it, in the round's order.
	Slow, Fast []string
	// From is a slow vantage to look from, Addr the address it dialled,
	// BodyBytes the size of the body it read.
	From, Addr string
	BodyBytes  int64
}

// ForCertificate returns ordered next steps for a certificate under a
// cert_warn_days threshold, at most MaxSteps, chosen from certKnowledge by
// the same rules as Suggest.
func ForCertificate(w CertWarning) []string {
	k, f := warnFacts(w.Result, &warned{cert: &w})
	return suggest(k, certKnowledge, f)
}

// ForPerformance returns ordered next steps for a phase over its degraded
// threshold, at most MaxSteps, chosen from slowKnowledge.
func ForPerformance(w SlowWarning) []string {
	k, f := warnFacts(w.Result, &warned{slow: &w})
	return suggest(k, slowKnowledge, f)
}

// warningSteps are the steps of a result whose class is a warning's
// (cert_expiring, degraded) when it comes to Suggest without its warning:
// the same tables, with the result as what this host saw. A round's own
// result never has those classes; monitor/warning gives the tables what
// each vantage saw instead.
func warningSteps(r *result.Result) ([]string, bool) {
	switch r.Class {
	case result.ClassCertExpiring:
		w := CertWarning{Result: r, Saw: []string{result.LocalVantage}, From: result.LocalVantage, Addr: r.RemoteAddr}
		if t := r.TLS; t != nil {
			switch {
			case t.Earliest != nil:
				w.Cert = *t.Earliest
			default:
				w.Cert = result.CertInfo{Subject: t.Subject, Issuer: t.Issuer, Serial: t.Serial, NotAfter: t.NotAfter, DNSNames: t.DNSNames}
			}
		}
		return ForCertificate(w), true
	case result.ClassDegraded:
		return ForPerformance(SlowWarning{
			Result: r, Phase: r.Detail, Slow: []string{result.LocalVantage},
			From: result.LocalVantage, Addr: r.RemoteAddr, BodyBytes: r.BodyBytes,
		}), true
	}
	return nil, false
}

// warned is the warning a round's fixes are for: one of cert and slow is
// set.
type warned struct {
	cert *CertWarning
	slow *SlowWarning
	// cdn is the CDN that manages the certificate, worked out once.
	cdn *cdnVendor
}

// cdnVendor is a CDN that issues and renews the certificates of its edges
// itself, and where its operator looks at them.
type cdnVendor struct {
	name, where string
	// gateways are the monitor/gateway names that say a response came
	// through it; marks the words in a certificate's issuer or subject
	// that say it issued the certificate.
	gateways []string
	marks    []string
}

// cdnVendors are the CDNs whose managed certificates have no renewal job
// on the operator's side: advice about certbot does not fit them.
//
// It is never written after initialisation.
var cdnVendors = []cdnVendor{
	{name: "Cloudflare", where: "SSL/TLS → Edge Certificates", gateways: []string{gateway.Cloudflare}, marks: []string{"cloudflare"}},
	{name: "AWS", where: "ACM: its renewal status", gateways: []string{gateway.CloudFront}, marks: []string{"amazon"}},
	{name: "Fastly", where: "Secure → TLS management", gateways: []string{gateway.Fastly}, marks: []string{"fastly", "certainly"}},
	{name: "Akamai", where: "the Certificate Provisioning System (CPS)", gateways: []string{gateway.Akamai}, marks: []string{"akamai"}},
}

// managedBy is the CDN that manages the warned certificate: the round went
// through it (Gateway or Via name it), or the certificate's issuer or
// subject name it. Nil when none does.
func (w *warned) managedBy(r *result.Result) *cdnVendor {
	if w.cdn != nil || w.cert == nil {
		return w.cdn
	}
	dn := strings.ToLower(w.cert.Cert.Issuer + " " + w.cert.Cert.Subject)
	for i := range cdnVendors {
		v := &cdnVendors[i]
		for _, g := range v.gateways {
			if r.Gateway == g || slices.Contains(r.Via, g) {
				w.cdn = v
				return v
			}
		}
		for _, m := range v.marks {
			if strings.Contains(dn, m) {
				w.cdn = v
				return v
			}
		}
	}
	return nil
}

// acmeIssuer reports whether the issuer DN is a CA that issues by ACME to
// anyone's client: Let's Encrypt, ZeroSSL, Buypass, and Google Trust
// Services' ACME intermediates (WR*, WE*; its other intermediates sign
// Google's own and its customers' managed certificates).
func acmeIssuer(dn string) bool {
	l := strings.ToLower(dn)
	for _, ca := range []string{"let's encrypt", "zerossl", "buypass"} {
		if strings.Contains(l, ca) {
			return true
		}
	}
	if strings.Contains(l, "google trust services") {
		cn := strings.ToUpper(issuerName(dn))
		return strings.HasPrefix(cn, "WR") || strings.HasPrefix(cn, "WE")
	}
	return false
}

// warnFacts are the facts of a warning and the template values taken from
// them: the round's result's, the warned certificate's in place of the
// leaf's, and {vantage} {vantages} {remote} {remote_ip} {fast} {slow}
// {subject} {cdn} {cdn_where} {body_bytes} {phase}.
func warnFacts(r *result.Result, w *warned) (*known, facts) {
	res := result.Result{}
	if r != nil {
		res = *r
	}
	k := &known{Result: &res, warned: w}
	f := newFacts(k)
	var from, addr string
	switch {
	case w.cert != nil:
		c := &w.cert.Cert
		from, addr = w.cert.From, w.cert.Addr
		f["vantages"] = AndList(w.cert.Saw)
		f["issuer"] = issuerName(c.Issuer)
		f["subject"] = issuerName(c.Subject) // the common name, as for the issuer
		f["dns_names"] = nameList(c.DNSNames)
		f["not_after"] = ""
		if !c.NotAfter.IsZero() {
			f["not_after"] = c.NotAfter.UTC().Format("2006-01-02")
		}
		if v := w.managedBy(&res); v != nil {
			f["cdn"], f["cdn_where"] = v.name, v.where
		}
	case w.slow != nil:
		from, addr = w.slow.From, w.slow.Addr
		f["slow"] = AndList(w.slow.Slow)
		f["fast"] = AndList(w.slow.Fast)
		f["phase"] = result.PhaseLabel(w.slow.Phase)
		if w.slow.BodyBytes > 0 {
			f["body_bytes"] = strconv.FormatInt(w.slow.BodyBytes, 10)
		}
	}
	f["vantage"] = from
	if from == result.LocalVantage {
		f["vantage"] = "this host"
	}
	if addr == "" {
		addr = f["target"]
	}
	f["remote"] = addr
	if ip, _, err := net.SplitHostPort(addr); err == nil {
		f["remote_ip"] = ip
	}
	// curl's --write-out variables are written in braces too: they fill in
	// as themselves, so the command stays as curl wants it.
	for _, v := range curlVars {
		f[v] = "{" + v + "}"
	}
	return k, f
}

// curlVars are the curl --write-out variables the steps use. It is never
// written after initialisation.
var curlVars = []string{"size_download", "speed_download", "time_namelookup", "time_connect", "time_appconnect", "time_starttransfer", "time_total"}

// AndList joins names as people write them: "fra1", "fra1 and iad1",
// "fra1, iad1 and sgp1".
func AndList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Conditions on a warning.

func certWarned() cond {
	return cond{"cert-warning", wFact, func(r *known) bool { return r.warned != nil && r.warned.cert != nil }}
}

// acmeIssued requires the warned certificate to come from an ACME CA.
func acmeIssued() cond {
	return cond{"acme-issuer", wEvidence, func(r *known) bool {
		return r.warned != nil && r.warned.cert != nil && acmeIssuer(r.warned.cert.Cert.Issuer)
	}}
}

// cdnManaged requires the warned certificate to be a CDN's managed one.
func cdnManaged() cond {
	return cond{"cdn-managed", wEvidence, func(r *known) bool {
		return r.warned != nil && r.warned.managedBy(r.Result) != nil
	}}
}

// notCDNManaged is cdnManaged's opposite.
func notCDNManaged() cond {
	return cond{"not-cdn-managed", wFact, func(r *known) bool {
		return r.warned != nil && r.warned.managedBy(r.Result) == nil
	}}
}

// intermediateFirst requires the certificate that expires first to be an
// intermediate of the served chain, not the leaf.
func intermediateFirst() cond {
	return cond{"intermediate", wDetail, func(r *known) bool {
		return r.warned != nil && r.warned.cert != nil && r.warned.cert.Cert.Depth > 0
	}}
}

// leafFirst is intermediateFirst's opposite.
func leafFirst() cond {
	return cond{"leaf", wFact, func(r *known) bool {
		return r.warned != nil && r.warned.cert != nil && r.warned.cert.Cert.Depth == 0
	}}
}

// servedToSome requires other vantages to have been served a later
// certificate: what the vantages saw apart says as much as a diagnosis.
func servedToSome() cond {
	return cond{"served-to-some", wDiagnosis, func(r *known) bool {
		return r.warned != nil && r.warned.cert != nil && r.warned.cert.Partial
	}}
}

// slowIn requires the slow phase to be one of ps.
func slowIn(ps ...string) cond {
	return cond{"slow=" + strings.Join(ps, "|"), wDetail, func(r *known) bool {
		return r.warned != nil && r.warned.slow != nil && slices.Contains(ps, r.warned.slow.Phase)
	}}
}

// slowFromSome requires some healthy vantages to be fast: the path from
// the slow ones, not the target itself.
func slowFromSome() cond {
	return cond{"slow-from-some", wDiagnosis, func(r *known) bool {
		return r.warned != nil && r.warned.slow != nil && len(r.warned.slow.Fast) > 0 && len(r.warned.slow.Slow) > 0
	}}
}

// slowFromAll requires every healthy vantage, two at least, to be slow:
// the target itself.
func slowFromAll() cond {
	return cond{"slow-from-all", wDiagnosis, func(r *known) bool {
		return r.warned != nil && r.warned.slow != nil && len(r.warned.slow.Fast) == 0 && len(r.warned.slow.Slow) > 1
	}}
}

// slowUnknown requires the slow phase to be none of result.AllPhases: a
// result that does not say which.
func slowUnknown() cond {
	return cond{"slow=unknown", wFact, func(r *known) bool {
		return r.warned != nil && r.warned.slow != nil && !slices.Contains(result.AllPhases(), r.warned.slow.Phase)
	}}
}

// bodyKnown requires the slow vantage's body size to be known.
func bodyKnown() cond {
	return cond{"body-bytes", wFact, func(r *known) bool {
		return r.warned != nil && r.warned.slow != nil && r.warned.slow.BodyBytes > 0
	}}
}

// stepOpenSSLFrom reads the certificate a vantage is served, as it is
// served to it: the address it dialled and the name it asked for.
const stepOpenSSLFrom = "From {vantage}: openssl s_client -connect {remote} -servername {host} </dev/null 2>/dev/null | openssl x509 -noout -serial -enddate -issuer"

// certKnowledge is the knowledge of a certificate about to expire, keyed by
// who issued it, where it is served and which certificate of the chain it
// is. The rules for knowledge apply; placeholders are a result's and those
// of warnFacts. Every entry has a case in warning_test.go.
//
// It is never written after initialisation.
var certKnowledge = []entry{
	{
		// Some vantages were served a later certificate: the renewal ran,
		// and one place behind the name did not get it.
		id:   "cert-served-to-some",
		when: []cond{certWarned(), servedToSome()},
		steps: []string{
			"Served only to {vantages}: one edge or backend behind {host} still serves the old certificate: find it with the openssl command below and reload it.",
		},
	},
	{
		id:   "cert-intermediate",
		when: []cond{certWarned(), intermediateFirst()},
		steps: []string{
			"The server sends an old intermediate ({subject}, expires {not_after}): update the chain file (fullchain.pem) and reload; the leaf itself is not the one expiring.",
		},
	},
	{
		// A CDN's managed certificate renews at the CDN: there is no job
		// of the operator's to fix, whoever the CA.
		id:       "cert-cdn",
		when:     []cond{certWarned(), cdnManaged()},
		rulesOut: []string{"cert-acme", "cert-renew"},
		steps: []string{
			"{cdn}'s dashboard manages this certificate: check its edge certificate status there ({cdn_where}); a stuck renewal usually fails DCV or CAA.",
		},
	},
	{
		id:       "cert-acme",
		when:     []cond{certWarned(), acmeIssued(), leafFirst()},
		rulesOut: []string{"cert-renew"},
		steps: []string{
			"{issuer} issues by ACME: check the renewal timer or cron (systemctl list-timers | grep -i certbot; crontab -l), then run certbot renew --dry-run.",
			"Read the ACME client's log for why renewal failed: /var/log/letsencrypt/letsencrypt.log (certbot), or acme.sh's, lego's or Caddy's log.",
		},
	},
	{
		id:   "cert-renew",
		when: []cond{certWarned(), leafFirst(), notCDNManaged()},
		steps: []string{
			"Renew the certificate for {host} with its CA ({issuer}) before {not_after}, install it with its chain on every server behind the name, and reload them.",
		},
	},
	{
		id:   "cert-check-from",
		when: []cond{certWarned()},
		steps: []string{
			stepOpenSSLFrom,
		},
	},
}

// slowKnowledge is the knowledge of a phase over its degraded threshold,
// keyed by the phase and by which vantages see it. Every entry has a case
// in warning_test.go.
//
// It is never written after initialisation.
var slowKnowledge = []entry{
	{
		id:   "slow-dns",
		when: []cond{slowIn(result.PhaseDNS)},
		steps: []string{
			"The lookup is slow: on {vantage}, time it: dig +stats {host}, then dig +stats @<resolver> {host} for each resolver; a distant, overloaded or cache-missing one shows in Query time.",
			"Short TTLs send every lookup upstream: dig {host} | grep -A1 ANSWER shows the TTL; raise TTLs of seconds to minutes, or run a caching resolver near {vantage}.",
		},
	},
	{
		id:   "slow-connect",
		when: []cond{slowIn(result.PhaseConnect)},
		steps: []string{
			"Look at the network path from {vantage}: mtr -rwc 20 {remote_ip}: loss or a jump in latency at one hop is the path, not the server.",
			"If the path is clean, the server's SYN backlog may be full: on the server, ss -ltn 'sport = :{port}' (Recv-Q near Send-Q is a full queue); nstat -az TcpExtListenOverflows.",
			"Raise net.core.somaxconn (sysctl) and the server's listen backlog (nginx listen ... backlog=, the app server's backlog), and make the server accept faster.",
		},
	},
	{
		id:   "slow-tls",
		when: []cond{slowIn(result.PhaseTLS)},
		steps: []string{
			"Check OCSP stapling: openssl s_client -connect {remote} -servername {host} -status </dev/null 2>/dev/null | grep -A2 'OCSP response'; enable it (nginx ssl_stapling on).",
			"Send only the leaf and its intermediates, no root or duplicates: openssl s_client -connect {remote} -servername {host} -showcerts </dev/null 2>/dev/null | grep -c BEGIN",
			"Handshake CPU: an ECDSA certificate signs much faster than RSA; enable session resumption (ssl_session_cache, session tickets) and watch the server's CPU (top).",
		},
	},
	{
		// Fast from some vantages: the app answers them in time, so what
		// is slow is the way to it from the others.
		id:       "slow-ttfb-path",
		when:     []cond{slowIn(result.PhaseTTFB), slowFromSome()},
		rulesOut: []string{"slow-ttfb"},
		steps: []string{
			"Slow from {slow} only, fast from {fast}: the path to the app from those regions (a CDN edge, load balancer or backend far from them), not the app itself.",
			"Compare from {vantage} and a fast vantage: curl -so /dev/null -w '%{time_connect} %{time_starttransfer}\\n' {url}; then the app's slow-request log for those requests.",
		},
	},
	{
		id:       "slow-ttfb-everywhere",
		when:     []cond{slowIn(result.PhaseTTFB), slowFromAll()},
		rulesOut: []string{"slow-ttfb"},
		steps: []string{
			"Slow from every vantage ({slow}): the app itself, not the network: find the slow requests in its slow-request log.",
			stepSlowUpstreams,
		},
	},
	{
		id:   "slow-ttfb",
		when: []cond{slowIn(result.PhaseTTFB)},
		steps: []string{
			"The first byte waits on the app: find the slow requests in its slow-request log (gunicorn, php-fpm request_slowlog_timeout, the framework's).",
			stepSlowUpstreams,
		},
	},
	{
		id:       "slow-transfer-body",
		when:     []cond{slowIn(result.PhaseTransfer), bodyKnown()},
		rulesOut: []string{"slow-transfer-size"},
		steps: []string{
			"The body is {body_bytes} bytes: measure it compressed: curl -so /dev/null -w '%{size_download} %{speed_download}\\n' --compressed {url}; enable gzip or brotli, or trim it.",
		},
	},
	{
		id:   "slow-transfer-size",
		when: []cond{slowIn(result.PhaseTransfer)},
		steps: []string{
			"Measure size and speed: curl -so /dev/null -w '%{size_download} %{speed_download}\\n' --compressed {url}; a large body wants compression or trimming.",
		},
	},
	{
		id:   "slow-transfer",
		when: []cond{slowIn(result.PhaseTransfer)},
		steps: []string{
			"If the body is small and the speed low, bandwidth is the limit: the server's uplink (ip -s link; sar -n DEV) or the path to {slow}.",
		},
	},
	{
		id:   "slow-total",
		when: []cond{slowIn(result.PhaseTotal)},
		steps: []string{
			"Where the time goes: curl -so /dev/null -w '%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}\\n' {url}",
			"Set a threshold on the phase that grows (degraded = { ttfb = ..., connect = ... }) so the warning names it and its fixes.",
		},
	},
	{
		id:   "slow-unknown",
		when: []cond{slowUnknown()},
		steps: []string{
			"Compare the check's phases (DNS, connect, TLS, TTFB, transfer) with the degraded thresholds: the first one over its threshold is where to look.",
		},
	},
}

// stepSlowUpstreams: what the app waits on.
const stepSlowUpstreams = "Then what it waits on: upstream response time (nginx $upstream_response_time in log_format), the database's slow query log (slow_query_log, log_min_duration_statement)."
