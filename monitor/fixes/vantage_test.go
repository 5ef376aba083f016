package fixes

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/result"
)

const canaryURL = "https://canary.example.test/"

func canary(c result.Class, status int, detail string) *result.Result {
	return &result.Result{URL: canaryURL, Class: c, Status: status, Detail: detail}
}

// vantageCases holds, for every entry of vantageKnowledge, trouble that
// selects it.
var vantageCases = map[string]VantageTrouble{
	"vantage-dns":               {Vantage: "sgp1", Canary: canary(result.ClassDNSError, 0, result.DetailServFail)},
	"vantage-dns-at":            {Vantage: "sgp1", Canary: canaryAsked(canary(result.ClassDNSError, 0, result.DetailServFail), "127.0.0.1:5353")},
	"vantage-refused":           {Vantage: "sgp1", Canary: canary(result.ClassConnectionRefused, 0, "")},
	"vantage-timeout":           {Vantage: "sgp1", Canary: canary(result.ClassConnectTimeout, 0, result.DetailConnect)},
	"vantage-unreachable-route": {Vantage: "sgp1", Canary: canary(result.ClassNetworkUnreachable, 0, result.DetailNetUnreachable)},
	"vantage-reset":             {Vantage: "sgp1", Canary: canary(result.ClassConnectionReset, 0, "")},
	"vantage-tls":               {Vantage: "sgp1", Canary: canary(result.ClassTLSError, 0, result.DetailUnknownAuthority)},
	"vantage-answered":          {Vantage: "sgp1", Canary: canary(result.ClassClientError, 403, "")},
	"isolated":                  {Vantage: result.LocalVantage, Isolated: true, Canary: canary(result.ClassDNSError, 0, result.DetailServFail)},
	"isolated-by-hand":          {Vantage: result.LocalVantage, Isolated: true},
	"vantage-by-hand":           {Vantage: "sgp1"},
	"vantage-impaired":          {Vantage: "sgp1", Canary: canary(result.ClassDNSError, 0, result.DetailServFail)},
	"vantage-agent-unreachable": {Vantage: "fra1", Unreachable: true},
}

func vantageEntry(t *testing.T, id string) entry {
	t.Helper()
	for _, e := range vantageKnowledge {
		if e.id == id {
			return e
		}
	}
	t.Fatalf("no entry %q in vantageKnowledge", id)
	return entry{}
}

// TestVantageTableIsWellFormed is TestTableIsWellFormed for our own
// trouble, and every entry has a case.
func TestVantageTableIsWellFormed(t *testing.T) {
	places := append(slices.Clone(knownPlaceholders), "vantage")
	ids := map[string]bool{}
	for _, e := range vantageKnowledge {
		if e.id == "" || ids[e.id] {
			t.Errorf("entry id %q is empty or repeated", e.id)
		}
		ids[e.id] = true
		if _, ok := vantageCases[e.id]; !ok {
			t.Errorf("entry %s has no case in vantageCases", e.id)
		}
		if len(e.when) == 0 || len(e.steps) == 0 || len(e.steps) > MaxSteps {
			t.Errorf("%s: %d conditions, %d steps", e.id, len(e.when), len(e.steps))
		}
		for _, c := range e.when {
			if c.name == "" || c.weight <= 0 || c.test == nil {
				t.Errorf("%s: malformed condition %+v", e.id, c)
			}
		}
		for _, s := range e.steps {
			for _, p := range placeholder.FindAllString(s, -1) {
				if !slices.Contains(places, p[1:len(p)-1]) {
					t.Errorf("%s: unknown placeholder %s in %q", e.id, p, s)
				}
			}
		}
	}
	for id := range vantageCases {
		vantageEntry(t, id)
	}
}

