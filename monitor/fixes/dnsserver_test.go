package fixes

import (
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// A DNS failure's fixes name the server the lookup asked, which may be a
// configured resolver, an agent's or the demo's, not this host's.
func TestDNSFixesNameTheServerAsked(t *testing.T) {
	for _, detail := range []string{result.DetailResolverTimeout, result.DetailServFail} {
		t.Run(detail, func(t *testing.T) {
			r := &result.Result{URL: "http://shop.example.test/", Class: result.ClassDNSError, Detail: detail, DNSServer: "127.0.0.1:5353"}
			steps := Suggest(r, nil)
			if len(steps) == 0 || !strings.Contains(steps[0], "127.0.0.1:5353") || !strings.Contains(steps[0], "dig @127.0.0.1 -p 5353 shop.example.test") {
				t.Errorf("first fix does not name the server asked: %q", steps)
			}
			for _, s := range steps {
				if strings.Contains(s, "resolver of this monitoring host") {
					t.Errorf("a fix blames this host's resolver, which was not asked: %q", s)
				}
			}
		})
	}
}

// canaryAsked is canary r whose lookup asked the DNS server at addr.
func canaryAsked(r *result.Result, addr string) *result.Result {
	r.DNSServer = addr
	return r
}

// A vantage impaired by DNS is told which server its resolver asked, as
// the demo's sgp1 is: its agent's resolver, not a resolv.conf one.
func TestVantageDNSStepsNameTheServerAsked(t *testing.T) {
	steps := ForVantage(VantageTrouble{Vantage: "sgp1", Canary: canaryAsked(canary(result.ClassDNSError, 0, result.DetailServFail), "127.0.0.1:5353")})
	if len(steps) == 0 || !strings.Contains(steps[0], "The resolver of sgp1, 127.0.0.1:5353,") || !strings.Contains(steps[0], "dig @127.0.0.1 -p 5353 canary.example.test") {
		t.Errorf("first step does not name the server sgp1 asked: %q", steps)
	}
	for _, s := range steps {
		if strings.Contains(s, "/etc/resolv.conf") {
			t.Errorf("a step sends sgp1 to its resolv.conf, which was not asked: %q", s)
		}
	}
}
