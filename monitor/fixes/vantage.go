package fixes

import "github.com/vantage-monitor/vantage/monitor/result"

// VantageTrouble is what is wrong with one of our own vantages: the facts a
// vantage-problem incident, or the notice that this host lost its network,
// chooses its steps from (monitor/vantage/incidents.go). Its steps are about
// the vantage's host (its resolver, its egress, its clock, its agent), never
// about the sites it monitors.
type VantageTrouble struct {
	// Vantage names the vantage; result.LocalVantage is this host.
	Vantage string
	// Isolated is set for the notice: this host's canaries fail and no
	// remote vantage answers.
	Isolated bool
	// Unreachable is set when the vantage's agent did not answer this
	// host, or refused its key: its canaries say nothing then.
	Unreachable bool
	// Canary is the result of a canary that failed from the vantage: its
	// class and detail say why (DNS, refused, timeout, unreachable, TLS).
	// Nil when no canary result is known.
	Canary *result.Result
}

// ForVantage returns ordered next steps for the vantage trouble t, at most
// MaxSteps, chosen from vantageKnowledge by the same rules as Suggest.
func ForVantage(t VantageTrouble) []string {
	k, f := vantageFacts(t)
	return suggest(k, vantageKnowledge, f)
}

// vantageFacts are the facts of t and the template values taken from them:
// the failing canary's, and {vantage}.
func vantageFacts(t VantageTrouble) (*known, facts) {
	r := result.Result{}
	if t.Canary != nil {
		r = *t.Canary
	}
	k := &known{Result: &r, trouble: &t}
	f := newFacts(k)
	f["vantage"] = t.Vantage
	if t.Isolated || t.Vantage == result.LocalVantage {
		f["vantage"] = "this host"
	}
	return k, f
}

// Conditions on a vantage's trouble.

func impaired() cond {
	return cond{"vantage-impaired", wFact, func(r *known) bool {
		return r.trouble != nil && !r.trouble.Isolated && !r.trouble.Unreachable
	}}
}

func isolated() cond {
	return cond{"isolated", wFact, func(r *known) bool { return r.trouble != nil && r.trouble.Isolated }}
}

func agentUnreachable() cond {
	return cond{"agent-unreachable", wFact, func(r *known) bool {
		return r.trouble != nil && r.trouble.Unreachable && !r.trouble.Isolated
	}}
}

// canaryFailed requires the vantage's canaries to have failed (impaired,
// or this host cut off) with one of cs.
func canaryFailed(cs ...result.Class) cond {
	c := class(cs...)
	c.name = "canary-" + c.name
	test := c.test
	c.test = func(r *known) bool {
		return r.trouble != nil && !r.trouble.Unreachable && r.trouble.Canary != nil && test(r)
	}
	return c
}

// canaryAnswered requires a canary to have answered the vantage with an
// HTTP status that is not a pass: something answered in its place.
func canaryAnswered() cond {
	return cond{"canary-answered", wStatus, func(r *known) bool {
		return r.trouble != nil && !r.trouble.Unreachable && r.trouble.Canary != nil && r.Status > 0
	}}
}