// TestVantageEntrySelectedByItsFacts: each entry's case selects it and its
// first step reaches the operator, bounded.
func TestVantageEntrySelectedByItsFacts(t *testing.T) {
	for id, tr := range vantageCases {
		t.Run(id, func(t *testing.T) {
			k, f := vantageFacts(tr)
			var ids []string
			for _, e := range selectFrom(k, vantageKnowledge) {
				ids = append(ids, e.id)
			}
			if !slices.Contains(ids, id) {
				t.Fatalf("case does not select %s; selected %v", id, ids)
			}
			want, ok := f.render(vantageEntry(t, id).steps[0])
			if !ok {
				t.Fatalf("first step of %s has an unfilled placeholder for its own case", id)
			}
			got := ForVantage(tr)
			if !slices.Contains(got, want) {
				t.Errorf("first step of %s missing from ForVantage:\nwant %q\ngot  %q", id, want, got)
			}
			checkBounded(t, got)
			for _, s := range got {
				if n := utf8.RuneCountInString(s); n >= MaxStepLen {
					t.Errorf("step clipped (%d runes): %q", n, s)
				}
			}
		})
	}
}

// TestVantageStepsFollowWhyTheCanariesFail: a vantage impaired by DNS is
// told about its resolver, not its routes; one whose canaries are refused
// or time out about its egress; one with no route about its routes; TLS
// about its clock. None is told about a monitored site's records or server.
func TestVantageStepsFollowWhyTheCanariesFail(t *testing.T) {
	tests := []struct {
		name     string
		tr       VantageTrouble
		want     []string
		wantNone []string
	}{
		{"DNS: its resolver", vantageCases["vantage-dns"],
			[]string{"The resolver of sgp1", "on sgp1, check resolvectl status", "dig @1.1.1.1 canary.example.test"},
			[]string{"route", "firewall", "DNS record", "DNSSEC"}},
		{"refused: its egress firewall", vantageCases["vantage-refused"],
			[]string{"from sgp1 to the canaries are refused", "iptables -S"},
			[]string{"resolver", "route", "nothing listens"}},
		{"timeout: its egress drops", vantageCases["vantage-timeout"],
			[]string{"do not answer sgp1 in time", "mtr -T -P 443 canary.example.test"},
			[]string{"resolver", "ip route"}},
		{"no route: its routes", vantageCases["vantage-unreachable-route"],
			[]string{"No route from sgp1", "ip route"},
			[]string{"resolver"}},
		{"TLS: its clock and CA bundle", vantageCases["vantage-tls"],
			[]string{"timedatectl status", "update-ca-certificates"},
			[]string{"resolver", "route", "renew"}},
		{"isolated by DNS: this host's resolver and network", vantageCases["isolated"],
			[]string{"The resolver of this host", "Check this host's link, default route and resolver", "no target can be judged from here"},
			[]string{"sgp1", "local", "fetch the canary URLs by hand"}},
		{"isolated, cause unknown: this host's network, by hand", vantageCases["isolated-by-hand"],
			[]string{"Check this host's link", "by hand from this host"}, []string{"local"}},
		{"local impaired: this host", VantageTrouble{Vantage: result.LocalVantage, Canary: canary(result.ClassDNSError, 0, result.DetailServFail)},
			[]string{"The resolver of this host", "this host takes no part"}, []string{"local"}},
		{"agent unreachable: the agent, from this host", vantageCases["vantage-agent-unreachable"],
			[]string{"vantage agent on fra1", "key"}, []string{"canar"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ForVantage(tc.tr)
			for _, w := range tc.want {
				if !containsSub(got, w) {
					t.Errorf("no step says %q: %q", w, got)
				}
			}
			for _, w := range tc.wantNone {
				if containsSub(got, w) {
					t.Errorf("a step says %q, which does not fit: %q", w, got)
				}
			}
			checkBounded(t, got)
		})
	}
}

// TestVantageStepsAreNotTargetSteps: the two tables never mix: a canary's
// result chooses no target steps, and a target's result no vantage steps.
func TestVantageStepsAreNotTargetSteps(t *testing.T) {
	for id, tr := range vantageCases {
		if tr.Canary == nil {
			continue
		}
		target := Suggest(tr.Canary, nil)
		for _, s := range ForVantage(tr) {
			if slices.Contains(target, s) {
				t.Errorf("%s: target step among the vantage's: %q", id, s)
			}
		}
	}
}