// vantageKnowledge is the knowledge of our own trouble, keyed by why the
// canaries failed. The rules for knowledge apply; placeholders are those of
// a result (here the failing canary's: {host} {url} {port} {target} {ip}
// {detail} {status}) and {vantage}: the vantage's name, or "this host".
// Every entry has a case in vantage_test.go.
//
// It is never written after initialisation.
var vantageKnowledge = []entry{
	// --- Why the canaries failed: the vantage's own host --------------------
	{
		id:       "vantage-dns",
		when:     []cond{canaryFailed(result.ClassDNSError)},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"The resolver of {vantage} cannot resolve the canaries: on {vantage}, check resolvectl status and /etc/resolv.conf, or the resolvers configured for it.",
			"Ask another resolver from {vantage}: dig {host}, then dig @1.1.1.1 {host}; if only its own fails, fix or replace that resolver: the monitored sites are not at fault.",
		},
	},
	{
		// The canary's result names the server the vantage's resolver
		// asked, which is not always the one in its resolv.conf.
		id:       "vantage-dns-at",
		when:     []cond{canaryFailed(result.ClassDNSError), dnsServerKnown()},
		rulesOut: []string{"vantage-dns", "vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"The resolver of {vantage}, {dns_server}, cannot resolve the canaries: on {vantage}, dig @{dns_ip} -p {dns_port} {host}; check resolvectl status or the resolvers configured for it.",
			"If dig @1.1.1.1 {host} answers on {vantage} while {dns_server} does not, fix or replace that resolver: the monitored sites are not at fault.",
		},
	},
	{
		id:       "vantage-refused",
		when:     []cond{canaryFailed(result.ClassConnectionRefused)},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"Connections from {vantage} to the canaries are refused: an egress firewall REJECT rule or a proxy on {vantage}; check iptables -S, nft list ruleset and any HTTPS_PROXY set for vantage there.",
		},
	},
	{
		id:       "vantage-timeout",
		when:     []cond{canaryFailed(result.ClassConnectTimeout, result.ClassTimeout)},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"The canaries do not answer {vantage} in time: its egress firewall, security group or NACL drops outbound traffic, or its uplink is saturated.",
			"On {vantage}, see where packets stop: curl -v {url}; mtr -T -P {port} {host}.",
		},
	},
	{
		id:       "vantage-unreachable-route",
		when:     []cond{canaryFailed(result.ClassNetworkUnreachable)},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"No route from {vantage} to the canaries: check ip route and the default gateway there; for IPv6 canaries, whether it has IPv6 routing at all.",
		},
	},
	{
		id:       "vantage-reset",
		when:     []cond{canaryFailed(result.ClassConnectionReset)},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"Connections from {vantage} to the canaries are reset: a firewall, IPS or transparent proxy on its egress; capture on {vantage}: tcpdump -ni any host {host} and port {port}.",
		},
	},
	{
		id:       "vantage-tls",
		when:     []cond{canaryFailed(result.ClassTLSError)},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"TLS to the canaries fails from {vantage}: check its clock (timedatectl status) and CA bundle (update-ca-certificates), and whether a proxy on its egress intercepts TLS.",
		},
	},
	{
		// A canary answered, but not as itself: a captive portal, a proxy
		// or a block page answers in its place.
		id:       "vantage-answered",
		when:     []cond{canaryAnswered()},
		rulesOut: []string{"vantage-by-hand", "isolated-by-hand"},
		steps: []string{
			"The canaries answer {vantage} with {status}: a captive portal, egress proxy or a block of its address answers in their place; on {vantage}: curl -v {url}.",
		},
	},

	// --- What kind of trouble -------------------------------------------------
	{
		id:   "isolated",
		when: []cond{isolated()},
		steps: []string{
			"Check this host's link, default route and resolver (ip addr; ip route; resolvectl status) and whether its provider reports an outage.",
			"Until it is back, no target can be judged from here: open target alerts are neither confirmed nor resolved.",
		},
	},
	{
		id:   "isolated-by-hand",
		when: []cond{isolated()},
		steps: []string{
			"Fetch the canary URLs by hand from this host (curl -v) to see whether its network, DNS or firewall is at fault.",
		},
	},
	{
		id:   "vantage-by-hand",
		when: []cond{impaired()},
		steps: []string{
			"From {vantage}, fetch the canary URLs by hand (curl -v) to see whether its network, DNS or firewall is at fault.",
		},
	},
	{
		id:   "vantage-impaired",
		when: []cond{impaired()},
		steps: []string{
			"Until its canaries pass, {vantage} takes no part in verdicts: targets are judged by the other vantages.",
		},
	},
	{
		id:   "vantage-agent-unreachable",
		when: []cond{agentUnreachable()},
		steps: []string{
			"Check that the vantage agent on {vantage} is running and listening at the configured URL, and that this host can reach it (curl -v the vantage URL).",
			"If it answers but refuses us, the key configured here no longer matches the agent's key file: compare them and rotate both sides together.",
		},
	},
}
